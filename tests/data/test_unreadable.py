"""Unreadable image files are skipped and counted, in workers too."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate

from dcgan.cli.train import train
from dcgan.errors import ConfigError
from tests.fixtures import add_bad_files, make_image_folder
from tests.helpers import LogRecords, folder


def test_unreadable_files_are_skipped_and_counted(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=12)
    bad = add_bad_files(tmp_path / "images")
    dm = instantiate(compose_cfg(*folder(tmp_path / "images"), "dataset.batch_size=5").dataset)
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
    cfg = compose_cfg(*folder(tmp_path / "images"), "dataset.batch_size=5", "dataset.num_workers=2",
                  "trainer.max_steps=6", "trainer.max_epochs=2")  # fmt: skip
    with LogRecords("dcgan.data") as logs:
        train(cfg)
    assert any("skipped 3 unreadable image files" in m for m in logs.messages)


def test_every_file_unreadable_is_a_clear_error(compose_cfg, tmp_path):
    add_bad_files(tmp_path / "images")
    dm = instantiate(compose_cfg(*folder(tmp_path / "images"), "dataset.batch_size=2").dataset)
    dm.setup("fit")
    with pytest.raises(ConfigError, match="in a row are unreadable"):
        next(iter(dm.train_dataloader()))
