"""Features of real images (and their class labels where asked), computed once per dataset + image size +
split + feature network + count and cached on disk (``metrics.cache_dir``)."""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from pathlib import Path
from typing import NamedTuple

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn
from torch.utils.data import DataLoader, Subset

from dcgan.data import ImageDataModule
from dcgan.data.unreadable import SkipUnreadable, collate_readable
from dcgan.errors import ConfigError, find_user_error
from dcgan.files import atomic_save
from dcgan.metrics.features import extract
from dcgan.metrics.scores import frechet_distance

log = logging.getLogger(__name__)


def with_split(dataset_cfg: DictConfig, split: str) -> DictConfig:
    """The dataset config reading ``split``: ``train`` is the config as it is (the images the GAN learns);
    another split sets the torchvision dataset's ``train`` flag (``test``) or its ``split`` argument."""
    dataset_cfg = copy.deepcopy(dataset_cfg)
    if split == "train":
        return dataset_cfg
    params = OmegaConf.select(dataset_cfg, "source.dataset")
    name = dataset_cfg.get("name", "the dataset")
    if isinstance(params, DictConfig) and "train" in params:
        if split != "test":
            raise ConfigError(f"metrics.split={split} is invalid for {name}: use train or test")
        params.train = False
    elif isinstance(params, DictConfig) and "split" in params:
        params.split = split
    else:
        raise ConfigError(f"metrics.split={split}: {name} has no splits to choose from, use metrics.split=train")
    return dataset_cfg


def load_datamodule(dataset_cfg: DictConfig) -> ImageDataModule:
    """The run's DataModule with its dataset found (or fetched where the config allows it)."""
    try:
        datamodule = instantiate(dataset_cfg)
    except Exception as error:  # Hydra wraps the DataModule's ConfigError
        user_error = find_user_error(error)
        if user_error is None:
            raise
        raise user_error from None
    if datamodule.dataset is None:
        datamodule.prepare_data()
    return datamodule


def _batches(datamodule: ImageDataModule, indices: torch.Tensor, batch_size: int, labels: list | None = None):
    """The uint8 images at ``indices`` in batches; their labels appended to ``labels`` where given."""
    dataset = Subset(SkipUnreadable(datamodule.dataset, replace=False, labels=labels is not None), indices.tolist())
    loader = DataLoader(
        dataset, batch_size=batch_size, num_workers=datamodule.num_workers, collate_fn=collate_readable,
        generator=torch.Generator(),  # not the run's RNG: training does not depend on whether this was cached
    )  # fmt: skip
    skipped = 0
    for batch in loader:
        skipped += len(batch.skipped)
        if len(batch.images):
            if labels is not None:
                labels.append(batch.labels)
            yield batch.images
    if skipped:
        log.warning(f"{datamodule.source.title}: skipped {skipped} unreadable images")


class RealSets(NamedTuple):
    features: torch.Tensor  # (N, D): ``num`` images of the split (all for None; a fixed random subset otherwise)
    logits: torch.Tensor  # (N, K)
    floor: float | None  # the FD of those against N other real images; None where the split has fewer than 2N
    labels: torch.Tensor | None = None  # (N,) their class labels, where asked for (a labelled dataset)


def real_sets(
    datamodule: ImageDataModule,
    split: str,
    net: nn.Module,
    num: int | None,
    cache_dir: str | Path,
    batch_size: int,
    device: str | torch.device = "cpu",
    floor: bool = True,
    seed: int = 0,
    with_labels: bool = False,
) -> RealSets:
    """The features (N, D) of ``num`` images of ``datamodule``'s dataset (all of them for None or more than it
    holds; a fixed random subset otherwise; from ``cache_dir`` when computed before) with their logits (and,
    ``with_labels``, their class labels) and, with ``floor``, the real-data floor: the Frechet distance between
    them and as many other real images of the split (the next ones of the same random order), what a generator
    of the data distribution itself would score."""
    count = len(datamodule.dataset) if num is None else min(int(num), len(datamodule.dataset))
    if not floor or 2 * count > len(datamodule.dataset):
        if floor:
            log.info(f"no real-data floor: it needs {2 * count} real {split} images, not {len(datamodule.dataset)}")
        features, logits, labels = _cached(datamodule, split, net, count, cache_dir, batch_size, device, seed,
                                           with_labels)  # fmt: skip
        return RealSets(features, logits, None, labels)
    features, logits, labels = _cached(datamodule, split, net, 2 * count, cache_dir, batch_size, device, seed,
                                       with_labels)  # fmt: skip
    # the rows are in index order; the reference set is the first half of the random order
    order = torch.randperm(len(datamodule.dataset), generator=torch.Generator().manual_seed(seed))
    rows = torch.searchsorted(order[: 2 * count].sort().values, order[:count].sort().values)
    others = torch.ones(len(features), dtype=torch.bool)
    others[rows] = False
    floor_fd = frechet_distance(features[rows], features[others])
    return RealSets(features[rows], logits[rows], floor_fd, None if labels is None else labels[rows])


def _cached(
    datamodule, split, net, num, cache_dir, batch_size, device, seed, with_labels
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(features, logits, labels or None) of ``num`` real images, from the cache where it holds them."""
    dataset = datamodule.dataset
    count = len(dataset) if num is None else min(int(num), len(dataset))
    if count < 2:
        raise ConfigError(f"metrics.num_real={num}: the scores need 2 or more real images")
    size = f"{datamodule.channels}x{datamodule.image_size}"
    key = "|".join([datamodule.images_key(), size, split, net.id, str(count), str(seed)])
    digest = hashlib.sha1(key.encode()).hexdigest()[:8]
    path = Path(cache_dir) / f"real_{datamodule.name or 'dataset'}_{split}_{size}_{net.id}_n{count}_{digest}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, map_location="cpu", weights_only=True)
            if saved.get("key") == key and "logits" in saved and (not with_labels or saved.get("labels") is not None):
                return saved["features"], saved["logits"], saved.get("labels") if with_labels else None
        except Exception as error:  # a truncated or foreign file: compute it again
            log.warning(f"real-image statistics {path} are unreadable ({error}): computing them again")
    start = time.perf_counter()
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    indices = order[:count].sort().values
    labels = [] if with_labels else None
    features, logits = extract(net, _batches(datamodule, indices, batch_size, labels), device)
    labels = torch.cat(labels) if with_labels else None
    log.info(f"features of {len(features)} real images ({split}) in {time.perf_counter() - start:.1f}s -> {path}")
    try:
        atomic_save({"key": key, "features": features, "logits": logits, "labels": labels}, path)
    except OSError as error:
        log.warning(f"cannot cache the real-image statistics in {path.parent} ({error}): set metrics.cache_dir")
    return features, logits, labels
