"""EMNIST: its splits, local IDX files first, the images turned upright, one clear line when missing."""

from __future__ import annotations

from urllib.error import URLError

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from dcgan.data.idx import EMNIST
from tests.fixtures import glyph_f, make_emnist
from tests.helpers import config_error, dataset_overrides, one_error_line, run_script


def _emnist(compose_cfg, root, *overrides):
    return instantiate(compose_cfg(*dataset_overrides("emnist", root), "dataset.image_size=28", *overrides).dataset)


def test_emnist_images_come_out_upright(compose_cfg, tmp_path):
    make_emnist(tmp_path, seed=5)
    raw = (tmp_path / "EMNIST" / "raw" / "emnist-balanced-train-images-idx3-ubyte").read_bytes()
    stored = np.frombuffer(raw[16 : 16 + 28 * 28], np.uint8).reshape(28, 28)
    assert not np.array_equal(stored, glyph_f())  # the file holds the F transposed, as EMNIST does
    image = _emnist(compose_cfg, tmp_path).dataset[0][0]  # uint8 (1, 28, 28), as the model's batches
    assert image.shape == (1, 28, 28)
    assert torch.equal(image[0], torch.from_numpy(glyph_f()))
    # upright: the stem on the left, the long bar on top
    assert (
        image[0, 10:20, 6:10].min() == 255 and image[0, 4:8, 18:22].min() == 255 and image[0, 20:24, 18:22].max() == 0
    )


@pytest.mark.parametrize("split", ["balanced", "letters", "digits", "byclass", "bymerge", "mnist"])
def test_every_split_reads_its_own_files(compose_cfg, tmp_path, split):
    make_emnist(tmp_path, split=split, n_train=12)
    dm = _emnist(compose_cfg, tmp_path, f"dataset.source.dataset.split={split}")
    assert len(dm.dataset) == 12 and dm.dataset.split == split


def test_default_split_is_balanced_and_the_test_split_reads_test_files(compose_cfg, tmp_path):
    cfg = compose_cfg(*dataset_overrides("emnist", tmp_path))
    assert cfg.dataset.source.dataset.split == "balanced"
    make_emnist(tmp_path, n_train=12, n_test=5)
    assert len(_emnist(compose_cfg, tmp_path, "dataset.source.dataset.train=false").dataset) == 5


def test_missing_emnist_names_the_files_of_its_split(compose_cfg, tmp_path, monkeypatch):
    monkeypatch.setattr(EMNIST, "download", lambda self: (_ for _ in ()).throw(URLError("no network in tests")))
    message = str(config_error(lambda: _emnist(compose_cfg, tmp_path / "empty", "dataset.download=false")))
    assert "EMNIST not found in" in message and str(tmp_path / "empty" / "EMNIST" / "raw") in message
    assert "emnist-balanced-train-images-idx3-ubyte" in message


def test_unknown_split_is_one_line(tmp_path):
    args = [
        "debug=fast",
        "logger=none",
        "dataset=emnist",
        f"paths.data_dir={tmp_path}",
        "dataset.source.dataset.split=kanji",
    ]
    line = one_error_line(run_script("train.py", *args, cwd=tmp_path))
    assert "split=kanji is not an EMNIST split" in line and "balanced" in line
