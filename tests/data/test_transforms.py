"""The shared image pipeline: resize by center crop (the tutorial) or by squashing (d2l)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan.data import uint8_transform
from dcgan.errors import ConfigError
from tests.helpers import config_error, folder


def _banded() -> Image.Image:
    """A 40-wide, 20-high image: its left and right quarters black, its middle white."""
    pixels = np.full((20, 40), 255, np.uint8)
    pixels[:, :10] = pixels[:, 30:] = 0
    return Image.fromarray(pixels)


def test_crop_keeps_the_centre_and_squash_keeps_everything():
    crop = uint8_transform(20, 1, "crop")(_banded())
    squash = uint8_transform(20, 1, "squash")(_banded())
    assert crop.shape == squash.shape == (1, 20, 20)
    assert crop.min() == 255  # the 20x20 centre: white only
    assert squash[0, :, :4].max() == 0 and squash[0, :, 6:14].min() == 255 and squash[0, :, 16:].max() == 0


def test_bad_resize_is_a_clear_error(compose_cfg, tmp_path):
    with pytest.raises(ConfigError, match="dataset.resize=stretch"):
        uint8_transform(20, 1, "stretch")
    from tests.fixtures import make_image_folder

    make_image_folder(tmp_path / "images", n=4)
    from hydra.utils import instantiate

    error = config_error(lambda: instantiate(compose_cfg(*folder(tmp_path / "images"), "dataset.resize=fit").dataset))
    assert "use one of crop, squash" in str(error)


def test_the_cache_tells_the_resizes_apart(compose_cfg, tmp_path):
    from hydra.utils import instantiate

    from tests.fixtures import make_image_folder

    make_image_folder(tmp_path / "images", n=6, size=(40, 20))
    built = {}
    for resize in ("crop", "squash"):
        cfg = compose_cfg(*folder(tmp_path / "images"), "dataset.cache=true", f"dataset.cache_dir={tmp_path / 'cache'}",
                          f"dataset.resize={resize}", "dataset.image_size=16")  # fmt: skip
        dm = instantiate(cfg.dataset)
        dm.prepare_data()
        built[resize] = dm.cached_images
    assert len(list((tmp_path / "cache").glob("*.pt"))) == 2
    assert not torch.equal(built["crop"], built["squash"])
