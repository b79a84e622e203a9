"""Experiment loggers from config; W&B falls back to offline mode when there is no login."""

from __future__ import annotations

import netrc
import os
from pathlib import Path

from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger
from lightning.pytorch.utilities import rank_zero_info
from omegaconf import DictConfig, open_dict


def wandb_logged_in() -> bool:
    """True when W&B has an API key: WANDB_API_KEY or a ~/.netrc entry for api.wandb.ai."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    try:
        return netrc.netrc(os.environ.get("NETRC", Path.home() / ".netrc")).authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError):
        return False


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
