"""SIGUSR1 (the usual SLURM warning signal) saves and stops like SIGTERM, outside SLURM too."""

from __future__ import annotations

import os
import signal

from lightning.pytorch import Callback, LightningModule, Trainer


class Preemption(Callback):
    """Lightning turns SIGTERM into a clean stop with a checkpoint (``Checkpoint.save_on_exception``);
    under SLURM with auto-requeue it handles SIGUSR1 itself. Elsewhere this maps SIGUSR1 to SIGTERM."""

    def __init__(self) -> None:
        self._installed = False

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if hasattr(signal, "SIGUSR1") and signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None):
            signal.signal(signal.SIGUSR1, lambda signum, frame: os.kill(os.getpid(), signal.SIGTERM))
            self._installed = True

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if self._installed:
            signal.signal(signal.SIGUSR1, signal.SIG_DFL)
            self._installed = False
