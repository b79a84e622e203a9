"""Where datasets come from: local copies first, then the system copy, then the download, then one clear error."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path
from urllib.error import URLError

import pytest
import torch
from hydra.utils import instantiate
from torchvision import datasets

from tests.fixtures import make_mnist_like
from tests.helpers import ROOT, config_error, dataset_overrides, model_batch, one_error_line, run_script, subprocess_env


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


def test_celeba_download_goes_through_gdown_and_names_the_routes_that_work(compose_cfg, tmp_path, monkeypatch):
    import gdown  # a dependency: torchvision's CelebA download needs it
    from torchvision.datasets import celeba

    calls = []

    def quota_exceeded(file_id, root, filename=None, md5=None):
        calls.append((filename, md5))
        raise RuntimeError("Too many users have viewed or downloaded this file recently")

    monkeypatch.setattr(celeba, "download_file_from_google_drive", quota_exceeded)
    cfg = compose_cfg("dataset=celeba", f"paths.data_dir={tmp_path / 'data'}", "dataset.download=true")
    dm = instantiate(cfg.dataset)
    message = str(config_error(dm.prepare_data))
    assert gdown.__version__ and calls and calls[0][1]  # torchvision asked for the file with its md5
    assert "\n" not in message and "Too many users" in message
    assert "img_align_celeba.zip" in message and "Kaggle" in message and str(tmp_path / "data") in message


def _get_data(*args, path: str | None = None) -> subprocess.CompletedProcess:
    env = subprocess_env(**({"PATH": path} if path else {}))
    return run_script("scripts/get_data.py", "dataset.download=false", *args, cwd=ROOT, env=env)


def test_make_data_finds_the_local_copy(data_dir):
    done = _get_data(f"paths.data_dir={data_dir}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == f"Fashion-MNIST: 96 images under {data_dir}"


def test_make_data_without_a_way_is_one_line_and_exit_2(tmp_path):
    done = _get_data("dataset=mnist", f"paths.data_dir={tmp_path}")
    assert done.returncode == 2
    assert "MNIST not found" in one_error_line(done) and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="apt-get runs as root here (sudo would reset PATH)")
def test_make_data_installs_debians_package_when_nothing_else_works(tmp_path):
    upstream = make_mnist_like(tmp_path / "upstream", "FashionMNIST", seed=7) / "FashionMNIST" / "raw"
    system, bin_dir = tmp_path / "usr-share", tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "apt.log"
    # a stand-in for apt-get: logs its arguments; `install` puts the gzipped IDX files where Debian does
    (bin_dir / "apt-get").write_text(
        f'#!/bin/sh\necho "$@" >> {log}\ncase "$1" in install) mkdir -p {system} && '
        f"for f in {upstream}/*; do gzip -c $f > {system}/$(basename $f).gz; done;; esac\n"
    )
    (bin_dir / "apt-get").chmod(0o755)
    data = tmp_path / "data"
    done = _get_data(f"paths.data_dir={data}", f"dataset.source.system_dir={system}",
                     path=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines()[0] == "install -y -q dataset-fashion-mnist"
    assert "installing Debian's dataset-fashion-mnist" in done.stdout
    assert sorted(p.name for p in (data / "FashionMNIST" / "raw").iterdir()) == sorted(
        p.name for p in upstream.iterdir()
    )
