"""Resuming: find the checkpoint, and check it fits the configured nets before the Trainer starts."""

from __future__ import annotations

from pathlib import Path

from torch import nn

from dcgan.checkpoint_io import read_checkpoint
from dcgan.errors import ConfigError

LAST = "last.ckpt"


def resolve_ckpt_path(ckpt_path: str | None, output_dir: str | Path, runs_dir: str | Path = "outputs") -> str | None:
    """``ckpt_path`` as given; for ``last`` this run folder's ``checkpoints/last.ckpt`` if there is one,
    else the newest ``last.ckpt`` under ``runs_dir``; for ``auto`` this run folder's if there is one,
    else None (a fresh start: what a requeued cluster job wants)."""
    if ckpt_path is None:
        return None
    if str(ckpt_path) == "auto":
        own = Path(output_dir) / "checkpoints" / LAST
        return str(own) if own.is_file() else None
    if str(ckpt_path) != "last":
        if not Path(ckpt_path).is_file():
            raise ConfigError(f"ckpt_path={ckpt_path} does not exist: give a checkpoint file, or ckpt_path=last")
        return str(ckpt_path)
    own = Path(output_dir) / "checkpoints" / LAST
    if own.is_file():
        return str(own)
    found = sorted(Path(runs_dir).glob(f"**/checkpoints/{LAST}"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise ConfigError(
            f"ckpt_path=last: no checkpoints/{LAST} in {output_dir} or under {runs_dir}/: "
            "give a checkpoint path, or drop ckpt_path to start a new run"
        )
    return str(found[-1])


def check_compatible(path: str | Path, model: nn.Module) -> dict:
    """Raise a ConfigError naming the first mismatches if the checkpoint's weights don't fit ``model``."""
    checkpoint = read_checkpoint(path)
    if "state_dict" not in checkpoint:
        raise ConfigError(f"{path} is not a training checkpoint of this kit (no state_dict)")
    theirs, ours = checkpoint["state_dict"], model.state_dict()
    problems = [f"{k} missing in the checkpoint" for k in ours if k not in theirs]
    problems += [f"{k} unexpected" for k in theirs if k not in ours]
    problems += [
        f"{k} is {tuple(theirs[k].shape)} there, {tuple(v.shape)} here"
        for k, v in ours.items()
        if k in theirs and tuple(theirs[k].shape) != tuple(v.shape)
    ]
    if problems:
        arch = checkpoint.get("hyper_parameters", {})
        trained = ", ".join(
            f"{part}={arch[part].get('_target_', '?').rsplit('.', 1)[-1]}" for part in ("generator", "discriminator")
            if isinstance(arch.get(part), dict)
        )  # fmt: skip
        raise ConfigError(
            f"checkpoint {path} was trained with another architecture ({trained or 'unknown'}): "
            f"{'; '.join(problems[:3])}{' ...' if len(problems) > 3 else ''}. "
            "Resume with the overrides of that run (its .hydra/config.yaml) or start a new run"
        )
    return checkpoint
