"""A one-line summary when training ends: iterations, global steps, images/s, where outputs went."""

from __future__ import annotations

import time

from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.utilities import rank_zero_info


class RunSummary(Callback):
    """Measures training throughput (images/s over all ranks, first ``warmup`` batches excluded)."""

    def __init__(self, warmup: int = 5) -> None:
        self.warmup = int(warmup)
        self.images = self.batches = 0
        self.start: float | None = None
        self.images_per_sec: float | None = None

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
        rate = f"{self.images_per_sec:,.0f} img/s" if self.images_per_sec else "img/s n/a (too few batches)"
        rank_zero_info(
            f"Run summary: {self.batches} iterations ({trainer.global_step} optimizer steps), {rate}, "
            f"outputs in {trainer.default_root_dir}"
        )
