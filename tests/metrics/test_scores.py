"""The score functions on features: FD, KID and IS values a user can check by hand."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from dcgan.config import compose
from dcgan.errors import ConfigError
from dcgan.metrics.scores import (
    ClassAccuracy,
    ClassLabels,
    InceptionScore,
    KernelDistance,
    compute_scores,
    frechet_distance,
)


def _features(n: int = 2000, dim: int = 8, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def test_frechet_distance_of_a_set_with_itself_is_zero():
    features = _features()
    assert abs(frechet_distance(features, features)) < 1e-3


def test_frechet_distance_of_shifted_sets_is_the_squared_shift():
    features = _features()
    # same covariance: FD = ||mean shift||^2 = dim * shift^2
    assert frechet_distance(features, features + 1.0) == pytest.approx(8.0, rel=1e-3)
    assert frechet_distance(features, features + 2.0) == pytest.approx(32.0, rel=1e-3)


def test_frechet_distance_sees_a_change_of_spread():
    features = _features()
    assert frechet_distance(features, 2 * features) == pytest.approx(8.0, rel=0.1)  # dim * (2 - 1)^2


def test_kernel_distance_near_zero_for_one_distribution_positive_for_two():
    real, same, shifted = _features(seed=0), _features(seed=1), _features(seed=2) + 1.0
    kid = KernelDistance(subsets=10, subset_size=500, seed=0)
    same, shifted = kid(real, same, None), kid(real, shifted, None)
    assert abs(same["kid_mean"]) < 0.05 < shifted["kid_mean"]
    assert shifted["kid_std"] >= 0


def test_inception_score_counts_confident_evenly_spread_classes():
    classes = torch.arange(400) % 4
    logits = torch.nn.functional.one_hot(classes, 10).float() * 50  # certain of each image, 4 classes equally
    score = InceptionScore(splits=2, seed=0)
    # each random split holds the 4 classes about equally
    assert score(None, None, logits)["is_mean"] == pytest.approx(4.0, rel=0.02)
    one_class = torch.zeros(400, 10).index_fill_(1, torch.tensor([3]), 50.0)
    assert score(None, None, one_class)["is_mean"] == pytest.approx(1.0, rel=1e-3)


def test_the_score_registry_of_the_config():
    real, fake = _features(200, seed=0), _features(200, seed=1)
    metrics = compose("evaluate", ["metrics=[fid,kid,is]", "metrics.scores.kid.subsets=3"]).metrics
    scores = compute_scores(instantiate(metrics.scores), real, fake, fake)
    assert set(scores) == {"fid", "kid_mean", "kid_std", "is_mean", "is_std"}
    assert all(torch.isfinite(torch.tensor(v)) for v in scores.values())
    with pytest.raises(ConfigError, match="metrics=fid or metrics=\\[fid,kid,is\\]"):
        compute_scores({}, real, fake, fake)


def test_class_accuracy_counts_the_asked_class_among_the_datasets_logits():
    names = ["a", "b", "c"]
    asked = torch.tensor([0, 1, 2, 0, 1, 2])
    # logits of a 5-class classifier whose classes 2..4 are this dataset's (offset 2); logit 0 is always the largest
    logits = torch.full((6, 5), -5.0)
    logits[:, 0] = 10.0
    logits[torch.arange(6), 2 + torch.tensor([0, 1, 2, 0, 1, 1])] = 1.0  # the last image looks like class b
    real = torch.cat([_features(300, seed=k) + 3 * k for k in range(3)])
    real_labels = torch.arange(3).repeat_interleave(300)
    fake = torch.cat([_features(2, seed=10 + k) + 3 * k for k in (0, 1, 2)])[[0, 2, 4, 1, 3, 5]]
    labels = ClassLabels(real_labels, asked, names, logit_offset=2)
    scores = compute_scores({"class_accuracy": ClassAccuracy(per_class=True)}, real, fake, logits, labels)
    assert scores["class_accuracy"] == pytest.approx(5 / 6)
    assert [scores[f"class_accuracy/{n}"] for n in names] == [1.0, 1.0, 0.5]
    fd = [scores[f"class_fd/{n}"] for n in names]
    assert scores["class_fd_mean"] == pytest.approx(sum(fd) / 3, rel=1e-5)
    assert fd == [pytest.approx(frechet_distance(real[real_labels == k], fake[asked == k]), rel=1e-5) for k in range(3)]
    mixed = ClassLabels(real_labels, asked.roll(1), names, 2)  # each fake compared with another class's reals
    assert compute_scores({"c": ClassAccuracy(per_class=False)}, real, fake, logits, mixed)["class_fd_mean"] > 2 * max(
        fd
    )
    assert set(compute_scores({"c": ClassAccuracy(per_class=False)}, real, fake, logits, labels)) == {
        "class_accuracy", "class_fd_mean"}  # fmt: skip
