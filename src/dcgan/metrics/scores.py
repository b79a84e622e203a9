"""FID, KID and IS by torchmetrics on features computed once: the feature network runs one forward per
image for all three scores, and the real-image features come from the on-disk cache."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping

import torch
from torch import nn
from torchmetrics.image.fid import FrechetInceptionDistance
from torchmetrics.image.inception import InceptionScore as TorchmetricsInceptionScore
from torchmetrics.image.kid import KernelInceptionDistance

from dcgan.errors import ConfigError

log = logging.getLogger(__name__)


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


class FrechetDistance:
    """``fid``: the Frechet distance of the features (FID on Inception features)."""

    def __call__(self, real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, float]:
        return {"fid": frechet_distance(real, fake)}


class KernelDistance:
    """``kid_mean``, ``kid_std``: the KID over ``subsets`` random subsets of ``subset_size`` (capped at the
    set sizes), drawn from ``seed``."""

    def __init__(self, subsets: int, subset_size: int, seed: int) -> None:
        self.subsets, self.subset_size, self.seed = int(subsets), int(subset_size), int(seed)

    def __call__(self, real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, float]:
        size = min(self.subset_size, len(real), len(fake))
        if size < self.subset_size:
            log.warning(f"metrics.scores.kid.subset_size={self.subset_size} is more than the images: using {size}")
        metric = _quiet(KernelInceptionDistance, feature=Precomputed(real.shape[1]), subsets=self.subsets,
                        subset_size=size)  # fmt: skip
        metric.update(real, real=True)
        metric.update(fake, real=False)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            mean, std = metric.compute()
        return {"kid_mean": float(mean), "kid_std": float(std)}


class InceptionScore:
    """``is_mean``, ``is_std``: the Inception Score of the class logits over ``splits`` splits (with the
    domain features: the classifier's classes), shuffled from ``seed``."""

    def __init__(self, splits: int, seed: int) -> None:
        self.splits, self.seed = int(splits), int(seed)

    def __call__(self, real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor) -> dict[str, float]:
        metric = _quiet(TorchmetricsInceptionScore, feature=Precomputed(fake_logits.shape[1]), splits=self.splits)
        metric.update(fake_logits)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            mean, std = metric.compute()
        return {"is_mean": float(mean), "is_std": float(std)}


Score = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, float]]


def compute_scores(scores: Mapping[str, Score], real: torch.Tensor, fake: torch.Tensor, fake_logits: torch.Tensor):
    """Every score of ``scores`` (name -> score, the instantiated ``metrics.scores``) in one dict."""
    if not scores:
        raise ConfigError("no score to compute: choose one or more with metrics=fid or metrics=[fid,kid,is]")
    results: dict[str, float] = {}
    for score in scores.values():
        results.update(score(real, fake, fake_logits))
    return results
