"""Checks of the Trainer settings against this machine, before any training starts."""

from __future__ import annotations

import os

import torch
from lightning.pytorch import Trainer
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator

from dcgan.errors import ConfigError


def check_hardware(trainer: Trainer, precision: str | int) -> None:
    """Precision the hardware lacks, more CPU processes than cores: one clear error each."""
    precision = str(precision)
    if isinstance(trainer.accelerator, CPUAccelerator):
        if precision.startswith("16"):
            raise ConfigError(
                f"trainer.precision={precision} needs a CUDA GPU (no fp16 autocast on CPU): use bf16-mixed or 32-true"
            )
        cores = os.cpu_count() or 1
        if trainer.num_devices > cores:
            raise ConfigError(
                f"trainer.devices={trainer.num_devices} starts more CPU processes than this machine has cores "
                f"({cores}): use trainer.devices<={cores}"
            )
    if isinstance(trainer.accelerator, CUDAAccelerator) and precision.startswith("bf16"):
        if not torch.cuda.is_bf16_supported():
            raise ConfigError(f"trainer.precision={precision}: this GPU has no bfloat16; use 16-mixed")
