"""The domain feature network: a small CNN classifier for gray images, saved with what it was trained on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from dcgan.errors import ConfigError
from dcgan.files import atomic_save

TRAIN_COMMAND = "python scripts/train_classifier.py --data-dir DATA_DIR"
# Trained on Fashion-MNIST's 60,000 training images; its record holds the command and the test accuracy.
SHIPPED_CLASSIFIER = Path(__file__).parent / "weights" / "fashion_mnist.pt"


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class GrayClassifier(nn.Module):
    """CNN over 1-channel images resized to 32x32: ``features`` (B, feature_dim) from the penultimate layer,
    ``forward`` class logits. Takes uint8 images (B, 1, H, W) or floats in [-1, 1]."""

    image_size = 32

    def __init__(self, num_classes: int = 10, width: int = 16, feature_dim: int = 128) -> None:
        super().__init__()
        self.num_classes, self.width, self.feature_dim = int(num_classes), int(width), int(feature_dim)
        w = self.width
        self.body = nn.Sequential(
            _conv(1, w), nn.MaxPool2d(2),  # (B, w, 16, 16)
            _conv(w, 2 * w), nn.MaxPool2d(2),  # (B, 2w, 8, 8)
            _conv(2 * w, 4 * w), nn.MaxPool2d(2),  # (B, 4w, 4, 4)
            nn.Flatten(), nn.Linear(4 * w * 16, self.feature_dim), nn.ReLU(inplace=True),  # (B, feature_dim)
        )  # fmt: skip
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(self.feature_dim, self.num_classes))

    def _input(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype == torch.uint8:
            images = images.float().div(127.5).sub(1.0)  # the [-1, 1] range of the GAN's images
        if images.shape[-1] != self.image_size or images.shape[-2] != self.image_size:
            images = F.interpolate(images, size=self.image_size, mode="bilinear", antialias=True)
        return images

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self._input(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


def save_classifier(
    net: GrayClassifier,
    path: str | Path,
    datasets: list[str],
    accuracy: dict[str, float],
    command: str,
    class_offsets: dict[str, int] | None = None,
) -> Path:
    """Write the weights with the architecture, the training datasets (``class_offsets``: where each one's
    classes start among the logits; default: the first at 0), the test accuracy and the command that
    trained it (with the torch version)."""
    record = {
        "command": command,
        "torch": str(torch.__version__),
        "state_dict": net.state_dict(),
        "num_classes": net.num_classes,
        "width": net.width,
        "feature_dim": net.feature_dim,
        "datasets": list(datasets),
        "class_offsets": dict(class_offsets or {datasets[0]: 0}),
        "test_accuracy": dict(accuracy),
    }
    return atomic_save(record, path)


def load_classifier(path: str | Path) -> tuple[GrayClassifier, dict, str]:
    """(classifier in eval mode, its record, a fingerprint of the file). ConfigError if there is none at
    ``path``, naming the command that trains it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"no domain classifier at metrics.classifier={path}: train it once with "
            f"`{TRAIN_COMMAND}` (a few minutes on a CPU), or use metrics.feature=inception"
        )
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
        net = GrayClassifier(record["num_classes"], record["width"], record["feature_dim"])
        net.load_state_dict(record["state_dict"])
    except Exception as error:
        raise ConfigError(
            f"metrics.classifier={path} is not a domain classifier file ({type(error).__name__}: {error}); "
            f"train it again with `{TRAIN_COMMAND}`"
        ) from None
    fingerprint = hashlib.sha1(path.read_bytes()).hexdigest()[:10]
    return net.eval(), record, fingerprint
