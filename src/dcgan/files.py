"""Files that are never half-written: every writer of checkpoints, exports and caches goes through here."""

from __future__ import annotations

import errno
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import torch

# The temporary file of ``atomic_write``: ``.<name>.<pid>.tmp`` beside the file it becomes.
TEMPORARY = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.tmp$")


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write that replaces ``path`` only once it is complete and on disk (fsync, then an
    atomic rename in the same folder): a crash or ``kill -9`` midway leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # TEMPORARY
    try:
        with open(tmp, "wb") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj, path)`` through ``atomic_write``."""
    with atomic_write(path) as file:
        torch.save(obj, file)
    return Path(path)


def check_writable(folder: str | Path) -> Path:
    """Make ``folder`` (with its parents) and create a file in it: raises the OSError that a save there
    would meet (no permission, a read-only filesystem, a file where a folder should be)."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, "a file, not a folder", str(folder))
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check-"):
        pass
    return folder


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_temporaries(folder: str | Path, min_age_s: float = 60.0) -> list[Path]:
    """Delete the temporary files that ``atomic_write`` left in ``folder`` when its process was killed
    mid-write: those of a process that no longer runs, untouched for ``min_age_s`` (a save on another
    machine of a shared filesystem is not mistaken for one). Returns the paths deleted."""
    removed = []
    for path in Path(folder).glob(".*.tmp"):
        match = TEMPORARY.match(path.name)
        if match is None or _running(int(match["pid"])):
            continue
        try:
            if time.time() - path.stat().st_mtime >= min_age_s:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:  # gone meanwhile
            continue
    return removed
