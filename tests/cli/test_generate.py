"""generate.py: samples, interpolations and pictures from a checkpoint alone, deterministic under a seed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from dcgan.checkpoints import load_generator
from dcgan.cli.train import train
from dcgan.images import TITLE_PX, grid_image, render, to_uint8
from dcgan.latents import latents
from tests.helpers import has_text, image_info, one_error_line, run_generate, run_script


def load_npz(path) -> np.ndarray:
    with np.load(path) as data:
        return data["images"]


def test_samples_npz_shape_dtype_and_determinism(run_dir, tmp_path):
    (a,) = run_generate(run_dir, "num_samples=10", "seed=1", f"output={tmp_path / 'a.npz'}")
    run_generate(run_dir, "num_samples=10", "seed=1", "batch_size=3", f"output={tmp_path / 'b.npz'}")
    run_generate(run_dir, "num_samples=10", "seed=2", f"output={tmp_path / 'c.npz'}")
    images = load_npz(a)
    assert images.shape == (10, 1, 32, 32) and images.dtype == np.uint8
    assert images.std() > 0 and len({im.tobytes() for im in images}) == 10
    np.testing.assert_array_equal(images, load_npz(tmp_path / "b.npz"))  # same seed, other batching
    assert not np.array_equal(images, load_npz(tmp_path / "c.npz"))


def test_output_formats_hold_the_same_images(run_dir, tmp_path):
    outputs = [tmp_path / "plain", tmp_path / "grid.png"]
    written = run_generate(run_dir, "num_samples=10", f"output=[{outputs[0]},{outputs[1]}]")
    assert written == [tmp_path / "plain.npz", tmp_path / "grid.png"]
    images = load_npz(tmp_path / "plain.npz")
    with Image.open(tmp_path / "grid.png") as grid:  # ceil(sqrt(10)) = 4 per row, 3 rows, 2px padding
        assert grid.size == (4 * 34 + 2, 3 * 34 + 2)
        np.testing.assert_array_equal(np.asarray(grid)[2:34, 36:68, 0], images[1, 0])
    (folder,) = run_generate(run_dir, "num_samples=10", "format=folder", f"output={tmp_path / 'pngs'}")
    files = sorted(folder.glob("*.png"))
    assert [f.name for f in files[:2]] == ["000000.png", "000001.png"] and len(files) == 10
    with Image.open(files[3]) as png:
        assert png.size == (32, 32) and png.mode == "L"
        np.testing.assert_array_equal(np.asarray(png), images[3, 0])


def test_interpolate_mode_grid_gif_and_determinism(run_dir, tmp_path):
    args = ["mode=interpolate", "interpolation.rows=3", "interpolation.steps=5", "interpolation.method=both", "seed=4"]
    outputs = f"output=[{tmp_path / 'i.png'},{tmp_path / 'i.npz'}]"
    run_generate(run_dir, *args, outputs, f"interpolation.gif={tmp_path / 'i.gif'}")
    images = load_npz(tmp_path / "i.npz")
    assert images.shape == (3 * 2 * 5, 1, 32, 32)
    rows = images.reshape(6, 5, 1, 32, 32)
    np.testing.assert_array_equal(rows[0, [0, -1]], rows[1, [0, -1]])  # lerp and slerp rows share their ends
    assert not np.array_equal(rows[0, 2], rows[1, 2])
    with Image.open(tmp_path / "i.png") as grid:
        assert grid.size == (5 * 34 + 2, 6 * 34 + 2)
    with Image.open(tmp_path / "i.gif") as gif:
        assert gif.n_frames == 2 * 5 - 2 and gif.size == (6 * 34 + 2, 34 + 2)  # forth and back
    run_generate(run_dir, *args, f"output={tmp_path / 'again.npz'}")
    np.testing.assert_array_equal(images, load_npz(tmp_path / "again.npz"))


GRID = 8 * 34 + 2  # 64 samples of 32x32, 8 per row, 2px padding
BAND = TITLE_PX + 8  # the title band above each grid


def test_pictures_on_demand_from_a_checkpoint(compose_cfg, tmp_path):
    cfg = compose_cfg("trainer.max_steps=4")
    train(cfg)
    run = tmp_path / "run"
    out = tmp_path / "redrawn"
    # the stored config points at the run's dataset, so real_vs_fake is redrawn too
    written = run_generate(run, "mode=pictures", f"output={out}", "seed=0")
    assert sorted(p.name for p in written) == ["losses.png", "progress.gif", "real_vs_fake.png"]
    assert image_info(out / "progress.gif") == image_info(run / "progress.gif") == ((GRID, GRID + BAND), 2)
    assert image_info(out / "losses.png")[0] == (1200, 400)
    # 64 real images (as many as the fixed noise) beside 64 fakes, under "Real" and "Fake"
    picture = Image.open(out / "real_vs_fake.png").convert("RGB")
    assert picture.size == (2 * GRID + 8, GRID + BAND)
    assert has_text(picture, (0, 0, GRID, BAND)) and has_text(picture, (GRID + 8, 0, 2 * GRID + 8, BAND))
    real, fake = (np.asarray(picture)[BAND:, x : x + GRID] for x in (0, GRID + 8))
    expected_real = instantiate(cfg.dataset).real_batch(64, seed=0)  # the images as the model sees them
    np.testing.assert_array_equal(real, np.asarray(grid_image(to_uint8(expected_real), 8)))
    assert real.std() > 20  # not a flat (white or black) half
    last_grid = np.asarray(Image.open(run / "samples" / "step_0000004.png").convert("RGB"))
    np.testing.assert_array_equal(fake, last_grid[BAND:])  # G(fixed noise) of the last checkpoint


def test_generate_py_command_line(run_dir, tmp_path):
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    proc = run_script("generate.py", f"ckpt_path={ckpt}", "num_samples=6", "output=out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_npz(tmp_path / "out.npz").shape == (6, 1, 32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no Hydra run folder, no log file
    junk = tmp_path / "junk" / "x.ckpt"
    junk.parent.mkdir()
    junk.write_text("not a checkpoint")
    proc = run_script("generate.py", f"ckpt_path={junk}", cwd=tmp_path)
    assert proc.returncode == 2
    assert "not a PyTorch checkpoint" in one_error_line(proc)


def conditional_generator(run):
    return load_generator(run / "checkpoints" / "last.ckpt").net


@pytest.mark.parametrize(
    ("label", "expected"),
    [("label=3", [3] * 6), ("label=[0,3]", [0, 3, 0, 3, 0, 3]), (None, [0, 1, 2, 3, 4, 5]), ("label=Bag", [8] * 6)],
)
def test_samples_of_a_conditional_generator_hold_their_labels(conditional_run, tmp_path, label, expected):
    run_generate(
        conditional_run, "num_samples=6", "seed=2", f"output={tmp_path / 's.npz'}", *([label] if label else [])
    )
    with np.load(tmp_path / "s.npz") as saved:
        assert saved["labels"].dtype == np.int64 and saved["labels"].tolist() == expected
        rendered = render(conditional_generator(conditional_run), latents(6, 100, seed=2), 6,
                          labels=torch.tensor(expected))  # fmt: skip
        np.testing.assert_array_equal(saved["images"], rendered.numpy())  # each image drawn for its label


def test_the_label_steers_the_samples(conditional_run, tmp_path):
    for k in (1, 7):
        run_generate(conditional_run, "num_samples=4", f"label={k}", f"output={tmp_path / f'{k}.npz'}")
    assert not np.array_equal(load_npz(tmp_path / "1.npz"), load_npz(tmp_path / "7.npz"))  # same latents


def test_a_bad_label_stops_with_one_line(conditional_run, run_dir, tmp_path):
    ckpt = conditional_run / "checkpoints" / "last.ckpt"
    for label in ("10", "[0,-1]", "Hat"):
        proc = run_script("generate.py", f"ckpt_path={ckpt}", f"label={label}", "output=x.npz", cwd=tmp_path)
        assert proc.returncode == 2
        assert "is not a class of this generator: use 0 to 9 (0=T-shirt/top, 1=Trouser" in one_error_line(proc)
    plain = run_dir / "checkpoints" / "last.ckpt"
    proc = run_script("generate.py", f"ckpt_path={plain}", "label=3", "output=x.npz", cwd=tmp_path)
    assert proc.returncode == 2
    assert "label=3: this generator is not class-conditional" in one_error_line(proc)
    assert not (tmp_path / "x.npz").exists()


def test_unconditional_samples_have_no_labels(run_dir, tmp_path):
    run_generate(run_dir, "num_samples=2", f"output={tmp_path / 'u.npz'}")
    with np.load(tmp_path / "u.npz") as saved:
        assert list(saved.keys()) == ["images"]


def test_conditional_interpolations_and_pictures(conditional_run, tmp_path):
    args = ["mode=interpolate", "interpolation.rows=3", "interpolation.steps=4", "label=[2,5]"]
    run_generate(conditional_run, *args, f"output={tmp_path / 'i.npz'}")
    with np.load(tmp_path / "i.npz") as saved:
        assert saved["labels"].tolist() == [2] * 4 + [5] * 4 + [2] * 4  # one class per row
    written = run_generate(conditional_run, "mode=pictures", f"output={tmp_path / 'pictures'}")
    assert sorted(p.name for p in written) == ["losses.png", "progress.gif", "real_vs_fake.png"]
    redrawn = np.asarray(Image.open(tmp_path / "pictures" / "real_vs_fake.png").convert("L"))
    original = np.asarray(Image.open(conditional_run / "real_vs_fake.png").convert("L"))
    assert redrawn.shape == original.shape  # the class grid beside the real images by class
    np.testing.assert_array_equal(redrawn[:, -GRID:], original[:, -GRID:])  # G's class grid, redrawn exactly
