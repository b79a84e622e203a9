"""Checkpoints: the atomic CheckpointIO, reading a file safely, resuming, and rebuilding a run's generator.

Reads Lightning checkpoints (``checkpoints/*.ckpt``) and ``generator.pt`` exports alike: both hold a
``state_dict`` named as the LightningModule names it and the resolved run config as ``hyper_parameters``.
"""

from __future__ import annotations

import logging
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import torch
from hydra.utils import instantiate
from lightning.pytorch.plugins.io import TorchCheckpointIO
from omegaconf import DictConfig, OmegaConf
from torch import nn

from dcgan.config import check_stored_config, with_current_defaults
from dcgan.errors import ConfigError, SaveError
from dcgan.files import atomic_save, check_writable, remove_stale_temporaries
from dcgan.training.module import DCGAN

log = logging.getLogger(__name__)

LAST = "last.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer through ``dcgan.files.atomic_save``: a kill (even ``kill -9``) during a
    save leaves the previous file intact."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if "://" in str(path):  # remote filesystems: Lightning's own transaction
            return super().save_checkpoint(checkpoint, path, storage_options)
        try:
            atomic_save(checkpoint, path)
        except OSError as error:  # a full disk, a folder made read-only mid-run: one line, not tracebacks
            raise SaveError(
                f"cannot save {path} ({error.strerror or error}): the file is left as it was; make room or fix "
                "the folder, then resume with ckpt_path=last"
            ) from None


def prepare_folders(folders: dict[str, str | Path | None]) -> None:
    """Before training: each folder (by its config key) can be written, else a ConfigError naming it; the
    temporary files of saves killed midway (``kill -9``) are deleted."""
    for key, folder in folders.items():
        if folder is None:
            continue
        try:
            check_writable(folder)
        except OSError as error:
            reason = error.strerror or error
            raise ConfigError(f"{key}={folder} is not writable ({reason}): choose another folder") from None
        for path in remove_stale_temporaries(folder):
            log.info(f"deleted {path}: the temporary file of a save that was killed")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


# What a weights-only refusal advises: generate.py, evaluate.py and explore.py take weights_only=false.
TRUST_HINT = "if you trust the file, pass weights_only=false"


