"""Any folder of images, class subfolders optional."""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS

from dcgan.errors import ConfigError


class ImageFiles(ImageFolder):
    """Every image under ``root``, searched recursively (flat folders and class subfolders alike).

    Labelled when every image lies in a subfolder of ``root``: one class per subfolder (``classes``, sorted;
    deeper folders belong to their top one), as torchvision's ImageFolder labels them. A folder with images
    directly in it has no labels (``classes`` empty, every label 0). The file order is the same either way.
    Files are opened lazily: unreadable ones surface when loaded (the DataModule skips them).
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
        tops = [Path(path).relative_to(root).parts for path, _ in self.samples]
        if all(len(parts) > 1 for parts in tops):
            self.classes = sorted({parts[0] for parts in tops})
            self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
            self.samples = [
                (path, self.class_to_idx[parts[0]]) for (path, _), parts in zip(self.samples, tops, strict=True)
            ]
            self.targets = [target for _, target in self.samples]
            self.imgs = self.samples
        else:
            self.classes, self.class_to_idx = [], {}

    def find_classes(self, directory: str) -> tuple[list[str], dict[str, int]]:
        # one search of the whole tree (files at the top included); the labels are set afterwards
        return [""], {"": 0}
