"""Preemption: SIGTERM and SIGUSR1 save, exit 0, and the resume finishes."""

from __future__ import annotations

import signal
import subprocess

import pytest

from tests.conftest import FAST, LONG
from tests.helpers import command, read_ckpt, subprocess_env, wait_for


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_preemption_signal_saves_and_resume_finishes(tmp_path, data_dir, signum):
    run = tmp_path / "run"
    args = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, "trainer.max_steps=100000",
            "callbacks.samples.every_n_steps=2"]  # fmt: skip
    proc = subprocess.Popen(command("train.py", *FAST, *args), cwd=tmp_path, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_for(run / "samples" / "step_0000004.png", proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    stopped = read_ckpt(run / "checkpoints" / "last.ckpt")["global_step"]
    assert 4 <= stopped < 100000
    resume = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, f"trainer.max_steps={stopped + 4}",
              "ckpt_path=last"]  # fmt: skip
    done = subprocess.run(
        command("train.py", *FAST, *resume), cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert read_ckpt(run / "checkpoints" / "last.ckpt")["global_step"] == stopped + 4
