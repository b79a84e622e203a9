"""Where datasets come from: local copies first, then the system copy, then the download, then one clear error."""

from __future__ import annotations

import gzip
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from hydra.utils import instantiate
from torchvision import datasets

from tests.fixtures import make_mnist_like
from tests.helpers import config_error, dataset_overrides, model_batch


@pytest.fixture
def system_copy(tmp_path) -> Path:
    """What Debian's dataset-fashion-mnist installs: the four IDX files, gzipped."""
    unpacked = make_mnist_like(tmp_path / "upstream", "FashionMNIST", seed=7) / "FashionMNIST" / "raw"
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    system.mkdir()
    for file in unpacked.iterdir():
        (system / f"{file.name}.gz").write_bytes(gzip.compress(file.read_bytes()))
    return system


@pytest.fixture
def fashion(compose_cfg, system_copy):
    def build(data_dir: Path, *overrides: str):
        cfg = compose_cfg(
            f"paths.data_dir={data_dir}", f"dataset.source.system_dir={system_copy}", *overrides
        )  # fmt: skip
        return instantiate(cfg.dataset)

    return build


def _first_image(root: Path) -> torch.Tensor:
    return datasets.FashionMNIST(str(root)).data[0]


def _refuse_download(monkeypatch):
    def download(self):
        raise URLError("no network in tests")

    monkeypatch.setattr(datasets.FashionMNIST, "download", download)


def test_data_dir_comes_first(fashion, tmp_path, system_copy, monkeypatch):
    _refuse_download(monkeypatch)
    own = make_mnist_like(tmp_path / "data", "FashionMNIST", seed=3)
    dm = fashion(own)
    assert torch.equal(dm.dataset.data[0], _first_image(own))
    assert not torch.equal(dm.dataset.data[0], _first_image(tmp_path / "upstream"))


def test_then_the_system_copy_unpacked_into_data_dir(fashion, tmp_path, monkeypatch):
    _refuse_download(monkeypatch)
    data_dir = tmp_path / "data"
    dm = fashion(data_dir)
    raw = data_dir / "FashionMNIST" / "raw"
    upstream = tmp_path / "upstream" / "FashionMNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(p.name for p in upstream.iterdir())
    assert torch.equal(dm.dataset.data[0], _first_image(tmp_path / "upstream"))
    assert model_batch(dm).shape == (16, 1, 32, 32)


def test_then_the_download(fashion, tmp_path, monkeypatch):
    calls = []

    def download(self):  # stands in for torchvision's download: writes the files where it would
        calls.append(self.root)
        make_mnist_like(Path(self.root), "FashionMNIST", seed=5)

    monkeypatch.setattr(datasets.FashionMNIST, "download", download)
    data_dir = tmp_path / "data"
    dm = fashion(data_dir, "dataset.download=true", "dataset.source.system_dir=null")
    assert dm.dataset is None and calls == []  # nothing local: the download waits for prepare_data
    dm.prepare_data()
    assert calls == [str(data_dir)]
    assert model_batch(dm).shape == (16, 1, 32, 32)


def test_one_clear_error_lists_the_three_ways(fashion, tmp_path, system_copy, monkeypatch):
    _refuse_download(monkeypatch)
    data_dir, nowhere = tmp_path / "data", tmp_path / "nowhere"
    for download in ("false", "true"):
        overrides = (f"dataset.download={download}", f"dataset.source.system_dir={nowhere}")
        message = str(config_error(lambda overrides=overrides: fashion(data_dir, *overrides).prepare_data()))
        assert "\n" not in message
        assert str(data_dir / "FashionMNIST" / "raw") in message and str(nowhere) in message
        assert "apt-get install dataset-fashion-mnist" in message and "dataset.download=true" in message
        assert ("no network in tests" in message) == (download == "true")


@pytest.mark.parametrize(
    ("name", "where"),
    [("mnist", "MNIST/raw"), ("cifar10", "cifar-10-batches-py"), ("svhn", "train_32x32.mat"), ("celeba", "celeba")],
)
def test_missing_files_name_the_path_and_the_fix(compose_cfg, tmp_path, name, where):
    cfg = compose_cfg(*dataset_overrides(name, tmp_path / "empty"))
    message = str(config_error(lambda: instantiate(cfg.dataset)))
    assert "\n" not in message and str(tmp_path / "empty") in message and where in message
    assert "dataset.download=false" in message and "dataset.download=true" in message


@pytest.mark.parametrize(("name", "root"), [("image_folder", "no/such/folder"), ("array", "no/such/faces.npy")])
def test_missing_local_files_name_the_path(compose_cfg, tmp_path, name, root):
    cfg = compose_cfg(f"dataset={name}", f"dataset.root={tmp_path / root}")
    assert str(tmp_path / root) in str(config_error(lambda: instantiate(cfg.dataset)))
