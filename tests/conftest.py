from __future__ import annotations

import os
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from tests.fixtures import make_mnist_like

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"

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


@pytest.fixture
def compose_cfg(tmp_path, data_dir):
    """compose_cfg(*overrides) -> the training config as train.py would see it, writing into tmp_path."""

    def _compose(*overrides: str) -> DictConfig:
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("train", overrides=[*FAST, f"paths.data_dir={data_dir}", *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
        return cfg

    yield _compose
    GlobalHydra.instance().clear()


def subprocess_env() -> dict[str, str]:
    """Environment for `python train.py` subprocesses: tests importable, offline, quiet."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), WANDB_MODE="offline", WANDB_SILENT="true", MPLBACKEND="Agg")
    return env
