"""Feature networks: the choice by channels, domain features of gray images."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from dcgan.config import compose
from dcgan.errors import ConfigError
from dcgan.metrics.features import build_feature_net, extract, resolve_feature


def _images(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(
        0, 256, (n, channels, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )


@pytest.mark.parametrize("size", [28, 32])
def test_domain_features_of_gray_images(classifier_file, size):
    features = instantiate(compose("evaluate", [f"metrics.classifier={classifier_file}"]).metrics.features)
    net = build_feature_net(features, "auto", channels=1)
    assert net.kind == "domain" and net.id.startswith("domain-")
    features, logits = extract(net, _images(10, 1, size).split(4))
    assert features.shape == (10, 128) and logits.shape == (10, 20)
    assert torch.isfinite(features).all()
    again, _ = extract(net, [_images(10, 1, size)])
    torch.testing.assert_close(features, again)  # eval mode: a feature does not depend on its batch


def test_feature_choice():
    known = compose("evaluate").metrics.features
    assert resolve_feature("auto", 1, known) == "domain"
    assert resolve_feature("auto", 3, known) == "inception"
    with pytest.raises(ConfigError, match="metrics.feature=domain is for 1-channel"):
        resolve_feature("domain", 3, known)
    with pytest.raises(ConfigError, match="metrics.feature='vgg' is invalid: use one of auto, inception, domain"):
        resolve_feature("vgg", 1, known)
