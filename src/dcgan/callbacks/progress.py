"""The rich progress bar: the live losses and D's outputs under short names, the right total, log lines
above the bar."""

from __future__ import annotations

import logging
import math
import sys

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

from dcgan.callbacks.summary import SHOWN


class ProgressBar(RichProgressBar):
    """RichProgressBar showing the module's progress-bar metrics as the PyTorch tutorial prints them:
    ``loss_d``, ``loss_g``, ``D(x)`` and ``D(G(z))`` before / after the D update (``0.512 / 0.431``),
    without ``v_num``. It reads nothing else, so ``model.prog_bar=false`` still means no host sync per step
    for the bar. Its total (and ETA) stops where ``trainer.max_steps`` does, counted in batches
    (``d_steps_per_g + 1`` optimizer steps each). While it is drawn, log lines print above it."""

    def __init__(self, **kwargs) -> None:  # RichProgressBar's options (theme, console_kwargs ...)
        super().__init__(**kwargs)
        self._streams: list[tuple[logging.StreamHandler, object]] = []

    @property
    def total_train_batches(self) -> int | float:
        trainer = self.trainer
        total = trainer.num_training_batches
        if trainer.max_steps is not None and trainer.max_steps > 0:
            steps_per_batch = getattr(trainer.lightning_module, "d_steps_per_g", 0) + 1
            loop = trainer.fit_loop.epoch_loop  # read as the bar is set up (at an epoch start)
            done = loop.batch_progress.current.completed if loop.restarting else 0  # a resume starts mid-epoch
            total = min(total, done + math.ceil((trainer.max_steps - trainer.global_step) / steps_per_batch))
        return total

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int) -> None:
        if self.progress is not None and self.train_progress_bar_id is None:
            # a mid-epoch resume skips on_train_epoch_start, where RichProgressBar adds its bar
            self.on_train_epoch_start(trainer, pl_module)
        super().on_train_batch_start(trainer, pl_module, batch, batch_idx)

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        after = metrics.pop("train/d_fake_after", None)
        if after is not None and "train/d_fake" in metrics:
            metrics["train/d_fake"] = f"{float(metrics['train/d_fake']):.3f} / {float(after):.3f}"
        return {SHOWN.get(key, key): value for key, value in metrics.items()}

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        # Rich's live display replaced sys.stdout/stderr with proxies that print above the bar; console
        # log handlers still hold the real streams, which would write over it.
        proxies = {sys.__stdout__: sys.stdout, sys.__stderr__: sys.stderr}
        for handler in logging.getLogger().handlers:
            stream = getattr(handler, "stream", None)
            if isinstance(handler, logging.StreamHandler) and proxies.get(stream, stream) is not stream:
                self._streams.append((handler, handler.setStream(proxies[stream])))

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        for handler, stream in self._streams:
            handler.setStream(stream)
        self._streams = []
        super().teardown(trainer, pl_module, stage)
