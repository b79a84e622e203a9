"""explore.py: the latent explorer's pictures and files (no browser), its page, and the real page in Chromium."""

from __future__ import annotations

import io
import os
import signal
import socket
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.checkpoints import load_generator
from dcgan.cli import explore as explore_module
from dcgan.cli.explore import Explorer, build_page, explore, serve
from dcgan.config import compose
from dcgan.images import render
from dcgan.latents import latents
from tests.helpers import (
    TinyGenerator,
    config_error,
    load_script,
    one_error_line,
    run_script,
    subprocess_env,
    with_own_batch_statistics,
)

ZOOM, SAMPLE_ZOOM = 4, 8  # cell_px=32 and sample_px=64 for 8x8 images


def explorer(net=None) -> Explorer:
    """2 x 3 samples, each cell enlarged ZOOM times."""
    net = net or TinyGenerator()
    return Explorer(net, "cpu", 2, 3, cell_px=ZOOM * net.image_size, sample_px=64, path_steps=5)


def pixels(picture: Image.Image) -> np.ndarray:
    return np.asarray(picture.convert("RGB"))[..., 0].astype(int)


def cell(grid: Image.Image, i: int, columns: int = 3, size: int = 8) -> np.ndarray:
    """The lower half of grid cell ``i`` at image resolution (the upper left holds its number)."""
    x, y = (2 + (i % columns) * (size + 2)) * ZOOM, (2 + (i // columns) * (size + 2)) * ZOOM
    return pixels(grid)[y + size // 2 * ZOOM : y + size * ZOOM : ZOOM, x : x + size * ZOOM : ZOOM]


def test_grid_shows_the_seeds_samples_numbered():
    ex = explorer()
    grid = ex.grid(seed=1, truncation=0)
    assert grid.size == ((3 * 10 + 2) * ZOOM, (2 * 10 + 2) * ZOOM)
    images = render(ex.generator, latents(6, 8, seed=1), 6)[:, 0].numpy()
    assert images.std() > 20  # samples that differ, so the checks below can fail
    for i in range(6):
        np.testing.assert_array_equal(cell(grid, i), images[i, 4:])
    rgb = np.asarray(grid).astype(int)
    numbers = (rgb[..., 0] > 120) & (rgb[..., 2] < 60)  # the yellow digits (gray samples have R == B)
    assert numbers[: 12 * ZOOM, : 12 * ZOOM].any() and numbers[12 * ZOOM :, 22 * ZOOM :].any()
    truncated = ex.grid(seed=1, truncation=0.5)
    images_t = render(ex.generator, latents(6, 8, seed=1, truncation=0.5), 6)[:, 0].numpy()
    np.testing.assert_array_equal(cell(truncated, 5), images_t[5, 4:])
    assert not np.array_equal(cell(truncated, 5), cell(grid, 5))
    assert not np.array_equal(cell(ex.grid(seed=2, truncation=0), 0), cell(grid, 0))


def test_walk_runs_from_sample_a_to_b_and_nudges_one_dimension():
    ex = explorer()
    z = latents(6, 8, seed=3)
    point = lambda **kw: ex.point(**{"seed": 3, "truncation": 0, "a": 1, "b": 4, "t": 0.5, "method": "lerp",  # noqa: E731
                                     "dim": 0, "amount": 0, **kw})  # fmt: skip
    torch.testing.assert_close(point(t=0), z[1])
    torch.testing.assert_close(point(t=1, method="slerp"), z[4])
    torch.testing.assert_close(point(), (z[1] + z[4]) / 2)
    slerp = point(method="slerp")
    assert slerp.norm() > point().norm() + 0.1  # the arc keeps the norm that the chord loses
    moved = point(dim=5, amount=2.5) - point()
    torch.testing.assert_close(moved, 2.5 * torch.eye(8)[5])
    assert "a=6: the grid has samples 0 to 5" in str(config_error(lambda: point(a=6)))
    assert "dimension 8 does not exist" in str(config_error(lambda: point(dim=8)))


def test_view_draws_the_latent_its_path_and_the_file_to_download():
    ex = explorer()
    settings = {"seed": 3, "truncation": 0.0, "a": 1, "b": 4, "t": 0.25, "method": "slerp", "dim": 2, "amount": -1.5}
    sample, path, file = ex.view(**settings)
    z = ex.point(**settings)
    image = render(ex.generator, z[None], 1)[0, 0].numpy()
    assert sample.size == (8 * SAMPLE_ZOOM, 8 * SAMPLE_ZOOM)
    np.testing.assert_array_equal(pixels(sample)[::SAMPLE_ZOOM, ::SAMPLE_ZOOM], image)
    assert path.size == ((5 * 10 + 2) * ZOOM, 10 * ZOOM + 2 * ZOOM)
    ends = render(ex.generator, torch.stack([ex.point(**{**settings, "t": t}) for t in (0, 1)]), 2)[:, 0].numpy()
    strip = pixels(path)[2 * ZOOM : 10 * ZOOM : ZOOM]
    np.testing.assert_array_equal(strip[:, 2 * ZOOM : 10 * ZOOM : ZOOM], ends[0])
    np.testing.assert_array_equal(strip[:, 42 * ZOOM : 50 * ZOOM : ZOOM], ends[1])
    with np.load(file) as saved:
        np.testing.assert_array_equal(saved["images"], image[None, None])
        np.testing.assert_array_equal(saved["latents"], z[None].numpy())
        assert (float(saved["t"]), str(saved["method"]), int(saved["dim"])) == (0.25, "slerp", 2)
        assert "labels" not in saved
    ex.close()
    assert not Path(file).exists()


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_a_conditional_generator_draws_the_picked_class(conditional_checkpoint):
    ex = explorer(load_generator(conditional_checkpoint).net)  # a model.conditional=true run's G: 32px images
    assert ex.classes == FASHION
    shirts, bags = pixels(ex.grid(0, 0, "T-shirt/top")), pixels(ex.grid(0, 0, "Bag"))
    assert np.abs(shirts - bags).max() > 30
    z = latents(6, 100, seed=0)
    expected = render(ex.generator, z, 6, labels=torch.full((6,), 8))[:, 0].numpy()
    np.testing.assert_array_equal(pixels(ex.sample(z[4], "Bag"))[::2, ::2], expected[4])  # 32px, enlarged 2x
    *_, file = ex.view(0, 0, 0, 1, 0.5, "lerp", 0, 0, label="Trouser")
    with np.load(file) as saved:
        assert saved["labels"].tolist() == [1]
    ex.close()
    assert "class 'Hat' is not one of the generator's: T-shirt/top, Trouser" in str(
        config_error(lambda: ex.grid(0, 0, "Hat"))
    )


def components(page) -> dict:
    return {block.elem_id: block for block in page.blocks.values() if getattr(block, "elem_id", None)}


def test_the_page_has_its_controls_and_a_class_picker_only_when_conditional(conditional_checkpoint):
    pytest.importorskip("gradio", reason="the explore extra is not installed: pip install '.[explore]'")
    cfg = compose("explore", ["ckpt_path=unused.ckpt"])
    plain = components(build_page(explorer(), cfg, "plain"))
    assert {"seed", "truncation", "grid", "a", "b", "t", "method", "dim", "amount", "sample", "download"} <= set(plain)
    assert plain["label"].visible is False
    assert (plain["a"].maximum, plain["b"].maximum, plain["dim"].maximum) == (5, 5, 7)
    assert (plain["amount"].minimum, plain["amount"].maximum) == (-3.0, 3.0)
    conditional = components(build_page(explorer(load_generator(conditional_checkpoint).net), cfg, "conditional"))
    assert conditional["label"].visible is True
    assert [value for _, value in conditional["label"].choices] == FASHION


def test_explore_stops_with_one_line_on_bad_input(tmp_path, monkeypatch):
    gr = pytest.importorskip("gradio", reason="the explore extra is not installed: pip install '.[explore]'")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with gr.Blocks(analytics_enabled=False) as page:
            gr.Markdown("x")
        assert f"port={port}: the port is taken" in str(config_error(lambda: serve(page, "127.0.0.1", port)))
    cfg = compose("explore", ["ckpt_path=unused.ckpt", "method=cubic"])
    assert "method='cubic' is not supported" in str(config_error(lambda: explore(cfg)))
    monkeypatch.setattr(explore_module, "gr", None)
    assert "pip install -e '.[explore]'" in str(config_error(lambda: explore(cfg)))
    proc = run_script("explore.py", f"ckpt_path={tmp_path / 'missing.ckpt'}", cwd=tmp_path)
    assert proc.returncode == 2 and "missing.ckpt: no such file" in one_error_line(proc)


@contextmanager
def deadline(seconds: int):
    """Fail instead of hanging: a TimeoutError in the test after ``seconds``."""

    def expire(*_):
        raise TimeoutError(f"the browser test took more than {seconds}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def need(available: bool, what: str) -> None:
    """Skip without ``what``, except in CI (CI=true), where .ci/run installs it: there it fails."""
    if not available:
        (pytest.fail if os.environ.get("CI") else pytest.skip)(f"{what} is missing")


@pytest.mark.slow
def test_the_page_in_headless_chromium(run_dir, tmp_path):
    """Load the real page, move the t slider with the mouse: the sample changes (the grid does not), the
    download holds the new latent, the browser asked no other host, and the server stops cleanly."""
    shots = load_script("explorer_screenshot")
    need(shots.chromium_path() is not None, "Chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        need(False, "Playwright (pip install -e '.[dev]')")
    ckpt = with_own_batch_statistics(run_dir / "checkpoints" / "last.ckpt", tmp_path / "varied.ckpt")
    env = subprocess_env(GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
    with deadline(540), shots.running_explorer(ckpt, log=tmp_path / "explore.log", env=env) as server:
        with shots.chromium_page() as page:

            def shown(elem_id) -> tuple[str, np.ndarray]:
                src = shots.image_src(page, elem_id)
                body = page.request.get(urljoin(server.url, src)).body()
                return src, pixels(Image.open(io.BytesIO(body)))

            page.goto(server.url)
            shots.wait_loaded(page)
            (grid_src, _), (sample_src, before) = shown("grid"), shown("sample")
            assert float(page.locator("#t input[type=number]").input_value()) == 0.5
            box = page.locator("#t input[type=range]").bounding_box()
            page.mouse.click(box["x"] + 0.95 * box["width"], box["y"] + box["height"] / 2)
            shots.wait_new_image(page, "sample", sample_src)
            _, after = shown("sample")
            t = float(page.locator("#t input[type=number]").input_value())
            assert t > 0.8 and before.shape == after.shape == (256, 256)
            assert np.abs(after - before).mean() > 1, "moving the slider did not change the sample"
            assert shots.image_src(page, "grid") == grid_src  # the grid is the seed's: it stays
            with page.expect_download() as download:
                page.locator("#download").click()
            with np.load(download.value.path()) as saved:
                assert float(saved["t"]) == t and saved["latents"].shape == (1, 100)
                np.testing.assert_array_equal(saved["images"][0, 0], after[::8, ::8])
            page.screenshot(path=tmp_path / "page.png", full_page=True)
            assert page.blocked == []
    assert server.proc.returncode == 0, server.output[-3000:]
    assert "Explorer stopped" in server.output
