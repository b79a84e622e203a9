"""Image folders: every mode converted, an empty folder refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra.utils import instantiate

from tests.fixtures import make_class_folder
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