def read_checkpoint(path: str | Path, weights_only: bool = True, trust_hint: str = TRUST_HINT) -> dict:
    """``torch.load`` on CPU; with ``weights_only`` (the default) the file cannot run code when loaded.
    Raises ConfigError for a missing file or one that is not a PyTorch checkpoint; ``trust_hint`` ends the
    message of a file that a weights-only load refuses (what the calling entry point lets the user do)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ckpt_path={path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=weights_only)
    except pickle.UnpicklingError as error:
        if weights_only and "unsupported global" in str(error).lower():
            raise ConfigError(
                f"ckpt_path={path} holds Python objects that a weights-only load refuses; {trust_hint}"
            ) from None
        raise ConfigError(f"ckpt_path={path} is not a PyTorch checkpoint (not a torch.save file)") from None
    except (RuntimeError, EOFError, ValueError, zipfile.BadZipFile) as error:
        raise ConfigError(f"ckpt_path={path} is not a PyTorch checkpoint ({_first_line(error)})") from None
    if not isinstance(checkpoint, dict):
        raise ConfigError(f"ckpt_path={path} is not a DCGAN checkpoint (it holds a {type(checkpoint).__name__})")
    return checkpoint


def run_config(checkpoint: dict, path: str | Path = "checkpoint") -> DictConfig:
    """The run config stored in ``checkpoint``; ConfigError if it is not the config of a DCGAN run, or if it
    names a class outside this kit's or holds an interpolation (``check_stored_config``): a file cannot
    make generate.py, evaluate.py or explore.py build (run) anything else."""
    config = checkpoint.get("hyper_parameters")
    check_stored_config(config, f"ckpt_path={path}")
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
    try:
        return OmegaConf.create(config)
    except Exception as error:  # values OmegaConf cannot hold (a tensor, an object of weights_only=false)
        raise ConfigError(f"ckpt_path={path}: its run config is not a config ({_first_line(error)})") from None


def build_net(weights: dict, config: DictConfig, name: str, path: str | Path = "checkpoint") -> nn.Module:
    """The net ``model.<name>`` of the run (``generator`` or ``discriminator``) with ``weights`` (its own
    state dict), in eval mode on CPU. ConfigError if the weights do not fit the stored architecture."""
    net_config = config.model.get(name)
    if net_config is None:
        raise ConfigError(f"ckpt_path={path}: the run config has no model.{name}")
    net_config = with_current_defaults(net_config, name)
    architecture = str(net_config.get("_target_", "?")).rsplit(".", 1)[-1]
    try:
        net = instantiate(net_config)
    except Exception as error:
        raise ConfigError(f"ckpt_path={path}: cannot build {architecture} from the stored config ({error})") from None
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


class LoadedGenerator(NamedTuple):
    net: nn.Module  # in eval mode, on CPU
    config: DictConfig  # the run config
    checkpoint: dict  # the raw file
    weights: str  # which generator: "ema" or "raw"


def load_generator(path: str | Path, weights_only: bool = True, use_ema: bool = True) -> LoadedGenerator:
    """The generator of a training checkpoint or a ``generator.pt`` export, with the run config and the raw
    checkpoint; no training overrides needed. With ``use_ema`` the EMA copy of G where the file holds one."""
    checkpoint = read_checkpoint(path, weights_only)
    config = run_config(checkpoint, path)
    weights, which = DCGAN.generator_weights(checkpoint["state_dict"], use_ema)
    net = build_net(weights, config, "generator", path)
    log.info(f"{path}: the {which} generator")
    return LoadedGenerator(net, config, checkpoint, which)


def generator_of(cfg: DictConfig, script: str, use_ema: bool | None = None) -> LoadedGenerator:
    """``load_generator`` of an entry point's ``ckpt_path`` with its ``weights_only`` and ``use_ema`` (the
    argument, else the config's); ConfigError when ``ckpt_path`` is not given."""
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.get("ckpt_path"):
        raise ConfigError(
            f"ckpt_path is missing: python {script} ckpt_path=outputs/DATE/TIME/checkpoints/last.ckpt "
            "(or the run's generator.pt)"
        )
    use_ema = bool(cfg.get("use_ema", True)) if use_ema is None else use_ema
    return load_generator(cfg.ckpt_path, bool(cfg.get("weights_only", True)), use_ema)


def nonfinite(state_dict: dict) -> list[str]:
    """The names of the floating-point tensors of ``state_dict`` that hold a NaN or an infinity."""
    return [
        name
        for name, value in state_dict.items()
        if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all())
    ]


def _described(identity: dict) -> str:
    return f"{identity.get('name')} ({identity.get('images')} images, {identity.get('source')})"


