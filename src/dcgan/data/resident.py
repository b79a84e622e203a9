"""Batches drawn from images resident in memory (the training GPU's, or the host's): a permutation on that
device per epoch, one indexing op per batch, no per-sample Python, no copy but the batch itself."""

from __future__ import annotations

from collections.abc import Iterator

import torch


class ResidentBatches:
    """Shuffled batches of ``images`` (a uint8 (N, C, H, W) tensor on any device; ``(images, labels)`` batches
    where ``labels``, an (N,) tensor on the same device, is given), ``drop_last`` as the
    training loader: ``len(self)`` batches an epoch. Each epoch's order is ``torch.randperm`` on the
    images' device from a generator seeded with ``seed + epoch``; under DDP each of ``world_size`` ranks
    takes every ``world_size``-th index of it. ``state_dict`` / ``load_state_dict`` (the protocol Lightning
    saves and restores loaders by) record the epoch and the position in it: a resume continues the order."""

    def __init__(
        self,
        images: torch.Tensor,
        batch_size: int,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        labels: torch.Tensor | None = None,
    ) -> None:
        self.images, self.labels, self.batch_size, self.seed = images, labels, int(batch_size), int(seed)
        self.rank, self.world_size = int(rank), int(world_size)
        self.epoch, self.position = 0, 0  # the epoch __iter__ starts next, and batches done in it

    def __len__(self) -> int:
        return len(self.images) // self.world_size // self.batch_size

    def order(self, epoch: int) -> torch.Tensor:
        """This rank's indices of ``epoch``, on the images' device."""
        generator = torch.Generator(device=self.images.device).manual_seed(self.seed + epoch)
        permutation = torch.randperm(len(self.images), generator=generator, device=self.images.device)
        return permutation[self.rank :: self.world_size][: len(self) * self.batch_size]

    def __iter__(self) -> Iterator[torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        epoch, order = self.epoch, self.order(self.epoch)
        while self.position < len(self):
            start = self.position * self.batch_size
            self.position += 1
            index = order[start : start + self.batch_size]
            yield self.images[index] if self.labels is None else (self.images[index], self.labels[index])
        self.epoch, self.position = epoch + 1, 0

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed, self.epoch, self.position = int(state["seed"]), int(state["epoch"]), int(state["position"])
