"""Preemption: SIGTERM, SIGUSR1 and SIGINT save between iterations, exit 0, and the resume finishes; a signal to
the whole process group (loader workers included) too, and that resume is exact."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest

from dcgan.callbacks.preemption import Preemption
from dcgan.cli.train import train
from tests.conftest import FAST, LONG
from tests.helpers import LogRecords, assert_same_tensors, command, read_ckpt, subprocess_env, wait_for


def interruptible() -> None:
    """In the child before it runs: Ctrl-C as a terminal gives it (a shell's background job ignores SIGINT)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1, signal.SIGINT])
def test_preemption_signal_saves_and_resume_finishes(tmp_path, data_dir, signum):
    run = tmp_path / "run"
    args = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, "trainer.max_steps=100000",
            "callbacks.samples.every_n_steps=2"]  # fmt: skip
    proc = subprocess.Popen(command("train.py", *FAST, *args), cwd=tmp_path, env=subprocess_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=interruptible)  # fmt: skip
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
    assert "Warning" not in done.stdout + done.stderr  # e.g. Lightning's doubt about resuming mid-epoch


def test_sigterm_to_the_process_group_with_workers_saves_between_iterations_and_resumes_exactly(
    compose_cfg, tmp_path, data_dir
):
    run = tmp_path / "run"
    args = [*FAST, f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, "trainer.max_steps=100000",
            "dataset.num_workers=2", "callbacks.model_checkpoint.every_n_train_steps=2"]  # fmt: skip
    proc = subprocess.Popen(command("train.py", *args), cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    wait_for(run / "checkpoints" / "step_0000006.ckpt", proc)  # a checkpoint every iteration
    os.killpg(proc.pid, signal.SIGTERM)  # as SLURM, `timeout` and `kill -- -PGID` send it: to the workers too
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0 and "Traceback" not in err, err[-3000:]
    last = read_ckpt(run / "checkpoints" / "last.ckpt")
    stopped = last["global_step"]
    g_steps, d_steps = ({int(s["step"]) for s in opt["state"].values()} for opt in last["optimizer_states"])
    assert g_steps == d_steps == {stopped // 2}  # a whole number of iterations: D and G stepped alike
    for path in (run / "checkpoints").glob("step_*.ckpt"):  # each named after the step it holds
        assert read_ckpt(path)["global_step"] == int(path.stem.split("_")[1]), path.name
    named = run / "checkpoints" / f"step_{stopped:07d}.ckpt"
    # resumed from the periodic file (its name passes unquoted), without workers: the log says what changes
    with LogRecords("dcgan.data") as logs:
        train(compose_cfg(*LONG, f"trainer.max_steps={stopped + 8}", f"ckpt_path={named}"))
    changed = "dataset.num_workers=0, the checkpoint's run had 2: the data order continues"
    assert any(changed in m for m in logs.messages)
    resumed = read_ckpt(run / "checkpoints" / "last.ckpt")
    run.rename(tmp_path / "preempted")
    train(compose_cfg(*LONG, f"trainer.max_steps={stopped + 8}"))
    straight = read_ckpt(run / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == straight["global_step"] == stopped + 8
    assert_same_tensors(straight["state_dict"], resumed["state_dict"], "state_dict")
    assert_same_tensors(straight["optimizer_states"], resumed["optimizer_states"], "optimizer_states")


def test_a_second_ctrl_c_stops_at_once(monkeypatch):
    sent = []
    monkeypatch.setattr(os, "kill", lambda pid, signum: sent.append(signum))
    preemption, previous = Preemption(), signal.signal(signal.SIGINT, signal.default_int_handler)
    preemption.on_train_start(None, None)
    try:
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # the first: a stop at the end of the iteration
        assert sent == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):  # the second: now (Checkpoint saves nothing mid-iteration)
            signal.getsignal(signal.SIGINT)(signal.SIGINT, None)
    finally:
        preemption.teardown(None, None, "fit")
        restored = signal.signal(signal.SIGINT, previous)
    assert restored is signal.default_int_handler and signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL
