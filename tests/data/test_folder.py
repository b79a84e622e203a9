"""Image folders: every mode converted, an empty folder refused."""

from __future__ import annotations

import pytest
from hydra.utils import instantiate

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
