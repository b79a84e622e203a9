"""CelebA in either layout: torchvision's (with annotation files) or a plain folder of aligned faces."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from torch.utils.data import Dataset

from dcgan.data.folder import ImageFiles
from dcgan.data.sources import TorchvisionSource

log = logging.getLogger(__name__)


class CelebASource(TorchvisionSource):
    """torchvision ``CelebA`` at ``<root>/celeba/`` (annotation files + ``img_align_celeba/``), else
    every JPEG of a plain ``img_align_celeba/`` folder at ``<root>/celeba/`` or ``<root>/`` (the PyTorch
    DCGAN tutorial's layout: no annotations, no split), else torchvision's download.
    """

    folder = "img_align_celeba"
    download_way = (
        "run once with internet access and dataset.download=true (torchvision's Google Drive download through "
        "gdown, md5-checked; Drive's daily quota often refuses it: then the first way)"
    )

    def find(self, root: str, transform: Callable) -> Dataset | None:
        found = super().find(root, transform)
        if found is not None:
            return found
        for folder in self._plain_folders(root):
            if folder.is_dir():
                split = getattr(self.dataset, "keywords", {}).get("split", "all")
                if split != "all":
                    log.warning(
                        "CelebA: %s is a plain folder without list_eval_partition.txt: reading all its images, "
                        "not the %s split (torchvision's layout in %s/celeba/ has the split)", folder, split, root
                    )  # fmt: skip
                return ImageFiles(str(folder), transform=transform)
        return None

    def _plain_folders(self, root: str) -> list[Path]:
        return [Path(root) / "celeba" / self.folder, Path(root) / self.folder]

    def looked_in(self, root: str) -> list[str]:
        return [str(Path(root) / "celeba")] + [str(p) for p in self._plain_folders(root)[1:]]

    def ways(self, root: str) -> list[str]:
        return [
            f"download img_align_celeba.zip (Kaggle: jessicali9530/celeba-dataset, or the CelebA site's Google "
            f"Drive) and unzip it into {root}/ (a plain {self.folder}/ folder of JPEGs, the PyTorch tutorial's "
            f"layout) or set dataset.root to the folder that holds {self.folder}/",
            f"put torchvision's layout ({self.folder}/ and the annotation .txt files) in {root}/celeba/",
        ]
