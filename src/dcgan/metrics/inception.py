"""The FID Inception-v3 (torch-fidelity's port of the TF 2015-12-05 graph, through torchmetrics) and its weights.

One network serves FID, KID and IS: built once from ``metrics.inception_weights`` (a local file) or from
the torch hub cache (``$TORCH_HOME/hub/checkpoints``, filled by the normal download), so the local-file
option covers all three scores, not only torchmetrics' FID.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from torchmetrics.image.fid import NoTrainInceptionV3

from dcgan.errors import ConfigError

WEIGHTS_URL = (
    "https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/weights-inception-2015-12-05-6726825d.pth"
)
WEIGHTS_ID = "inception-2015-12-05"


def hub_weights_file() -> Path:
    """Where the normal download puts the weights (and where they are looked up first)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_URL.rsplit("/", 1)[-1]


def _download(destination: Path) -> None:
    destination.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(WEIGHTS_URL, str(destination), progress=False)


def inception_weights(path: str | Path | None = None) -> Path:
    """The weights file: ``path`` when given, else the hub cache, downloading into it once. ConfigError
    (one line, with both ways out) when neither a local file nor the download is available."""
    if path:
        path = Path(path).expanduser()
        if not path.is_file():
            raise ConfigError(f"metrics.inception_weights={path}: no such file")
        return path
    cached = hub_weights_file()
    if not cached.is_file():
        try:
            _download(cached)
        except Exception as error:  # URLError, HTTPError, timeouts, a read-only cache ...
            reason = " ".join(str(error).split()) or type(error).__name__
            raise ConfigError(
                f"Inception weights unavailable: not in {cached.parent} and the download failed ({reason}). "
                f"Copy {WEIGHTS_URL.rsplit('/', 1)[-1]} here and pass metrics.inception_weights=PATH, "
                "or use metrics.feature=domain (1-channel datasets)"
            ) from None
    return cached


class InceptionFeatures(NoTrainInceptionV3):
    """uint8 images (B, 1 or 3, H, W) -> (2048-d pool features, 1008 unbiased logits), resized to 299 with
    the TF1-compatible bilinear resize (``antialias=False``) of the published FID/IS numbers. The weights:
    ``weights_path``, else the hub cache (see ``inception_weights``)."""

    kind, id = "inception", WEIGHTS_ID

    def __init__(self, weights_path: str | Path | None) -> None:
        weights_path = inception_weights(weights_path)
        try:
            super().__init__("inception-v3-compat", ["2048", "logits_unbiased"], str(weights_path), antialias=False)
        except (RuntimeError, KeyError, OSError, ValueError, pickle.UnpicklingError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise ConfigError(
                f"metrics.inception_weights={weights_path} holds no Inception weights ({first})"
            ) from None

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        pool, logits = self._torch_fidelity_forward(images)
        return pool, logits
