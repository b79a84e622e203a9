"""Unreadable image files are skipped and counted, any number in a row, in workers and the cache too."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate
from PIL import Image

from dcgan.cli.train import train
from dcgan.errors import ConfigError
from tests.fixtures import add_bad_files, make_image_folder
from tests.helpers import LogRecords, config_error, folder, read_ckpt


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


def corrupt_jpegs(folder: Path, names) -> None:
    """JPEG files cut after their first bytes (a half-failed unzip)."""
    whole = folder / "_whole.jpg"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(whole)
    data = whole.read_bytes()[:100]
    whole.unlink()
    for name in names:
        (folder / name).write_bytes(data)


def test_any_number_of_unreadable_files_in_a_row_is_skipped(compose_cfg, tmp_path):
    images = make_image_folder(tmp_path / "images", n=20)
    corrupt_jpegs(images, [f"bad{i:03d}.jpg" for i in range(100)])  # 100 in a row in the folder's order
    cfg = compose_cfg(*folder(images), "dataset.batch_size=12", "trainer.max_epochs=1", "trainer.max_steps=-1")
    with LogRecords("dcgan.data") as logs:
        train(cfg)  # 120 files, 10 batches: every file is met in the epoch
    assert read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 20
    assert any("skipped 100 unreadable image files" in m for m in logs.messages), logs.messages[-3:]


def test_every_file_unreadable_is_one_line_without_a_worker_traceback(compose_cfg, tmp_path):
    add_bad_files(tmp_path / "images")
    cfg = compose_cfg(*folder(tmp_path / "images"), "dataset.batch_size=2", "dataset.num_workers=2")
    with pytest.raises(ConfigError) as error:
        train(cfg)
    message = str(error.value)
    assert message.startswith("no readable image left among the 3 files") and "\n" not in message
    assert not list((tmp_path / "run").glob("checkpoints/*.ckpt"))  # nothing saved


def test_cache_skips_a_batch_of_unreadable_files_and_refuses_none_readable(compose_cfg, tmp_path):
    images = make_image_folder(tmp_path / "images", n=4)
    corrupt_jpegs(images, [f"bad{i:03d}.jpg" for i in range(300)])  # the cache builder reads batches of 256
    overrides = [*folder(images), "dataset.cache=true", f"dataset.cache_dir={tmp_path / 'cache'}"]
    dm = instantiate(compose_cfg(*overrides, "dataset.batch_size=2").dataset)
    dm.setup("fit")
    assert dm.train_set.images.shape == (4, 3, 32, 32)
    for path in images.rglob("img*"):
        path.unlink()
    dm = instantiate(compose_cfg(*overrides, "dataset.batch_size=2").dataset)
    error = config_error(lambda: dm.setup("fit"))
    assert str(error).startswith("no readable image among the 300 files")
