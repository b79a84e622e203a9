"""Face features that work offline: dlib's 128-d face-recognition embeddings (``metrics.feature=face``).

Per image: dlib's HOG frontal face detector (on an image upsampled ``upsample`` times: at 64x64 the faces are
too small for it otherwise), the 5-point landmarks, the aligned ``chip_size`` chip and its 128-d descriptor.
An image where the detector finds no face is embedded anyway, from the box where faces sit in ``fallback_box``
(fractions of the image), so every image counts in the Frechet distance (a non-face lands far from the
faces and raises it) and the detection rate is reported next to it. The model files come with the PyPI
package face-recognition-models (`pip install dcgan[face]`).
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dcgan.errors import ConfigError

MODELS = "face_recognition_models"
LANDMARKS = "shape_predictor_5_face_landmarks.dat"
RECOGNITION = "dlib_face_recognition_resnet_model_v1.dat"
INSTALL = "pip install 'dcgan[face]' (dlib-bin and face-recognition-models)"


def model_file(name: str) -> Path:
    """A model file of the face-recognition-models package. Found without importing the package: its
    ``__init__`` imports ``pkg_resources``, which recent setuptools no longer ships."""
    spec = importlib.util.find_spec(MODELS)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(f"metrics.feature=face needs the face-recognition-models package: {INSTALL}")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise ConfigError(f"metrics.feature=face: {path} is missing: reinstall face-recognition-models")
    return path


class DlibFaceEmbedder:
    """One RGB image (H, W, 3) uint8 -> (128-d descriptor, whether the detector found a face)."""

    def __init__(self, upsample: int, chip_size: int, fallback_box: Sequence[float]) -> None:
        try:
            import dlib  # optional: only metrics.feature=face needs it
        except ImportError:
            raise ConfigError(f"metrics.feature=face needs dlib: {INSTALL}") from None
        self.dlib, self.upsample, self.chip_size = dlib, int(upsample), int(chip_size)
        self.fallback_box = [float(x) for x in fallback_box]
        if len(self.fallback_box) != 4 or not 0 <= self.fallback_box[0] < self.fallback_box[2] <= 1:
            raise ConfigError(
                f"metrics.features.face.embedder.fallback_box={fallback_box} is invalid: "
                "use [left, top, right, bottom], fractions of the image"
            )
        landmarks, recognition = model_file(LANDMARKS), model_file(RECOGNITION)
        self.detector = dlib.get_frontal_face_detector()
        self.landmarks = dlib.shape_predictor(str(landmarks))
        self.recognition = dlib.face_recognition_model_v1(str(recognition))
        digest = hashlib.sha1(landmarks.read_bytes()[: 1 << 20] + recognition.read_bytes()[: 1 << 20]).hexdigest()[:8]
        box = "-".join(f"{x:g}" for x in self.fallback_box)
        self.id = f"dlib-{digest}-up{self.upsample}-chip{self.chip_size}-box{box}"

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        faces = self.detector(image, self.upsample)
        if faces:
            box = max(faces, key=lambda rect: rect.area())
        else:
            height, width = image.shape[:2]
            left, top, right, bottom = self.fallback_box
            box = self.dlib.rectangle(round(left * width), round(top * height), round(right * width),
                                      round(bottom * height))  # fmt: skip
        chip = self.dlib.get_face_chip(image, self.landmarks(image, box), size=self.chip_size)
        return np.asarray(self.recognition.compute_face_descriptor(chip), dtype=np.float32), bool(faces)


class FaceFeatures(nn.Module):
    """uint8 RGB images (B, 3, H, W) -> (embeddings (B, D), (B, 1) logits: 1 where a face was found), from
    ``embedder()`` (``DlibFaceEmbedder`` by default; a ``_target_`` in the config). The face network has no
    classes: its one "logit" is the detection flag, read by ``rates``."""

    kind = "face"
    rate_names = ("face_rate",)

    def __init__(self, embedder: Callable[[], Callable[[np.ndarray], tuple[np.ndarray, bool]]]) -> None:
        super().__init__()
        self.embedder = embedder()
        self.id = f"face-{self.embedder.id}"

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if images.shape[1] != 3:
            raise ConfigError(f"metrics.feature=face is for RGB images (these have {images.shape[1]} channels)")
        pixels = images.permute(0, 2, 3, 1).contiguous().cpu().numpy()
        embedded = [self.embedder(np.ascontiguousarray(image)) for image in pixels]
        features = torch.from_numpy(np.stack([vector for vector, _ in embedded]))
        found = torch.tensor([[float(face)] for _, face in embedded])
        return features, found

    @staticmethod
    def rates(logits: torch.Tensor) -> dict[str, float]:
        """``face_rate``: the share of the images in which the detector found a face."""
        return {"face_rate": float(logits[:, 0].mean())}
