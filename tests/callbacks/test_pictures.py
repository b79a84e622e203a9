"""RunPictures: progress.gif, losses.png, real_vs_fake.png at every checkpoint and at the end of (resumed) training."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import FashionMNIST

from dcgan.cli.train import train
from dcgan.data.transforms import uint8_transform
from dcgan.errors import DivergenceError
from dcgan.images import TITLE_PX
from tests.helpers import image_info, nearest, read_ckpt

GRID = 8 * 34 + 2  # 64 samples of 32x32, 8 per row, 2px padding
BAND = TITLE_PX + 8  # the title band above each grid


def to_32px(image: torch.Tensor) -> np.ndarray:
    """A 28x28 Fashion-MNIST image as the run's pipeline makes it: 32x32 uint8."""
    return uint8_transform(32, 1, "crop")(Image.fromarray(image.numpy()))[0].numpy()


def test_pictures_at_the_end_of_a_resumed_run(compose_cfg, tmp_path):
    run = tmp_path / "run"
    train(compose_cfg("trainer.max_steps=4"))
    train(compose_cfg("trainer.max_steps=8", f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}"))
    # grids at steps 0, 4 (both runs) and 8: the GIF spans the whole training
    assert image_info(run / "progress.gif") == ((GRID, GRID + BAND), 3)
    assert image_info(run / "losses.png") == ((1200, 400), 1)
    # 16 real images (one batch) beside 16 fakes, 8 per row, 8px apart, each under its heading
    assert image_info(run / "real_vs_fake.png") == ((2 * GRID + 8, 2 * 34 + 2 + BAND), 1)
    # the loss history travels in the checkpoint, so the resumed run drew all four iterations
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["callbacks"]["RunPictures"]
    assert state["keys"][0] == "iteration" and state["rows"][:, 0].tolist() == [1, 2, 3, 4]
    assert torch.isfinite(state["rows"]).all()


def test_a_run_that_dies_has_the_pictures_of_its_last_checkpoint(compose_cfg, tmp_path):
    cfg = compose_cfg(
        "trainer.max_epochs=-1", "trainer.max_steps=40", "callbacks.model_checkpoint.every_n_train_steps=4",
        "+callbacks.corrupt._target_=tests.helpers.CorruptWeights", "+callbacks.corrupt.step=10",
    )  # fmt: skip
    with pytest.raises(DivergenceError):
        train(cfg)  # dies at step 12, after checkpoints at steps 4 and 8: no on_train_end
    run = tmp_path / "run"
    assert read_ckpt(run / "checkpoints" / "last.ckpt")["global_step"] == 8
    assert image_info(run / "losses.png")[0] == (1200, 400)
    assert image_info(run / "progress.gif")[1] == 3  # the grids of steps 0, 4 and 8
    assert image_info(run / "real_vs_fake.png")[0] == (2 * GRID + 8, 2 * 34 + 2 + BAND)


def test_a_conditional_runs_pictures_sort_the_real_images_into_its_class_rows(conditional_run, data_dir):
    run = conditional_run
    last_grid = Image.open(run / "samples" / "step_0000004.png").convert("L")
    assert image_info(run / "progress.gif") == (last_grid.size, 2)  # the class grids of steps 0 and 4
    picture = np.asarray(Image.open(run / "real_vs_fake.png").convert("L"))
    grid, band = 8 * 34 + 2, last_grid.width - (8 * 34 + 2)
    assert picture.shape == (BAND + 10 * 34 + 2, band + grid + 8 + grid)
    fake = picture[BAND:, band + grid + 8 :]
    np.testing.assert_array_equal(fake, np.asarray(last_grid)[BAND:, band:])  # G's class grid, rows as named
    dataset = FashionMNIST(data_dir, train=True)
    images = np.stack([to_32px(image) for image in dataset.data])
    shown = 0
    for r in range(10):
        for c in range(8):
            tile = picture[BAND + 2 + 34 * r : BAND + 34 + 34 * r, band + 2 + 34 * c : band + 34 + 34 * c]
            if tile.any():  # a real image of class r, or a black cell where the last batch had fewer
                index, difference = nearest(tile, images)
                assert difference <= 1 and int(dataset.targets[index]) == r, f"row {r}"
                shown += 1
    assert shown >= 8  # the last batch of 16
