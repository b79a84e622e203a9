"""Run folders: unique by default, one run at a time in a folder, never a new run over another run's checkpoints."""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import sys
import time

import pytest
import yaml

from dcgan.cli.run_folder import claim, release
from dcgan.cli.train import train
from dcgan.errors import ConfigError
from tests.conftest import FAST, LONG
from tests.helpers import command, one_error_line, read_ckpt, run_script, subprocess_env, wait_for


def start(tmp_path, *args, **popen) -> subprocess.Popen:
    return subprocess.Popen(command("train.py", *FAST, *args), cwd=tmp_path, env=subprocess_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)  # fmt: skip


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_two_runs_in_one_folder_at_once_one_refuses_and_a_rerun_is_refused(tmp_path, data_dir):
    run = tmp_path / "same"
    every = "callbacks.model_checkpoint.every_n_train_steps=2"  # a checkpoint each iteration
    args = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, every]
    procs = {seed: start(tmp_path, *args, f"seed={seed}", "trainer.max_steps=100000") for seed in (1, 2)}  # at once
    deadline = time.time() + 180
    while all(p.poll() is None for p in procs.values()):
        assert time.time() < deadline, "neither run refused"
        time.sleep(0.1)
    (loser,) = [seed for seed, p in procs.items() if p.poll() is not None]
    (winner,) = set(procs) - {loser}
    _, err = procs[loser].communicate()
    refused = subprocess.CompletedProcess(procs[loser].args, procs[loser].returncode, "", err)
    assert refused.returncode == 2 and f"hydra.run.dir={run} is in use by another run" in one_error_line(refused)
    wait_for(run / "checkpoints" / "last.ckpt", procs[winner])
    procs[winner].send_signal(signal.SIGTERM)
    _, err = procs[winner].communicate(timeout=120)
    assert procs[winner].returncode == 0, err[-3000:]
    config, last = run / ".hydra" / "config.yaml", run / "checkpoints" / "last.ckpt"
    assert yaml.safe_load(config.read_text())["seed"] == read_ckpt(last)["hyper_parameters"]["seed"] == winner
    # a new run over that folder: refused before it writes anything there
    before = {path: digest(path) for path in (config, last)}
    rerun = run_script("train.py", *FAST, *args, "trainer.max_steps=2", f"seed={loser}", cwd=tmp_path)
    assert rerun.returncode == 2, rerun.stderr[-3000:]
    error = one_error_line(rerun)
    assert "holds another run's checkpoints" in error and "ckpt_path=last" in error and "hydra.run.dir=" in error
    assert {path: digest(path) for path in before} == before


def test_default_run_folders_of_runs_started_together_differ(tmp_path, data_dir):
    procs = [start(tmp_path, f"paths.data_dir={data_dir}", "trainer.max_steps=2", f"seed={s}") for s in (1, 2)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    folders = sorted(p.parent.parent for p in (tmp_path / "outputs").glob("*/*/checkpoints/last.ckpt"))
    assert len(folders) == 2
    # outputs/DATE/TIME_MICROSECONDS_PID: the process id alone keeps them apart, whatever the clock says
    names = [
        re.fullmatch(r"\d{4}-\d\d-\d\d/(\d\d-\d\d-\d\d)_\d{6}_(\d+)", f"{f.parent.name}/{f.name}") for f in folders
    ]
    assert all(names) and {int(m.group(2)) for m in names} == {p.pid for p in procs}
    seeds = {read_ckpt(f / "checkpoints" / "last.ckpt")["hyper_parameters"]["seed"] for f in folders}
    assert seeds == {1, 2}


def test_the_lock_goes_with_the_process_that_holds_it(tmp_path, monkeypatch):
    code = f"from dcgan.cli.run_folder import claim; claim({str(tmp_path)!r}, None); print('held', flush=True); input()"
    holder = subprocess.Popen([sys.executable, "-c", code], env=subprocess_env(), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ConfigError, match=f"is in use by another run \\(process {holder.pid}\\)"):
        claim(tmp_path, None)
    monkeypatch.setenv("LOCAL_RANK", "1")  # a DDP rank >= 1 writes into rank 0's folder
    assert claim(tmp_path, None) is False
    monkeypatch.delenv("LOCAL_RANK")
    holder.kill()  # a crash: the lock goes with the process
    holder.wait()
    assert claim(tmp_path, None) is True
    release(tmp_path)
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match="run is not writable .*: choose another folder"):
        claim(tmp_path / "file" / "run", None)


def test_ckpt_path_auto_resumes_in_its_own_folder(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=2", "ckpt_path=auto"))  # a requeued job's first start: nothing to resume
    train(compose_cfg("trainer.max_steps=4", "ckpt_path=auto"))  # its restart
    assert read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 4
    other = tmp_path / "other.ckpt"
    other.write_bytes((tmp_path / "run" / "checkpoints" / "last.ckpt").read_bytes())
    with pytest.raises(ConfigError, match="a run from ckpt_path=.*other.ckpt would mix with them"):
        train(compose_cfg("trainer.max_steps=6", f"ckpt_path={other}"))
