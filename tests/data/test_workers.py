"""Loader workers leave SIGTERM, SIGINT and SIGUSR1 to the training process, and still run another init."""

from __future__ import annotations

import os
import signal
import time

import torch
from torch.utils.data import Dataset

from dcgan.data.workers import GROUP_SIGNALS, Loader, WorkerInit, worker_init

MARK = {"value": 0}


def mark(worker_id: int) -> None:
    MARK["value"] = 100 + worker_id


class Report(Dataset):
    """Item i: (i, whether this process ignores each group signal, the mark its init left)."""

    def __len__(self) -> int:
        return 8

    def __getitem__(self, index: int):
        ignored = [signal.getsignal(s) is signal.SIG_IGN for s in GROUP_SIGNALS]
        return torch.tensor([index, *ignored, MARK["value"]])


def signal_workers(iterator) -> None:
    """Each group signal to each worker of a DataLoader iterator, as `kill -- -PGID`, `timeout` or SLURM send them."""
    for worker in iterator._workers:
        for signum in GROUP_SIGNALS:
            os.kill(worker.pid, signum)


def test_workers_ignore_group_signals_and_run_the_other_init():
    before = signal.getsignal(signal.SIGINT)
    loader = Loader(Report(), batch_size=2, num_workers=2, worker_init_fn=WorkerInit(mark), persistent_workers=True)
    iterator = iter(loader)
    signal_workers(iterator)  # the moment they start, before their init ran
    first = next(iterator)
    signal_workers(iterator)  # once they run
    time.sleep(0.5)
    rows = torch.cat([first, *iterator])
    assert sorted(rows[:, 0].tolist()) == list(range(8))  # the epoch finished: no worker died
    assert rows[:, 1 : 1 + len(GROUP_SIGNALS)].all() and set(rows[:, -1].tolist()) == {100, 101}
    assert all(w.is_alive() for w in iterator._workers)
    assert signal.getsignal(signal.SIGINT) is before  # the training process keeps its own


def test_lightning_worker_seeding_is_kept_where_seed_everything_asked_for_it(monkeypatch):
    monkeypatch.delenv("PL_SEED_WORKERS", raising=False)
    assert worker_init().then is None
    monkeypatch.setenv("PL_SEED_WORKERS", "1")  # seed_everything(workers=True)
    then = worker_init(rank=3).then
    assert then.func.__name__ == "pl_worker_init_function" and then.keywords == {"rank": 3}
