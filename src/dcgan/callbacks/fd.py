"""``val/fd`` during training: the Frechet distance of G's samples to the training images, every N steps."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from torch import nn

from dcgan.data import ImageDataModule
from dcgan.errors import ConfigError
from dcgan.images import to_uint8
from dcgan.latents import latents
from dcgan.metrics.features import build_feature_net, extract
from dcgan.metrics.real import real_sets
from dcgan.metrics.scores import frechet_distance

log = logging.getLogger(__name__)


class ValFrechetDistance(Callback):
    """Every ``every_n_steps`` global steps: the Frechet distance between ``num_samples`` images of G (fixed
    latents from ``seed``, ``pl_module.sample``) and ``num_real`` training images (null: as many), in the
    features of the network ``feature`` names among ``features`` (the ``metrics`` config's): the domain
    classifier's for 1-channel datasets, Inception's (FID) for RGB ones.

    Logged as ``key`` (``val/fd``) at that global step and kept in ``trainer.callback_metrics``, so
    ``ModelCheckpoint(monitor="val/fd", mode="min")`` with the same ``every_n_train_steps`` keeps the best
    generator; with ``floor`` also ``<key>_floor``, the FD of the real images against as many other real
    images, and for the face network ``val/face_rate`` (the share of samples with a face found). Measured on
    global rank zero and broadcast to the other ranks; the real-image features are computed once and cached
    in ``cache_dir``.
    """

    def __init__(
        self,
        features: Mapping[str, Callable[[], nn.Module]],
        feature: str,
        cache_dir: str,
        batch_size: int,
        num_real: int | None,
        every_n_steps: int,
        num_samples: int,
        seed: int,
        key: str,
        floor: bool = False,
    ) -> None:
        if int(every_n_steps) <= 0:
            raise ConfigError(f"callbacks.fd.every_n_steps={every_n_steps} is invalid: use a positive integer")
        if int(num_samples) < 2:
            raise ConfigError(f"callbacks.fd.num_samples={num_samples} is invalid: use 2 or more")
        self.features, self.feature, self.cache_dir = features, feature, cache_dir
        self.batch_size, self.num_real = int(batch_size), num_real
        self.every_n_steps, self.num_samples = int(every_n_steps), int(num_samples)
        self.seed, self.key, self.floor = int(seed), key, bool(floor)
        self.net, self.real, self.noise = None, None, None
        self._last_step, self._measured_at = 0, None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit" or not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        if not isinstance(datamodule, ImageDataModule):
            raise ConfigError("callbacks.fd needs the run's ImageDataModule (train with datamodule=...)")
        self.net = build_feature_net(self.features, self.feature, datamodule.channels, datamodule.name)
        device = trainer.strategy.root_device
        num_real = self.num_real or self.num_samples
        self.real = real_sets(datamodule, "train", self.net, num_real, self.cache_dir, self.batch_size, device,
                              self.floor)  # fmt: skip
        self.noise = latents(self.num_samples, pl_module.nz, self.seed)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._last_step = trainer.global_step  # a resumed run measures at the next multiple, not at once

    def logged_keys(self) -> set[str]:
        factory = self.features.get(self.feature)  # a _partial_ factory; "auto" is never the face network
        rates = getattr(getattr(factory, "func", None), "rate_names", ())
        return {self.key, *([f"{self.key}_floor"] if self.floor else []), *(self._rate_key(r) for r in rates)}

    def _rate_key(self, name: str) -> str:
        return f"{self.key.rsplit('/', 1)[0]}/{name}" if "/" in self.key else name

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args) -> None:
        step = trainer.global_step
        # one batch advances global_step by more than one: measure when it crosses a multiple of N
        if step // self.every_n_steps > self._last_step // self.every_n_steps:
            self._last_step = step
            self._publish(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._measured_at != trainer.global_step:  # the end of training is scored too (what a sweep reads)
            self._publish(trainer, pl_module)

    def _publish(self, trainer: Trainer, pl_module: LightningModule) -> None:
        values = self.measure(pl_module) if trainer.is_global_zero else None
        values = trainer.strategy.broadcast(values, src=0)
        self._measured_at = trainer.global_step
        # Straight to the loggers and to callback_metrics (what ModelCheckpoint monitors): a value sent
        # with pl_module.log from this hook would be logged again with every later batch of the epoch.
        trainer.callback_metrics.update({k: torch.tensor(v) for k, v in values.items()})
        for logger in trainer.loggers:
            logger.log_metrics(values, step=trainer.global_step)

    def measure(self, pl_module: LightningModule) -> dict[str, float]:
        """``key``: the Frechet distance of G's images of the fixed latents to the real features; the floor
        and the face rate where there are."""
        start = time.perf_counter()
        images = [to_uint8(pl_module.sample(z)).cpu() for z in self.noise.split(self.batch_size)]
        fake, fake_logits = extract(self.net, images, pl_module.device)
        values = {self.key: frechet_distance(self.real.features, fake)}
        if self.real.floor is not None:
            values[f"{self.key}_floor"] = self.real.floor
        rates = self.net.rates(fake_logits) if hasattr(self.net, "rates") else {}
        values.update({self._rate_key(name): rate for name, rate in rates.items()})
        floor = "" if self.real.floor is None else f", floor {self.real.floor:.4f}"
        rates = "".join(f", {name} {rate:.3f}" for name, rate in rates.items())
        log.info(f"{self.key} {values[self.key]:.4f} ({self.net.kind} features, {len(fake)} samples{floor}{rates}, "
                 f"{time.perf_counter() - start:.1f}s)")  # fmt: skip
        return values
