"""Features of real images (and their class labels where asked), computed once per dataset + image size +
split + feature network + count and cached on disk (``metrics.cache_dir``)."""

from __future__ import annotations

import copy
import hashlib
import logging
import time
from pathlib import Path

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


def real_features(
    datamodule: ImageDataModule,
    split: str,
    net: nn.Module,
    num: int | None,
    cache_dir: str | Path,
    batch_size: int,
    device: str | torch.device = "cpu",
    seed: int = 0,
    with_labels: bool = False,
):
    """Features (N, D) of ``num`` images of ``datamodule``'s dataset (all of them for None or more than it
    holds; a fixed random subset otherwise), from ``cache_dir`` when computed before. ``with_labels``:
    (features, their class labels (N,)) of a labelled dataset."""
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
            if saved.get("key") == key and not with_labels:
                return saved["features"]
            if saved.get("key") == key and saved.get("labels") is not None:
                return saved["features"], saved["labels"]
        except Exception as error:  # a truncated or foreign file: compute it again
            log.warning(f"real-image statistics {path} are unreadable ({error}): computing them again")
    start = time.perf_counter()
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    indices = order[:count].sort().values
    labels = [] if with_labels else None
    features, _ = extract(net, _batches(datamodule, indices, batch_size, labels), device)
    labels = torch.cat(labels) if with_labels else None
    log.info(f"features of {len(features)} real images ({split}) in {time.perf_counter() - start:.1f}s -> {path}")
    try:
        atomic_save({"key": key, "features": features, "labels": labels}, path)
    except OSError as error:
        log.warning(f"cannot cache the real-image statistics in {path.parent} ({error}): set metrics.cache_dir")
    return (features, labels) if with_labels else features
