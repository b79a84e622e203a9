"""Tiny datasets in the real on-disk formats, written into a test's tmp_path."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from PIL import Image


def write_idx_images(path: Path, images: np.ndarray) -> None:
    """IDX3 (MNIST / Fashion-MNIST image file): magic 2051, N, H, W, then uint8 pixels."""
    n, h, w = images.shape
    path.write_bytes(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray) -> None:
    """IDX1 (label file): magic 2049, N, then uint8 labels."""
    path.write_bytes(struct.pack(">II", 2049, len(labels)) + labels.astype(np.uint8).tobytes())


def make_mnist_like(root: Path, folder: str = "FashionMNIST", n_train: int = 96, n_test: int = 16, seed: int = 0):
    """``root/<folder>/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` with random 28x28 digits-like blobs."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        write_idx_images(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, size=n))
    return Path(root)


def make_image_folder(root: Path, n: int = 24, size: tuple[int, int] = (40, 30), seed: int = 0) -> Path:
    """A flat mix of RGB JPEG, RGBA PNG, gray PNG and palette PNG files, plus one class subfolder."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        rgb = Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8))
        kind = i % 4
        if kind == 0:
            rgb.save(root / f"img{i}.jpg")
        elif kind == 1:
            rgb.convert("RGBA").save(root / f"img{i}.png")
        elif kind == 2:
            rgb.convert("L").save(root / "sub" / f"img{i}.png")
        else:
            rgb.convert("P").save(root / "sub" / f"img{i}.png")
    return root
