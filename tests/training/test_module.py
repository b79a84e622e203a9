"""The LightningModule: which optimizer moves which net, what gets logged, the sampling generator, perf options."""

from __future__ import annotations

import csv
import math
import sys

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch import Callback

from dcgan.cli.train import build_trainer, train
from dcgan.errors import ConfigError
from tests.conftest import LONG
from tests.helpers import StepRecorder, read_ckpt


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


def test_sampling_uses_the_ema_generator(compose_cfg):
    from hydra.utils import instantiate

    model = instantiate(compose_cfg("ema=on").model)
    assert model.sampling_generator is model.generator_ema.module
    with torch.no_grad():
        for p in model.generator_ema.module.parameters():
            p.zero_()
    out = model.sample()
    assert torch.allclose(out, torch.zeros_like(out))  # all-zero weights give tanh(0) = 0 everywhere


def test_skip_mode_drops_a_non_finite_update_and_trains_on(compose_cfg, tmp_path):
    cfg = compose_cfg(
        *LONG,
        "trainer.max_steps=8",
        "model.on_nonfinite=skip",
        "+callbacks.corrupt._target_=tests.helpers.CorruptBatch",
        "+callbacks.corrupt.batch_number=1",
    )
    metrics = train(cfg)
    assert metrics["train/skipped_steps"] == 1  # the D step on the NaN batch; its G step was finite
    last = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 9  # Lightning counts only the optimizer steps taken
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


@pytest.mark.parametrize(
    "option",
    [
        ["model.channels_last=true"],
        ["optimizer_g.foreach=false", "optimizer_d.foreach=false"],
        ["model.prog_bar=false"],
        ["trainer.benchmark=true"],
    ],  # fmt: skip
    ids=lambda o: o[0],
)
def test_perf_options_give_the_same_losses(compose_cfg, tmp_path, option):
    base = train(compose_cfg("trainer.max_steps=6"))
    (tmp_path / "run").rename(tmp_path / "base")
    fast = train(compose_cfg("trainer.max_steps=6", *option))
    for key in ("train/loss_d", "train/loss_g"):
        assert fast[key] == pytest.approx(base[key], rel=1e-4, abs=1e-5), key


@pytest.mark.slow
def test_compiled_nets_give_the_same_losses(compose_cfg, tmp_path):
    base = train(compose_cfg("trainer.max_steps=4"))
    (tmp_path / "run").rename(tmp_path / "base")
    compiled = train(compose_cfg("trainer.max_steps=4", "model.compile=true"))
    for key in ("train/loss_d", "train/loss_g"):
        assert compiled[key] == pytest.approx(base[key], rel=1e-3, abs=1e-4), key


@pytest.mark.slow
def test_perf_fast_preset_runs_on_cpu(compose_cfg):
    metrics = train(compose_cfg("perf=fast", "model.compile=false", "trainer.max_steps=4"))
    assert math.isfinite(metrics["train/loss_d"])


class HostReads(Callback):
    """Counts the reads of tensor values into Python (what waits for a GPU) that the project's and
    Lightning's code makes, in each iteration (torch's own CPU-only reads, e.g. Adam's step count, aside)."""

    def __init__(self, monkeypatch) -> None:
        self.count, self.per_iteration = 0, []
        for name in ("item", "tolist", "__float__", "__bool__", "__int__"):
            original = getattr(torch.Tensor, name)

            def counted(tensor, *args, _original=original, **kwargs):
                caller = sys._getframe(1).f_code.co_filename
                self.count += "/dcgan/" in caller or "/lightning/" in caller
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, name, counted)

    def on_train_batch_start(self, *args) -> None:
        self.count = 0

    def on_train_batch_end(self, *args) -> None:
        self.per_iteration.append(self.count)


def test_the_fast_settings_read_no_tensor_between_logging_steps(compose_cfg, tmp_path, monkeypatch):
    cfg = compose_cfg(
        "trainer.max_epochs=-1", "trainer.max_steps=20", "logger=csv", "model.prog_bar=false",
        "trainer.log_every_n_steps=5",
        "callbacks.divergence.check_every_n_steps=10", "callbacks.samples.every_n_steps=1000",
    )  # fmt: skip
    model, dm, trainer = instantiate(cfg.model), instantiate(cfg.dataset), build_trainer(cfg)
    reads = HostReads(monkeypatch)
    trainer.callbacks.append(reads)
    trainer.fit(model, datamodule=dm)
    quiet = [n for i, n in enumerate(reads.per_iteration, 1) if i % 5]  # iterations 1-4, 6-9: no logging
    assert len(reads.per_iteration) == 10 and quiet == [0] * 8, reads.per_iteration
    with open(tmp_path / "run" / "csv" / "metrics.csv") as file:  # the losses still reach the logger
        logged = [int(row["step"]) for row in csv.DictReader(file) if row["train/loss_d"]]
    assert logged == [10, 20]  # every 5 iterations = 10 global steps
