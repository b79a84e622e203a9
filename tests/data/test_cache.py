"""dataset.cache=true: the same images and normalization as decoding each time, from one uint8 tensor file."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

import dcgan.data.datamodule
from tests.fixtures import add_bad_files, make_image_folder
from tests.helpers import LogRecords, all_images, dataset_overrides


@pytest.fixture
def cached(compose_cfg, fixture_root, tmp_path):
    """cached(name, *overrides) -> (plain DataModule, cached DataModule) over the same fixture files."""

    def build(name: str, *overrides: str):
        base = [*dataset_overrides(name, fixture_root), f"dataset.cache_dir={tmp_path / 'cache'}", *overrides]
        plain = instantiate(compose_cfg(*base).dataset)
        return plain, instantiate(compose_cfg(*base, "dataset.cache=true").dataset)

    return build


@pytest.mark.parametrize("name", ["image_folder", "celeba", "fashion_mnist"])
def test_cached_images_and_batches_equal_the_decoded_ones(cached, name):
    plain, fast = cached(name)
    assert torch.equal(all_images(fast), all_images(plain))
    assert fast.train_set.images.dtype == torch.uint8
    assert fast.train_set.images.shape == (len(plain.dataset), fast.channels, fast.image_size, fast.image_size)
    decoded = all_images(plain)
    for seed in (0, 1):
        torch.manual_seed(seed)
        loader = fast.train_dataloader()
        batch = fast.on_after_batch_transfer(next(iter(loader)), 0)
        expected = decoded[loader.order.indices(0)[: len(batch)]].float() / 127.5 - 1  # the images the order names
        assert batch.dtype == torch.float32 and torch.allclose(batch, expected, atol=1e-6)


def test_cache_is_reused_and_rebuilt_when_size_or_channels_change(cached, tmp_path, monkeypatch):
    _, first = cached("image_folder")
    first.setup("fit")
    files = sorted((tmp_path / "cache").glob("*.pt"))
    assert len(files) == 1 and files[0].name.startswith("image_folder_3x32_")
    stamp = files[0].stat().st_mtime_ns

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cache was rebuilt")

    monkeypatch.setattr(dcgan.data.datamodule, "build_cache", no_rebuild)
    _, again = cached("image_folder")
    again.setup("fit")
    assert files[0].stat().st_mtime_ns == stamp and torch.equal(again.train_set.images, first.train_set.images)
    monkeypatch.undo()

    for overrides, shape in ((["dataset.image_size=16"], (3, 16, 16)), (["dataset.channels=1"], (1, 32, 32))):
        _, other = cached("image_folder", *overrides)
        other.setup("fit")
        assert other.train_set.images.shape[1:] == shape
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 3


def test_a_damaged_cache_file_is_rebuilt(cached, tmp_path):
    _, first = cached("image_folder")
    first.setup("fit")
    (path,) = (tmp_path / "cache").glob("*.pt")
    path.write_bytes(b"not a tensor file")
    _, again = cached("image_folder")
    again.setup("fit")
    assert torch.equal(again.train_set.images, first.train_set.images)


def test_cache_leaves_out_unreadable_files(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=12)
    add_bad_files(tmp_path / "images")
    overrides = ["dataset=image_folder", f"dataset.root={tmp_path / 'images'}", f"dataset.cache_dir={tmp_path}/c"]
    dm = instantiate(compose_cfg(*overrides, "dataset.cache=true", "dataset.batch_size=4").dataset)
    with LogRecords("dcgan.data") as logs:
        dm.setup("fit")
    assert len(dm.train_set) == 12
    assert any("skipped 3 unreadable image files" in m for m in logs.messages)
    raw = next(iter(dm.train_dataloader()))
    assert raw.dtype == torch.uint8 and raw.shape == (4, 3, 32, 32)  # no decoding: batches straight from memory
