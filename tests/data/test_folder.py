"""Image folders: every mode converted, an empty folder refused, symbolic links never followed in a loop."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra.utils import instantiate

from tests.fixtures import make_class_folder, make_image_folder
from tests.helpers import config_error, dataset_overrides, folder


@pytest.mark.parametrize("channels", [1, 3])
def test_image_folder_converts_modes(compose_cfg, fixture_root, channels):
    cfg = compose_cfg(*dataset_overrides("image_folder", fixture_root), f"dataset.channels={channels}")
    dm = instantiate(cfg.dataset)
    assert len(dm.dataset) == 24  # flat files and the class subfolder; RGB, RGBA, gray and palette
    modes = {dm.dataset[i][0].shape for i in range(len(dm.dataset))}
    assert modes == {(channels, 32, 32)}


def test_empty_folder_is_a_clear_error(compose_cfg, tmp_path):
    (tmp_path / "images" / "sub").mkdir(parents=True)
    (tmp_path / "images" / "readme.txt").write_text("no images here")
    message = str(config_error(lambda: instantiate(compose_cfg(*folder(tmp_path / "images")).dataset)))
    assert "no image files in" in message and str(tmp_path / "images") in message and ".jpg" in message


def test_class_subfolders_label_the_images_a_flat_folder_does_not(compose_cfg, fixture_root, tmp_path):
    labelled = instantiate(compose_cfg(*folder(fixture_root / "classes")).dataset).dataset
    assert labelled.classes == ["cat", "dog", "fox"] and len(labelled) == 24
    for i in range(len(labelled)):
        path, label = labelled.samples[i]
        assert labelled[i][1] == label == labelled.classes.index(Path(path).parent.name)
    make_class_folder(tmp_path / "deep" / "dog" / "puppies", classes=("a",), n_per_class=2)
    make_class_folder(tmp_path / "deep", classes=("cat",), n_per_class=2)
    deep = instantiate(compose_cfg(*folder(tmp_path / "deep")).dataset).dataset
    assert deep.classes == ["cat", "dog"] and sorted(deep.targets) == [0, 0, 1, 1]  # a subfolder's own folders
    mixed = instantiate(compose_cfg(*dataset_overrides("image_folder", fixture_root)).dataset).dataset
    assert mixed.classes == [] and set(mixed.targets) == {0}  # images at the top too: no labels


def test_links_back_into_the_folder_are_not_followed(compose_cfg, tmp_path):
    images = make_image_folder(tmp_path / "images", n=8)  # 4 flat, 4 in sub/
    outside = make_image_folder(tmp_path / "outside", n=2)  # 1 flat, 1 in its sub/
    (images / "loop").symlink_to("..")  # a loop: os.walk(followlinks=True) would read everything ~40 times
    (images / "sub" / "up").symlink_to(images)
    (images / "again").symlink_to(images / "sub")  # a second way into sub/
    (images / "copy.jpg").symlink_to(images / "img0.jpg")
    (images / "extra").symlink_to(outside)  # a folder elsewhere: followed once
    (images / "extra2").symlink_to(outside)
    dm = instantiate(compose_cfg(*folder(images)).dataset)
    files = [path for path, _ in dm.dataset.samples]
    assert len(files) == 8 + 2 and len({os.path.realpath(f) for f in files}) == 10
    assert not any(part in f for f in files for part in ("/loop/", "/up/", "/again/", "copy.jpg"))
