"""One LightningDataModule for every image dataset; where the images come from is a config choice."""

from __future__ import annotations

import logging
import math

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from dcgan.data.cache import CachedImages, as_batch, build_cache, cache_file, load_cache
from dcgan.data.sources import Source
from dcgan.data.transforms import to_unit_range, uint8_transform
from dcgan.data.unreadable import Batch, SkipUnreadable, collate_readable
from dcgan.errors import ConfigError

log = logging.getLogger(__name__)

CACHE_DEVICES = ("auto", "cpu")


class ImageDataModule(LightningDataModule):
    """Training images for the model as float tensors (B, channels, image_size, image_size) in [-1, 1].

    ``source`` finds the dataset under ``root`` (local copies first; ``download=true`` then fetches it,
    else a ConfigError says where it looked and how to get it), checked when the module is built, before
    the Trainer starts. Loaders yield uint8 batches; ``on_after_batch_transfer`` makes them float on the
    training device. Unreadable image files are skipped and counted in the log.

    ``cache=true`` decodes and resizes the dataset once into ``cache_dir`` (a uint8 tensor file, reused
    while source, size and channels stay the same) and draws batches from memory: the training GPU's
    (``cache_device=auto``) or pinned CPU memory (``cache_device=cpu``, or CPU training).
    """

    def __init__(
        self,
        source: Source,
        image_size: int,
        channels: int,
        resize: str,
        batch_size: int,
        num_workers: int,
        name: str,
        root: str | None,
        download: bool,
        pin_memory: bool,
        cache: bool,
        cache_dir: str,
        cache_device: str,
    ) -> None:
        super().__init__()
        if int(batch_size) <= 0:
            raise ConfigError(f"dataset.batch_size={batch_size} is invalid: use a positive integer")
        if int(num_workers) < 0:
            raise ConfigError(f"dataset.num_workers={num_workers} is invalid: use 0 or more")
        if int(channels) not in (1, 3):
            raise ConfigError(f"dataset.channels={channels} is invalid: use 1 (gray) or 3 (RGB)")
        if cache_device not in CACHE_DEVICES:
            raise ConfigError(f"dataset.cache_device={cache_device} is invalid: use one of {', '.join(CACHE_DEVICES)}")
        self.source, self.name, self.root, self.download = source, name, root, bool(download)
        self.image_size, self.channels = int(image_size), int(channels)
        self.batch_size, self.num_workers, self.pin_memory = int(batch_size), int(num_workers), bool(pin_memory)
        self.cache, self.cache_dir, self.cache_device = bool(cache), cache_dir, cache_device
        self.resize = resize
        self.transform = uint8_transform(self.image_size, self.channels, resize)
        self.dataset = self._find()
        if self.dataset is None and not (self.download and self.source.downloadable):
            reason = "dataset.download=false" if self.source.downloadable else ""
            raise ConfigError(self.source.missing(root, reason=reason))
        self.shape = (self.channels, self.image_size, self.image_size)
        self.train_set: Dataset | None = None
        self.cached_images: torch.Tensor | None = None
        self.skipped: set[str] = set()

    def _find(self) -> Dataset | None:
        dataset = self.source.find(self.root, self.transform)
        if dataset is not None and len(dataset) < 2:
            raise ConfigError(f"{self.source.title} at {self.root} has {len(dataset)} image(s): a GAN needs 2 or more")
        return dataset

    def images_key(self) -> str:
        """What identifies the images (for caches): the source, their count and a resize other than crop."""
        resize = "" if self.resize == "crop" else f":{self.resize}"
        return f"{self.source.key(self.root)}:{len(self.dataset)}{resize}"

    def _load_or_build_cache(self) -> torch.Tensor:
        key = self.images_key()
        path = cache_file(self.cache_dir, self.name, key, self.channels, self.image_size)
        images = load_cache(path, key, self.shape)
        return images if images is not None else build_cache(self.dataset, path, key, self.shape, self.num_workers)

    def prepare_data(self) -> None:
        # One process per node: the place to download and to build the cache.
        if self.dataset is None:
            self.source.fetch(self.root)
            self.dataset = self._find()
            if self.dataset is None:
                raise ConfigError(self.source.missing(self.root, reason="not there after the download"))
        if self.cache:
            self.cached_images = self._load_or_build_cache()

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if self.dataset is None:  # another node's process downloaded it
            self.dataset = self._find()
        if self.dataset is None:
            raise ConfigError(self.source.missing(self.root, reason="not there after prepare_data()"))
        if not self.cache:
            self.train_set = SkipUnreadable(self.dataset)
            return
        # The other processes of a node load what prepare_data() built in one.
        images = self.cached_images if self.cached_images is not None else self._load_or_build_cache()
        self.cached_images = None
        device = self._device()
        if device.type != "cpu" and self.cache_device == "auto":
            images = images.to(device)
        self.train_set = CachedImages(images)

    def _device(self) -> torch.device:
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    def _batch_size(self) -> int:
        world_size = self.trainer.world_size if self.trainer is not None else 1
        per_process = math.ceil(len(self.train_set) / world_size)
        if per_process < self.batch_size:
            log.warning(
                "%s has %d images (%d per process): batches of %d instead of dataset.batch_size=%d",
                self.source.title, len(self.train_set), per_process, per_process, self.batch_size,
            )  # fmt: skip
        if per_process < 2:
            raise ConfigError(f"{len(self.train_set)} images are too few for {world_size} processes: use fewer devices")
        return min(self.batch_size, per_process)

    def train_dataloader(self) -> StatefulDataLoader:
        if self.train_set is None:
            self.setup("fit")
        cached = isinstance(self.train_set, CachedImages)
        on_host = not cached or self.train_set.images.device.type == "cpu"
        workers = 0 if cached else self.num_workers
        # Stateful: a checkpoint records the sampler's position, so a mid-epoch resume continues the
        # same data order (Lightning saves and restores the state).
        return StatefulDataLoader(
            self.train_set,
            batch_size=self._batch_size(),
            shuffle=True,
            drop_last=True,  # a batch size no larger than the dataset: never an empty epoch
            num_workers=workers,
            collate_fn=as_batch if cached else collate_readable,
            pin_memory=self.pin_memory and on_host and torch.cuda.is_available(),
            persistent_workers=workers > 0,
        )

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, Batch):
            for name in batch.skipped:
                if name not in self.skipped:
                    self.skipped.add(name)
                    log.warning("skipped an unreadable image file (%d so far): %s", len(self.skipped), name)
            batch = batch.images
        return batch

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, torch.Tensor) and batch.dtype == torch.uint8:
            return to_unit_range(batch)
        return batch

    def teardown(self, stage: str | None = None) -> None:
        if self.skipped:
            log.warning("%s: skipped %d unreadable image files in this run", self.source.title, len(self.skipped))
