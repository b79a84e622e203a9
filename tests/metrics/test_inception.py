"""Inception features from a local file, the hub cache, or one clear error offline."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from dcgan.errors import ConfigError
from dcgan.metrics import inception as inception_module
from dcgan.metrics.features import extract
from dcgan.metrics.inception import InceptionFeatures, inception_weights


def _images(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def test_inception_from_a_local_weights_file(inception_file):
    net = InceptionFeatures(inception_file)
    assert net.kind == "inception" and not net.use_antialias  # the TF-compatible resize
    features, logits = extract(net, [_images(2, 3, 32), _images(1, 1, 28)])
    assert features.shape == (3, 2048) and logits.shape == (3, 1008)
    assert torch.isfinite(features).all()


def test_inception_offline_is_one_config_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def offline(destination):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(inception_module, "_download", offline)
    with pytest.raises(ConfigError) as error:
        inception_weights(None)
    message = str(error.value)
    assert "\n" not in message and "metrics.inception_weights=PATH" in message and "metrics.feature=domain" in message
    with pytest.raises(ConfigError, match="no such file"):
        inception_weights(tmp_path / "missing.pth")


def test_inception_weights_from_the_hub_cache(tmp_path, monkeypatch, inception_file):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(inception_module, "_download", lambda destination: pytest.fail("downloaded"))
    cached = inception_module.hub_weights_file()
    cached.parent.mkdir(parents=True)
    cached.symlink_to(inception_file)
    assert inception_weights(None) == cached


def test_a_file_that_is_not_inception_weights(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"weight": torch.zeros(1)}, path)
    with pytest.raises(ConfigError, match="holds no Inception weights"):
        InceptionFeatures(path)
