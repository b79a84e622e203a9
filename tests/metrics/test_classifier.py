"""The domain classifier: scripts/train_classifier.py writes weights with their accuracy."""

from __future__ import annotations

import pytest
import torch

from dcgan.errors import ConfigError
from dcgan.metrics.classifier import SHIPPED_CLASSIFIER
from dcgan.metrics.features import DomainFeatures


def test_train_classifier_script_writes_weights_and_accuracy(classifier_file):
    record = torch.load(classifier_file, weights_only=True)
    assert record["datasets"] == ["fashion_mnist", "mnist"]  # both fixture datasets, 10 classes each
    assert record["num_classes"] == 20
    assert set(record["test_accuracy"]) == {"fashion_mnist", "mnist"}
    assert all(0.0 <= acc <= 1.0 for acc in record["test_accuracy"].values())


def test_missing_classifier_names_the_script(tmp_path):
    with pytest.raises(ConfigError, match="scripts/train_classifier.py"):
        DomainFeatures(tmp_path / "none.pt")


def test_the_shipped_classifier_records_how_it_was_trained():
    record = torch.load(SHIPPED_CLASSIFIER, weights_only=True)
    assert record["datasets"] == ["fashion_mnist"] and record["num_classes"] == 10
    assert record["test_accuracy"]["fashion_mnist"] >= 0.9  # on the 10,000 test images
    assert record["command"].startswith("python scripts/train_classifier.py --data-dir")
    assert "--datasets fashion_mnist" in record["command"]
    assert SHIPPED_CLASSIFIER.stat().st_size < 1_000_000
