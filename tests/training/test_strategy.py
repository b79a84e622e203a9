"""DDP with one DistributedDataParallel per net: two CPU processes through train.py."""

from __future__ import annotations

import json

import pytest

from tests.conftest import FAST
from tests.helpers import run_script


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        ["model.conditional=true", "loss=wgan_gp", "discriminator.norm=none"],
    ],  # labels in every D call, the penalty's too
    ids=["plain", "conditional"],
)
def test_ddp_two_cpu_processes(tmp_path, data_dir, overrides):
    run_dir = tmp_path / "run"
    args = [
        *FAST, *overrides, f"paths.data_dir={data_dir}", "trainer.max_steps=6", "trainer.accelerator=cpu",
        "trainer.devices=2",
        f"hydra.run.dir={run_dir}", "+callbacks.sync._target_=tests.helpers.ParamSyncReport",
        f"+callbacks.sync.dirpath={run_dir}/ddp",
    ]  # fmt: skip
    proc = run_script("train.py", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    reports = [json.loads((run_dir / "ddp" / f"ddp_rank{r}.json").read_text()) for r in range(2)]
    for report in reports:
        assert report["world_size"] == 2 and report["global_step"] == 6
        assert report["max_param_diff"] == 0.0  # gradients were averaged before every step
        assert report["noise_differs"]  # each rank draws its own latents
    assert (run_dir / "checkpoints" / "last.ckpt").is_file()
    # one run folder for both ranks: no second Hydra output dir, no second .hydra config
    assert sorted(p.name for p in run_dir.iterdir() if p.is_dir()) == [".hydra", "checkpoints", "ddp", "samples"]
