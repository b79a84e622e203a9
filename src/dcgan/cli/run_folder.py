"""The run folder: unique by default, written by one run at a time, never a new run over another run's checkpoints."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from dcgan.errors import ConfigError, exit_on_config_error
from dcgan.files import check_writable

# ${pid:} in conf/hydra/default.yaml: two runs started in the same microsecond still get their own folder.
OmegaConf.register_new_resolver("pid", os.getpid, replace=True)

LOCK = ".lock"  # in the run folder: the process id of the run writing it
_held: dict[Path, int] = {}  # run folders this process holds: their lock file's descriptor


def _first_rank() -> bool:
    """Whether this process is the first of its run: a DDP run's other ranks write into rank 0's folder (Lightning
    starts them with LOCAL_RANK and NODE_RANK, torchrun with RANK, SLURM's tasks have SLURM_PROCID)."""
    return all(int(os.environ.get(key) or 0) == 0 for key in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


def _mixing(folder: Path, ckpt_path: str | None) -> str | None:
    """Why a run with ``ckpt_path`` would mix its checkpoints with another run's in ``folder``, else None."""
    found = sorted(p.name for p in (folder / "checkpoints").glob("*.ckpt"))
    if not found:
        return None
    if ckpt_path in ("last", "auto") and "last.ckpt" in found:
        return None  # resumes this folder's run
    if ckpt_path not in (None, "last", "auto") and Path(ckpt_path).resolve().is_relative_to(folder):
        return None  # resumes one of its checkpoints
    what = "a new run" if ckpt_path in (None, "auto") else f"a run from ckpt_path={ckpt_path}"
    listed = ", ".join(found[:3]) + (", ..." if len(found) > 3 else "")
    return (
        f"hydra.run.dir={folder} holds another run's checkpoints ({listed}): {what} would mix with them; "
        "resume that run with ckpt_path=last, or choose another folder (hydra.run.dir=...)"
    )


def claim(run_dir: str | Path, ckpt_path: str | None) -> bool:
    """Lock ``run_dir`` for this process (a POSIX lock on its ``.lock`` file: released when the process ends, however
    it ends; the loader workers it forks do not hold it); True if it took the lock now, False if it already held
    it or is not the run's first rank. ConfigError if another run holds it, or if this run would mix its
    checkpoints with those of another run already there."""
    folder = Path(run_dir).resolve()
    if folder in _held or not _first_rank():
        return False
    try:
        check_writable(folder)
        descriptor = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise ConfigError(
            f"hydra.run.dir={folder} is not writable ({error.strerror or error}): choose another folder"
        ) from None
    try:
        try:
            fcntl.lockf(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(descriptor, 32).decode(errors="replace").strip() or "?"
            raise ConfigError(
                f"hydra.run.dir={folder} is in use by another run (process {holder}): wait for it to end, "
                "or choose another folder (hydra.run.dir=...)"
            ) from None
        problem = _mixing(folder, ckpt_path)
        if problem:
            raise ConfigError(problem)
    except BaseException:
        os.close(descriptor)
        raise
    os.ftruncate(descriptor, 0)
    os.write(descriptor, f"{os.getpid()}\n".encode())
    _held[folder] = descriptor
    return True


def release(run_dir: str | Path) -> None:
    """Unlock ``run_dir`` if this process holds it."""
    descriptor = _held.pop(Path(run_dir).resolve(), None)
    if descriptor is not None:
        os.close(descriptor)


@contextmanager
def claimed(run_dir: str | Path, ckpt_path: str | None) -> Iterator[None]:
    """``claim`` for the block; released at its end if taken here (a Hydra run's folder stays held to the end)."""
    taken = claim(run_dir, ckpt_path)
    try:
        yield
    finally:
        if taken:
            release(run_dir)


class RunFolder(Callback):
    """Hydra callback (conf/hydra/default.yaml): claims a run's folder before Hydra writes ``.hydra/`` and
    ``train.log`` into it, so that a refused run (one line, exit 2) leaves the folder as it was."""

    @exit_on_config_error
    def on_run_start(self, config: DictConfig, **kwargs) -> None:
        claim(config.hydra.run.dir, config.get("ckpt_path"))

    def on_run_end(self, config: DictConfig, **kwargs) -> None:
        release(config.hydra.run.dir)
