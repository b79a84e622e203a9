"""One LightningDataModule for every image dataset; where the images come from is a config choice."""

from __future__ import annotations

import logging
import math
import os

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset
from torchdata.stateful_dataloader import StatefulDataLoader

from dcgan.data.cache import Cached, CachedImages, build_cache, cache_file, load_cache
from dcgan.data.labels import dataset_classes
from dcgan.data.resident import ResidentBatches
from dcgan.data.sources import Source
from dcgan.data.transforms import to_unit_range, uint8_transform
from dcgan.data.unreadable import Batch, SkipUnreadable, collate_readable
from dcgan.errors import ConfigError, whole_number

log = logging.getLogger(__name__)

CACHE_DEVICES = ("auto", "cpu")
LABELLED = "mnist, fashion_mnist, emnist, svhn, cifar10, or image_folder with one subfolder per class"


def split_batch(batch) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(images, labels) of a batch: labels (int64, (B,)) for a labelled DataModule's ``(images, labels)``
    batches, None for the plain image batches of an unconditional run."""
    if isinstance(batch, (tuple, list)):
        return batch[0], batch[1]
    return batch, None


class ImageDataModule(LightningDataModule):
    """Training images for the model as float tensors (B, channels, image_size, image_size) in [-1, 1].

    ``source`` finds the dataset under ``root`` (local copies first; ``download=true`` then fetches it,
    else a ConfigError says where it looked and how to get it), checked when the module is built, before
    the Trainer starts. Loaders yield uint8 batches; ``on_after_batch_transfer`` makes them float on the
    training device. Unreadable image files are skipped and counted in the log.

    ``cache=true`` decodes and resizes the dataset once into ``cache_dir`` (a uint8 tensor file, reused
    while source, size and channels stay the same) and draws batches from memory: the training GPU's
    (``cache_device=auto``) or pinned CPU memory (``cache_device=cpu``, or CPU training).

    ``labels=true`` (a class-conditional run): every batch is ``(images, labels)``, the labels int64 class
    indices of ``classes`` (the dataset's class names); a dataset without labels is a ConfigError.
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
        labels: bool = False,  # a default for the dataset configs stored before labels existed
    ) -> None:
        super().__init__()
        # 1.5 or "abc" is refused, not silently int()'ed
        batch_size = whole_number("dataset.batch_size", batch_size)
        num_workers = whole_number("dataset.num_workers", num_workers, minimum=0)
        if int(channels) not in (1, 3):
            raise ConfigError(f"dataset.channels={channels} is invalid: use 1 (gray) or 3 (RGB)")
        if cache_device not in CACHE_DEVICES:
            raise ConfigError(f"dataset.cache_device={cache_device} is invalid: use one of {', '.join(CACHE_DEVICES)}")
        self.source, self.name, self.root, self.download = source, name, root, bool(download)
        self.image_size, self.channels = int(image_size), int(channels)
        self.batch_size, self.num_workers, self.pin_memory = int(batch_size), int(num_workers), bool(pin_memory)
        self.cache, self.cache_dir, self.cache_device = bool(cache), cache_dir, cache_device
        self.resize, self.labels = resize, bool(labels)
        self.transform = uint8_transform(self.image_size, self.channels, resize)
        self.classes: list[str] | None = None
        self.dataset = self._find()
        if self.dataset is None and not (self.download and self.source.downloadable):
            reason = "dataset.download=false" if self.source.downloadable else ""
            raise ConfigError(self.source.missing(root, reason=reason))
        self.shape = (self.channels, self.image_size, self.image_size)
        self.train_set: Dataset | None = None
        self.cached_images: torch.Tensor | None = None
        self.cached_labels: torch.Tensor | None = None
        self.skipped: set[str] = set()

    def _find(self) -> Dataset | None:
        dataset = self.source.find(self.root, self.transform)
        if dataset is not None and len(dataset) < 2:
            raise ConfigError(f"{self.source.title} at {self.root} has {len(dataset)} image(s): a GAN needs 2 or more")
        if dataset is not None and self.labels:
            self.classes = dataset_classes(dataset)
            if self.classes is None or len(self.classes) < 2:
                what = "no class labels" if self.classes is None else "a single class"
                raise ConfigError(
                    f"model.conditional=true needs a labelled dataset, and {self.source.title} at {self.root} has "
                    f"{what}: use {LABELLED}, or model.conditional=false"
                )
        return dataset

    def images_key(self) -> str:
        """What identifies the images (for caches): the source, their count and a resize other than crop."""
        resize = "" if self.resize == "crop" else f":{self.resize}"
        return f"{self.source.key(self.root)}:{len(self.dataset)}{resize}"

    def _load_or_build_cache(self) -> Cached:
        key = self.images_key()
        path = cache_file(self.cache_dir, self.name, key, self.channels, self.image_size)
        cached = load_cache(path, key, self.shape, self.labels)
        if cached is None:
            cached = build_cache(self.dataset, path, key, self.shape, self.num_workers, self.labels)
        return cached

    def _fetch(self) -> None:
        if self.dataset is None:
            self.source.fetch(self.root)
            self.dataset = self._find()
            if self.dataset is None:
                raise ConfigError(self.source.missing(self.root, reason="not there after the download"))

    def class_names(self) -> list[str]:
        """The dataset's class names (``labels=true``), downloading the dataset first where it is not here."""
        self._fetch()
        return list(self.classes or [])

    def prepare_data(self) -> None:
        # One process per node: the place to download and to build the cache.
        self._fetch()
        if self.cache:
            self.cached_images, self.cached_labels = self._load_or_build_cache()

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        if self.dataset is None:  # another node's process downloaded it
            self.dataset = self._find()
        if self.dataset is None:
            raise ConfigError(self.source.missing(self.root, reason="not there after prepare_data()"))
        if not self.cache:
            self.train_set = SkipUnreadable(self.dataset, labels=self.labels)
            return
        # The other processes of a node load what prepare_data() built in one.
        if self.cached_images is not None:
            images, labels = self.cached_images, self.cached_labels
        else:
            images, labels = self._load_or_build_cache()
        self.cached_images = self.cached_labels = None
        device = self._device()
        if device.type != "cpu" and self.cache_device == "auto":
            # resident on the training GPU: batches never cross the bus
            images, labels = images.to(device), None if labels is None else labels.to(device)
        elif device.type == "cuda" and self.pin_memory:
            images = images.pin_memory()  # asynchronous copies of each batch to the GPU
        self.train_set = CachedImages(images, labels)

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

    def train_dataloader(self) -> StatefulDataLoader | ResidentBatches:
        if self.train_set is None:
            self.setup("fit")
        # Both loaders are stateful: a checkpoint records the position in the epoch's order, so a
        # mid-epoch resume continues the same data order (Lightning saves and restores the state).
        if isinstance(self.train_set, CachedImages):
            trainer = self.trainer
            rank, world_size = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
            # the run's seed (seed_everything's), else a random one from rank 0: one order on every rank
            seed = int(os.environ.get("PL_GLOBAL_SEED") or torch.randint(2**31 - 1, ()))
            seed = trainer.strategy.broadcast(seed, src=0) if trainer is not None else seed
            train_set = self.train_set
            return ResidentBatches(train_set.images, self._batch_size(), seed, rank, world_size, train_set.labels)
        return StatefulDataLoader(
            self.train_set,
            batch_size=self._batch_size(),
            shuffle=True,
            drop_last=True,  # a batch size no larger than the dataset: never an empty epoch
            num_workers=self.num_workers,
            collate_fn=collate_readable,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        if isinstance(batch, Batch):
            for name in batch.skipped:
                if name not in self.skipped:
                    self.skipped.add(name)
                    log.warning("skipped an unreadable image file (%d so far): %s", len(self.skipped), name)
            batch = (batch.images, batch.labels) if self.labels else batch.images
        return batch

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = split_batch(batch)
        if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
            images = to_unit_range(images)
        return images if labels is None else (images, labels)

    def real_batch(self, n: int, seed: int):
        """``n`` training images as the model sees them, float (n, C, H, W) in [-1, 1] (with ``labels``: a
        tuple with their labels), from the shuffle that ``seed`` draws (fewer if the dataset is smaller)."""
        batches, count = [], 0
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for batch in self.train_dataloader():
                batches.append(split_batch(self.on_after_batch_transfer(self.on_before_batch_transfer(batch, 0), 0)))
                count += len(batches[-1][0])
                if count >= n:
                    break
        images = torch.cat([images for images, _ in batches])[:n]
        return (images, torch.cat([labels for _, labels in batches])[:n]) if self.labels else images

    def teardown(self, stage: str | None = None) -> None:
        if self.skipped:
            log.warning("%s: skipped %d unreadable image files in this run", self.source.title, len(self.skipped))
