"""Scale-out and search configs: SLURM launcher composition, a tiny Optuna search, perf options."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import yaml
from hydra import compose, initialize_config_dir

from dcgan.train import train
from tests.conftest import CONF, FAST, ROOT, subprocess_env


def test_slurm_launcher_starts_one_task_per_gpu():
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(
            "train", overrides=["hydra/launcher=slurm", "trainer=gpu", "trainer.devices=4", "trainer.num_nodes=2",
                                "ckpt_path=auto"], return_hydra_config=True,
        )  # fmt: skip
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.nodes, launcher.tasks_per_node, launcher.gpus_per_node) == (2, 4, 4)
    assert launcher.max_num_timeout > 0 and launcher.signal_delay_s > 0


def test_tiny_optuna_search_runs_trials_and_reports_the_best(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=optuna", *FAST, f"paths.data_dir={data_dir}",
         "trainer.max_steps=4", "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=2",
         "optimized_metric=train/loss_g", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    assert math.isfinite(result["best_value"])
    assert {"optimizer_g.lr", "loss"} <= set(result["best_params"])
    assert sorted(p.name for p in sweep.iterdir() if p.name.isdigit()) == ["0", "1"]


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


def test_bench_script_quick_mode_prints_a_ratio():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick"], cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ratio = [line for line in proc.stdout.splitlines() if line.startswith("ratio: ")]
    assert len(ratio) == 1 and float(ratio[0].split()[1]) > 0
