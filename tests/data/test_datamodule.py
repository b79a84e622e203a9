"""The DataModule: native channels and size, uint8 loader batches, float [-1, 1] model batches, batch sizes."""

from __future__ import annotations

import pickle
import shutil
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate

from dcgan.cli.train import train
from tests.fixtures import make_image_folder
from tests.helpers import DATASETS, ROOT, LogRecords, config_error, dataset_overrides, folder

NATIVE = {"celeba": (64, 3), "fashion_mnist": (32, 1), "mnist": (32, 1), "emnist": (32, 1)}


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


def test_torchvision_datasets_keep_their_pixels(compose_cfg, fixture_root):
    # at the native 32x32 the pipeline must not change a pixel: orientation and channel order preserved
    cfg = compose_cfg(*dataset_overrides("cifar10", fixture_root))
    dm = instantiate(cfg.dataset)
    entry = pickle.loads((fixture_root / "cifar-10-batches-py" / "data_batch_1").read_bytes(), encoding="latin1")
    reference = torch.from_numpy(entry["data"][0].reshape(3, 32, 32))
    assert torch.equal(dm.dataset[0][0], reference)


def test_dataset_smaller_than_a_batch_trains_on_smaller_batches(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=5)
    cfg = compose_cfg(
        *folder(tmp_path / "images"), "dataset.batch_size=16", "trainer.max_steps=6", "trainer.max_epochs=5"
    )
    with LogRecords("dcgan.data") as logs:
        train(cfg)
    assert any("batches of 5 instead of dataset.batch_size=16" in m for m in logs.messages)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 6 and ckpt["epoch"] >= 2  # one batch of 5 per epoch, never an empty epoch


def test_batch_size_fits_each_ddp_process(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=10)
    dm = instantiate(compose_cfg(*folder(tmp_path / "images"), "dataset.batch_size=8").dataset)
    dm.setup("fit")
    strategy = SimpleNamespace(root_device=torch.device("cpu"), broadcast=lambda value, src: value)
    dm.trainer = SimpleNamespace(world_size=4, global_rank=1, strategy=strategy)
    batches = [batch.images for batch in dm.train_dataloader()]  # each of 4 processes gets ceil(10/4), as
    assert [len(b) for b in batches] == [3]  # DistributedSampler pads the order


def test_a_single_image_is_a_clear_error(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=1)
    message = str(config_error(lambda: instantiate(compose_cfg(*folder(tmp_path / "images")).dataset)))
    assert "has 1 image(s): a GAN needs 2 or more" in message


SHARED = ROOT.parent / "shared" / "data"


REAL = {
    "fashion_mnist": ([f"paths.data_dir={SHARED}"], 60_000, (1, 32, 32)),
    "celeba": ([f"dataset.root={SHARED / 'celeba-10k'}"], 10_000, (3, 64, 64)),
}


@pytest.mark.parametrize("name", sorted(REAL))
def test_trains_on_the_real_data(compose_cfg, tmp_path, name):
    overrides, count, shape = REAL[name]
    cfg = compose_cfg(f"dataset={name}", *overrides, "trainer.max_steps=4", f"dataset.cache_dir={tmp_path}/cache")
    assert len(instantiate(cfg.dataset).dataset) == count
    metrics = train(cfg)
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4
    assert ckpt["hyper_parameters"]["dataset"]["image_size"] == shape[-1]


def test_channels_other_than_gray_or_rgb_are_refused(compose_cfg):
    message = str(config_error(lambda: instantiate(compose_cfg("dataset.channels=2").dataset)))
    assert "dataset.channels=2 is invalid: use 1 (gray) or 3 (RGB)" in message


def test_identity_names_the_images_not_their_folder(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "a", n=6)
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    make_image_folder(tmp_path / "other", n=6, seed=1)
    a, moved, other = (
        instantiate(compose_cfg(*folder(tmp_path / x)).dataset).identity() for x in ("a", "moved", "other")
    )
    assert a["source"] != moved["source"] and {**a, "source": ""} == {**moved, "source": ""}
    assert a["images"] == other["images"] == 6 and a["digest"] != other["digest"]
