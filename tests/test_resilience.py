"""Runs that survive: exact resume, preemption, kill -9 during saves, divergence, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

from dcgan.callbacks.divergence import DivergenceGuard
from dcgan.checkpoint_atomic import AtomicCheckpointIO
from dcgan.errors import ConfigError, DivergenceError
from dcgan.losses import NonSaturating
from dcgan.resume import resolve_ckpt_path
from dcgan.train import train
from tests.conftest import FAST, ROOT, subprocess_env

LONG = ["trainer.max_epochs=-1", "seed=7"]


def _ckpt(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def _assert_same_tensors(a, b, where=""):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same_tensors(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_resume_is_bit_identical_to_an_uninterrupted_run(compose_cfg, tmp_path):
    # 96 fixture images / batch 16 = 6 batches = 12 global steps per epoch: stop mid-epoch (step 8),
    # resume across the epoch boundary to step 20.
    train(compose_cfg(*LONG, "trainer.max_steps=20"))
    straight = _ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    (tmp_path / "run").rename(tmp_path / "straight")
    train(compose_cfg(*LONG, "trainer.max_steps=8"))
    assert _ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 8
    train(compose_cfg(*LONG, "trainer.max_steps=20", "ckpt_path=last"))
    resumed = _ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == straight["global_step"] == 20
    _assert_same_tensors(straight["state_dict"], resumed["state_dict"], "state_dict")
    _assert_same_tensors(straight["optimizer_states"], resumed["optimizer_states"], "optimizer_states")


def test_ckpt_path_last_prefers_the_run_folder_then_the_newest(tmp_path):
    runs = tmp_path / "outputs"
    for name in ("a", "b"):
        (runs / name / "checkpoints").mkdir(parents=True)
        (runs / name / "checkpoints" / "last.ckpt").write_bytes(b"x")
        time.sleep(0.01)
    assert resolve_ckpt_path("last", runs / "a", runs) == str(runs / "a" / "checkpoints" / "last.ckpt")
    assert resolve_ckpt_path("last", tmp_path / "new", runs) == str(runs / "b" / "checkpoints" / "last.ckpt")
    with pytest.raises(ConfigError, match="ckpt_path=last"):
        resolve_ckpt_path("last", tmp_path / "new", tmp_path / "nothing")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_ckpt_path(str(tmp_path / "missing.ckpt"), tmp_path, runs)


def _train_cmd(args):
    return [sys.executable, str(ROOT / "train.py"), *FAST, *args]


def _wait_for(path, proc, timeout=120):
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGUSR1])
def test_preemption_signal_saves_and_resume_finishes(tmp_path, data_dir, signum):
    run = tmp_path / "run"
    args = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, "trainer.max_steps=100000",
            "callbacks.samples.every_n_steps=2"]  # fmt: skip
    proc = subprocess.Popen(_train_cmd(args), cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    _wait_for(run / "samples" / "step_0000004.png", proc)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-3000:]
    stopped = _ckpt(run / "checkpoints" / "last.ckpt")["global_step"]
    assert 4 <= stopped < 100000
    resume = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, f"trainer.max_steps={stopped + 4}",
              "ckpt_path=last"]  # fmt: skip
    done = subprocess.run(_train_cmd(resume), cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    assert _ckpt(run / "checkpoints" / "last.ckpt")["global_step"] == stopped + 4


def test_atomic_save_keeps_the_old_file_when_a_write_dies(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, target)

    def dying_save(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # the process dies in the middle of the write

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


@pytest.mark.slow
def test_kill_9_during_saves_never_corrupts_last_ckpt(tmp_path, data_dir):
    run = tmp_path / "run"
    args = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, "trainer.max_steps=100000",
            "callbacks.model_checkpoint.every_n_train_steps=2", "callbacks.samples.every_n_steps=1000"]  # fmt: skip
    last = run / "checkpoints" / "last.ckpt"
    for attempt in range(4):
        resume = ["ckpt_path=last"] if last.exists() else []
        proc = subprocess.Popen(_train_cmd(args + resume), cwd=tmp_path, env=subprocess_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        _wait_for(last, proc)
        time.sleep(0.3 + 0.37 * attempt)  # land somewhere in a stream of saves every 2 steps
        proc.kill()
        proc.wait()
        step = _ckpt(last)["global_step"]  # loads: never a torn file
        assert step > 0


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
    last = _ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 8
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


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
    last = _ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert last["global_step"] == 9  # Lightning counts only the optimizer steps taken
    assert all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


def test_stop_mode_stops_on_a_non_finite_loss(compose_cfg):
    cfg = compose_cfg(
        *LONG,
        "trainer.max_steps=8",
        "+callbacks.corrupt._target_=tests.helpers.CorruptBatch",
        "+callbacks.corrupt.batch_number=1",
    )
    with pytest.raises(DivergenceError, match="non-finite loss_d"):
        train(cfg)


def test_collapsed_discriminator_stops_after_patience():
    guard = DivergenceGuard(check_every_n_steps=1, collapse_threshold=0.01, collapse_patience=3)
    module = SimpleNamespace(loss=NonSaturating())
    trainer = SimpleNamespace(global_step=0, checkpoint_callback=SimpleNamespace(last_good="ck/last.ckpt (step 3)"))
    healthy = {"train/loss_d": 1.0, "train/loss_g": 1.0, "train/d_real": 0.7, "train/d_fake": 0.3}
    collapsed = {"train/loss_d": 0.001, "train/loss_g": 9.0, "train/d_real": 0.999, "train/d_fake": 0.0001}
    for step, metrics in enumerate([healthy, collapsed, collapsed, healthy, collapsed, collapsed, collapsed], 1):
        trainer.global_step, trainer.callback_metrics = step, {k: torch.tensor(v) for k, v in metrics.items()}
        guard.on_train_batch_end(trainer, module)
    trainer.global_step += 1
    with pytest.raises(
        DivergenceError, match="discriminator collapsed at step 8.*since step 5.*ck/last.ckpt \\(step 3\\)"
    ):
        guard.on_train_batch_end(trainer, module)


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
    proc = subprocess.run(
        _train_cmd([f"paths.data_dir={data_dir}", f"hydra.run.dir={tmp_path / 'run'}", override]),
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained


def test_unknown_key_is_refused(tmp_path, data_dir):
    proc = subprocess.run(_train_cmd([f"paths.data_dir={data_dir}", "trainer.max_stepz=3"]), cwd=tmp_path,
                          env=subprocess_env(), capture_output=True, text=True)  # fmt: skip
    assert proc.returncode != 0 and "max_stepz" in proc.stderr


def test_checkpoint_of_another_architecture_is_a_clear_error(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=2"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    with pytest.raises(ConfigError, match="another architecture.*generator.*is \\("):
        train(compose_cfg("trainer.max_steps=4", "generator.ngf=16", f"ckpt_path={last}"))


def test_a_checkpoint_cannot_run_code_when_loaded(compose_cfg, tmp_path):
    evil = tmp_path / "evil.ckpt"
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {}, "x": Payload()}, evil)
    with pytest.raises(ConfigError, match="weights-only load refuses"):
        train(compose_cfg("trainer.max_steps=2", f"ckpt_path={evil}"))
    assert not marker.exists()


def test_deterministic_runs_give_identical_weights(compose_cfg, tmp_path):
    train(compose_cfg("deterministic=true", "trainer.max_steps=6"))
    first = _ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["state_dict"]
    (tmp_path / "run").rename(tmp_path / "first")
    train(compose_cfg("deterministic=true", "trainer.max_steps=6"))
    second = _ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["state_dict"]
    _assert_same_tensors(first, second)


def test_a_rerun_into_the_same_folder_overwrites_last_ckpt(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=2"))
    train(compose_cfg("trainer.max_steps=4"))  # a new run (no ckpt_path) into the same run folder
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.glob("last*")) == ["last.ckpt"]
    assert _ckpt(checkpoints / "last.ckpt")["global_step"] == 4