def resume_problem(checkpoint: dict, model: nn.Module, identity: dict | None = None) -> str | None:
    """Why ``checkpoint`` cannot resume a run of ``model`` on the dataset ``identity`` (the DataModule's; None: not
    checked), else None: another architecture (the first mismatching weights named), non-finite weights, or
    another dataset (checkpoints from before the dataset was stored pass)."""
    if not isinstance(checkpoint.get("state_dict"), dict):
        return "it is not a training checkpoint of this kit (no state_dict)"
    theirs, ours = DCGAN.upgrade_state_dict(checkpoint["state_dict"]), model.state_dict()
    problems = [f"{k} missing in the checkpoint" for k in ours if k not in theirs]
    problems += [f"{k} unexpected" for k in theirs if k not in ours]
    problems += [
        f"{k} is {tuple(theirs[k].shape)} there, {tuple(v.shape)} here"
        for k, v in ours.items()
        if k in theirs and tuple(theirs[k].shape) != tuple(v.shape)
    ]
    if problems:
        arch = checkpoint.get("hyper_parameters")
        arch = arch if isinstance(arch, dict) else {}
        trained = ", ".join(
            f"{part}={arch[part].get('_target_', '?').rsplit('.', 1)[-1]}" for part in ("generator", "discriminator")
            if isinstance(arch.get(part), dict)
        )  # fmt: skip
        return (
            f"it was trained with another architecture ({trained or 'unknown'}): "
            f"{'; '.join(problems[:3])}{' ...' if len(problems) > 3 else ''}"
        )
    bad = nonfinite(theirs)
    if bad:
        return f"its weights are not finite ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''})"
    stored = next((v["identity"] for v in checkpoint.values() if isinstance(v, dict) and "identity" in v), None)
    if identity is not None and isinstance(stored, dict):
        differs = [k for k in ("name", "images", "resize", "digest") if stored.get(k) != identity.get(k)]
        if differs:
            return f"it was trained on another dataset: {_described(stored)} there, {_described(identity)} here"
    return None


def check_compatible(path: str | Path, model: nn.Module, identity: dict | None = None) -> dict:
    """The checkpoint at ``path``; a ConfigError naming the problem if it cannot resume this run
    (``resume_problem``)."""
    checkpoint = read_checkpoint(path, trust_hint="train.py resumes only from the weights-only checkpoints it writes")
    problem = resume_problem(checkpoint, model, identity)
    if problem:
        fix = "resume with the overrides of that run (its .hydra/config.yaml) or start a new run"
        if problem.startswith("its weights are not finite"):
            fix = "resume from an earlier checkpoint, or start a new run"
        raise ConfigError(f"checkpoint {path} cannot be resumed: {problem}. {fix.capitalize()}")
    return checkpoint


def resolve_ckpt_path(
    ckpt_path: str | None,
    output_dir: str | Path,
    runs_dir: str | Path = "outputs",
    problem: Callable[[dict], str | None] | None = None,
) -> str | None:
    """``ckpt_path`` as given; for ``last`` this run folder's ``checkpoints/last.ckpt`` if there is one, else the
    newest ``last.ckpt`` under ``runs_dir`` that can resume this run (``problem(checkpoint)`` is None; the
    choice and the newer ones passed over are logged); for ``auto`` this run folder's if there is one, else
    None (a fresh start: what a requeued cluster job wants)."""
    if ckpt_path is None:
        return None
    own = Path(output_dir) / "checkpoints" / LAST
    if str(ckpt_path) == "auto":
        return str(own) if own.is_file() else None
    if str(ckpt_path) != "last":
        if not Path(ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={ckpt_path} does not exist: give a checkpoint file, or ckpt_path=last")
        return str(ckpt_path)
    if own.is_file():
        return str(own)
    found = sorted(Path(runs_dir).glob(f"**/checkpoints/{LAST}"), key=lambda p: p.stat().st_mtime, reverse=True)
    passed = []
    for path in found:
        try:
            why = problem(read_checkpoint(path)) if problem is not None else None
        except ConfigError as error:  # a torn or foreign file: passed over
            why = str(error)
        if why is None:
            log.info(
                "ckpt_path=last: %s, the newest run under %s/ that fits this one%s",
                path, runs_dir, f" (passed over {len(passed)} newer: {'; '.join(passed)})" if passed else "",
            )  # fmt: skip
            return str(path)
        passed.append(f"{path}: {why}")
    nothing = f"no checkpoints/{LAST} in {output_dir} or under {runs_dir}/"
    if passed:
        nothing = f"none of the {len(passed)} runs under {runs_dir}/ fits this one (newest: {passed[0]})"
    raise ConfigError(f"ckpt_path=last: {nothing}: give a checkpoint path, or drop ckpt_path to start a new run")
