"""The domain classifier: scripts/train_classifier.py writes weights with their accuracy."""

from __future__ import annotations

import pytest
import torch

from dcgan.errors import ConfigError
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
