"""Image arrays: the layouts, and what is not uint8 images refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dcgan.data import ArrayImages, uint8_transform
from dcgan.errors import ConfigError
from tests.fixtures import make_array


@pytest.mark.parametrize(("layout", "suffix"), [("nhwc", ".npy"), ("nchw", ".npy"), ("nhw", ".npz"), ("nhwc", ".npz")])
def test_array_layouts(tmp_path, layout, suffix):
    path = make_array(tmp_path / f"faces{suffix}", n=6, layout=layout, size=20)
    original = make_array(tmp_path / "reference.npy", n=6, layout="nhwc", size=20)
    expected = torch.from_numpy(np.load(original)).permute(0, 3, 1, 2)
    channels = 1 if layout == "nhw" else 3
    data = ArrayImages(str(path), transform=uint8_transform(20, channels))
    assert len(data) == 6
    for i in range(6):
        image = data[i][0]
        assert torch.equal(image, expected[i, :1] if channels == 1 else expected[i])


def test_array_rejects_what_is_not_uint8_images(tmp_path):
    np.save(tmp_path / "floats.npy", np.zeros((4, 8, 8, 3), np.float32))
    np.save(tmp_path / "flat.npy", np.zeros((4, 64), np.uint8))
    for bad in ("floats.npy", "flat.npy"):
        with pytest.raises(ConfigError, match="expected uint8 images"):
            ArrayImages(str(tmp_path / bad))
    with pytest.raises(ConfigError, match="not a .npy or .npz"):
        ArrayImages(str(tmp_path / "faces.png"))
