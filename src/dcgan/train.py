"""``train(cfg)``: build everything from a composed Hydra config and fit."""

from __future__ import annotations

import logging

import lightning as L
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.strategies import DDPStrategy
from omegaconf import DictConfig, OmegaConf

import dcgan.strategy  # noqa: F401  (registers the GAN DDP strategy as "ddp")
from dcgan.loggers import build_loggers

log = logging.getLogger(__name__)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def build_trainer(cfg: DictConfig) -> L.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = build_loggers(cfg) or False
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers)
    strategy = trainer.strategy
    if _in_multirun() and isinstance(strategy, DDPStrategy) and strategy._start_method == "popen":
        # Lightning's popen launcher re-runs sys.argv (with -m) in each child, so every rank would
        # start the whole sweep (Lightning PR #15689); spawned workers stay inside this job.
        log.info("Hydra multirun: starting DDP with trainer.strategy=ddp_spawn")
        trainer = instantiate(cfg.trainer, strategy="ddp_spawn", callbacks=callbacks, logger=loggers)
    return trainer


def _quiet_duplicate_logs() -> None:
    # `import lightning` adds its own console handler; under Hydra the root logger already prints
    # (and writes train.log), so every Lightning message would appear twice.
    if logging.getLogger().hasHandlers():
        logging.getLogger("lightning").handlers.clear()


def train(cfg: DictConfig) -> dict[str, float]:
    """Train a GAN as ``cfg`` says; returns the last logged metrics (floats)."""
    _quiet_duplicate_logs()
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = instantiate(cfg.dataset)
    model = instantiate(cfg.model)
    # The resolved run config travels in every checkpoint (and to the loggers as the run's config):
    # generate.py / evaluate.py rebuild the nets from it without repeating the training overrides.
    model.save_hyperparameters(OmegaConf.to_container(cfg, resolve=True))
    trainer = build_trainer(cfg)
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"))
    return {k: float(v) for k, v in trainer.callback_metrics.items()}
