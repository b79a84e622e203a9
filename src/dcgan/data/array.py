"""Images stored as uint8 numpy arrays: one .npy/.npz file or several, concatenated."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image
from torch.utils.data import Dataset

from dcgan.data.datamodule import ImageDataModule
from dcgan.data.sources import Source
from dcgan.errors import ConfigError

LAYOUTS = ("auto", "nhwc", "nchw", "nhw", "hwn")
NDIM = {"nhwc": 4, "nchw": 4, "nhw": 3, "hwn": 3}
COLOR_AXIS = (1, 3, 4)  # channel counts an image axis can have


def resolve_layout(shape: tuple[int, ...], layout: str, path: str) -> str:
    """The layout of an array of ``shape``: ``layout`` if given (and its rank fits), else the one reading
    that ``auto`` can be sure of. Square images decide between N x H x W and H x W x N; a color axis
    of 1, 3 or 4 between N x H x W x C and N x C x H x W; where both readings (or none) fit: ConfigError."""
    if layout != "auto":
        if len(shape) != NDIM[layout]:
            raise ConfigError(f"{path}: dataset.layout={layout} needs a {NDIM[layout]}-axis array, this one is {shape}")
        return layout
    if len(shape) == 3:
        fits = [name for name, square in (("nhw", shape[1] == shape[2]), ("hwn", shape[0] == shape[1])) if square]
        readings = "N x H x W (nhw) or H x W x N (hwn)"
    elif len(shape) == 4:
        fits = [name for name, axis in (("nhwc", shape[3]), ("nchw", shape[1])) if axis in COLOR_AXIS]
        readings = "N x H x W x C (nhwc) or N x C x H x W (nchw)"
    else:
        raise ConfigError(
            f"{path} holds an array of shape {shape}: expected uint8 images, N x H x W, H x W x N, "
            "N x H x W x C or N x C x H x W"
        )
    if len(fits) != 1:
        raise ConfigError(
            f"{path}: a {shape} array could be {readings}; dataset.layout=auto does not guess: "
            f"set dataset.layout={' or dataset.layout='.join(name for name in NDIM if NDIM[name] == len(shape))}"
        )
    return fits[0]


def load_array(path: Path, key: str | None) -> np.ndarray:
    """The array in a .npy (memory-mapped) or the array ``key`` of a .npz (default ``images``, else the first)."""
    if path.suffix not in (".npy", ".npz"):
        raise ConfigError(f"dataset.root={path} is not a .npy or .npz file")
    try:
        if path.suffix == ".npy":
            return np.load(path, mmap_mode="r", allow_pickle=False)
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.keys())
            if key is None and names:
                key = "images" if "images" in names else names[0]
            if key not in names:
                raise ConfigError(f"{path} has no array {key!r} ({names}): set dataset.key")
            return archive[key]
    except ValueError as error:
        if "pickle" in str(error) or "Python objects" in str(error):
            raise ConfigError(
                f"{path} holds Python objects (a pickled object array), not uint8 images: "
                "save the images as a uint8 array (np.save(path, images.astype(np.uint8)))"
            ) from None
        raise ConfigError(f"cannot read {path} as a numpy array: {' '.join(str(error).split())}") from None
    except OSError as error:
        raise ConfigError(f"cannot read {path} as a numpy array: {' '.join(str(error).split())}") from None


class ArrayImages(Dataset):
    """uint8 images from one or more numpy files (``paths``), concatenated in order along the image axis.
    Each file is laid out as ``layout`` says (nhwc, nchw, nhw, hwn) or ``auto`` (see ``resolve_layout``);
    every file must hold images of the same size and channels. Items are ``(PIL image, 0)``, as
    torchvision's datasets; gray images become RGB where ``transform`` asks for it.
    """

    def __init__(self, paths: Sequence[str], transform: Callable | None, layout: str, key: str | None) -> None:
        if layout not in LAYOUTS:
            raise ConfigError(f"dataset.layout={layout} is invalid: use one of {', '.join(LAYOUTS)}")
        self.paths, self.transform = [Path(p) for p in paths], transform
        self.arrays, self.layouts, shapes = [], [], []
        for path in self.paths:
            images = load_array(path, key)
            if images.dtype != np.uint8:
                raise ConfigError(
                    f"{path} holds a {images.dtype} array of shape {images.shape}: expected uint8 images (0..255), "
                    "e.g. np.save(path, (images * 255).round().astype(np.uint8)) for images in [0, 1]"
                )
            layout_of = resolve_layout(images.shape, layout, str(path))
            self.arrays.append(images)
            self.layouts.append(layout_of)
            shapes.append(self._image_shape(images.shape, layout_of))
        if len(set(shapes)) > 1:
            listed = ", ".join(f"{p.name}: {s}" for p, s in zip(self.paths, shapes, strict=True))
            raise ConfigError(f"the arrays hold images of different sizes ({listed}): use files of one image size")
        self.offsets = np.cumsum([0] + [self._count(a, lay) for a, lay in zip(self.arrays, self.layouts, strict=True)])
        if self.offsets[-1] == 0:
            raise ConfigError(f"{', '.join(map(str, self.paths))} hold no images")

    @staticmethod
    def _count(images: np.ndarray, layout: str) -> int:
        return images.shape[-1] if layout == "hwn" else images.shape[0]

    @staticmethod
    def _image_shape(shape: tuple[int, ...], layout: str) -> tuple[int, int, int]:
        """(H, W, C) of one image."""
        if layout == "hwn":
            return shape[0], shape[1], 1
        if layout == "nchw":
            return shape[2], shape[3], shape[1]
        return shape[1], shape[2], shape[3] if layout == "nhwc" else 1

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int):
        if not 0 <= index < len(self):
            raise IndexError(index)
        file = int(np.searchsorted(self.offsets, index, side="right")) - 1
        images, layout, i = self.arrays[file], self.layouts[file], index - int(self.offsets[file])
        image = np.asarray(images[..., i] if layout == "hwn" else images[i])
        if layout == "nchw":
            image = image.transpose(1, 2, 0)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image[..., 0]
        image = Image.fromarray(np.ascontiguousarray(image))
        return (self.transform(image) if self.transform else image), 0


class ArraySource(Source):
    """Numpy files at ``root``: one path or a list of paths (concatenated), read as ``layout`` says."""

    title = "image array"

    def __init__(self, layout: str, key: str | None) -> None:
        self.layout, self.key_name = layout, key

    @staticmethod
    def paths(root: str | Sequence[str] | None) -> list[str]:
        if root is None:
            return []
        return [str(root)] if isinstance(root, (str, Path)) else [str(p) for p in root]

    def find(self, root, transform: Callable) -> Dataset | None:
        paths = self.paths(root)
        if not paths or not all(Path(p).is_file() for p in paths):
            return None
        return ArrayImages(paths, transform, self.layout, self.key_name)

    def key(self, root) -> str:
        files = ",".join(str(Path(p).resolve()) for p in self.paths(root))
        return f"ArrayImages[{self.layout},{self.key_name}]:{files}"

    def looked_in(self, root) -> list[str]:
        return self.paths(root) or ["dataset.root (null)"]

    def ways(self, root) -> list[str]:
        return [
            "set dataset.root to a .npy/.npz file of uint8 images, or to a list of them "
            "(dataset.root='[train.npy,test.npy]'), and dataset.layout to how their axes are laid out"
        ]


class ArrayDataModule(ImageDataModule):
    """The DataModule of ``dataset=array``: ``root`` is a file or a list of files, ``layout`` and ``key``
    (``dataset.layout``, ``dataset.key``) say how to read them."""

    def __init__(self, layout: str, key: str | None, **settings) -> None:
        super().__init__(source=ArraySource(layout, key), **settings)
