"""The Checkpoint callback: never writes non-finite weights, names the last good checkpoint."""

from __future__ import annotations

import pytest
import torch

from dcgan.cli.train import train
from dcgan.errors import DivergenceError
from tests.conftest import LONG
from tests.helpers import read_ckpt


def test_non_finite_weights_stop_the_run_naming_the_last_good_checkpoint(compose_cfg, tmp_path):
    cfg = compose_cfg(
        *LONG,
        "trainer.max_steps=40",
        "callbacks.model_checkpoint.every_n_train_steps=4",
        "+callbacks.corrupt._target_=tests.helpers.CorruptWeights",
        "+callbacks.corrupt.step=10",
    )
    with pytest.raises(DivergenceError) as info:
        train(cfg)
    message = str(info.value)
    assert "at step 12" in message and "last good checkpoint" in message and "last.ckpt (step 8)" in message
    last = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 8
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())
