"""``val/fd`` during training: the Frechet distance of G's samples to the training images, every N steps."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import torch
from lightning.pytorch import Callback, LightningModule, Trainer

from dcgan.data import ImageDataModule
from dcgan.errors import ConfigError
from dcgan.generate import latents, to_uint8
from dcgan.metrics.features import build_feature_net, extract
from dcgan.metrics.real import real_features
from dcgan.metrics.scores import frechet_distance

log = logging.getLogger(__name__)


class ValFrechetDistance(Callback):
    """Every ``every_n_steps`` global steps: the Frechet distance between ``num_samples`` images of G (fixed
    latents, ``pl_module.sample``) and the training images, in the features ``settings`` (the ``metrics``
    config) choose: the domain classifier's for 1-channel datasets, Inception's (FID) for RGB ones.

    Logged as ``key`` (``val/fd``) at that global step and kept in ``trainer.callback_metrics``, so
    ``ModelCheckpoint(monitor="val/fd", mode="min")`` with the same ``every_n_train_steps`` keeps the best
    generator. Measured on global rank zero and broadcast to the other ranks; the real-image features are
    computed once and cached in ``settings.cache_dir``.
    """

    def __init__(
        self, settings: Mapping, every_n_steps: int = 2000, num_samples: int = 2000, seed: int = 0, key: str = "val/fd"
    ) -> None:
        if int(every_n_steps) <= 0:
            raise ConfigError(f"callbacks.fd.every_n_steps={every_n_steps} is invalid: use a positive integer")
        if int(num_samples) < 2:
            raise ConfigError(f"callbacks.fd.num_samples={num_samples} is invalid: use 2 or more")
        self.settings, self.every_n_steps, self.num_samples = settings, int(every_n_steps), int(num_samples)
        self.seed, self.key = int(seed), key
        self.net, self.real, self.noise = None, None, None
        self._last_step = 0

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit" or not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        if not isinstance(datamodule, ImageDataModule):
            raise ConfigError("callbacks.fd needs the run's ImageDataModule (train with datamodule=...)")
        self.net = build_feature_net(self.settings, datamodule.channels)
        num_real = self.settings.get("num_real") or self.num_samples
        device = trainer.strategy.root_device
        batch_size = int(self.settings.get("batch_size", 250))
        cache_dir = self.settings["cache_dir"]
        self.real = real_features(datamodule, "train", self.net, num_real, cache_dir, batch_size, device)
        self.noise = latents(self.num_samples, pl_module.nz, self.seed)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_step = trainer.global_step  # a resumed run measures at the next multiple, not at once

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args) -> None:
        step = trainer.global_step
        # one batch advances global_step by d_steps_per_g + 1: measure when it crosses a multiple of N
        if step // self.every_n_steps > self._last_step // self.every_n_steps:
            self._last_step = step
            value = self.measure(pl_module) if trainer.is_global_zero else float("nan")
            value = trainer.strategy.broadcast(value, src=0)
            # Straight to the loggers and to callback_metrics (what ModelCheckpoint monitors): a value sent
            # with pl_module.log from this hook would be logged again with every later batch of the epoch.
            trainer.callback_metrics[self.key] = torch.tensor(value)
            for logger in trainer.loggers:
                logger.log_metrics({self.key: value}, step=step)

    def measure(self, pl_module: LightningModule) -> float:
        """The Frechet distance of G's images of the fixed latents to the real features."""
        start = time.perf_counter()
        batch_size = int(self.settings.get("batch_size", 250))
        images = [to_uint8(pl_module.sample(z)).cpu() for z in self.noise.split(batch_size)]
        fake, _ = extract(self.net, images, pl_module.device)
        value = frechet_distance(self.real, fake)
        log.info(f"{self.key} {value:.4f} ({self.net.kind} features, {len(fake)} samples, "
                 f"{time.perf_counter() - start:.1f}s)")  # fmt: skip
        return value
