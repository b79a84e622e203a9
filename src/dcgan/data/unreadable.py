"""Unreadable image files (corrupt, truncated, not an image) are skipped, never fatal mid-epoch."""

from __future__ import annotations

import os
from typing import NamedTuple

import torch
from PIL import Image
from torch.utils.data import Dataset

# What PIL raises for a corrupt, truncated or non-image file (UnidentifiedImageError is an OSError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


class Batch(NamedTuple):
    """A batch of uint8 images, the files skipped while loading it (``name: error``) and, where the loader
    was asked for them, the images' int64 class labels."""

    images: torch.Tensor
    skipped: list[str]
    labels: torch.Tensor | None = None


def item_name(dataset: Dataset, index: int) -> str:
    """The file behind ``dataset[index]`` where the dataset says (ImageFolder, CelebA), else its index."""
    samples = getattr(dataset, "samples", None)
    if samples is not None:
        return str(samples[index][0])
    filenames = getattr(dataset, "filename", None)
    if filenames is not None:
        return os.path.join(dataset.root, dataset.base_folder, "img_align_celeba", filenames[index])
    return f"item {index}"


class SkipUnreadable(Dataset):
    """``dataset[i]`` as ``(image, label, skipped)`` (``label``: the item's class with ``labels=True``, else
    None); an unreadable item is replaced by the next readable one (``replace=True``, the batch keeps its
    size; any number in a row) or by None (``replace=False``, for the cache builder). ``skipped`` names the
    unreadable items met on the way. Where no readable item is left the image is None too: the process that
    trains on the batch reports it (a worker's error would carry the worker's traceback). Each process
    remembers the items it found unreadable and does not read them again.
    """

    def __init__(self, dataset: Dataset, replace: bool = True, labels: bool = False) -> None:
        self.dataset, self.replace, self.labels = dataset, replace, bool(labels)
        self.unreadable: set[int] = set()

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        skipped: list[str] = []
        for attempt in range(len(self) if self.replace else 1):
            i = (int(index) + attempt) % len(self)
            if i in self.unreadable:
                continue
            try:
                item = self.dataset[i]
            except DECODE_ERRORS as error:
                self.unreadable.add(i)
                skipped.append(f"{item_name(self.dataset, i)}: {' '.join(str(error).split())}")
                continue
            return item[0], int(item[1]) if self.labels else None, skipped
        return None, None, skipped


def collate_readable(samples: list) -> Batch:
    """Stack the readable images of ``[(image | None, label | None, skipped), ...]`` (and their labels where
    there are labels); keep the skipped names."""
    readable = [(image, label) for image, label, _ in samples if image is not None]
    skipped = [name for *_, names in samples for name in names]
    stacked = torch.stack([image for image, _ in readable]) if readable else torch.empty(0, dtype=torch.uint8)
    labelled = readable and readable[0][1] is not None
    labels = torch.tensor([label for _, label in readable], dtype=torch.long) if labelled else None
    return Batch(stacked, skipped, labels)
