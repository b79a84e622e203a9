"""Callbacks used by tests, including in `python train.py` subprocesses (PYTHONPATH=repo root)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from lightning.pytorch import Callback


def param_snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


class StepRecorder(Callback):
    """Snapshots G and D parameters before every optimizer step and at the end of each batch."""

    def __init__(self) -> None:
        self.snapshots: list[tuple[str, dict, dict]] = []

    def _snap(self, tag, pl_module):
        self.snapshots.append((tag, param_snapshot(pl_module.generator), param_snapshot(pl_module.discriminator)))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        is_g = optimizer is trainer.optimizers[0] or getattr(optimizer, "optimizer", None) is trainer.optimizers[0]
        self._snap("before_g" if is_g else "before_d", pl_module)

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        self._snap("batch_end", pl_module)


class ParamSyncReport(Callback):
    """At the end of a DDP run, each rank writes the max difference of its G/D parameters to rank 0's."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer, pl_module) -> None:
        flat = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        gathered = trainer.strategy.all_gather(flat)  # (world_size, n)
        noise = torch.randn(4)
        noises = trainer.strategy.all_gather(noise)
        report = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "max_param_diff": float((gathered - gathered[0]).abs().max()),
            "noise_differs": bool((noises[0] != noises[-1]).any()),
            "global_step": trainer.global_step,
        }
        self.dirpath.mkdir(parents=True, exist_ok=True)
        (self.dirpath / f"ddp_rank{trainer.global_rank}.json").write_text(json.dumps(report))


class CorruptWeights(Callback):
    """At global step ``step``, sets one generator weight to NaN (a diverged update)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.generator.parameters()).view(-1)[0] = float("nan")


class CorruptBatch(Callback):
    """Fills the real batch of iteration ``batch_number`` (0-based, counted in this run) with NaN."""

    def __init__(self, batch_number: int) -> None:
        self.batch_number, self.seen = batch_number, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.seen == self.batch_number:
            (batch[0] if isinstance(batch, (list, tuple)) else batch).fill_(float("nan"))
        self.seen += 1
