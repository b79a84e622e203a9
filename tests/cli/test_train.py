"""train.py end to end: through Hydra's compose API and as a user runs it (subprocess)."""

from __future__ import annotations

import gzip
import math
import re

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from dcgan.cli.train import train
from dcgan.config import compose
from dcgan.errors import ConfigError
from dcgan.images import TITLE_PX
from tests.conftest import FAST
from tests.helpers import (
    DATASETS,
    ROOT,
    assert_same_tensors,
    dataset_overrides,
    has_text,
    one_error_line,
    read_ckpt,
    run_script,
)


@pytest.mark.parametrize("generator", ["transposed", "upsample"])
@pytest.mark.parametrize("discriminator", ["dcgan", "cblock"])
def test_train_end_to_end(compose_cfg, tmp_path, generator, discriminator):
    cfg = compose_cfg(f"generator={generator}", f"discriminator={discriminator}", "trainer.max_steps=8")
    metrics = train(cfg)
    run = tmp_path / "run"
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    ckpt = read_ckpt(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 8
    assert len(ckpt["optimizer_states"]) == 2
    assert ckpt["state_dict"]["fixed_noise"].shape == (64, 100)
    assert not any(k.startswith(("generator.module", "discriminator.module")) for k in ckpt["state_dict"])
    grids = sorted(p.name for p in (run / "samples").glob("*.png"))
    assert grids == ["step_0000000.png", "step_0000004.png", "step_0000008.png"]
    with Image.open(run / "samples" / "step_0000008.png") as grid:
        # 64 samples of 32x32 in an 8x8 grid with make_grid's 2px padding, under a title band
        assert grid.size == (8 * 34 + 2, 8 * 34 + 2 + TITLE_PX + 8)
        assert has_text(grid, (0, 0, grid.width, TITLE_PX + 8))


@pytest.mark.parametrize("precision", ["bf16-mixed"])
def test_mixed_precision_on_cpu(compose_cfg, precision):
    metrics = train(compose_cfg(f"trainer.precision={precision}", "trainer.max_steps=4"))
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())


OPTIONS = [
    ["loss=hinge"],
    ["loss=lsgan"],
    ["experiment=wgan_gp"],
    ["ema=on", "model.ema_rampup=null"],
    ["augment=diffaugment"],
    ["regularizer=r1"],
    ["spectral_norm=on"],
    ["ttur=on"],
    ["loss=hinge", "spectral_norm=on", "regularizer=r1", "augment=diffaugment", "ema=on", "ttur=on"],
]


