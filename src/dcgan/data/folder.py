"""Any folder of images, class subfolders optional."""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

from dcgan.errors import ConfigError


class ImageFiles(ImageFolder):
    """Every image under ``root``, searched recursively (flat folders and class subfolders alike).

    An unconditional GAN ignores labels, so all files share label 0. Files are opened lazily:
    unreadable ones surface when loaded (the DataModule skips them).
    """

    def __init__(self, root: str, **kwargs) -> None:
        if not Path(root).is_dir():
            raise ConfigError(f"dataset.root={root} is not a folder: point it at a folder of images")
        try:
            super().__init__(root, **kwargs)
        except FileNotFoundError as error:  # torchvision: "Found no valid file for the classes ..."
            raise ConfigError(
                f"no image files in {root} or its subfolders (looked for {', '.join(IMG_EXTENSIONS)}): "
                "point dataset.root at a folder of images"
            ) from error

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        return [""], {"": 0}
