"""The LightningModule: which optimizer moves which net, what gets logged, the sampling generator, perf options."""

from __future__ import annotations

import csv
import math
import sys

import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch import Callback

from dcgan.cli.train import build_trainer, set_classes, train
from dcgan.errors import ConfigError, find_user_error
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


def _buffers(net: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in net.named_buffers()}


def test_grids_use_batch_statistics_and_leave_gs_buffers_unchanged(compose_cfg):
    model = instantiate(compose_cfg().model)
    before = _buffers(model.generator)
    grid = model.grid_images()
    assert all(torch.equal(v, before[k]) for k, v in model.generator.named_buffers())  # no side effect
    assert model.generator.training  # its mode is back as well
    # the tutorial's way: G in train mode on the fixed-noise batch ...
    import copy

    with torch.no_grad():
        expected = copy.deepcopy(model.generator).train()(model.fixed_noise)
    assert torch.allclose(grid, expected)
    # ... not the flat grey of eval mode at the start (running statistics still at their init)
    eval_mode = model.sample()
    assert grid.std() > 5 * eval_mode.std()


def test_grids_in_eval_mode_when_asked_and_for_the_ema(compose_cfg):
    model = instantiate(compose_cfg("model.grid_batch_stats=false").model)
    assert torch.equal(model.grid_images(), model.sample())
    ema = instantiate(compose_cfg("ema=on").model)
    before = _buffers(ema.generator_ema.module)
    assert torch.equal(ema.grid_images(), ema.sample())  # the EMA generator keeps eval mode
    assert all(torch.equal(v, before[k]) for k, v in ema.generator_ema.module.named_buffers())


def _generator_inputs(cfg) -> list[torch.Tensor]:
    """The latents of every training forward of G in one iteration (not the fixed-noise grids)."""
    model, seen = instantiate(cfg.model), []
    model.generator.register_forward_hook(lambda m, args, out: seen.append(args[0].detach().clone()))
    build_trainer(cfg).fit(model, datamodule=instantiate(cfg.dataset))
    return [z for z in seen if len(z) != len(model.fixed_noise)]


@pytest.mark.parametrize("fresh", [False, True])
def test_g_fresh_noise_gives_the_g_step_its_own_batch(compose_cfg, fresh):
    inputs = _generator_inputs(compose_cfg("trainer.max_steps=2", f"model.g_fresh_noise={str(fresh).lower()}"))
    if not fresh:  # the tutorial: one fake batch, made for the D step, reused by the G step
        assert len(inputs) == 1
    else:  # the walkthrough: the G step makes its own from new noise
        assert len(inputs) == 2 and not torch.equal(inputs[0], inputs[1])


def test_logs_the_discriminators_accuracy_on_real_and_fake(compose_cfg):
    cfg = compose_cfg("trainer.max_steps=4")
    trainer = build_trainer(cfg)
    trainer.fit(instantiate(cfg.model), datamodule=instantiate(cfg.dataset))
    for key in ("train/d_acc_real", "train/d_acc_fake"):
        value = float(trainer.callback_metrics[key]) * cfg.dataset.batch_size
        assert 0 <= value <= cfg.dataset.batch_size and value == round(value), key  # a count of 16 images
    wgan = compose_cfg("experiment=wgan_gp", "trainer.max_steps=6")
    trainer = build_trainer(wgan)
    trainer.fit(instantiate(wgan.model), datamodule=instantiate(wgan.dataset))
    assert "train/d_acc_real" not in trainer.callback_metrics  # a critic has no real/fake verdict


def test_per_epoch_mean_losses_are_logged(compose_cfg, tmp_path):
    import csv

    # 96 fixture images, batches of 16: 6 iterations (12 global steps) per epoch, every step logged
    train(compose_cfg("logger=csv", "trainer.max_epochs=2", "trainer.max_steps=24"))
    rows = list(csv.DictReader(next((tmp_path / "run" / "csv").rglob("metrics.csv")).open()))
    ends = [(int(r["step"]), float(r["train/epoch_loss_d"])) for r in rows if r["train/epoch_loss_d"]]
    assert [step for step, _ in ends] == [12, 24]  # at each epoch's last global step
    start = 0
    for end, mean in ends:
        losses = [float(r["train/loss_d"]) for r in rows if r["train/loss_d"] and start < int(r["step"]) <= end]
        assert len(losses) == 6 and mean == pytest.approx(sum(losses) / 6, rel=1e-5)
        start = end


def test_checkpoints_hold_both_nets_parameter_counts(compose_cfg, tmp_path):
    cfg = compose_cfg("trainer.max_steps=2")
    train(cfg)
    counts = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["parameter_counts"]
    g, d = instantiate(cfg.generator), instantiate(cfg.discriminator)
    assert counts == {"generator": sum(p.numel() for p in g.parameters()),
                      "discriminator": sum(p.numel() for p in d.parameters())}  # fmt: skip
    assert counts["generator"] > 0 and counts["discriminator"] > 0


class BatchLabels(Callback):
    """Keeps the labels of every training batch the model receives."""

    def __init__(self) -> None:
        self.labels = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.labels.append(batch[1].clone())


def test_a_conditional_step_gives_g_d_and_the_ema_the_batch_labels(compose_cfg):
    cfg = compose_cfg("model.conditional=true", "ema=on", "loss=wgan_gp",
                      "discriminator.norm=none", "regularizer=r1", "trainer.max_steps=4")  # fmt: skip
    dm = instantiate(cfg.dataset)
    set_classes(cfg, dm.class_names())
    model, calls = instantiate(cfg.model), {"generator": [], "discriminator": [], "ema": []}
    for name, net in (("generator", model.generator), ("discriminator", model.discriminator),
                      ("ema", model.generator_ema.module)):  # fmt: skip
        net.register_forward_pre_hook(lambda m, args, name=name: calls[name].append(args))
    trainer, seen = build_trainer(cfg), BatchLabels()
    trainer.callbacks.append(seen)
    trainer.fit(model, datamodule=dm)
    batch = cfg.dataset.batch_size
    training = {k: [args for args in v if len(args[0]) == batch] for k, v in calls.items()}  # not the grids
    # the EMA runs from the second iteration on (at the first its beta is 0: a plain copy of G)
    assert len(seen.labels) == 2 and len(training["generator"]) == 2 and len(training["ema"]) == 1
    # per iteration D judges: real (+ the penalty's interpolates) and fake in its step, fake in G's
    assert len(training["discriminator"]) == 2 * 4
    training["ema"].insert(0, None)
    for i, labels in enumerate(seen.labels):
        for name, per_iteration in (("generator", 1), ("ema", 1), ("discriminator", 4)):
            for args in training[name][i * per_iteration : (i + 1) * per_iteration]:
                assert args is None or (len(args) == 2 and torch.equal(args[1], labels)), name
    grids = [args for args in calls["ema"] if len(args[0]) != batch]  # an EMA G draws the grids
    assert grids and all(torch.equal(a[1], torch.arange(10).repeat_interleave(8)) for a in grids)  # the class grid


def test_conditional_settings_that_do_not_fit_are_clear_errors(compose_cfg):
    with pytest.raises(Exception) as info:
        instantiate(compose_cfg("model.conditional=true").model)  # no classes set
    assert "model.conditional=true needs generator.num_classes" in str(find_user_error(info.value))
    with pytest.raises(Exception) as info:
        instantiate(compose_cfg("generator.num_classes=3", "discriminator.num_classes=3").model)
    assert "need model.conditional=true" in str(find_user_error(info.value))
