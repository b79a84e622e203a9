"""The feature network behind the scores: Inception-v3 for RGB images, the domain classifier for gray ones.

Each network is an entry of ``metrics.features`` (a ``_partial_`` factory in conf/_metrics.yaml);
``metrics.feature`` names the one to build. A feature network maps uint8 images (B, C, H, W) to
(features, class logits) and carries ``kind`` and ``id`` (the weights' name: part of the real-statistics
cache key).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import torch
from torch import nn

from dcgan.errors import ConfigError
from dcgan.metrics.classifier import SHIPPED_CLASSIFIER, load_classifier

AUTO = "auto"


class DomainFeatures(nn.Module):
    """The domain classifier at ``path`` (None: the one shipped with the package): its penultimate
    activations and its logits, in one forward. ``datasets``: what it was trained on; ``class_offsets``: where
    each one's classes start among the logits (files without them: one dataset, at 0)."""

    kind = "domain"

    def __init__(self, path: str | Path | None) -> None:
        super().__init__()
        classifier, record, fingerprint = load_classifier(path or SHIPPED_CLASSIFIER)
        self.classifier, self.datasets = classifier.eval(), list(record["datasets"])
        offsets = record.get("class_offsets")
        self.class_offsets = dict(offsets) if offsets else ({self.datasets[0]: 0} if len(self.datasets) == 1 else {})
        self.id = f"domain-{fingerprint}"

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.classifier.features(images)
        return features, self.classifier.head(features)


def resolve_feature(feature: str, channels: int, known: Iterable[str]) -> str:
    """``auto`` -> ``domain`` for 1-channel datasets, ``inception`` otherwise; ConfigError for a name that is
    not one of ``known`` or does not fit the images."""
    known = list(known)
    if feature != AUTO and feature not in known:
        raise ConfigError(f"metrics.feature={feature!r} is invalid: use one of {', '.join([AUTO, *known])}")
    if feature == AUTO:
        return "domain" if int(channels) == 1 else "inception"
    if feature == "domain" and int(channels) != 1:
        raise ConfigError(
            f"metrics.feature=domain is for 1-channel datasets (this one has {channels}): use metrics.feature=inception"
        )
    if feature == "face" and int(channels) != 3:
        raise ConfigError(f"metrics.feature=face is for RGB face images (this dataset has {channels} channel(s))")
    return feature


def build_feature_net(
    features: Mapping[str, Callable[[], nn.Module]], feature: str, channels: int, dataset: str | None = None
) -> nn.Module:
    """The network ``feature`` names among ``features`` (name -> factory) for images with ``channels`` of
    ``dataset``; ConfigError for a domain classifier that was not trained on ``dataset``."""
    net = features[resolve_feature(feature, channels, features)]()
    if dataset and net.kind == "domain" and dataset not in net.datasets:
        raise ConfigError(
            f"the domain classifier knows {', '.join(net.datasets)}, not {dataset}: train one with "
            f"`python scripts/train_classifier.py --data-dir DATA_DIR --datasets {dataset}` and pass "
            "metrics.classifier=<its file>, or use metrics.feature=inception"
        )
    return net


def class_logit_offset(net: nn.Module, dataset: str, count: int) -> int:
    """Where ``dataset``'s ``count`` classes start among the logits of the feature network ``net``: for
    scores of a class-conditional generator, which need the domain classifier of that dataset."""
    if getattr(net, "kind", None) != "domain":
        raise ConfigError(
            "metrics=[class_accuracy] needs the domain classifier of the dataset (metrics.feature=domain, gray "
            f"datasets), not {getattr(net, 'kind', 'this')} features: its classes are not the dataset's"
        )
    offset = net.class_offsets.get(dataset)
    if offset is None:
        raise ConfigError(
            f"the domain classifier has no class order for {dataset} (a file of an older train_classifier.py): "
            f"train it again with `python scripts/train_classifier.py --data-dir DATA_DIR --datasets {dataset}`"
        )
    # the dataset's classes run up to the next dataset's offset, or to the last logit
    available = min(end for end in [*net.class_offsets.values(), net.classifier.num_classes] if end > offset) - offset
    if available != int(count):
        raise ConfigError(
            f"the generator draws {count} classes of {dataset}, the domain classifier knows {available}: "
            "pass metrics.classifier=<a classifier of this dataset>"
        )
    return offset


@torch.no_grad()
def extract(net: nn.Module, batches: Iterable[torch.Tensor], device: str | torch.device = "cpu"):
    """(features, logits) of every uint8 batch, concatenated on the CPU as float32."""
    module = net.to(device).eval()
    features, logits = [], []
    for batch in batches:
        batch_features, batch_logits = module(batch.to(device))
        features.append(batch_features.float().cpu())
        logits.append(batch_logits.float().cpu())
    if not features:
        raise ConfigError("no images to measure: check metrics.num_samples and the dataset")
    return torch.cat(features), torch.cat(logits)
