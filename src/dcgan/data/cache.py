"""The decoded dataset as one uint8 tensor file (N x C x H x W, and the N class labels where asked): decode and
resize once, then batch from memory."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import torch
from torch.utils.data import Dataset

from dcgan.data.unreadable import SkipUnreadable, collate_readable
from dcgan.data.workers import Loader, worker_init
from dcgan.errors import ConfigError
from dcgan.files import atomic_save

log = logging.getLogger(__name__)


def cache_file(cache_dir: str, name: str, key: str, channels: int, image_size: int) -> Path:
    """``<cache_dir>/<name>_<C>x<S>_<hash of the source>.pt``: another size, channels or source is another file."""
    digest = hashlib.sha1(key.encode()).hexdigest()[:10]
    return Path(cache_dir) / f"{name or 'dataset'}_{channels}x{image_size}_{digest}.pt"


Cached = tuple[torch.Tensor, torch.Tensor | None]  # uint8 images (N, C, H, W), int64 labels (N,) or None


def load_cache(path: Path, key: str, shape: tuple[int, int, int], labels: bool = False) -> Cached | None:
    """(images, labels) if ``path`` holds the images for ``key`` at ``shape`` (C, H, W) and, with
    ``labels``, their labels (a cache built without them is built again); else None."""
    if not path.is_file():
        return None
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        images = saved["images"]
    except Exception as error:  # a truncated or foreign file: rebuild it
        log.warning("dataset cache %s is unreadable (%s): rebuilding it", path, error)
        return None
    if saved.get("key") != key or images.dtype != torch.uint8 or tuple(images.shape[1:]) != tuple(shape):
        log.info("dataset cache %s was made for other images: rebuilding it", path)
        return None
    if labels and saved.get("labels") is None:
        log.info("dataset cache %s holds no class labels: rebuilding it with them", path)
        return None
    return images, saved.get("labels") if labels else None


def build_cache(
    dataset: Dataset, path: Path, key: str, shape: tuple[int, int, int], num_workers: int, labels: bool = False
) -> Cached:
    """Decode ``dataset`` (uint8 items) in order into one tensor (and, with ``labels``, its labels into
    another), skipping unreadable files; save them atomically."""
    images = torch.empty((len(dataset), *shape), dtype=torch.uint8)
    targets = torch.empty(len(dataset), dtype=torch.long) if labels else None
    loader = Loader(
        SkipUnreadable(dataset, replace=False, labels=labels),
        batch_size=256,
        num_workers=num_workers,
        collate_fn=collate_readable,
        generator=torch.Generator(),  # its worker seed is not drawn from the run's RNG: a run that builds
        worker_init_fn=worker_init(),  # the cache trains exactly as one that loads it
    )
    count, skipped = 0, []
    log.info("building the dataset cache %s from %d images", path, len(dataset))
    for batch in loader:
        if len(batch.images):  # a batch of unreadable files only has no image shape to copy
            images[count : count + len(batch.images)] = batch.images
            if targets is not None and batch.labels is not None:
                targets[count : count + len(batch.labels)] = batch.labels
            count += len(batch.images)
        skipped += batch.skipped
    if skipped:
        log.warning("dataset cache: skipped %d unreadable image files, e.g. %s", len(skipped), skipped[0])
    if count == 0:
        raise ConfigError(f"no readable image among the {len(dataset)} files of the dataset: check it")
    images = images[:count].clone() if count < len(images) else images
    if targets is not None:
        targets = targets[:count].clone() if count < len(targets) else targets
    try:
        atomic_save({"images": images, "key": key, "skipped": skipped, "labels": targets}, path)
    except OSError as error:
        raise ConfigError(f"cannot write the dataset cache {path} ({error}): set dataset.cache_dir") from error
    log.info("dataset cache %s: %d images, %.1f MB", path, count, images.numel() / 1e6)
    return images, targets


class CachedImages(Dataset):
    """Rows of a uint8 image tensor (on the CPU or the training GPU), with their labels where there are
    labels: ``(image, label)`` items then; training batches come from ``dcgan.data.resident.ResidentBatches``
    over ``images`` (and ``labels``)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        return self.images[index] if self.labels is None else (self.images[index], self.labels[index])
