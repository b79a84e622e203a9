"""FID, KID and IS by torchmetrics on features computed once: the feature network runs one forward per
image for all three scores, and the real-image features come from the on-disk cache."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from dcgan.errors import ConfigError

log = logging.getLogger(__name__)

SCORES = ("fid", "kid", "is")


class Precomputed(nn.Identity):
    """The ``feature`` module of a torchmetrics metric fed with features rather than images."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.num_features = int(num_features)


def _quiet(metric_class, *args, **kwargs):
    with warnings.catch_warnings():  # KID/IS warn that they keep every feature in memory: that is the point
        warnings.simplefilter("ignore", UserWarning)
        return metric_class(*args, sync_on_compute=False, **kwargs)


def frechet_distance(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (N, D): FID on Inception pool features."""
    metric = _quiet(FrechetInceptionDistance, feature=Precomputed(real.shape[1]))
    metric.update(real, real=True)
    metric.update(fake, real=False)
    return float(metric.compute())


def kernel_distance(real: torch.Tensor, fake: torch.Tensor, subsets: int = 100, subset_size: int = 1000, seed: int = 0):
    """(mean, std) of the KID over ``subsets`` random subsets; ``subset_size`` is capped at the set sizes."""
    size = min(int(subset_size), len(real), len(fake))
    if size < int(subset_size):
        log.warning(f"metrics.kid.subset_size={subset_size} is more than the images: using {size}")
    metric = _quiet(KernelInceptionDistance, feature=Precomputed(real.shape[1]), subsets=int(subsets), subset_size=size)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def inception_score(logits: torch.Tensor, splits: int = 10, seed: int = 0):
    """(mean, std) of the Inception Score of class ``logits`` (N, classes) over ``splits`` splits."""
    metric = _quiet(InceptionScore, feature=Precomputed(logits.shape[1]), splits=int(splits))
    metric.update(logits)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        mean, std = metric.compute()
    return float(mean), float(std)


def check_scores(names: Sequence[str]) -> list[str]:
    """``names`` if each is a known score, else ConfigError."""
    unknown = [name for name in names if name not in SCORES]
    if unknown or not names:
        raise ConfigError(
            f"metrics={list(names)}: choose one or more of {', '.join(SCORES)} (e.g. metrics=[fid,kid,is])"
        )
    return list(names)


def compute_scores(
    names: Sequence[str], real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor, settings: Mapping
) -> dict[str, float]:
    """``{fid, kid_mean, kid_std, is_mean, is_std}`` for the scores in ``names``; ``settings[name]`` holds each
    score's options (``kid``: subsets, subset_size; ``is``: splits)."""
    scores: dict[str, float] = {}
    for name in check_scores(names):
        options = settings.get(name) or {}
        if name == "fid":
            scores["fid"] = frechet_distance(real, fake)
        elif name == "kid":
            mean, std = kernel_distance(real, fake, options.get("subsets", 100), options.get("subset_size", 1000))
            scores.update(kid_mean=mean, kid_std=std)
        else:
            mean, std = inception_score(fake_logits, options.get("splits", 10))
            scores.update(is_mean=mean, is_std=std)
    return scores
