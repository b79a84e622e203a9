"""Every dataset config: native channels and size, uint8 loader batches, float [-1, 1] model batches."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from dcgan.data import ArrayImages, ImageFiles, uint8_transform
from dcgan.errors import ConfigError
from dcgan.train import train
from tests.data.helpers import DATASETS, dataset_overrides, model_batch
from tests.data.unchecked import UncheckedCelebA
from tests.fixtures import make_array, make_celeba

NATIVE = {"celeba": (64, 3), "fashion_mnist": (32, 1), "mnist": (32, 1)}


@pytest.mark.parametrize("name", DATASETS)
def test_every_dataset_gives_model_batches(compose_cfg, fixture_root, name):
    cfg = compose_cfg(*dataset_overrides(name, fixture_root))
    size, channels = NATIVE.get(name, (32, 3))
    assert (cfg.dataset.image_size, cfg.dataset.channels) == (size, channels)
    dm = instantiate(cfg.dataset)
    dm.setup("fit")
    raw = next(iter(dm.train_dataloader())).images
    assert raw.dtype == torch.uint8 and raw.shape == (16, channels, size, size)
    batch = dm.on_after_batch_transfer(dm.on_before_batch_transfer(raw, 0), 0)
    assert batch.dtype == torch.float32 and batch.shape == (16, channels, size, size)
    assert batch.min() >= -1 and batch.max() <= 1
    assert batch.min() < -0.5 and batch.max() > 0.5  # the fixtures' random pixels span the range
    assert torch.allclose(batch, raw.float() / 127.5 - 1, atol=1e-6)


@pytest.mark.slow  # the model batches above cover each dataset; the experiments train on most of them
@pytest.mark.parametrize("name", DATASETS)
def test_train_runs_on_every_dataset(compose_cfg, fixture_root, tmp_path, name):
    metrics = train(compose_cfg(*dataset_overrides(name, fixture_root), "trainer.max_steps=4", "trainer.max_epochs=4"))
    assert metrics and all(np.isfinite(v) for v in metrics.values())
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4


def test_torchvision_datasets_keep_their_pixels(compose_cfg, fixture_root):
    # at the native 32x32 the pipeline must not change a pixel: orientation and channel order preserved
    cfg = compose_cfg(*dataset_overrides("cifar10", fixture_root))
    dm = instantiate(cfg.dataset)
    entry = pickle.loads((fixture_root / "cifar-10-batches-py" / "data_batch_1").read_bytes(), encoding="latin1")
    reference = torch.from_numpy(entry["data"][0].reshape(3, 32, 32))
    assert torch.equal(dm.dataset[0][0], reference)


@pytest.mark.parametrize("layout", ["torchvision", "tutorial", "plain"])
def test_celeba_layouts(compose_cfg, tmp_path, layout):
    make_celeba(tmp_path / "faces", n=12, layout=layout)
    cfg = compose_cfg(*dataset_overrides("celeba", tmp_path / "faces"), "dataset.batch_size=4")
    dm = instantiate(cfg.dataset)
    expected = UncheckedCelebA if layout == "torchvision" else ImageFiles
    assert type(dm.dataset) is expected and len(dm.dataset) == 12
    assert model_batch(dm).shape == (4, 3, 64, 64)


def test_celeba_split_needs_the_annotations(compose_cfg, tmp_path):
    make_celeba(tmp_path / "faces", n=12, layout="torchvision")
    cfg = compose_cfg(*dataset_overrides("celeba", tmp_path / "faces"), "dataset.source.dataset.split=train")
    assert len(instantiate(cfg.dataset).dataset) == 4  # list_eval_partition.txt: first third is train


def test_celeba_crop_is_the_centre_of_the_face(compose_cfg, tmp_path):
    # a portrait whose top and bottom bands differ: the square crop keeps only the middle
    folder = tmp_path / "faces" / "img_align_celeba"
    folder.mkdir(parents=True)
    pixels = np.full((218, 178, 3), 128, np.uint8)
    pixels[:10], pixels[-10:] = 0, 255  # outside the centre 178x178 square, which the crop keeps
    for i in range(2):
        Image.fromarray(pixels).save(folder / f"{i:06d}.png")
    cfg = compose_cfg(*dataset_overrides("celeba", tmp_path / "faces"))
    image = instantiate(cfg.dataset).dataset[0][0]
    assert image.shape == (3, 64, 64) and (image.int() - 128).abs().max() <= 1


@pytest.mark.parametrize("channels", [1, 3])
def test_image_folder_converts_modes(compose_cfg, fixture_root, channels):
    cfg = compose_cfg(*dataset_overrides("image_folder", fixture_root), f"dataset.channels={channels}")
    dm = instantiate(cfg.dataset)
    assert len(dm.dataset) == 24  # flat files and the class subfolder; RGB, RGBA, gray and palette
    modes = {dm.dataset[i][0].shape for i in range(len(dm.dataset))}
    assert modes == {(channels, 32, 32)}


@pytest.mark.parametrize(("layout", "suffix"), [("nhwc", ".npy"), ("nchw", ".npy"), ("nhw", ".npz"), ("nhwc", ".npz")])
def test_array_layouts(tmp_path, layout, suffix):
    path = make_array(tmp_path / f"faces{suffix}", n=6, layout=layout, size=20)
    original = make_array(tmp_path / "reference.npy", n=6, layout="nhwc", size=20)
    expected = torch.from_numpy(np.load(original)).permute(0, 3, 1, 2)
    channels = 1 if layout == "nhw" else 3
    data = ArrayImages(str(path), transform=uint8_transform(20, channels))
    assert len(data) == 6
    for i in range(6):
        image = data[i][0]
        assert torch.equal(image, expected[i, :1] if channels == 1 else expected[i])


def test_array_rejects_what_is_not_uint8_images(tmp_path):
    np.save(tmp_path / "floats.npy", np.zeros((4, 8, 8, 3), np.float32))
    np.save(tmp_path / "flat.npy", np.zeros((4, 64), np.uint8))
    for bad in ("floats.npy", "flat.npy"):
        with pytest.raises(ConfigError, match="expected uint8 images"):
            ArrayImages(str(tmp_path / bad))
    with pytest.raises(ConfigError, match="not a .npy or .npz"):
        ArrayImages(str(tmp_path / "faces.png"))
