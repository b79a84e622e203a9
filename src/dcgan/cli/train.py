"""``train(cfg)``: build everything from a composed Hydra config and fit."""

from __future__ import annotations

import logging
import os
import warnings

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch import Trainer
from lightning.pytorch.accelerators import CPUAccelerator, CUDAAccelerator
from lightning.pytorch.strategies import DDPStrategy
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from omegaconf import DictConfig, OmegaConf, open_dict

import dcgan.training.strategy  # noqa: F401  (registers the GAN DDP strategy as "ddp")
from dcgan.checkpoints import AtomicCheckpointIO, check_compatible, prepare_folders, resolve_ckpt_path, resume_problem
from dcgan.cli.run_folder import claimed
from dcgan.errors import ConfigError
from dcgan.loggers import build_loggers
from dcgan.training.module import DCGAN

log = logging.getLogger(__name__)


def _in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _instantiate_trainer(cfg: DictConfig, **kwargs) -> L.Trainer:
    try:
        return instantiate(cfg.trainer, plugins=[AtomicCheckpointIO()], **kwargs)
    except Exception as error:  # Lightning's MisconfigurationException (e.g. more GPUs than exist)
        cause = error.__cause__ or error
        if isinstance(cause, (MisconfigurationException, ValueError)) and not isinstance(cause, ConfigError):
            raise ConfigError(f"trainer: {' '.join(str(cause).split())}") from error
        raise


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


def build_trainer(cfg: DictConfig) -> L.Trainer:
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    loggers = build_loggers(cfg) or False
    trainer = _instantiate_trainer(cfg, callbacks=callbacks, logger=loggers)
    check_hardware(trainer, cfg.trainer.precision)
    strategy = trainer.strategy
    if (
        _in_multirun()
        and isinstance(strategy, DDPStrategy)
        and strategy._start_method == "popen"
        and not strategy.cluster_environment.creates_processes_externally  # SLURM, torchrun start the ranks
    ):
        # Lightning's popen launcher re-runs sys.argv (with -m) in each child, so every rank would
        # start the whole sweep (Lightning PR #15689); spawned workers stay inside this job.
        log.info("Hydra multirun: starting DDP with trainer.strategy=ddp_spawn")
        trainer = _instantiate_trainer(cfg, strategy="ddp_spawn", callbacks=callbacks, logger=loggers)
    return trainer


class _Drop(logging.Filter):
    """Drops the log records whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        return self.text not in record.getMessage()


def _quiet_third_party() -> None:
    """What a user should not have to read: Lightning's litlogger advertisement, deprecation warnings of
    the libraries' own internals (torchdata's set_vital, Lightning's LeafSpec), Lightning's advice to save the
    state before the optimizer steps and its warning that the loader cannot resume (both wrong here); and
    Lightning's console handlers, which bypass Hydra's (train.log, and the lines printed above the progress bar)."""
    if logging.getLogger().hasHandlers():  # under Hydra: the root logger prints and writes train.log
        for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
    rank_zero = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _Drop) for f in rank_zero.filters):
        rank_zero.addFilter(_Drop("litlogger"))
    warnings.filterwarnings("ignore", message=".*set_vital.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # 13 lines at every periodic save: the state after the optimizer steps is what this kit checkpoints
    warnings.filterwarnings("ignore", message=".*manual optimization and every_n_train_steps.*")
    # periodic checkpoints under manual optimization hold the state after the iteration's steps: what resumes
    warnings.filterwarnings("ignore", message=".*no pre-optimization state was saved.*")
    # the DataModule, not the loader, keeps the data order (ImageDataModule.state_dict): a mid-epoch resume is exact
    warnings.filterwarnings("ignore", message=".*your dataloader is not resumable.*")
    # a resume into its own folder: the run folder's lock already refuses a new run over another's checkpoints
    warnings.filterwarnings("ignore", message=".*exists and is not empty.*")


def check_optimized_metric(metric: str | None, model: DCGAN, trainer: L.Trainer) -> None:
    """ConfigError before training if the metric a sweep optimizes is one this run will never log."""
    if not metric:
        return
    logged = model.logged_keys().union(*(cb.logged_keys() for cb in trainer.callbacks if hasattr(cb, "logged_keys")))
    if metric not in logged:
        hint = " (val/fd needs callbacks=[default,fd])" if metric.startswith("val/") else ""
        raise ConfigError(
            f"optimized_metric={metric} is never logged by this run{hint}: use one of {', '.join(sorted(logged))}"
        )


def set_classes(cfg: DictConfig, names: list[str]) -> None:
    """A class-conditional run's classes into the nets' configs (stored with the run, so every checkpoint
    rebuilds its nets and names its classes)."""
    with open_dict(cfg):
        cfg.generator.num_classes = cfg.discriminator.num_classes = len(names)
        cfg.generator.class_names = list(names)


def train(cfg: DictConfig) -> dict[str, float]:
    """Train a GAN as ``cfg`` says into its run folder (``paths.output_dir``, held for the run: see
    ``dcgan.cli.run_folder``); returns the last logged metrics (floats)."""
    with claimed(cfg.paths.output_dir, cfg.get("ckpt_path")):
        return _train(cfg)


def _train(cfg: DictConfig) -> dict[str, float]:
    _quiet_third_party()
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)
    datamodule = None
    if cfg.model.get("conditional"):  # the nets' class count comes from the data: find it first
        datamodule = instantiate(cfg.dataset)
        set_classes(cfg, datamodule.class_names())
    model = instantiate(cfg.model)  # else first: a config the nets refuse stops before any data is touched
    datamodule = datamodule or instantiate(cfg.dataset)
    # The resolved run config travels in every checkpoint (and to the loggers as the run's config):
    # generate.py / evaluate.py rebuild the nets from it without repeating the training overrides.
    model.save_hyperparameters(OmegaConf.to_container(cfg, resolve=True))
    ckpt_path = resolve_ckpt_path(
        cfg.get("ckpt_path"),
        cfg.paths.output_dir,
        cfg.paths.get("runs_dir", "outputs"),
        problem=lambda checkpoint: resume_problem(checkpoint, model, datamodule.identity()),
    )
    if ckpt_path is not None:
        check_compatible(ckpt_path, model, datamodule.identity())
        log.info(f"Resuming from {ckpt_path}")
    trainer = build_trainer(cfg)
    check_optimized_metric(cfg.get("optimized_metric"), model, trainer)
    if trainer.is_global_zero:  # the folders the run writes, found unwritable now and not at the first save
        checkpoints = getattr(trainer.checkpoint_callback, "dirpath", None)
        prepare_folders({"hydra.run.dir": cfg.paths.output_dir, "callbacks.model_checkpoint.dirpath": checkpoints})
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    # the last iteration's statistics (logged or not: logging runs every log_every_n_steps) and the rest
    return {k: float(v) for k, v in {**trainer.callback_metrics, **model.stats}.items()}
