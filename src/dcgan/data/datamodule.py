"""One LightningDataModule for every image dataset; where the images come from is a config choice."""

from __future__ import annotations

import hashlib
import logging
import math
import os

import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import Dataset

from dcgan.data.cache import Cached, CachedImages, build_cache, cache_file, load_cache
from dcgan.data.labels import dataset_classes
from dcgan.data.order import EpochOrder
from dcgan.data.resident import ResidentBatches
from dcgan.data.sources import Source
from dcgan.data.transforms import to_unit_range, uint8_transform
from dcgan.data.unreadable import Batch, SkipUnreadable, collate_readable
from dcgan.data.workers import Loader, worker_init
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

    The batches come in an ``EpochOrder``, a shuffle per epoch from the run's seed. The module's state
    (``state_dict``, in every checkpoint) holds that seed, the position of the next batch and what identifies
    the images (``identity``): a resumed run continues the same order wherever it stopped, with any number of
    loader workers, and a checkpoint can be checked against the dataset before it is resumed.

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
        self.order: EpochOrder | None = None  # the training loader's
        self.resume_at: dict = {}  # the order's seed, epoch and position in the checkpoint a run resumes
        self._identity: dict | None = None

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

    def _new_order(self, seed: int | None = None) -> EpochOrder:
        """An order of the training set: with ``seed``, its first epoch; else the run's (the checkpoint's seed and
        position where the run resumed, else the run's seed from the start)."""
        trainer = self.trainer
        rank, world_size = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        at = {} if seed is not None else self.resume_at
        seed = at.get("seed", seed)
        if seed is None:
            # the run's seed (seed_everything's), else a random one from rank 0: one order on every rank
            seed = int(os.environ.get("PL_GLOBAL_SEED") or torch.randint(2**31 - 1, ()))
            seed = trainer.strategy.broadcast(seed, src=0) if trainer is not None else seed
        device = self.train_set.images.device if isinstance(self.train_set, CachedImages) else None
        shuffle = not (trainer is not None and getattr(trainer, "overfit_batches", 0))  # overfit: the same batches
        order = EpochOrder(len(self.train_set), self._batch_size(), seed, rank, world_size, device, shuffle)
        order.next_batch = at.get("epoch", 0) * len(order) + min(at.get("position", 0), len(order))
        return order

    def _loader(self, order: EpochOrder) -> Loader | ResidentBatches:
        if isinstance(self.train_set, CachedImages):
            return ResidentBatches(self.train_set.images, order, self.train_set.labels)
        return Loader(
            self.train_set,
            batch_sampler=order,  # full batches, no larger than the dataset: never an empty epoch
            num_workers=self.num_workers,
            collate_fn=collate_readable,
            pin_memory=self.pin_memory and torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
            worker_init_fn=worker_init(order.rank),
            generator=torch.Generator().manual_seed(order.seed),  # the workers' seeds, not the run's random state
        )

    def train_dataloader(self) -> Loader | ResidentBatches:
        if self.train_set is None:
            self.setup("fit")
        self.order = self._new_order()
        return self._loader(self.order)

    def identity(self) -> dict | None:
        """What the run trains on: the dataset's name and files, its image count, the resize and a digest of three
        of its images (so the same images in another folder are the same dataset); None before it is found."""
        if self.dataset is None:
            return None
        if self._identity is None:
            readable, digest = SkipUnreadable(self.dataset), hashlib.sha1()
            for index in sorted({0, len(self.dataset) // 2, len(self.dataset) - 1}):
                image, *_ = readable[index]
                digest.update(b"" if image is None else image.contiguous().numpy().tobytes())
            self._identity = {"name": self.name, "source": self.source.key(self.root), "images": len(self.dataset),
                              "resize": self.resize, "digest": digest.hexdigest()}  # fmt: skip
        return self._identity

    def state_dict(self) -> dict:
        if self.order is None:
            return {}
        epoch, position = self.order.position()
        order = {"seed": self.order.seed, "epoch": epoch, "position": position, "num_workers": self.num_workers}
        return {"identity": self.identity(), "order": order}

    def load_state_dict(self, state: dict) -> None:
        self.resume_at = dict(state.get("order") or {})
        workers = self.resume_at.get("num_workers", self.num_workers)
        if workers != self.num_workers:
            log.info(
                "dataset.num_workers=%d, the checkpoint's run had %d: the data order continues where it stopped; "
                "only random draws inside the loader workers (none in this kit's transforms) start afresh",
                self.num_workers, workers,
            )  # fmt: skip

    def _batch(self, batch):
        """A loader's batch as the model takes it: images, or ``(images, labels)`` with ``labels``; the unreadable
        files it met logged once each."""
        if not isinstance(batch, Batch):
            return batch
        for name in batch.skipped:
            if name not in self.skipped:
                self.skipped.add(name)
                log.warning("skipped an unreadable image file (%d so far): %s", len(self.skipped), name)
        if not len(batch.images):  # raised here, in the training process: one line, no worker traceback
            example = f", e.g. {sorted(self.skipped)[0]}" if self.skipped else ""
            raise ConfigError(
                f"no readable image left among the {len(self.dataset)} files of {self.source.title} at {self.root} "
                f"({len(self.skipped)} unreadable{example}): check the dataset"
            )
        return (batch.images, batch.labels) if self.labels else batch.images

    def on_before_batch_transfer(self, batch, dataloader_idx: int):
        if self.order is not None and self.trainer is not None and self.trainer.training:
            self.order.next_batch += 1  # this batch reaches the model: a checkpoint from now on resumes after it
        return self._batch(batch)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = split_batch(batch)
        if isinstance(images, torch.Tensor) and images.dtype == torch.uint8:
            images = to_unit_range(images)
        return images if labels is None else (images, labels)

    def real_batch(self, n: int, seed: int):
        """``n`` training images as the model sees them, float (n, C, H, W) in [-1, 1] (with ``labels``: a tuple
        with their labels): the first of the order that ``seed`` draws (a run's first batch, for its seed; fewer
        if the dataset is smaller)."""
        if self.train_set is None:
            self.setup("fit")
        batches, count = [], 0
        for batch in self._loader(self._new_order(seed)):
            batches.append(split_batch(self.on_after_batch_transfer(self._batch(batch), 0)))
            count += len(batches[-1][0])
            if count >= n:
                break
        images = torch.cat([images for images, _ in batches])[:n]
        return (images, torch.cat([labels for _, labels in batches])[:n]) if self.labels else images

    def teardown(self, stage: str | None = None) -> None:
        if self.skipped:
            log.warning("%s: skipped %d unreadable image files in this run", self.source.title, len(self.skipped))
