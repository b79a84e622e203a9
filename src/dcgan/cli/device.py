"""The device of the command-line tools (generate.py, evaluate.py)."""

from __future__ import annotations

import torch

from dcgan.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """``auto`` -> cuda if there is a GPU else cpu; a CUDA device without a GPU is a ConfigError."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device={name}: no CUDA GPU here, use device=cpu")
    return torch.device(name)
