"""Any folder of images, class subfolders optional."""

from __future__ import annotations

import os
from pathlib import Path

from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from dcgan.errors import ConfigError


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def walk_files(directory: str) -> list[str]:
    """Every file under ``directory`` in torchvision's order (sorted by folder, then name), following symbolic
    links out of the tree once each and never a link back into it: a link loop (``ln -s .. loop``) or a second
    link to a folder adds no file twice."""
    top = os.path.realpath(directory)
    visited, found = {top}, []
    for root, dirnames, filenames in os.walk(directory, followlinks=True):
        kept = []
        for name in dirnames:
            path = os.path.join(root, name)
            real = os.path.realpath(path)
            if os.path.islink(path) and _inside(real, top) or real in visited:
                continue  # walked as itself, or already through another link
            visited.add(real)
            kept.append(name)
        dirnames[:] = kept
        files = [os.path.join(root, f) for f in filenames]
        found.append((root, [f for f in files if not (os.path.islink(f) and _inside(os.path.realpath(f), top))]))
    return [path for _, files in sorted(found) for path in sorted(files)]


class ImageFiles(ImageFolder):
    """Every image under ``root``, searched recursively (flat folders and class subfolders alike; symbolic links
    followed out of the tree, never back into it).

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

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        valid = is_valid_file or (lambda path: has_file_allowed_extension(path, extensions or IMG_EXTENSIONS))
        samples = [(path, 0) for path in walk_files(os.path.expanduser(str(directory))) if valid(path)]
        if not samples and not allow_empty:
            raise FileNotFoundError(f"Found no valid file in {directory}")
        return samples
