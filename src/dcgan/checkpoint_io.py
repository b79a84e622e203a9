"""Rebuild the nets of a run from a checkpoint alone, with the run config stored in it.

Reads Lightning checkpoints (``checkpoints/*.ckpt``) and ``generator.pt`` exports alike: both hold a
``state_dict`` with ``generator.*`` keys and the resolved run config as ``hyper_parameters``.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from dcgan.errors import ConfigError


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def read_checkpoint(path: str | Path, weights_only: bool = True) -> dict:
    """``torch.load`` on CPU; with ``weights_only`` (the default) the file cannot run code when loaded.
    Raises ConfigError for a missing file or one that is not a PyTorch checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as error:
        if weights_only and "unsupported global" in str(error).lower():
            raise ConfigError(
                f"ckpt_path={path} holds Python objects that a weights-only load refuses; "
                "if you trust the file, pass weights_only=false"
            ) from None
        raise ConfigError(f"ckpt_path={path} is not a PyTorch checkpoint (not a torch.save file)") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ConfigError(f"ckpt_path={path} is not a PyTorch checkpoint ({_first_line(error)})") from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"ckpt_path={path} is not a DCGAN checkpoint (it holds a {type(checkpoint).__name__})")
    return checkpoint


def run_config(checkpoint: dict, path: str | Path = "checkpoint") -> DictConfig:
    """The run config stored in ``checkpoint``; ConfigError if it is not the config of a DCGAN run."""
    config = checkpoint.get("hyper_parameters")
    model = config.get("model") if isinstance(config, dict) else None
    generator = model.get("generator") if isinstance(model, dict) else None
    if (
        not isinstance(checkpoint.get("state_dict"), dict)
        or not isinstance(generator, dict)
        or "_target_" not in generator
    ):
        raise ConfigError(
            f"ckpt_path={path} is not a DCGAN checkpoint: it holds no run config with model.generator "
            "(use a checkpoints/*.ckpt or generator.pt of a train.py run)"
        )
    return OmegaConf.create(config)


def build_net(checkpoint: dict, config: DictConfig, name: str, path: str | Path = "checkpoint") -> nn.Module:
    """The net ``model.<name>`` of the run (``generator`` or ``discriminator``) with its trained weights,
    in eval mode on CPU. ConfigError if the weights do not fit the stored architecture."""
    net_config = config.model.get(name)
    if net_config is None:
        raise ConfigError(f"ckpt_path={path}: the run config has no model.{name}")
    architecture = str(net_config.get("_target_", "?")).rsplit(".", 1)[-1]
    try:
        net = instantiate(net_config)
    except Exception as error:
        raise ConfigError(f"ckpt_path={path}: cannot build {architecture} from the stored config ({error})") from None
    prefix = f"{name}."
    weights = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    if not weights:
        raise ConfigError(f"ckpt_path={path} holds no {name} weights")
    try:
        net.load_state_dict(weights)
    except RuntimeError as error:
        problem = " ".join(_first_line(error).split())
        detail = next((line.strip() for line in str(error).splitlines()[1:] if line.strip()), "")
        raise ConfigError(
            f"ckpt_path={path}: its {name} weights do not fit the stored architecture ({architecture}): "
            f"{problem} {detail}".strip()
        ) from None
    return net.eval()


EMA_PREFIX = "generator_ema.module."  # where DCGAN keeps the EMA copy of G (model.ema_decay > 0)


def load_generator(
    path: str | Path, weights_only: bool = True, use_ema: bool = True
) -> tuple[nn.Module, DictConfig, dict]:
    """(generator in eval mode on CPU, run config, raw checkpoint) from a training checkpoint or a
    ``generator.pt`` export; no training overrides needed. With ``use_ema`` the EMA copy of G, where the
    run kept one (``ema=on``)."""
    checkpoint = read_checkpoint(path, weights_only)
    config = run_config(checkpoint, path)
    state = checkpoint["state_dict"]
    ema = {f"generator.{k[len(EMA_PREFIX) :]}": v for k, v in state.items() if k.startswith(EMA_PREFIX)}
    source = {"state_dict": ema} if use_ema and ema else checkpoint
    return build_net(source, config, "generator", path), config, checkpoint
