from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from dcgan.train import train
from tests.conftest import CONF, FAST, ROOT

# Tiny sample counts: the scores only need to be computable, not meaningful.
SMALL = ["metrics.num_samples=48", "metrics.batch_size=16"]


def load_script(name: str):
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(
                "evaluate",
                overrides=[
                    f"paths.data_dir={data_dir}", f"metrics.classifier={classifier_file}",
                    f"metrics.cache_dir={tmp_path / 'cache'}", "dataset.num_workers=0", *SMALL, *overrides,
                ],
            )  # fmt: skip

    yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture(scope="session")
def tiny_checkpoint(data_dir, tmp_path_factory) -> Path:
    """last.ckpt of a 4-step run on the tiny Fashion-MNIST fixture (32x32 gray), shared by the tests that read it."""
    run = tmp_path_factory.mktemp("tiny_run")
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=4"])
    GlobalHydra.instance().clear()
    with open_dict(cfg):
        cfg.paths.output_dir = str(run)
    train(cfg)
    return run / "checkpoints" / "last.ckpt"
