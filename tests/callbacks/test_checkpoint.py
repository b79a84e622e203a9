"""The Checkpoint callback: never writes non-finite weights, names the last good checkpoint."""

from __future__ import annotations

import pytest
import torch

from dcgan.cli.train import train
from dcgan.errors import DivergenceError
from tests.conftest import LONG
from tests.helpers import LogRecords, read_ckpt


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


def test_a_stop_in_the_middle_of_an_iteration_saves_nothing(compose_cfg, tmp_path):
    cfg = compose_cfg(*LONG, "trainer.max_steps=40", "callbacks.model_checkpoint.every_n_train_steps=4",
                      "+callbacks.fail._target_=tests.helpers.FailBetweenSteps", "+callbacks.fail.step=10")  # fmt: skip
    with LogRecords("dcgan.callbacks") as logs, pytest.raises(RuntimeError, match="between the D and the G step"):
        train(cfg)
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == ["last.ckpt", "step_0000004.ckpt", "step_0000008.ckpt"]
    last = read_ckpt(checkpoints / "last.ckpt")
    assert last["global_step"] == 8
    assert [{int(s["step"]) for s in opt["state"].values()} for opt in last["optimizer_states"]] == [{4}, {4}]
    assert any("middle of an iteration (RuntimeError): not saved" in m and "(step 8)" in m for m in logs.messages)
