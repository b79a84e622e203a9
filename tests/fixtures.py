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


def glyph_f(size: int = 28) -> np.ndarray:
    """An upright letter F (size x size, uint8): no flip, rotation or transpose maps it onto itself."""
    glyph = np.zeros((size, size), np.uint8)
    glyph[4:24, 6:10] = 255  # the stem, on the left
    glyph[4:8, 6:22] = 255  # the top bar, long
    glyph[12:16, 6:18] = 255  # the middle bar, shorter
    return glyph


def make_emnist(root: Path, split: str = "balanced", n_train: int = 48, n_test: int = 8, seed: int = 0) -> Path:
    """``root/EMNIST/raw/emnist-<split>-{train,test}-{images-idx3,labels-idx1}-ubyte`` as EMNIST ships them:
    IDX files whose images are stored transposed (column by column). Image 0 of each file is ``glyph_f()``."""
    rng = np.random.default_rng(seed)
    raw = Path(root) / "EMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for part, n in (("train", n_train), ("test", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0] = glyph_f()
        write_idx_images(raw / f"emnist-{split}-{part}-images-idx3-ubyte", images.transpose(0, 2, 1))
        write_idx_labels(raw / f"emnist-{split}-{part}-labels-idx1-ubyte", rng.integers(0, 47, size=n))
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


def make_class_folder(root: Path, classes=("cat", "dog", "fox"), n_per_class: int = 8, seed: int = 0) -> Path:
    """An image folder labelled by its subfolders: ``root/<class>/<i>.png`` RGB images, class ``k``'s
    brightened by ``40 * k`` so the classes differ."""
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        (Path(root) / name).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            pixels = np.clip(rng.integers(0, 120, size=(36, 36, 3)) + 40 * k, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(Path(root) / name / f"{i}.png")
    return Path(root)


def _rgb(rng, n: int, height: int, width: int) -> np.ndarray:
    return rng.integers(0, 256, size=(n, height, width, 3), dtype=np.uint8)


def make_cifar10(root: Path, n_per_batch: int = 8, seed: int = 0) -> Path:
    """``root/cifar-10-batches-py/``: five training pickle batches, a test batch and ``batches.meta``."""
    import pickle

    rng = np.random.default_rng(seed)
    folder = Path(root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {
            "batch_label": name,
            "data": _rgb(rng, n_per_batch, 32, 32).transpose(0, 3, 1, 2).reshape(n_per_batch, 3072),
            "labels": rng.integers(0, 10, size=n_per_batch).tolist(),
        }
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))
    meta = {"label_names": [f"class{i}" for i in range(10)], "num_cases_per_batch": n_per_batch}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return Path(root)


def make_svhn(root: Path, n: int = 40, seed: int = 0) -> Path:
    """``root/train_32x32.mat`` as the SVHN site ships it: X (32, 32, 3, N) uint8, y (N, 1) in 1..10."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    Path(root).mkdir(parents=True, exist_ok=True)
    x = _rgb(rng, n, 32, 32).transpose(1, 2, 3, 0)
    savemat(Path(root) / "train_32x32.mat", {"X": x, "y": rng.integers(1, 11, size=(n, 1), dtype=np.uint8)})
    return Path(root)


def _write_jpegs(folder: Path, n: int, size: tuple[int, int], seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{i:06d}.jpg" for i in range(1, n + 1)]
    for name, pixels in zip(names, _rgb(rng, n, size[1], size[0]), strict=True):
        Image.fromarray(pixels).save(folder / name, quality=90)
    return names


def make_celeba(root: Path, n: int = 24, layout: str = "torchvision", size=(45, 55), seed: int = 0) -> Path:
    """CelebA's aligned faces (portrait JPEGs like 178x218, smaller) in one of two layouts:
    ``torchvision``: ``root/celeba/img_align_celeba/`` + the five annotation files (split 0/1/2 by thirds);
    ``tutorial``: ``root/celeba/img_align_celeba/`` alone; ``plain``: ``root/img_align_celeba/`` alone.
    """
    base = Path(root) if layout == "plain" else Path(root) / "celeba"
    names = _write_jpegs(base / "img_align_celeba", n, size, seed)
    if layout != "torchvision":
        return Path(root)
    rows = list(enumerate(names))

    def write(name: str, header: list[str] | None, values) -> None:
        lines = [str(n), " ".join(header)] if header is not None else []
        lines += [f"{image} {' '.join(str(v) for v in values(i))}" for i, image in rows]
        (base / name).write_text("\n".join(lines) + "\n")

    write("list_eval_partition.txt", None, lambda i: [3 * i // n])
    write("identity_CelebA.txt", None, lambda i: [i % 7 + 1])
    write("list_bbox_celeba.txt", ["image_id", "x_1", "y_1", "width", "height"], lambda i: [1, 2, 30, 40])
    write("list_landmarks_align_celeba.txt", ["lefteye_x"] + ["v"] * 9, lambda i: list(range(10)))
    write("list_attr_celeba.txt", [f"attr{k}" for k in range(40)], lambda i: [(-1) ** (i + k) for k in range(40)])
    return Path(root)


def add_bad_files(folder: Path, seed: int = 0) -> list[Path]:
    """A truncated JPEG, random bytes named .png, an empty .jpg, and a .txt (not an image by extension)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    good = folder / "_whole.jpg"
    Image.fromarray(_rgb(np.random.default_rng(seed), 1, 40, 40)[0]).save(good)
    data = good.read_bytes()
    good.unlink()
    bad = [folder / "truncated.jpg", folder / "garbage.png", folder / "empty.jpg"]
    bad[0].write_bytes(data[: len(data) // 2])
    bad[1].write_bytes(np.random.default_rng(seed).integers(0, 256, 500, dtype=np.uint8).tobytes())
    bad[2].write_bytes(b"")
    (folder / "notes.txt").write_text("not an image")
    return bad


def make_array(path: Path, n: int = 24, layout: str = "nhwc", size: int = 20, channels: int = 3, seed: int = 0):
    """uint8 images in a .npy (or, for a .npz path, under the key ``images``) in ``layout``: nhwc, nchw,
    nhw (gray), hwn (gray, the face-array tutorial's (H, W, N))."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, size, size, channels), dtype=np.uint8)
    if layout in ("nhw", "hwn"):
        images = images[..., 0]
    if layout == "nchw":
        images = images.transpose(0, 3, 1, 2)
    elif layout == "hwn":
        images = images.transpose(1, 2, 0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".npz":
        np.savez(path, images=images)
    else:
        np.save(path, images)
    return path


def make_face_arrays(folder: Path, n_train: int = 20, n_test: int = 8, size: int = 64, seed: int = 0) -> list[Path]:
    """The face-array tutorial's files: ``train.npy`` and ``test.npy``, gray faces shaped (H, W, N)."""
    return [
        make_array(Path(folder) / f"{name}.npy", n=n, layout="hwn", size=size, seed=seed + i)
        for i, (name, n) in enumerate((("train", n_train), ("test", n_test)))
    ]
