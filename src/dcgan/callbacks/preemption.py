"""SIGUSR1 (the usual SLURM warning signal) and a first Ctrl-C (SIGINT) save and stop like SIGTERM."""

from __future__ import annotations

import logging
import os
import signal

from lightning.pytorch import Callback, LightningModule, Trainer

log = logging.getLogger(__name__)


class Preemption(Callback):
    """Lightning turns SIGTERM into a stop at the end of the current iteration with a checkpoint
    (``Checkpoint.save_on_exception``) and exit code 0; under SLURM with auto-requeue it handles SIGUSR1 itself.
    Elsewhere this maps SIGUSR1 to SIGTERM, and a first SIGINT (Ctrl-C, ``timeout -s INT``) too: a second one
    stops at once, saving nothing in the middle of an iteration. The loader workers ignore all three
    (``dcgan.data.workers``): a signal to the whole process group reaches the training process alone."""

    def __init__(self) -> None:
        self._replaced: dict[int, object] = {}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if hasattr(signal, "SIGUSR1") and signal.getsignal(signal.SIGUSR1) in (signal.SIG_DFL, None):
            self._replace(signal.SIGUSR1, self._as_sigterm)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._replace(signal.SIGINT, self._interrupt)

    def _replace(self, signum: int, handler) -> None:
        self._replaced[signum] = signal.signal(signum, handler)

    @staticmethod
    def _as_sigterm(signum, frame) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    def _interrupt(self, signum, frame) -> None:
        log.warning("interrupted: stopping at the end of this iteration with a checkpoint (again to stop at once)")
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.kill(os.getpid(), signal.SIGTERM)

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for signum, handler in self._replaced.items():
            signal.signal(signum, handler)
        self._replaced.clear()
