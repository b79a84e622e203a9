"""Throughput to the loggers while training, and a one-line summary when training ends."""

from __future__ import annotations

import time
from datetime import timedelta

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ThroughputMonitor
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only

from dcgan.data import split_batch
from dcgan.loggers import WandbLogger

# Logged key -> how the summary and the progress bar name it.
SHOWN = {"train/loss_d": "loss_d", "train/loss_g": "loss_g", "train/d_real": "D(x)", "train/d_fake": "D(G(z))"}


def batch_size(batch) -> int:
    """The images in a training batch (images, or (images, labels))."""
    return len(split_batch(batch)[0])


class RunSummary(ThroughputMonitor):
    """Lightning's ThroughputMonitor over the image batches (``train/time``, ``train/samples``,
    ``train/samples_per_sec`` over the last ``window_size`` logging steps, ...), measured and logged at the
    steps the Trainer logs (the host waits for the GPU there only), against ``trainer.global_step``.
    When training ends: iterations, optimizer steps, time, images/s, the last losses, where outputs went."""

    def __init__(self, window_size: int) -> None:
        super().__init__(batch_size_fn=batch_size, window_size=int(window_size))
        self.batches, self.measured = 0, 0
        self.last: dict[str, float] = {}

    @rank_zero_only
    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, *args) -> None:
        stage = trainer.state.stage
        self.batches += 1
        self._batches[stage] += 1
        self._samples[stage] += batch_size(batch)
        if trainer._logger_connector.should_update_logs:
            self._measure(trainer)

    def _measure(self, trainer: Trainer) -> None:
        stage = trainer.state.stage
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()  # the time of the work queued so far
        throughput = self._throughputs[stage]
        throughput.update(
            time=time.perf_counter() - self._t0s[stage], batches=self._batches[stage], samples=self._samples[stage]
        )
        self.last = {f"{stage.value}{throughput.separator}{k}": v for k, v in throughput.compute().items()}
        trainer._logger_connector.log_metrics(dict(self.last), step=trainer.global_step)
        self.measured = self.batches

    def logged_keys(self) -> set[str]:
        return {"train/time", "train/batches", "train/samples", "train/device/samples_per_sec"}

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.is_global_zero and self.measured < self.batches:
            self._measure(trainer)
        rank_zero_info(self.line(trainer))

    def line(self, trainer: Trainer) -> str:
        """The summary as one line."""
        last = self.last
        elapsed = timedelta(seconds=round(last.get("train/time", 0.0)))
        rate = last.get("train/samples_per_sec", last.get("train/device/samples_per_sec"))
        if rate is None and last.get("train/time"):
            rate = last["train/samples"] * trainer.world_size / last["train/time"]
        stats = trainer.lightning_module.stats
        losses = ", ".join(f"{name} {float(stats[key]):.3g}" for key, name in SHOWN.items() if key in stats)
        parts = [
            f"Run summary: {self.batches} iterations ({trainer.global_step} optimizer steps) in {elapsed}",
            f"{rate:,.0f} img/s" if rate else "img/s n/a (too few batches)",
            *([losses] if losses else []),
            f"outputs in {trainer.default_root_dir}",
        ]
        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger) and logger.run_dir is not None:
                offline = logger.experiment.settings.mode in ("offline", "dryrun")
                parts.append(f"W&B run {logger.run_dir}" + (" (offline: `wandb sync` it)" if offline else ""))
        return ", ".join(parts)
