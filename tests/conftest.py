"""Shared fixtures: tiny datasets in their real formats, composed configs, a trained run, metric networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from omegaconf import DictConfig

import dcgan.config
from dcgan.cli.train import train
from dcgan.config import compose
from tests.fixtures import (
    make_array,
    make_celeba,
    make_cifar10,
    make_class_folder,
    make_emnist,
    make_face_arrays,
    make_image_folder,
    make_mnist_like,
    make_svhn,
)
from tests.helpers import load_script, with_own_batch_statistics
from tests.unchecked import CHECKED

# Tiny nets, tiny batches, CPU, no external logger: every end-to-end test starts from these.
FAST = [
    "trainer=debug",
    "logger=none",
    "generator.ngf=8",
    "discriminator.ndf=8",
    "dataset.batch_size=16",
    "dataset.num_workers=0",
    "dataset.download=false",
    "callbacks.samples.every_n_steps=4",
    "~callbacks.progress_bar",
]
# Runs that outlast an epoch of the fixtures (96 images, batch 16: 12 global steps), with a seed of their own.
LONG = ["trainer.max_epochs=-1", "seed=7"]
# Tiny sample counts: the scores only need to be computable, not meaningful.
SMALL = ["metrics.num_samples=48", "metrics.batch_size=16"]


@pytest.fixture
def allow_targets(monkeypatch):
    """``allow_targets(*names)``: a stored config may name these test classes too (the kit's own, and these)."""

    def allow(*targets: str) -> None:
        allowed = dcgan.config.kit_targets() | frozenset(targets)
        monkeypatch.setattr(dcgan.config, "kit_targets", lambda: allowed)

    return allow


@pytest.fixture
def trust_unchecked_datasets(allow_targets):
    """Checkpoints of fixture runs name the tests' md5-free dataset classes (tests/unchecked.py), which a
    stored config may not: let the loaders build those too (and nothing else)."""
    allow_targets(*CHECKED.values())


@pytest.fixture(autouse=True)
def _offline_env(monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory) -> Path:
    """A data folder with tiny Fashion-MNIST and MNIST IDX files."""
    root = tmp_path_factory.mktemp("data")
    make_mnist_like(root, "FashionMNIST")
    make_mnist_like(root, "MNIST", seed=1)
    return root


@pytest.fixture(scope="session")
def fixture_root(tmp_path_factory) -> Path:
    """One folder with every dataset in its real on-disk format, tiny (read-only by convention)."""
    root = tmp_path_factory.mktemp("datasets")
    make_mnist_like(root, "FashionMNIST")
    make_mnist_like(root, "MNIST", seed=1)
    make_emnist(root, seed=2)
    make_cifar10(root)
    make_svhn(root)
    make_celeba(root)
    make_image_folder(root / "images")
    make_image_folder(root / "pokemon", size=(96, 96), seed=3)
    make_class_folder(root / "classes")
    make_array(root / "images.npy")
    make_face_arrays(root / "faces", size=64, seed=4)
    return root


@pytest.fixture
def compose_cfg(tmp_path, data_dir):
    """compose_cfg(*overrides) -> the training config as train.py would see it, writing into tmp_path/run."""
    return lambda *overrides: compose(
        "train", [*FAST, f"paths.data_dir={data_dir}", *overrides], output_dir=tmp_path / "run"
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir) -> Path:
    """A finished 4-step run of tiny nets (generator.ngf=8: not the default, so loading must use the
    config stored in the checkpoint)."""
    out = tmp_path_factory.mktemp("trained")
    train(compose("train", [*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=4"], output_dir=out))
    return out


@pytest.fixture(scope="session")
def tiny_checkpoint(data_dir, tmp_path_factory) -> Path:
    """last.ckpt of a 4-step run on the tiny Fashion-MNIST fixture (32x32 gray), shared by the tests that read it."""
    run = tmp_path_factory.mktemp("tiny_run")
    train(compose("train", [*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=4"], output_dir=run))
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def conditional_run(data_dir, tmp_path_factory) -> Path:
    """The folder of a finished 4-step class-conditional run (model.conditional=true) on the tiny
    Fashion-MNIST fixture: its checkpoints/last.ckpt and generator.pt, its grids and pictures."""
    run = tmp_path_factory.mktemp("conditional_run")
    train(compose("train", [*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=4", "model.conditional=true"],
                  output_dir=run))  # fmt: skip
    return run


@pytest.fixture(scope="session")
def conditional_checkpoint(conditional_run, tmp_path_factory) -> Path:
    """The conditional run's last.ckpt with its generators' BatchNorm statistics of their own activations:
    in eval mode its samples vary with z and with the class (see with_own_batch_statistics)."""
    out = tmp_path_factory.mktemp("conditional_checkpoint") / "conditional.ckpt"
    return with_own_batch_statistics(conditional_run / "checkpoints" / "last.ckpt", out)


@pytest.fixture(scope="session")
def classifier_file(data_dir, tmp_path_factory) -> Path:
    """A domain classifier trained by scripts/train_classifier.py on the tiny Fashion-MNIST + MNIST fixture."""
    out = tmp_path_factory.mktemp("classifier") / "domain_classifier.pt"
    argv = ["--data-dir", str(data_dir), "--out", str(out), "--epochs", "1"]
    assert load_script("train_classifier").main(argv) == 0
    return out


@pytest.fixture(scope="session")
def inception_file(tmp_path_factory) -> Path:
    """A randomly initialised torch-fidelity Inception-v3 state dict: the plumbing of a local weights file."""
    from torch_fidelity import feature_extractor_inceptionv3 as fidelity

    patch = pytest.MonkeyPatch()
    patch.setattr(fidelity, "load_state_dict_from_url", lambda *args, **kwargs: {})
    patch.setattr(fidelity.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *args, **kwargs: None)
    try:
        net = fidelity.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        patch.undo()
    path = tmp_path_factory.mktemp("inception") / "inception-random.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def evaluate_cfg(tmp_path, data_dir, classifier_file):
    """evaluate_cfg(*overrides) -> conf/evaluate.yaml composed with the test classifier and a fresh cache."""

    def _compose(*overrides: str) -> DictConfig:
        base = [f"paths.data_dir={data_dir}", f"metrics.classifier={classifier_file}",
                f"metrics.cache_dir={tmp_path / 'cache'}", "dataset.num_workers=0", *SMALL]  # fmt: skip
        return compose("evaluate", [*base, *overrides])

    return _compose