@pytest.mark.parametrize("overrides", OPTIONS, ids=lambda o: ",".join(o))
def test_each_option_trains_without_nan(compose_cfg, tmp_path, overrides):
    metrics = train(compose_cfg(*overrides, "trainer.max_steps=12"))
    for key in ("train/loss_d", "train/loss_g", "train/d_real", "train/d_fake"):
        assert math.isfinite(metrics[key]), key
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    weights = ckpt["state_dict"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    if "ema=on" in overrides:
        assert any(k.startswith("generator_ema.module.") for k in weights)
    if "spectral_norm=on" in overrides:
        assert any("parametrizations.weight.original" in k for k in weights if k.startswith("discriminator."))
    if "regularizer=r1" in overrides:
        assert metrics["train/r1"] > 0
    if "experiment=wgan_gp" in overrides:
        assert metrics["train/penalty"] >= 0
        assert not any("running_mean" in k for k in weights if k.startswith("discriminator."))  # no BatchNorm


def _ema_gap(ckpt: dict) -> float:
    """The EMA generator's distance to the live one, relative to the live weights' norm."""
    state = ckpt["state_dict"]
    live = [k for k in state if k.startswith("generator.") and state[k].is_floating_point() and "running" not in k]
    gap = torch.cat([(state["generator_ema.module." + k[len("generator.") :]] - state[k]).flatten() for k in live])
    return float(gap.norm() / torch.cat([state[k].flatten() for k in live]).norm())


def test_the_ema_tracks_the_live_generator_early_in_a_run(compose_cfg, tmp_path):
    # 6 iterations: the ramped half-life (ema=on) keeps the EMA within a hair of G; a fixed half-life
    # (no ramp-up, the old fixed decay's behaviour) keeps it near G's initial weights
    train(compose_cfg("ema=on", "trainer.max_steps=12"))
    ramped = _ema_gap(read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt"))
    (tmp_path / "run").rename(tmp_path / "ramped")
    train(compose_cfg("ema=on", "model.ema_rampup=null", "trainer.max_steps=12"))
    fixed = _ema_gap(read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt"))
    assert ramped < 0.01 < fixed
    assert ramped < fixed / 20


def test_train_py_subprocess_writes_checkpoint_and_samples(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    proc = run_script(
        "train.py", *FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=6", f"hydra.run.dir={run_dir}", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "samples" / "step_0000006.png").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    output = proc.stdout + proc.stderr
    assert "Run summary: 3 iterations (6 optimizer steps)" in output
    # what users should not have to read: library deprecations, an advertisement
    assert not any(noise in output for noise in ("set_vital", "LeafSpec", "litlogger", "Warning"))
    # Lightning's lines go through the run's logging, into train.log too
    assert "`Trainer.fit` stopped: `max_steps=6` reached." in (run_dir / "train.log").read_text()


def test_help_lists_the_options_a_user_can_choose():
    proc = run_script("train.py", "--help", cwd=ROOT)
    groups = dict(line.split(": ", 1) for line in proc.stdout.split("== Config ==")[0].splitlines() if ": " in line)
    assert proc.returncode == 0 and "dataset" in groups and "metrics" in groups
    for group, options in groups.items():
        for option in options.split(", "):
            assert not option.startswith("_"), f"{group}: {option}"
            assert (ROOT / "conf" / group / f"{option}.yaml").is_file(), f"{group}: {option}"


def test_bad_config_value_is_one_line_error_before_the_data_is_touched(tmp_path, data_dir):
    # Fashion-MNIST only in a system copy: a valid run would unpack it into paths.data_dir first
    system = tmp_path / "system"
    system.mkdir()
    for file in (data_dir / "FashionMNIST" / "raw").iterdir():
        (system / f"{file.name}.gz").write_bytes(gzip.compress(file.read_bytes()))
    args = [*FAST, f"paths.data_dir={tmp_path / 'data'}", f"dataset.source.system_dir={system}",
            "dataset.image_size=30", f"hydra.run.dir={tmp_path / 'run'}"]  # fmt: skip
    proc = run_script("train.py", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "dataset.image_size=30" in one_error_line(proc)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("optimizer_g.lr=-0.001", "optimizer_g: Invalid learning rate"),
        ("optimizer_d.betas=[0.5,1.5]", "optimizer_d: Invalid beta"),
        ("dataset.batch_size=0", "dataset.batch_size=0"),
        ("trainer.devices=64", "trainer.devices=64"),
        ("trainer.precision=16-mixed", "trainer.precision=16-mixed needs a CUDA GPU"),
        ("trainer.accelerator=gpu", "trainer:"),
        ("model.on_nonfinite=ignore", "model.on_nonfinite"),
    ],
)
def test_bad_values_stop_before_training_with_one_line(tmp_path, data_dir, override, expected):
    args = [*FAST, f"paths.data_dir={data_dir}", f"hydra.run.dir={tmp_path / 'run'}", override]
    proc = run_script("train.py", *args, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert expected in one_error_line(proc)
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained


def test_unknown_key_is_refused(tmp_path, data_dir):
    proc = run_script("train.py", *FAST, f"paths.data_dir={data_dir}", "trainer.max_stepz=3", cwd=tmp_path)
    assert proc.returncode == 2 and "Could not override 'trainer.max_stepz'" in one_error_line(proc)


def test_train_py_stops_with_one_line_before_the_trainer(tmp_path):
    args = [*FAST, "dataset=cifar10", f"paths.data_dir={tmp_path / 'empty'}", f"hydra.run.dir={tmp_path / 'run'}"]
    proc = run_script("train.py", *args, cwd=tmp_path)
    assert proc.returncode == 2
    error = one_error_line(proc)
    assert "CIFAR-10 not found" in error and str(tmp_path / "empty") in error
    assert "GPU available" not in proc.stdout + proc.stderr  # the Trainer never started


def test_deterministic_runs_give_identical_weights(compose_cfg, tmp_path):
    train(compose_cfg("deterministic=true", "trainer.max_steps=6"))
    first = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["state_dict"]
    (tmp_path / "run").rename(tmp_path / "first")
    train(compose_cfg("deterministic=true", "trainer.max_steps=6"))
    second = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["state_dict"]
    assert_same_tensors(first, second)


def test_a_new_run_into_a_folder_with_checkpoints_is_refused(compose_cfg, tmp_path):
    # train(cfg) keeps the folder as train.py does (a multirun's jobs come this way)
    train(compose_cfg("trainer.max_steps=2"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    before = last.read_bytes()
    with pytest.raises(ConfigError, match="holds another run's checkpoints \\(last.ckpt\\): a new run would mix"):
        train(compose_cfg("trainer.max_steps=4"))
    assert last.read_bytes() == before


@pytest.mark.slow  # the model batches above cover each dataset; the experiments train on most of them
@pytest.mark.parametrize("name", DATASETS)
def test_train_runs_on_every_dataset(compose_cfg, fixture_root, tmp_path, name):
    metrics = train(compose_cfg(*dataset_overrides(name, fixture_root), "trainer.max_steps=4", "trainer.max_epochs=4"))
    assert metrics and all(np.isfinite(v) for v in metrics.values())
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4


def test_multirun_two_jobs(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    args = ["-m", *FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=2", "optimizer_d.lr=1e-4,2e-4"]
    proc = run_script("train.py", *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
    lrs = sorted(read_ckpt(sweep / j / "checkpoints" / "last.ckpt")["optimizer_states"][1]["param_groups"][0]["lr"]
                 for j in ("0", "1"))  # fmt: skip
    assert lrs == [1e-4, 2e-4]


@pytest.mark.slow
def test_multirun_with_ddp_uses_spawn(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    args = ["-m", *FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=2", "trainer.accelerator=cpu",
            "trainer.devices=2", "seed=1,2"]  # fmt: skip
    proc = run_script("train.py", *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ddp_spawn" in proc.stdout + proc.stderr
    for job in ("0", "1"):
        assert read_ckpt(sweep / job / "checkpoints" / "last.ckpt")["global_step"] == 2


def test_slurm_launcher_starts_one_task_per_gpu():
    overrides = ["hydra/launcher=slurm", "trainer=gpu", "trainer.devices=4", "trainer.num_nodes=2", "ckpt_path=auto"]
    cfg = compose("train", overrides, hydra_node=True)
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0


def test_the_documented_optuna_search_optimizes_val_fd(tmp_path, data_dir):
    # as the README runs it (the val/fd of the shipped classifier), with a budget shrunk to two tiny trials
    sweep = tmp_path / "sweep"
    args = ["-m", "hparams_search=optuna", *FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=4",
            "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2", "callbacks.fd.num_samples=64",
            f"metrics.cache_dir={tmp_path / 'cache'}", f"hydra.sweep.dir={sweep}"]  # fmt: skip
    proc = run_script("train.py", *args, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert math.isfinite(result["best_value"]) and result["best_value"] > 0
    assert {"optimizer_g.lr", "loss"} <= set(result["best_params"])
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1"]
    # each trial scored val/fd at its end (step 4, though callbacks.fd.every_n_steps is 2000): the best of them
    logged = [re.findall(r"val/fd ([0-9.]+)", (sweep / job / "train.log").read_text()) for job in ("0", "1")]
    assert all(len(values) == 1 for values in logged), logged
    assert result["best_value"] == pytest.approx(min(float(values[0]) for values in logged), abs=1e-4)


def test_a_metric_the_run_never_logs_stops_before_training(tmp_path, data_dir):
    args = [*FAST, f"paths.data_dir={data_dir}", f"hydra.run.dir={tmp_path / 'run'}", "optimized_metric=val/fd"]
    proc = run_script("train.py", *args, cwd=tmp_path)
    assert proc.returncode == 2
    error = one_error_line(proc)
    assert "optimized_metric=val/fd is never logged by this run (val/fd needs callbacks=[default,fd])" in error
    assert not (tmp_path / "run" / "checkpoints").exists()


CONDITIONAL = [
    ["loss=nonsaturating"],
    ["loss=hinge"],
    ["loss=lsgan"],
    ["experiment=wgan_gp", "model.d_steps_per_g=2"],
    ["ema=on"],
    ["regularizer=r1"],
    ["augment=diffaugment"],
    ["generator.condition=cbn", "spectral_norm=on"],
    ["generator=upsample", "discriminator=cblock", "generator.condition=cbn"],
    ["generator=upsample", "generator.projection=transposed", "discriminator=cblock"],
]


@pytest.mark.parametrize("overrides", CONDITIONAL, ids=lambda o: ",".join(o))
def test_a_conditional_run_trains_with_each_option(compose_cfg, tmp_path, overrides):
    metrics = train(compose_cfg("model.conditional=true", *overrides, "trainer.max_steps=6"))
    for key in ("train/loss_d", "train/loss_g", "train/d_real", "train/d_fake"):
        assert math.isfinite(metrics[key]), key
    ckpt = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    weights, stored = ckpt["state_dict"], ckpt["hyper_parameters"]
    assert ckpt["global_step"] == 6 and all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert stored["generator"]["num_classes"] == stored["discriminator"]["num_classes"] == 10
    assert stored["generator"]["class_names"][:2] == ["T-shirt/top", "Trouser"]  # the dataset's, with the run
    assert any(k.startswith("discriminator.embed.") for k in weights)  # the projection
    cbn = "generator.condition=cbn" in overrides
    assert any(k.startswith("generator.embed.") for k in weights) != cbn
    assert any(".scale.weight" in k for k in weights if k.startswith("generator.")) == cbn
    if "ema=on" in overrides:
        ema = {k for k in weights if k.startswith("generator_ema.module.")}
        assert "generator_ema.module.embed.weight" in ema
    if "regularizer=r1" in overrides:
        assert metrics["train/r1"] > 0
    if "experiment=wgan_gp" in overrides:
        assert metrics["train/penalty"] >= 0


def test_an_unconditional_run_keeps_its_checkpoint_names(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=2"))
    ckpt = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert not any("embed" in k or ".scale." in k for k in ckpt["state_dict"])
    assert (
        ckpt["hyper_parameters"]["generator"]["num_classes"] == 0 and not ckpt["hyper_parameters"]["dataset"]["labels"]
    )
