"""Train the domain classifier on labelled gray datasets (Fashion-MNIST, MNIST) and measure its test accuracy."""

from __future__ import annotations

import logging
import math
import time

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchmetrics.classification import MulticlassAccuracy
from torchvision.transforms import v2

from dcgan.errors import ConfigError
from dcgan.metrics.classifier import GrayClassifier

log = logging.getLogger(__name__)

Labelled = tuple[torch.Tensor, torch.Tensor]  # uint8 images (N, 1, H, W), int64 labels (N,)


def load_labelled(dataset: Dataset, image_size: int = GrayClassifier.image_size) -> Labelled:
    """The images and labels of an MNIST-style torchvision dataset (``data``, ``targets`` tensors), resized
    to ``image_size`` (bilinear, antialiased, as the GAN's image pipeline)."""
    data, targets = getattr(dataset, "data", None), getattr(dataset, "targets", None)
    if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8 or data.dim() != 3:
        raise ConfigError(f"{type(dataset).__name__} is not an MNIST-style dataset of gray uint8 images")
    images = v2.functional.resize(data.unsqueeze(1), [image_size, image_size], antialias=True)
    return images, torch.as_tensor(targets).long()


@torch.no_grad()
def accuracy(net: GrayClassifier, data: Labelled, batch_size: int = 1000) -> float:
    """Top-1 accuracy of ``net`` (in eval mode) on ``data``."""
    net.eval()
    metric = MulticlassAccuracy(net.num_classes, average="micro")
    images, labels = data
    for i in range(0, len(images), batch_size):
        metric.update(net(images[i : i + batch_size]), labels[i : i + batch_size])
    return float(metric.compute())


def fit_classifier(
    train: Labelled,
    test: dict[str, Labelled],
    num_classes: int,
    epochs: int = 2,
    batch_size: int = 128,
    lr: float = 2e-3,
    seed: int = 0,
    width: int = 16,
) -> tuple[GrayClassifier, dict[str, float]]:
    """Adam with a cosine learning-rate decay; returns the net in eval mode and its accuracy on each test set."""
    torch.manual_seed(seed)
    net = GrayClassifier(num_classes, width=width)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    images, labels = train
    steps_per_epoch = math.ceil(len(images) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=max(epochs * steps_per_epoch, 1))
    for epoch in range(epochs):
        start, net = time.perf_counter(), net.train()
        order = torch.randperm(len(images))
        total = 0.0
        for i in range(0, len(images), batch_size):
            index = order[i : i + batch_size]
            loss = F.cross_entropy(net(images[index]), labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += float(loss.detach()) * len(index)
        log.info(f"epoch {epoch + 1}/{epochs}: loss {total / len(images):.4f} ({time.perf_counter() - start:.0f}s)")
    scores = {name: accuracy(net, data) for name, data in test.items()}
    return net.eval(), scores
