"""The feature network behind the scores: Inception-v3 for RGB images, the domain classifier for gray ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch
from torch import nn

from dcgan.errors import ConfigError
from dcgan.metrics.classifier import GrayClassifier, load_classifier
from dcgan.metrics.inception import WEIGHTS_ID, InceptionFeatures, inception_weights

FEATURES = ("auto", "inception", "domain")


@dataclass(frozen=True)
class FeatureNet:
    """``module``: uint8 images (B, C, H, W) -> (features, class logits); ``id`` names the weights (it is
    part of the real-statistics cache key); ``kind``: inception | domain."""

    module: nn.Module
    kind: str
    id: str


class DomainFeatures(nn.Module):
    """The classifier's penultimate activations and its logits, in one forward."""

    def __init__(self, classifier: GrayClassifier) -> None:
        super().__init__()
        self.classifier = classifier.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.classifier.features(images)
        return features, self.classifier.head(features)


def resolve_feature(feature: str, channels: int) -> str:
    """``auto`` -> ``domain`` for 1-channel datasets, ``inception`` otherwise."""
    if feature not in FEATURES:
        raise ConfigError(f"metrics.feature={feature!r} is invalid: use one of {', '.join(FEATURES)}")
    if feature == "auto":
        return "domain" if int(channels) == 1 else "inception"
    if feature == "domain" and int(channels) != 1:
        raise ConfigError(
            f"metrics.feature=domain is for 1-channel datasets (this one has {channels}): use metrics.feature=inception"
        )
    return feature


def build_feature_net(settings: Mapping, channels: int, data_dir: str | None = None) -> FeatureNet:
    """The feature network ``settings`` (the ``metrics`` config) choose for images with ``channels``."""
    kind = resolve_feature(settings.get("feature", "auto"), channels)
    if kind == "inception":
        return FeatureNet(InceptionFeatures(inception_weights(settings.get("inception_weights"))), kind, WEIGHTS_ID)
    classifier, _, fingerprint = load_classifier(settings["classifier"], data_dir)
    return FeatureNet(DomainFeatures(classifier), kind, f"domain-{fingerprint}")


@torch.no_grad()
def extract(net: FeatureNet, batches: Iterable[torch.Tensor], device: str | torch.device = "cpu"):
    """(features, logits) of every uint8 batch, concatenated on the CPU as float32."""
    module = net.module.to(device).eval()
    features, logits = [], []
    for batch in batches:
        batch_features, batch_logits = module(batch.to(device))
        features.append(batch_features.float().cpu())
        logits.append(batch_logits.float().cpu())
    if not features:
        raise ConfigError("no images to measure: check metrics.num_samples and the dataset")
    return torch.cat(features), torch.cat(logits)
