"""Batches drawn from images resident in memory (the training GPU's, or the host's): a permutation on that
device per epoch, one indexing op per batch, no per-sample Python, no copy but the batch itself."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from dcgan.data.order import EpochOrder


class ResidentBatches:
    """The batches of ``images`` (a uint8 (N, C, H, W) tensor on any device; ``(images, labels)`` batches where
    ``labels``, an (N,) tensor on the same device, is given) that ``order`` (an ``EpochOrder`` on the images'
    device) names, from its ``next_batch`` to the end of that epoch: ``len(self)`` batches an epoch, each one
    indexing op."""

    def __init__(self, images: torch.Tensor, order: EpochOrder, labels: torch.Tensor | None = None) -> None:
        self.images, self.order, self.labels = images, order, labels

    def __len__(self) -> int:
        return len(self.order)

    def __iter__(self) -> Iterator[torch.Tensor | tuple[torch.Tensor, torch.Tensor]]:
        for index in self.order.batches():
            yield self.images[index] if self.labels is None else (self.images[index], self.labels[index])
