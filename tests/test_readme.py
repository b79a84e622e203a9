"""The README as a test: every `python ...` and `make ...` line of its code blocks runs, as written, with
only budget-shrinking overrides appended (steps, batch, net width, samples) and a throwaway output folder.
A command that cannot run here is on SKIP with its reason; any other failure fails."""

from __future__ import annotations

import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.fixtures import make_celeba, make_mnist_like
from tests.helpers import ROOT, subprocess_env

pytestmark = pytest.mark.slow

# Commands (a distinctive part of the line) that cannot run on a CI machine, and why.
SKIP = {
    "make test": "runs this very suite",
    "trainer=gpu": "needs a CUDA GPU",
    "metrics.inception_weights=/path/to": "needs the Inception weights, which only the internet has",
}
# What each entry point gets appended: a few steps of tiny nets, a few samples.
SHRINK = {
    "train.py": ["trainer.max_steps=4", "trainer.max_epochs=1", "dataset.batch_size=8", "dataset.num_workers=0",
                 "generator.ngf=8", "discriminator.ndf=8", "callbacks.samples.every_n_steps=2",
                 "callbacks.fd.num_samples=64"],
    "generate.py": ["num_samples=8", "batch_size=8", "interpolation.rows=2", "interpolation.steps=3"],
    "explore.py": ["grid.rows=2"],
    "evaluate.py": ["metrics.num_samples=32", "metrics.batch_size=16", "metrics.scores.kid.subsets=2",
                    "metrics.scores.kid.subset_size=16", "metrics.scores.is.splits=2"],
    "bench-quality": ["--steps", "4", "--num-samples", "32"],
}  # fmt: skip
CHECKPOINT = re.compile(r"outputs/DATE/TIME/checkpoints/last\.ckpt|\.\.\./last\.ckpt|(?<==)\.\.\.(?=\s|$)")
# Commands that need a class-conditional checkpoint: they get the last model.conditional=true run's.
NEEDS_CLASSES = ("label=", "class_accuracy")


def readme_commands() -> list[str]:
    """The `python` and `make` lines of the README's bash blocks, comments dropped."""
    blocks = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    lines = [line.split("  #")[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line.startswith(("python ", "make "))]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Path:
    """A working folder laid out as a user's: data/ with the default datasets, ../shared/data beside it."""
    top = tmp_path_factory.mktemp("readme")
    work = top / "work"
    for data in (work / "data", top / "shared" / "data"):
        make_mnist_like(data, "FashionMNIST")
        make_celeba(data, n=24, layout="tutorial")  # data/celeba/img_align_celeba: what dataset=celeba reads
    make_celeba(top / "shared" / "data" / "celeba-10k", n=24, layout="plain")
    return work


def shrunk(command: str, work: Path, run: Path, checkpoint: Path | None) -> tuple[list[str], Path]:
    """The command as an argument list with the budget overrides appended, and the folder to run it in."""
    if checkpoint is not None:
        command = CHECKPOINT.sub(str(checkpoint), command)
    args = shlex.split(command)
    if args[0] == "make":
        target = args[1]
        given = next((a.split("=", 1)[1] for a in args[2:] if a.startswith("ARGS=")), "")
        extra = SHRINK.get(target, []) if target != "train" else SHRINK["train.py"][:-1]  # no fd callback
        where = [f"hydra.run.dir={run}", f"paths.data_dir={work / 'data'}"] if target == "train" else []
        if target == "bench-quality":
            where = ["--out", str(run / "quality.md"), "--runs-dir", str(run), "--cache-dir", str(run / "cache")]
            given = given.replace("../shared/data", str(work.parent / "shared" / "data"))
        return ["make", "-C", str(ROOT), target, f"ARGS={' '.join([given, *extra, *where]).strip()}"], ROOT
    script = args[1]
    extra = list(SHRINK.get(script, []))
    if script == "train.py":
        if checkpoint is not None and "ckpt_path=" in command:
            extra[0] = "trainer.max_steps=8"  # beyond the checkpoint's 4 steps: the resume trains
        if "callbacks=[default,fd]" not in command and "hparams_search" not in command:
            extra.remove("callbacks.fd.num_samples=64")
        if "hydra.run.dir" not in command and "--cfg" not in command:
            extra.append(f"hydra.sweep.dir={run}" if "-m" in args else f"hydra.run.dir={run}")
    if script == "evaluate.py":
        chosen = re.search(r"metrics=\[([^\]]*)\]", command)
        scores = set(chosen.group(1).split(",")) if chosen else {"fid"}
        extra = [e for e in extra if not e.startswith("metrics.scores.") or e.split(".")[2] in scores]
    if script == "generate.py" and "output=" not in command:
        extra.append(f"output={run / 'samples.npz'}")
    return [str(ROOT / ".venv" / "bin" / "python") if Path(ROOT / ".venv").is_dir() else "python",
            str(ROOT / script), *args[2:], *extra], work  # fmt: skip


def test_the_readme_has_commands_and_each_skip_names_one():
    commands = readme_commands()
    assert len(commands) >= 20
    for part in SKIP:
        assert any(part in command for command in commands), f"SKIP names {part!r}, which the README no longer has"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serves(args: list[str], cwd: Path, port: int, timeout: float = 180) -> tuple[bool, str]:
    """Start a server command, wait until it answers on ``port``, stop it with SIGTERM at once: (answered
    and exited 0, what happened and what it printed)."""
    proc = subprocess.Popen(args, cwd=cwd, env=subprocess_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline, answered = time.monotonic() + timeout, False
    try:
        while time.monotonic() < deadline and proc.poll() is None and not answered:
            try:
                answered = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5).status == 200
            except OSError:
                time.sleep(1)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    return answered and proc.returncode == 0, f"answered: {answered}, exit {proc.returncode}\n{err}"


def test_every_readme_command_runs(sandbox):
    checkpoint, conditional, failures = None, None, []
    for i, command in enumerate(readme_commands()):
        if any(part in command for part in SKIP):
            continue
        run = sandbox.parent / "runs" / str(i)
        args, cwd = shrunk(
            command, sandbox, run, conditional if any(p in command for p in NEEDS_CLASSES) else checkpoint
        )
        if args[0].endswith("python") and not Path(args[0]).is_file():
            args[0] = sys.executable
        if args[1].endswith("explore.py"):  # a server: it must answer, then stop cleanly
            port = free_port()
            ok, err = serves([*args, f"port={port}"], cwd, port)
            if not ok:
                failures.append(f"{command}\n  -> {' '.join(args)} port={port}\n  did not serve: {err[-1500:]}")
            continue
        done = subprocess.run(args, cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            failures.append(f"{command}\n  -> {' '.join(args)}\n  exit {done.returncode}: {done.stderr[-1500:]}")
        elif checkpoint is None and (run / "checkpoints" / "last.ckpt").is_file():
            checkpoint = run / "checkpoints" / "last.ckpt"  # the first run's: what `ckpt_path=...` stands for
        if "model.conditional=true" in command and (run / "checkpoints" / "last.ckpt").is_file():
            conditional = run / "checkpoints" / "last.ckpt"
    assert not failures, "\n\n".join(failures)
