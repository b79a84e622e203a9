"""Experiment loggers from config; W&B falls back to offline mode when there is no login."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.loggers import WandbLogger as _LightningWandbLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_only
from omegaconf import DictConfig, open_dict
from PIL import Image


def wandb_logged_in() -> bool:
    """True when W&B has an API key: WANDB_API_KEY or a ~/.netrc entry for api.wandb.ai."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC", Path.home() / ".netrc")).authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


def multirun_group() -> str | None:
    """In a Hydra multirun, the sweep folder's last two parts (``2026-01-31/12-00-00``), else None."""
    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.MULTIRUN:
        return None
    return "/".join(Path(HydraConfig.get().sweep.dir).parts[-2:])


class WandbLogger(_LightningWandbLogger):
    """Lightning's WandbLogger, plus: ``group=None`` inside a Hydra multirun groups the sweep's runs by
    its folder, and the W&B run is finished when training ends, so every job of a multirun (all in one
    process) gets a run of its own instead of reusing the first."""

    def __init__(self, *args, group: str | None = None, **kwargs) -> None:
        super().__init__(*args, group=group if group is not None else multirun_group(), **kwargs)
        if self._wandb_init.get("anonymous") is None:  # wandb warns about the key even when unset
            self._wandb_init.pop("anonymous", None)

    @property
    def run_dir(self) -> Path | None:
        """The local run folder (``wandb/offline-run-*`` offline), once the run has started."""
        return None if self._experiment is None else Path(self._experiment.dir).parent

    @rank_zero_only
    def finalize(self, status: str) -> None:
        super().finalize(status)
        if self._experiment is not None:
            self._experiment.finish(exit_code=0 if status == "success" else 1)
            self._experiment = None


def log_image(logger: Logger, key: str, picture: Image.Image, step: int) -> None:
    """Send a picture (as written to the run folder) to a logger that takes images (W&B, TensorBoard);
    others skip it. Pixels go as uint8: W&B's Image casts float tensors to uint8 without scaling."""
    pixels = np.asarray(picture.convert("RGB"))  # (H, W, 3) uint8
    if isinstance(logger, _LightningWandbLogger):
        logger.log_image(key=key, images=[pixels], step=step)
    elif isinstance(logger, TensorBoardLogger):
        logger.experiment.add_image(key, pixels, global_step=step, dataformats="HWC")


def build_loggers(cfg: DictConfig) -> list[Logger]:
    loggers = []
    for conf in (cfg.get("logger") or {}).values():
        if conf is None:
            continue
        if conf._target_.endswith("WandbLogger") and not conf.get("offline") and not wandb_logged_in():
            if os.environ.get("WANDB_MODE") not in ("offline", "disabled"):
                rank_zero_info(
                    f"W&B: no login found, logging offline to {conf.save_dir}/wandb "
                    "(`wandb login` for live dashboards, `wandb sync` to upload this run)"
                )
            with open_dict(conf):
                conf.offline = True
        loggers.append(instantiate(conf))
    return loggers
