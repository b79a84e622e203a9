"""Run pictures: progress.gif, losses.png, real_vs_fake.png at the end of training and from a checkpoint."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from dcgan.callbacks.plots import ema, evenly_spaced, write_loss_plot, write_progress_gif
from dcgan.train import train
from tests.test_generate import run_generate

GRID = 8 * 34 + 2  # 64 samples of 32x32, 8 per row, 2px padding


def image_info(path) -> tuple[tuple[int, int], int]:
    """(size, frame count) of a picture whose every frame decodes."""
    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
        for i in range(frames):
            image.seek(i)
            image.load()
        return image.size, frames


def test_pictures_at_the_end_of_a_resumed_run(compose_cfg, tmp_path):
    run = tmp_path / "run"
    train(compose_cfg("trainer.max_steps=4"))
    train(compose_cfg("trainer.max_steps=8", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"))
    # grids at steps 0, 4 (both runs) and 8: the GIF spans the whole training
    assert image_info(run / "progress.gif") == ((GRID, GRID), 3)
    assert image_info(run / "losses.png") == ((1200, 400), 1)
    # 16 real images (one batch) beside 16 fakes, 8 per row, 8px apart
    assert image_info(run / "real_vs_fake.png") == ((2 * GRID + 8, 2 * 34 + 2), 1)
    # the loss history travels in the checkpoint, so the resumed run drew all four iterations
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["RunPictures"]
    assert state["keys"][0] == "step" and state["rows"][:, 0].tolist() == [2, 4, 6, 8]
    assert torch.isfinite(state["rows"]).all()


def test_pictures_on_demand_from_a_checkpoint(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=4"))
    run = tmp_path / "run"
    out = tmp_path / "redrawn"
    # the stored config points at the run's dataset, so real_vs_fake is redrawn too
    written = run_generate(run, "mode=pictures", f"output={out}", "seed=0")
    assert sorted(p.name for p in written) == ["losses.png", "progress.gif", "real_vs_fake.png"]
    assert image_info(out / "progress.gif") == image_info(run / "progress.gif") == ((GRID, GRID), 2)
    assert image_info(out / "losses.png")[0] == (1200, 400)
    # 64 real images (as many as the fixed noise) beside 64 fakes
    assert image_info(out / "real_vs_fake.png")[0] == (2 * GRID + 8, GRID)
    fakes = np.asarray(Image.open(out / "real_vs_fake.png"))[:, GRID + 8 :]
    np.testing.assert_array_equal(fakes, np.asarray(Image.open(run / "samples" / "step_0000004.png")))


def test_ema_smoothing():
    values = np.array([1.0, 1.0, 5.0, 5.0])
    np.testing.assert_allclose(ema(np.full(5, 3.0), 0.9), 3.0)  # no start-up bias towards 0
    np.testing.assert_allclose(ema(values, 0.0), values)
    smoothed = ema(values, 0.5)
    assert smoothed[0] == 1.0 and 1.0 < smoothed[2] < smoothed[3] < 5.0


def test_progress_gif_keeps_first_and_last_frames(tmp_path):
    for step, shade in ((0, 0), (4, 100), (8, 200), (12, 255)):
        Image.new("RGB", (10, 6), (shade,) * 3).save(tmp_path / f"step_{step:07d}.png")
    assert write_progress_gif(tmp_path, tmp_path / "all.gif") == 4
    assert write_progress_gif(tmp_path, tmp_path / "three.gif", max_frames=3) == 3
    with Image.open(tmp_path / "three.gif") as gif:
        assert gif.size == (10, 6)
        shades = [gif.seek(i) or gif.convert("L").getpixel((0, 0)) for i in range(gif.n_frames)]
    assert shades[0] == 0 and shades[-1] == 255
    assert evenly_spaced(list(range(10)), 4) == [0, 3, 6, 9]
    assert write_progress_gif(tmp_path / "none", tmp_path / "empty.gif") == 0 and not (tmp_path / "empty.gif").exists()


def test_loss_plot_needs_history(tmp_path):
    assert not write_loss_plot({"step": np.array([])}, tmp_path / "empty.png")
    history = {"step": np.arange(1, 4.0), "train/loss_d": np.ones(3), "train/loss_g": np.ones(3)}
    assert write_loss_plot(history, tmp_path / "losses.png")
    assert image_info(tmp_path / "losses.png")[0] == (600, 400)  # one panel: no D(x) history given
