"""DataLoader workers that leave the signals a cluster sends to the whole process group to the main process."""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable

from lightning.fabric.utilities.seed import pl_worker_init_function
from torch.utils.data import DataLoader

# SLURM, `timeout` and `kill -- -PGID` signal every process of the group; Ctrl-C signals the foreground group.
GROUP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGUSR1") if hasattr(signal, name))


class WorkerInit:
    """A DataLoader ``worker_init_fn``: the worker ignores SIGTERM, SIGINT and SIGUSR1 (the main process saves at
    the end of its iteration and stops the workers itself; a worker killed first would crash the main process
    in the middle of an iteration), then runs ``then`` (another ``worker_init_fn``), if any. A ``Loader``
    starts its workers with these signals blocked, so that none arrives before they are ignored."""

    def __init__(self, then: Callable[[int], None] | None = None) -> None:
        self.then = then

    def __call__(self, worker_id: int) -> None:
        for signum in GROUP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, GROUP_SIGNALS)  # what arrived meanwhile is dropped: ignored
        if self.then is not None:
            self.then(worker_id)


class Loader(DataLoader):
    """A DataLoader that starts its worker processes with the group signals blocked (they inherit the mask; their
    ``WorkerInit`` ignores the signals, then unblocks them); the training process receives them right after."""

    def _get_iterator(self):
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, GROUP_SIGNALS)
        try:
            return super()._get_iterator()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def worker_init(rank: int = 0) -> WorkerInit:
    """The ``worker_init_fn`` of the project's loaders: ``WorkerInit`` around Lightning's worker seeding where
    ``seed_everything(workers=True)`` asked for it (Lightning adds it only to loaders that have no
    ``worker_init_fn`` of their own)."""
    seeds = int(os.environ.get("PL_SEED_WORKERS", 0))
    return WorkerInit(functools.partial(pl_worker_init_function, rank=rank) if seeds else None)
