"""The pictures of a run, written into its folder at every checkpoint and when training ends."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from PIL import Image

from dcgan.data import split_batch
from dcgan.images import PANELS, write_run_pictures
from dcgan.loggers import log_image

log = logging.getLogger(__name__)

HISTORY_KEYS = tuple(key for curves in PANELS.values() for key, _ in curves)
COLUMNS = ("iteration", *HISTORY_KEYS)


class RunPictures(Callback):
    """Keeps the logged losses and D outputs of every iteration (in checkpoints too, so a resumed run
    draws its whole history) and writes, in ``dirpath``, at every checkpoint (so a killed run has them)
    and when training ends: ``progress.gif`` (the grids in ``samples_dir``), ``losses.png`` and
    ``real_vs_fake.png`` (the last real batch beside G(fixed noise); for a class-conditional model the real
    images sorted into the rows of its class grid); at the end real_vs_fake also goes to the image loggers.
    Rank zero writes."""

    def __init__(self, dirpath: str | Path, samples_dir: str | Path | None, smoothing: float, frame_ms: int) -> None:
        self.dirpath, self.samples_dir = Path(dirpath), samples_dir
        self.smoothing, self.frame_ms = float(smoothing), int(frame_ms)
        self.rows: list[list[float]] = []  # [iteration, *HISTORY_KEYS] per iteration
        # Values still on the device, copied over in bulk: no host sync per step.
        self._pending: list[tuple[int, torch.Tensor]] = []
        self._real: torch.Tensor | None = None

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        self._real = batch
        stats = pl_module.stats
        if all(key in stats for key in HISTORY_KEYS):
            values = torch.stack([stats[key].float().reshape(()) for key in HISTORY_KEYS])
            self._pending.append((pl_module.iteration, values))
        if len(self._pending) >= 500:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            values = torch.stack([v for _, v in self._pending]).cpu().tolist()
            self.rows += [[float(it), *row] for (it, _), row in zip(self._pending, values, strict=True)]
            self._pending = []

    def history(self) -> dict[str, np.ndarray]:
        """``iteration`` and each of HISTORY_KEYS -> values per recorded iteration."""
        self._flush()
        return history_table(self.rows)

    def state_dict(self) -> dict:
        self._flush()
        return {"keys": list(COLUMNS), "rows": torch.tensor(self.rows, dtype=torch.float32)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows, self._pending = history_rows(state_dict), []

    @classmethod
    def history_in(cls, checkpoint: dict) -> dict[str, np.ndarray]:
        """The history that a checkpoint's RunPictures state holds (empty without one)."""
        states = checkpoint.get("callbacks") or {}
        state = next((v for k, v in states.items() if str(k).startswith(cls.__qualname__)), None)
        if state and "step" in state["keys"]:  # written before iterations were recorded: global steps
            per_iteration = checkpoint["hyper_parameters"]["model"]["d_steps_per_g"] + 1
            state = {"keys": ["iteration" if k == "step" else k for k in state["keys"]], "rows": state["rows"]}
            state["rows"][:, 0] = state["rows"][:, 0] / per_iteration
        return history_table(history_rows(state)) if state else {}

    def _write(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, Path]:
        fake = pl_module.grid_images().cpu()
        real, labels = (None, None) if self._real is None else split_batch(self._real)
        if real is not None and labels is None:
            real = real[: len(fake)]
        return write_run_pictures(
            self.dirpath, self.samples_dir, self.history(), real, fake, self.smoothing, self.frame_ms,
            pl_module.classes, labels,
        )  # fmt: skip

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        if trainer.is_global_zero:
            self._write(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        written = self._write(trainer, pl_module)
        log.info("Pictures: %s", ", ".join(str(p) for p in written.values()) or "none (nothing to draw)")
        if "real_vs_fake" in written:
            with Image.open(written["real_vs_fake"]) as picture:
                for logger in trainer.loggers:
                    log_image(logger, "real_vs_fake", picture, trainer.global_step)


def history_table(rows: list[list[float]]) -> dict[str, np.ndarray]:
    """Rows of ``[iteration, *HISTORY_KEYS]`` as name -> column."""
    table = np.asarray(rows, dtype=float).reshape(-1, len(COLUMNS))
    return dict(zip(COLUMNS, table.T, strict=True))


def history_rows(state: dict) -> list[list[float]]:
    """The rows of a RunPictures state (from a checkpoint), ordered as COLUMNS."""
    keys, rows = list(state["keys"]), torch.as_tensor(state["rows"], dtype=torch.float64)
    if rows.numel() == 0 or not set(COLUMNS) <= set(keys):
        return []
    return rows[:, [keys.index(key) for key in COLUMNS]].tolist()
