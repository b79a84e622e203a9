"""Feature networks: the domain classifier (trained by scripts/train_classifier.py) and Inception from a file."""

from __future__ import annotations

import urllib.error

import pytest
import torch

from dcgan.errors import ConfigError
from dcgan.metrics import build_feature_net, extract, inception_weights, resolve_feature
from dcgan.metrics import inception as inception_module


def _images(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


def test_train_classifier_script_writes_weights_and_accuracy(classifier_file):
    record = torch.load(classifier_file, weights_only=True)
    assert record["datasets"] == ["fashion_mnist", "mnist"]  # both fixture datasets, 10 classes each
    assert record["num_classes"] == 20
    assert set(record["test_accuracy"]) == {"fashion_mnist", "mnist"}
    assert all(0.0 <= acc <= 1.0 for acc in record["test_accuracy"].values())


@pytest.mark.parametrize("size", [28, 32])
def test_domain_features_of_gray_images(classifier_file, size):
    net = build_feature_net({"feature": "auto", "classifier": str(classifier_file)}, channels=1)
    assert net.kind == "domain" and net.id.startswith("domain-")
    features, logits = extract(net, _images(10, 1, size).split(4))
    assert features.shape == (10, 128) and logits.shape == (10, 20)
    assert torch.isfinite(features).all()
    again, _ = extract(net, [_images(10, 1, size)])
    torch.testing.assert_close(features, again)  # eval mode: a feature does not depend on its batch


def test_feature_choice():
    assert resolve_feature("auto", 1) == "domain"
    assert resolve_feature("auto", 3) == "inception"
    with pytest.raises(ConfigError, match="metrics.feature=domain is for 1-channel"):
        resolve_feature("domain", 3)
    with pytest.raises(ConfigError, match="metrics.feature='vgg' is invalid"):
        resolve_feature("vgg", 1)


def test_missing_classifier_names_the_script(tmp_path):
    with pytest.raises(ConfigError, match="scripts/train_classifier.py"):
        build_feature_net({"feature": "domain", "classifier": str(tmp_path / "none.pt")}, channels=1)


def test_inception_from_a_local_weights_file(inception_file):
    net = build_feature_net({"feature": "inception", "inception_weights": str(inception_file)}, channels=3)
    assert net.kind == "inception" and not net.module.use_antialias  # the TF-compatible resize
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
        build_feature_net({"feature": "inception", "inception_weights": str(path)}, channels=3)
