"""Bad data: empty folders stop early; unreadable files are skipped and counted; tiny datasets still train."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate

from dcgan.errors import ConfigError
from dcgan.train import train
from tests.data.helpers import LogRecords, config_error
from tests.fixtures import add_bad_files, make_image_folder


def _folder(compose_cfg, root, *overrides):
    return compose_cfg("dataset=image_folder", f"dataset.root={root}", *overrides)


def test_empty_folder_is_a_clear_error(compose_cfg, tmp_path):
    (tmp_path / "images" / "sub").mkdir(parents=True)
    (tmp_path / "images" / "readme.txt").write_text("no images here")
    message = str(config_error(lambda: instantiate(_folder(compose_cfg, tmp_path / "images").dataset)))
    assert "no image files in" in message and str(tmp_path / "images") in message and ".jpg" in message


def test_unreadable_files_are_skipped_and_counted(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=12)
    bad = add_bad_files(tmp_path / "images")
    dm = instantiate(_folder(compose_cfg, tmp_path / "images", "dataset.batch_size=5").dataset)
    assert len(dm.dataset) == 15  # .txt is not an image; the three bad ones look like images
    dm.setup("fit")
    with LogRecords("dcgan.data") as logs:
        sizes = [dm.on_before_batch_transfer(batch, 0).shape[0] for batch in dm.train_dataloader()]
        dm.teardown("fit")
    assert sizes == [5, 5, 5]  # every batch full: a bad file is replaced by the next readable one
    assert len(dm.skipped) == 3 and {p for p in bad if any(n.startswith(f"{p}: ") for n in dm.skipped)} == set(bad)
    assert any("(3 so far)" in m for m in logs.messages)
    assert any("skipped 3 unreadable image files" in m for m in logs.messages)


def test_training_survives_unreadable_files_in_workers(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=12)
    add_bad_files(tmp_path / "images")
    cfg = _folder(compose_cfg, tmp_path / "images", "dataset.batch_size=5", "dataset.num_workers=2")
    with LogRecords("dcgan.data") as logs:
        train(_with_steps(cfg, 6, epochs=2))
    assert any("skipped 3 unreadable image files" in m for m in logs.messages)


def _with_steps(cfg, steps: int, epochs: int):
    cfg.trainer.max_steps, cfg.trainer.max_epochs = steps, epochs
    return cfg


def test_every_file_unreadable_is_a_clear_error(compose_cfg, tmp_path):
    add_bad_files(tmp_path / "images")
    dm = instantiate(_folder(compose_cfg, tmp_path / "images", "dataset.batch_size=2").dataset)
    dm.setup("fit")
    with pytest.raises(ConfigError, match="in a row are unreadable"):
        next(iter(dm.train_dataloader()))


def test_dataset_smaller_than_a_batch_trains_on_smaller_batches(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=5)
    cfg = _with_steps(_folder(compose_cfg, tmp_path / "images", "dataset.batch_size=16"), 6, epochs=5)
    with LogRecords("dcgan.data") as logs:
        train(cfg)
    assert any("batches of 5 instead of dataset.batch_size=16" in m for m in logs.messages)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 6 and ckpt["epoch"] >= 2  # one batch of 5 per epoch, never an empty epoch


def test_batch_size_fits_each_ddp_process(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=10)
    dm = instantiate(_folder(compose_cfg, tmp_path / "images", "dataset.batch_size=8").dataset)
    dm.setup("fit")
    dm.trainer = SimpleNamespace(world_size=4, strategy=SimpleNamespace(root_device=torch.device("cpu")))
    assert dm.train_dataloader().batch_size == 3  # DistributedSampler gives each of 4 processes ceil(10/4)


def test_a_single_image_is_a_clear_error(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=1)
    message = str(config_error(lambda: instantiate(_folder(compose_cfg, tmp_path / "images").dataset)))
    assert "has 1 image(s): a GAN needs 2 or more" in message
