"""The image pipeline every dataset shares: channels, resize (and center crop), then [-1, 1].

Datasets decode to uint8 (``uint8_transform``); ``to_unit_range`` makes the float model input, per
image or per batch on the training device, with the same arithmetic either way.
"""

from __future__ import annotations

import torch
from PIL import Image
from torchvision.transforms import v2

from dcgan.errors import ConfigError


class ToMode:
    """Convert a PIL image to ``mode`` ('L' or 'RGB'): palette, RGBA, gray and RGB inputs alike."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, image):
        if isinstance(image, Image.Image) and image.mode != self.mode:
            if image.mode == "P" and "transparency" in image.info:
                image = image.convert("RGBA")  # PIL's advice for palette transparency; alpha dropped below
            return image.convert(self.mode)
        return image

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mode={self.mode!r})"


RESIZES = ("crop", "squash")


def uint8_transform(image_size: int, channels: int, resize: str) -> v2.Compose:
    """PIL image -> uint8 tensor (channels, image_size, image_size). ``resize='crop'``: the short side to
    ``image_size``, then a center crop (the PyTorch tutorial); ``'squash'``: both sides to ``image_size``,
    the aspect ratio not kept (Dive into Deep Learning's ``Resize((64, 64))``)."""
    if resize not in RESIZES:
        raise ConfigError(f"dataset.resize={resize} is not supported: use one of {', '.join(RESIZES)}")
    size = [v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size)]
    if resize == "squash":
        size = [v2.Resize((image_size, image_size), antialias=True)]
    return v2.Compose([ToMode("L" if channels == 1 else "RGB"), v2.ToImage(), *size, v2.ToPureTensor()])


def to_unit_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 images (..., C, H, W) -> float32 in [-1, 1]: ToDtype(scale) then Normalize(0.5, 0.5)."""
    channels = images.shape[-3]
    images = v2.functional.to_dtype(images, torch.float32, scale=True)
    return v2.functional.normalize(images, [0.5] * channels, [0.5] * channels)
