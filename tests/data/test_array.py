"""Image arrays: the layouts, and what is not uint8 images refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from dcgan.data import ArrayImages, uint8_transform
from dcgan.errors import ConfigError
from tests.fixtures import make_array
from tests.helpers import one_error_line, run_script


@pytest.mark.parametrize(("layout", "suffix"), [("nhwc", ".npy"), ("nchw", ".npy"), ("nhw", ".npz"), ("nhwc", ".npz")])
def test_array_layouts(tmp_path, layout, suffix):
    path = make_array(tmp_path / f"faces{suffix}", n=6, layout=layout, size=20)
    original = make_array(tmp_path / "reference.npy", n=6, layout="nhwc", size=20)
    expected = torch.from_numpy(np.load(original)).permute(0, 3, 1, 2)
    channels = 1 if layout == "nhw" else 3
    data = ArrayImages([str(path)], uint8_transform(20, channels, "crop"), layout="auto", key=None)
    assert len(data) == 6
    for i in range(6):
        image = data[i][0]
        assert torch.equal(image, expected[i, :1] if channels == 1 else expected[i])


def test_array_rejects_what_is_not_uint8_images(tmp_path):
    np.save(tmp_path / "floats.npy", np.zeros((4, 8, 8, 3), np.float32))
    np.save(tmp_path / "flat.npy", np.zeros((4, 64), np.uint8))
    for bad in ("floats.npy", "flat.npy"):
        with pytest.raises(ConfigError, match="expected uint8 images"):
            ArrayImages([str(tmp_path / bad)], None, layout="auto", key=None)
    with pytest.raises(ConfigError, match="not a .npy or .npz"):
        ArrayImages([str(tmp_path / "faces.png")], None, layout="auto", key=None)


def _faces(tmp_path, shape, name="faces.npy"):
    """A gray (H, W, N) face array whose image i is filled with the value i (its identity)."""
    h, w, n = shape
    images = np.broadcast_to(np.arange(n, dtype=np.uint8), (h, w, n)).copy()
    images[0, :, :] = 255  # the top row bright: orientation is visible
    path = tmp_path / name
    np.save(path, images)
    return path


def test_hwn_arrays_read_as_n_images(tmp_path):
    path = _faces(tmp_path, (96, 96, 300))
    data = ArrayImages([str(path)], uint8_transform(96, 3, "crop"), layout="hwn", key=None)
    assert len(data) == 300  # not 96 images of 300 x 96
    for i in (0, 1, 299):
        image = data[i][0]
        assert image.shape == (3, 96, 96)
        assert int(image[:, 50, 50].unique().item()) == i % 256  # gray -> RGB: three equal channels
        assert (image[:, 0, :] == 255).all()  # upright: the bright row on top
    # auto finds the same reading: only H x W x N gives square images
    assert len(ArrayImages([str(path)], None, layout="auto", key=None)) == 300


def test_a_list_of_files_is_concatenated_in_order(tmp_path):
    train = _faces(tmp_path, (20, 20, 7), "train.npy")
    test = _faces(tmp_path, (20, 20, 3), "test.npy")
    data = ArrayImages([str(train), str(test)], uint8_transform(20, 1, "crop"), layout="hwn", key=None)
    assert len(data) == 10
    assert [int(data[i][0][0, 10, 10]) for i in range(10)] == [0, 1, 2, 3, 4, 5, 6, 0, 1, 2]


@pytest.mark.parametrize("shape", [(32, 32, 32), (20, 30, 40)])
def test_auto_refuses_to_guess_between_n_first_and_n_last(tmp_path, shape):
    np.save(tmp_path / "x.npy", np.zeros(shape, np.uint8))
    with pytest.raises(
        ConfigError, match=r"dataset.layout=auto does not guess: set dataset.layout=nhw or dataset.layout=hwn"
    ):
        ArrayImages([str(tmp_path / "x.npy")], None, layout="auto", key=None)


def test_auto_refuses_an_ambiguous_channel_axis(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((5, 3, 8, 3), np.uint8))
    with pytest.raises(ConfigError, match="nhwc or dataset.layout=nchw"):
        ArrayImages([str(tmp_path / "x.npy")], None, layout="auto", key=None)


def test_files_of_different_image_sizes_are_refused(tmp_path):
    a, b = _faces(tmp_path, (20, 20, 4), "a.npy"), _faces(tmp_path, (24, 24, 4), "b.npy")
    with pytest.raises(ConfigError, match="different sizes"):
        ArrayImages([str(a), str(b)], None, layout="hwn", key=None)


BAD = {
    "floats.npy": (np.zeros((4, 8, 8, 3), np.float32), "holds a float32 array"),
    "rank.npy": (np.zeros((2, 2, 8, 8, 3), np.uint8), "holds an array of shape (2, 2, 8, 8, 3)"),
    "objects.npy": (np.array([{"face": 1}, None], dtype=object), "holds Python objects"),
    "layout.npy": (np.zeros((4, 8, 8), np.uint8), "dataset.layout=nhwc needs a 4-axis array"),
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_what_is_not_uint8_images_is_one_line(tmp_path, name):
    array, expected = BAD[name]
    np.save(tmp_path / name, array, allow_pickle=True)
    layout = "nhwc" if name == "layout.npy" else "auto"
    args = ["debug=fast", "logger=none", "dataset=array", f"dataset.root={tmp_path / name}", f"dataset.layout={layout}"]
    proc = run_script("train.py", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert expected in one_error_line(proc)


def test_face_array_experiment_reads_the_tutorials_files(compose_cfg, fixture_root):
    cfg = compose_cfg("experiment=face_array", f"paths.data_dir={fixture_root}", "dataset.batch_size=4")
    dm = instantiate(cfg.dataset)
    train, test = (np.load(fixture_root / "faces" / f"{name}.npy") for name in ("train", "test"))
    assert train.shape == (64, 64, 20) and test.shape == (64, 64, 8)  # (H, W, N), gray
    assert len(dm.dataset) == 28
    image = dm.dataset[27][0]
    assert image.shape == (3, 64, 64) and torch.equal(image[0], torch.from_numpy(test[..., 7]))
    assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
