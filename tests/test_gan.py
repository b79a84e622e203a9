"""The training step: which optimizer moves which net, what gets logged, what a checkpoint holds."""

import math

import pytest
import torch
from hydra.utils import instantiate

from dcgan.errors import ConfigError
from dcgan.train import build_trainer
from tests.helpers import StepRecorder


def _changed(before: dict, after: dict) -> set[str]:
    return {k for k in before if not torch.equal(before[k], after[k])}


@pytest.mark.parametrize("d_steps", [1, 2])
def test_d_step_moves_only_d_and_g_step_only_g(compose_cfg, d_steps):
    cfg = compose_cfg("trainer.max_steps=" + str(2 * (d_steps + 1)), f"model.d_steps_per_g={d_steps}")
    model, dm = instantiate(cfg.model), instantiate(cfg.dataset)
    trainer = build_trainer(cfg)
    recorder = StepRecorder()
    trainer.callbacks.append(recorder)
    trainer.fit(model, datamodule=dm)
    tags = [t for t, _, _ in recorder.snapshots]
    assert tags == (["before_d"] * d_steps + ["before_g", "batch_end"]) * 2
    for (tag, g0, d0), (_, g1, d1) in zip(recorder.snapshots, recorder.snapshots[1:], strict=False):
        if tag == "before_d":  # from before a D step to after it
            assert _changed(g0, g1) == set()
            assert _changed(d0, d1) == set(d0)
        elif tag == "before_g":  # from before the G step to after it
            assert _changed(d0, d1) == set()
            assert _changed(g0, g1) == set(g0)
    # Lightning counts each optimizer step
    assert trainer.global_step == 2 * (d_steps + 1)


def test_logs_the_tutorial_statistics(compose_cfg):
    cfg = compose_cfg("trainer.max_steps=4")
    trainer = build_trainer(cfg)
    trainer.fit(instantiate(cfg.model), datamodule=instantiate(cfg.dataset))
    metrics = trainer.callback_metrics
    for key in ("train/loss_d", "train/loss_g", "train/d_real", "train/d_fake", "train/d_fake_after"):
        assert key in metrics and math.isfinite(float(metrics[key])), key
    for key in ("train/d_real", "train/d_fake", "train/d_fake_after"):
        assert 0 < float(metrics[key]) < 1
    # the first D step of a fresh DCGAN: loss_d = BCE(real,1) + BCE(fake,0) ~ 2 ln 2 within noise
    assert 0.2 < float(metrics["train/loss_d"]) < 4


def test_optimizers_come_from_config(compose_cfg):
    cfg = compose_cfg("optimizer_g.lr=1e-3", "optimizer_d.lr=5e-5", "optimizer_d.betas=[0.0,0.9]")
    opt_g, opt_d = instantiate(cfg.model).configure_optimizers()
    assert isinstance(opt_g, torch.optim.Adam) and isinstance(opt_d, torch.optim.Adam)
    assert opt_g.param_groups[0]["lr"] == 1e-3 and opt_g.param_groups[0]["betas"] == (0.5, 0.999)
    assert opt_d.param_groups[0]["lr"] == 5e-5 and tuple(opt_d.param_groups[0]["betas"]) == (0.0, 0.9)


def test_default_hyperparameters_are_the_dcgan_papers(compose_cfg):
    cfg = compose_cfg()
    for opt in (cfg.optimizer_g, cfg.optimizer_d):
        assert opt.lr == 2e-4 and list(opt.betas) == [0.5, 0.999]
    assert cfg.generator.nz == 100 and cfg.model.d_steps_per_g == 1


def test_fixed_noise_is_a_buffer_in_the_state_dict(compose_cfg):
    model = instantiate(compose_cfg().model)
    assert "fixed_noise" in dict(model.named_buffers())
    assert model.state_dict()["fixed_noise"].shape == (64, 100)


def test_bad_d_steps_is_a_clear_error(compose_cfg):
    with pytest.raises(Exception) as info:
        instantiate(compose_cfg("model.d_steps_per_g=0").model)
    assert "d_steps_per_g=0" in str(info.value)
    from dcgan.errors import find_user_error

    assert isinstance(find_user_error(info.value), ConfigError)
