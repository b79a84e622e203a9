"""MNIST-style IDX datasets, with a system-wide copy (Debian's gzipped IDX) as the second place to look."""

from __future__ import annotations

import gzip
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset
from torchvision import datasets

from dcgan.data.sources import TorchvisionSource, dataset_name, one_line
from dcgan.errors import ConfigError
from dcgan.files import atomic_write

log = logging.getLogger(__name__)

IDX_FILES = [f"{split}-{kind}-ubyte" for split in ("train", "t10k") for kind in ("images-idx3", "labels-idx1")]


class EMNIST(datasets.EMNIST):
    """torchvision's EMNIST (``<root>/EMNIST/raw/emnist-<split>-{train,test}-*-ubyte``) with its images
    upright: EMNIST stores each image transposed (column by column), torchvision returns them as stored."""

    def __init__(self, root: str, split: str, **kwargs) -> None:
        if split not in self.splits:
            raise ConfigError(
                f"dataset.source.dataset.split={split} is not an EMNIST split: use one of {', '.join(self.splits)}"
            )
        super().__init__(root, split, **kwargs)

    @classmethod
    def files(cls, split: str) -> list[str]:
        """The four IDX files of a split, as the EMNIST download unpacks them."""
        return [
            f"emnist-{split}-{part}-{kind}-ubyte"
            for part in ("train", "test")
            for kind in ("images-idx3", "labels-idx1")
        ]

    def _load_data(self):
        images, labels = super()._load_data()
        return images.transpose(1, 2).contiguous(), labels

    def _load_legacy_data(self):
        images, labels = super()._load_legacy_data()
        return images.transpose(1, 2).contiguous(), labels


class IdxSource(TorchvisionSource):
    """torchvision ``MNIST`` / ``FashionMNIST`` reading ``<root>/<Name>/raw/*-ubyte``.

    When ``root`` lacks them and ``system_dir`` holds the four IDX files (gzipped, as Debian's
    ``system_package`` installs them, or plain), they are unpacked into ``<root>/<Name>/raw/`` once.
    """

    def __init__(
        self,
        dataset: Callable[..., Dataset],
        title: str = "",
        system_dir: str | None = None,
        system_package: str | None = None,
    ) -> None:
        super().__init__(dataset, title)
        self.system_dir, self.system_package = system_dir, system_package

    def raw_dir(self, root: str) -> Path:
        return Path(root) / dataset_name(self.dataset) / "raw"

    def find(self, root: str, transform: Callable) -> Dataset | None:
        found = super().find(root, transform)
        if found is None and self._system_files():
            self._unpack(root)
            found = super().find(root, transform)
        return found

    def _system_files(self) -> list[Path] | None:
        if not self.system_dir:
            return None
        files = []
        for name in IDX_FILES:
            candidates = [Path(self.system_dir) / f"{name}.gz", Path(self.system_dir) / name]
            present = [path for path in candidates if path.is_file()]
            if not present:
                return None
            files.append(present[0])
        return files

    def _unpack(self, root: str) -> None:
        raw = self.raw_dir(root)
        log.info("%s: unpacking the system copy in %s into %s", self.title, self.system_dir, raw)
        try:
            raw.mkdir(parents=True, exist_ok=True)
            for source, name in zip(self._system_files(), IDX_FILES, strict=True):
                if (raw / name).is_file():
                    continue
                opener = gzip.open if source.suffix == ".gz" else open
                with opener(source, "rb") as src, atomic_write(raw / name) as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        except OSError as error:
            raise ConfigError(
                f"{self.title}: cannot unpack {self.system_dir} into {raw} ({one_line(error)}): "
                "set paths.data_dir to a writable folder"
            ) from error

    def looked_in(self, root: str) -> list[str]:
        return [str(self.raw_dir(root))] + ([self.system_dir] if self.system_dir else [])

    def files(self) -> list[str]:
        """The IDX files the dataset reads (EMNIST: those of its split)."""
        files = getattr(getattr(self.dataset, "func", self.dataset), "files", None)
        return files(self.dataset.keywords["split"]) if files is not None else IDX_FILES

    def ways(self, root: str) -> list[str]:
        ways = [
            f"put the uncompressed IDX files ({', '.join(self.files())}) in {self.raw_dir(root)}/ "
            f"(or point paths.data_dir at a folder holding {dataset_name(self.dataset)}/raw/)"
        ]
        if self.system_dir:
            package = f"apt-get install {self.system_package}" if self.system_package else "install"
            ways.append(f"{package} (the system copy in {self.system_dir})")
        return ways
