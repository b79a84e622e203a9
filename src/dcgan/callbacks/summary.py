"""A one-line summary when training ends: iterations, steps, time, images/s, last losses, where outputs went."""

from __future__ import annotations

import time
from datetime import timedelta

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info

from dcgan.loggers import WandbLogger

# Logged key -> how the summary names it.
SHOWN = {"train/loss_d": "loss_d", "train/loss_g": "loss_g", "train/d_real": "D(x)", "train/d_fake": "D(G(z))"}


class RunSummary(Callback):
    """Measures training throughput (images/s over all ranks, first ``warmup`` batches excluded)."""

    def __init__(self, warmup: int = 5) -> None:
        self.warmup = int(warmup)
        self.images = self.batches = 0
        self.start: float | None = None
        self.train_start: float | None = None
        self.images_per_sec: float | None = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.train_start = time.perf_counter()

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        self.batches += 1
        if self.batches == self.warmup:
            self.start = time.perf_counter()
        elif self.batches > self.warmup:
            real = batch[0] if isinstance(batch, (list, tuple)) else batch
            self.images += real.shape[0] * trainer.world_size

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.start is not None and self.images:
            self.images_per_sec = self.images / (time.perf_counter() - self.start)
        rank_zero_info(self.line(trainer))

    def line(self, trainer: Trainer) -> str:
        """The summary as one line."""
        elapsed = timedelta(seconds=round(time.perf_counter() - (self.train_start or time.perf_counter())))
        rate = f"{self.images_per_sec:,.0f} img/s" if self.images_per_sec else "img/s n/a (too few batches)"
        metrics = trainer.callback_metrics
        last = ", ".join(f"{name} {float(metrics[key]):.3g}" for key, name in SHOWN.items() if key in metrics)
        parts = [
            f"Run summary: {self.batches} iterations ({trainer.global_step} optimizer steps) in {elapsed}",
            rate,
            *([last] if last else []),
            f"outputs in {trainer.default_root_dir}",
        ]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and logger.run_dir is not None:
                offline = logger.experiment.settings.mode in ("offline", "dryrun")
                parts.append(f"W&B run {logger.run_dir}" + (" (offline: `wandb sync` it)" if offline else ""))
        return ", ".join(parts)
