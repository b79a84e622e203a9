"""The training order: one shuffle per epoch from the run's seed, split across ranks, resumable at any batch."""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch


class EpochOrder:
    """Batches of indices into ``size`` items, ``len(self)`` full batches an epoch (the last partial one dropped).

    Epoch ``e``'s order is ``torch.randperm`` from a generator seeded with ``seed + e`` (on ``device``), padded to a
    multiple of ``world_size`` as DistributedSampler pads it; rank ``rank`` takes every ``world_size``-th index.
    ``next_batch`` counts the batches training took since the first epoch (``epoch * len(self) + position``): the
    DataModule advances it as batches reach the model. Each pass starts there and runs to the end of that epoch,
    so the order depends on the seed and that count only: not on the loader's workers, prefetching or the
    global random state, and a resumed run (``next_batch`` from its checkpoint) continues it exactly.
    As a DataLoader's ``batch_sampler`` it yields lists of indices. ``shuffle=False``: every epoch in index order
    (Lightning's ``overfit_batches`` trains on the same first batches each epoch).
    """

    def __init__(self, size: int, batch_size: int, seed: int, rank=0, world_size=1, device=None, shuffle=True) -> None:
        self.size, self.batch_size, self.seed, self.shuffle = int(size), int(batch_size), int(seed), bool(shuffle)
        self.rank, self.world_size = int(rank), int(world_size)
        self.device = torch.device(device or "cpu")
        self.next_batch = 0

    def __len__(self) -> int:
        return math.ceil(self.size / self.world_size) // self.batch_size

    def indices(self, epoch: int) -> torch.Tensor:
        """This rank's indices of ``epoch`` (a whole number of batches), on ``device``."""
        generator = torch.Generator(device=self.device).manual_seed(self.seed + int(epoch))
        if self.shuffle:
            order = torch.randperm(self.size, generator=generator, device=self.device)
        else:
            order = torch.arange(self.size, device=self.device)
        padded = math.ceil(self.size / self.world_size) * self.world_size
        order = torch.cat([order, order[: padded - self.size]]) if padded > self.size else order
        return order[self.rank :: self.world_size][: len(self) * self.batch_size]

    def position(self) -> tuple[int, int]:
        """(epoch, batches taken in it) of ``next_batch``."""
        return divmod(self.next_batch, len(self)) if len(self) else (0, 0)

    def batches(self) -> Iterator[torch.Tensor]:
        """Index tensors from ``next_batch`` to the end of its epoch."""
        if not len(self):
            return
        epoch, position = self.position()
        order = self.indices(epoch)
        for start in range(position * self.batch_size, len(order), self.batch_size):
            yield order[start : start + self.batch_size]

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.batches():
            yield batch.tolist()
