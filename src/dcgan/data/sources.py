"""Where a dataset's files are and how to get them: local copies first, then a download, then one clear error."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from dcgan.errors import ConfigError


def one_line(error: BaseException) -> str:
    """An exception's message on one line (download errors span several)."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def dataset_name(dataset: Callable) -> str:
    return getattr(getattr(dataset, "func", dataset), "__name__", type(dataset).__name__)


class Source:
    """How the DataModule finds a dataset under ``root``; subclasses override what they support."""

    title = "dataset"
    downloadable = False
    download_way = "run once with internet access and dataset.download=true"

    def find(self, root: str, transform: Callable) -> Dataset | None:
        """The dataset from a local copy, or None when there is none (errors the user must fix raise)."""
        raise NotImplementedError

    def fetch(self, root: str) -> None:
        """Download into ``root``; raise ConfigError (listing the other ways) if that fails."""
        raise ConfigError(self.missing(root, reason=f"{self.title} has no download"))

    def key(self, root: str) -> str:
        """What identifies the images (for the tensor cache's file name)."""
        return f"{type(self).__name__}:{Path(root).resolve() if root else ''}"

    def looked_in(self, root: str) -> list[str]:
        return [str(root)]

    def ways(self, root: str) -> list[str]:
        return [f"put the files at {root} (or set dataset.root / paths.data_dir to where they are)"]

    def missing(self, root: str, reason: str = "") -> str:
        """One line: what is missing, where it looked, why no download, and the ways to get it."""
        ways = self.ways(root)
        if self.downloadable:
            ways.append(self.download_way)
        listed = "; ".join(f"({i}) {way}" for i, way in enumerate(ways, 1)) if len(ways) > 1 else ways[0]
        because = f" ({reason})" if reason else ""
        return f"{self.title} not found in {' or '.join(self.looked_in(root))}{because}. Get it: {listed}"


class LocalSource(Source):
    """A dataset class that reads files at ``root`` (``dataset(root, transform=...)``), no download.

    ``expects`` says in the error message what should be at ``root``.
    """

    def __init__(self, dataset: Callable[..., Dataset], title: str = "", expects: str = "") -> None:
        self.dataset = dataset
        self.title = title or dataset_name(dataset)
        self.expects = expects

    def find(self, root: str, transform: Callable) -> Dataset | None:
        if root is None or not Path(root).exists():
            return None
        try:
            return self.dataset(root, transform=transform)
        except RuntimeError:  # torchvision's "Dataset not found or corrupted"
            return None

    def key(self, root: str) -> str:
        args = sorted(getattr(self.dataset, "keywords", {}).items())
        return f"{dataset_name(self.dataset)}{args}:{Path(root).resolve()}"

    def ways(self, root: str) -> list[str]:
        what = f"{self.expects} under {root}" if self.expects else f"the files at {root}"
        return [f"put {what} (or point dataset.root / paths.data_dir at a folder that has them)"]


class TorchvisionSource(LocalSource):
    """A torchvision dataset class: ``root`` as torchvision lays it out, else its own download."""

    downloadable = True

    def fetch(self, root: str) -> None:
        try:
            Path(root).mkdir(parents=True, exist_ok=True)
            self.dataset(root, download=True)
        except Exception as error:  # URLError, RuntimeError (md5, mirrors), OSError, a missing gdown ...
            raise ConfigError(self.missing(root, reason=f"the download failed: {one_line(error)}")) from error


class SyntheticSource(Source):
    """Images made in memory (torchvision ``FakeData``): always there, ``root`` unused."""

    title = "synthetic data"

    def __init__(self, dataset: Callable[..., Dataset]) -> None:
        self.dataset = dataset

    def find(self, root: str | None, transform: Callable) -> Dataset:
        return self.dataset(transform=transform)

    def key(self, root: str | None) -> str:
        return f"{dataset_name(self.dataset)}{sorted(getattr(self.dataset, 'keywords', {}).items())}"
