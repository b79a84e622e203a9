"""Files that are never half-written: every writer of checkpoints, exports and caches goes through here."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import torch


@contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """A binary file to write that replaces ``path`` only once it is complete and on disk (fsync, then an
    atomic rename in the same folder): a crash or ``kill -9`` midway leaves the previous file intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
