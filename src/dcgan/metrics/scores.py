"""FID, KID and IS by torchmetrics on features computed once: the feature network runs one forward per
image for all three scores, and the real-image features come from the on-disk cache. For a class-conditional
generator, the class accuracy and the Frechet distance per class."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from typing import NamedTuple

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


class ClassLabels(NamedTuple):
    """The classes behind the features of a class-conditional generator's evaluation."""

    real: torch.Tensor  # (N_real,) the dataset's label of each real image
    fake: torch.Tensor  # (N_fake,) the class each generated image was asked for
    names: list[str]  # the class names, in label order
    logit_offset: int  # where the dataset's classes start among the classifier's logits


class ClassAccuracy:
    """``class_accuracy``: the share of generated images that the domain classifier puts in the class they
    were asked for (among the dataset's classes; chance is 1 / classes); ``class_fd_mean``: the Frechet
    distance of each class's generated images to its real images, averaged over the classes. With
    ``per_class``, both for each class too: ``class_accuracy/<name>``, ``class_fd/<name>`` (NaN for a class
    with fewer than 2 images on either side)."""

    needs_labels = True

    def __init__(self, per_class: bool) -> None:
        self.per_class = bool(per_class)

    def __call__(self, real, fake, fake_logits, labels: ClassLabels) -> dict[str, float]:
        logits = fake_logits[:, labels.logit_offset : labels.logit_offset + len(labels.names)]
        hits = (logits.argmax(dim=1) == labels.fake).float()
        results, accuracies, distances = {"class_accuracy": float(hits.mean())}, {}, {}
        for k, name in enumerate(labels.names):
            asked, own = labels.fake == k, real[labels.real == k]
            accuracies[f"class_accuracy/{name}"] = float(hits[asked].mean()) if asked.any() else float("nan")
            enough = int(asked.sum()) >= 2 and len(own) >= 2
            distances[f"class_fd/{name}"] = frechet_distance(own, fake[asked]) if enough else float("nan")
        results["class_fd_mean"] = float(torch.tensor(list(distances.values())).nanmean())
        return {**results, **accuracies, **distances} if self.per_class else results


Score = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], dict[str, float]]


def compute_scores(
    scores: Mapping[str, Score],
    real: torch.Tensor,
    fake: torch.Tensor,
    fake_logits: torch.Tensor,
    labels: ClassLabels | None = None,
):
    """Every score of ``scores`` (name -> score, the instantiated ``metrics.scores``) in one dict; the
    scores of classes (``needs_labels``) are given ``labels``."""
    if not scores:
        raise ConfigError("no score to compute: choose one or more with metrics=fid or metrics=[fid,kid,is]")
    results: dict[str, float] = {}
    for score in scores.values():
        by_class = getattr(score, "needs_labels", False)
        results.update(score(real, fake, fake_logits, labels) if by_class else score(real, fake, fake_logits))
    return results
