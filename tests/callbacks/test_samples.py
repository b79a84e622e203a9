"""The sample grids of the fixed noise and the grid of real training images at the start."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from dcgan.checkpoints import build_net, run_config
from dcgan.cli.train import train
from dcgan.images import TITLE_PX, to_uint8
from dcgan.latents import class_rows
from dcgan.training.module import DCGAN, draw
from tests.helpers import has_text, read_ckpt

GRID = 8 * 34 + 2  # 64 images of 32x32, 8 per row, 2px padding
BAND = TITLE_PX + 8  # the title band above each grid


def test_training_images_grid_shows_the_first_real_batch(compose_cfg, tmp_path, data_dir):
    # the fixture's images are random pixels, so a grid of fakes or of other images would not match
    train(compose_cfg("trainer.max_steps=2", "+callbacks.batches._target_=tests.helpers.FirstBatch"))
    run = tmp_path / "run"
    titled = Image.open(run / "training_images.png")
    assert has_text(titled, (0, 0, GRID, BAND))  # "Training Images"
    picture = np.asarray(titled.convert("L"))[BAND:]
    assert picture.shape == (2 * 34 + 2, GRID)  # one batch of 16 real images, 8 per row
    first = torch.load(run / "first_batch.pt", weights_only=True)  # what the model trained on first
    for i in (0, 7, 15):
        row, col = divmod(i, 8)
        tile = picture[2 + 34 * row : 34 + 34 * row, 2 + 34 * col : 34 + 34 * col]
        expected = ((first[i, 0] + 1) * 127.5).round().numpy()
        assert np.abs(tile.astype(float) - expected).max() <= 1


def _first_tile_std(compose_cfg, tmp_path, name, *overrides) -> float:
    train(compose_cfg("trainer.max_steps=2", *overrides))
    grid = tmp_path / "run" / "samples" / "step_0000000.png"
    tile = np.asarray(Image.open(grid).convert("L"), dtype=float)[BAND + 2 : BAND + 34, 2:34]
    (tmp_path / "run").rename(tmp_path / name)
    return float(tile.std())


def test_sample_grids_are_drawn_on_batch_statistics(compose_cfg, tmp_path):
    # at step 0 eval-mode BatchNorm (running statistics at their init) gives a nearly flat grey grid; the
    # tutorial's train-mode forward normalizes with the batch's statistics and shows varied images
    batch_stats = _first_tile_std(compose_cfg, tmp_path, "batch")
    running = _first_tile_std(compose_cfg, tmp_path, "running", "model.grid_batch_stats=false")
    assert batch_stats > 5 * running
    assert read_ckpt(tmp_path / "batch" / "checkpoints" / "last.ckpt")["hyper_parameters"]["model"]["grid_batch_stats"]


def test_a_conditional_grid_has_one_named_row_per_class(conditional_run):
    """Row r of the grid is G(fixed noise 0..7, class r): the same latents in every row, the class's name left."""
    checkpoint = read_ckpt(conditional_run / "checkpoints" / "last.ckpt")
    config, state = run_config(checkpoint), checkpoint["state_dict"]
    g = build_net(DCGAN.generator_weights(state)[0], config, "generator")
    z, labels = class_rows(state["fixed_noise"][:8], 10)
    expected = to_uint8(draw(g, z, batch_stats=True, labels=labels))[:, 0].numpy()  # as the run drew it
    picture = Image.open(conditional_run / "samples" / "step_0000004.png").convert("L")
    pixels = np.asarray(picture)
    band = picture.width - GRID  # the class names, left of the cells
    assert picture.height == BAND + 10 * 34 + 2 and 40 < band <= 160
    for r in range(10):
        for c in range(8):
            tile = pixels[BAND + 2 + 34 * r : BAND + 34 + 34 * r, band + 2 + 34 * c : band + 34 + 34 * c]
            np.testing.assert_array_equal(tile, expected[8 * r + c], err_msg=f"row {r} column {c}")
        assert has_text(picture, (0, BAND + 2 + 34 * r, band, BAND + 34 + 34 * r)), f"no name on row {r}"
    assert not np.array_equal(expected[:8], expected[8:16])  # the rows differ by their class
    assert has_text(picture, (0, 0, picture.width, BAND))  # the iteration
