"""Images stored as one uint8 array in a .npy or .npz file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from dcgan.errors import ConfigError

LAYOUTS = ("auto", "nhw", "nhwc", "nchw")


def _layout(shape: tuple[int, ...], layout: str) -> str:
    if layout != "auto":
        return layout
    if len(shape) == 3:
        return "nhw"
    if len(shape) == 4 and shape[-1] in (1, 3, 4):
        return "nhwc"
    if len(shape) == 4 and shape[1] in (1, 3, 4):
        return "nchw"
    return "unknown"


class ArrayImages(Dataset):
    """uint8 images from ``path`` (.npy, or the array ``key`` of a .npz; default: its only or first array)
    laid out N x H x W, N x H x W x C or N x C x H x W (C in 1, 3, 4; ``layout`` says which if ambiguous).
    Items are ``(PIL image, 0)``, like torchvision's datasets.
    """

    def __init__(self, path: str, transform=None, key: str | None = None, layout: str = "auto") -> None:
        self.path, self.transform = Path(path), transform
        if layout not in LAYOUTS:
            raise ConfigError(f"dataset.source.dataset.layout={layout} is invalid: use one of {', '.join(LAYOUTS)}")
        images = self._load(key)
        self.layout = _layout(images.shape, layout)
        expected_ndim = 3 if self.layout == "nhw" else 4
        if images.dtype != np.uint8 or images.ndim != expected_ndim or self.layout == "unknown":
            raise ConfigError(
                f"{path} holds a {images.dtype} array of shape {images.shape}: expected uint8 images "
                "N x H x W, N x H x W x C or N x C x H x W (C in 1, 3, 4; set dataset.source.dataset.layout)"
            )
        if len(images) == 0:
            raise ConfigError(f"{path} holds no images (shape {images.shape})")
        self.images = images

    def _load(self, key: str | None) -> np.ndarray:
        if self.path.suffix not in (".npy", ".npz"):
            raise ConfigError(f"dataset.root={self.path} is not a .npy or .npz file")
        try:
            if self.path.suffix == ".npy":
                return np.load(self.path, mmap_mode="r")
            with np.load(self.path) as archive:
                names = list(archive.keys())
                if key is None and names:
                    key = "images" if "images" in names else names[0]
                if key not in names:
                    raise ConfigError(f"{self.path} has no array {key!r} ({names}): set dataset.source.dataset.key")
                return archive[key]
        except (OSError, ValueError) as error:
            raise ConfigError(f"cannot read {self.path} as a numpy array: {error}") from error

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int):
        image = np.asarray(self.images[index])
        if self.layout == "nchw":
            image = image.transpose(1, 2, 0)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        image = Image.fromarray(np.ascontiguousarray(image))
        return (self.transform(image) if self.transform else image), 0
