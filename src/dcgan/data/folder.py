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

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        valid = is_valid_file or (lambda path: has_file_allowed_extension(path, extensions or IMG_EXTENSIONS))
        samples = [(path, 0) for path in walk_files(os.path.expanduser(str(directory))) if valid(path)]
        if not samples and not allow_empty:
            raise FileNotFoundError(f"Found no valid file in {directory}")
        return samples
