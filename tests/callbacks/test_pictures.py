"""RunPictures: progress.gif, losses.png, real_vs_fake.png at the end of (resumed) training."""

from __future__ import annotations

import torch

from dcgan.cli.train import train
from tests.helpers import image_info

GRID = 8 * 34 + 2  # 64 samples of 32x32, 8 per row, 2px padding


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
