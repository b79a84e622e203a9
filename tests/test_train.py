"""train.py end to end: through Hydra's compose API and as a user runs it (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image

from dcgan.train import train
from tests.conftest import FAST, ROOT, subprocess_env


def _ckpt(path):
    return torch.load(path, map_location="cpu", weights_only=False)


@pytest.mark.parametrize("generator", ["transposed", "upsample"])
@pytest.mark.parametrize("discriminator", ["dcgan", "cblock"])
def test_train_end_to_end(compose_cfg, tmp_path, generator, discriminator):
    cfg = compose_cfg(f"generator={generator}", f"discriminator={discriminator}", "trainer.max_steps=8")
    metrics = train(cfg)
    run = tmp_path / "run"
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    ckpt = _ckpt(run / "checkpoints" / "last.ckpt")
    assert ckpt["global_step"] == 8
    assert len(ckpt["optimizer_states"]) == 2
    assert ckpt["state_dict"]["fixed_noise"].shape == (64, 100)
    assert not any(k.startswith(("generator.module", "discriminator.module")) for k in ckpt["state_dict"])
    grids = sorted(p.name for p in (run / "samples").glob("*.png"))
    assert grids == ["step_0000000.png", "step_0000004.png", "step_0000008.png"]
    with Image.open(run / "samples" / "step_0000008.png") as grid:
        # 64 samples of 32x32 in an 8x8 grid with make_grid's 2px padding
        assert grid.size == (8 * 34 + 2, 8 * 34 + 2)


def test_resume_continues_the_step_count(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=4"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    first = _ckpt(last)
    assert first["global_step"] == 4
    train(compose_cfg("trainer.max_steps=8", f"ckpt_path={last}"))
    resumed = _ckpt(last)
    assert resumed["global_step"] == 8
    assert torch.equal(resumed["state_dict"]["fixed_noise"], first["state_dict"]["fixed_noise"])
    assert not torch.equal(
        resumed["state_dict"]["generator.net.0.0.weight"], first["state_dict"]["generator.net.0.0.weight"]
    )
    assert (tmp_path / "run" / "samples" / "step_0000008.png").exists()


@pytest.mark.parametrize("precision", ["bf16-mixed"])
def test_mixed_precision_on_cpu(compose_cfg, precision):
    metrics = train(compose_cfg(f"trainer.precision={precision}", "trainer.max_steps=4"))
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())


def _run(args, cwd, timeout=300):
    return subprocess.run(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def test_train_py_subprocess_writes_checkpoint_and_samples(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    proc = _run([*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=6", f"hydra.run.dir={run_dir}"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert (run_dir / "samples" / "step_0000006.png").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    assert "Run summary: 3 iterations (6 optimizer steps)" in proc.stdout + proc.stderr


def test_bad_config_value_is_one_line_error(tmp_path, data_dir):
    proc = _run([*FAST, f"paths.data_dir={data_dir}", "dataset.image_size=30", f"hydra.run.dir={tmp_path}"], tmp_path)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "dataset.image_size=30" in errors[0]
    assert "Traceback" not in proc.stderr


def test_ddp_two_cpu_processes(tmp_path, data_dir):
    run_dir = tmp_path / "run"
    args = [
        *FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=6", "trainer.accelerator=cpu", "trainer.devices=2",
        f"hydra.run.dir={run_dir}", "+callbacks.sync._target_=tests.helpers.ParamSyncReport",
        f"+callbacks.sync.dirpath={run_dir}/ddp",
    ]  # fmt: skip
    proc = _run(args, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads((run_dir / "ddp" / f"ddp_rank{r}.json").read_text()) for r in range(2)]
    for report in reports:
        assert report["world_size"] == 2 and report["global_step"] == 6
        assert report["max_param_diff"] == 0.0  # gradients were averaged before every step
        assert report["noise_differs"]  # each rank draws its own latents
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    # one run folder for both ranks: no second Hydra output dir, no second .hydra config
    assert sorted(p.name for p in run_dir.iterdir() if p.is_dir()) == [".hydra", "checkpoints", "ddp", "samples"]


def test_multirun_two_jobs(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    proc = _run(
        ["-m", *FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=2", "optimizer_d.lr=1e-4,2e-4",
         f"hydra.sweep.dir={sweep}"],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("0", "1"):
        assert (sweep / job / "checkpoints" / "last.ckpt").is_file()
    lrs = sorted(_ckpt(sweep / j / "checkpoints" / "last.ckpt")["optimizer_states"][1]["param_groups"][0]["lr"]
                 for j in ("0", "1"))  # fmt: skip
    assert lrs == [1e-4, 2e-4]


@pytest.mark.slow
def test_multirun_with_ddp_uses_spawn(tmp_path, data_dir):
    sweep = tmp_path / "sweep"
    proc = _run(
        ["-m", *FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=2", "trainer.accelerator=cpu",
         "trainer.devices=2", "seed=1,2", f"hydra.sweep.dir={sweep}"],
        tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ddp_spawn" in proc.stdout + proc.stderr
    for job in ("0", "1"):
        assert _ckpt(sweep / job / "checkpoints" / "last.ckpt")["global_step"] == 2
