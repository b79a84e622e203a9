"""The pictures of a run, written into its folder when training ends (and by ``generate.py mode=pictures``)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch import Callback, LightningModule, Trainer
from omegaconf import DictConfig, OmegaConf
from torchvision.io import ImageReadMode, read_image

from dcgan.callbacks.plots import PANELS, write_loss_plot, write_progress_gif, write_real_vs_fake
from dcgan.loggers import log_image

log = logging.getLogger(__name__)

HISTORY_KEYS = tuple(key for curves in PANELS.values() for key, _ in curves)


def write_run_pictures(
    dirpath: str | Path,
    samples_dir: str | Path | None,
    history: dict[str, np.ndarray],
    real: torch.Tensor | None,
    fake: torch.Tensor | None,
    smoothing: float = 0.9,
    frame_ms: int = 200,
) -> dict[str, Path]:
    """``progress.gif``, ``losses.png`` and ``real_vs_fake.png`` in ``dirpath``, as far as there is
    something to draw; returns name -> path of those written."""
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    written = {}
    if samples_dir is not None and write_progress_gif(samples_dir, dirpath / "progress.gif", frame_ms):
        written["progress"] = dirpath / "progress.gif"
    if write_loss_plot(history, dirpath / "losses.png", smoothing):
        written["losses"] = dirpath / "losses.png"
    if real is not None and fake is not None:
        write_real_vs_fake(real, fake, dirpath / "real_vs_fake.png")
        written["real_vs_fake"] = dirpath / "real_vs_fake.png"
    log.info("Pictures: %s", ", ".join(str(p) for p in written.values()) or "none (nothing to draw)")
    return written


class RunPictures(Callback):
    """Keeps the logged losses and D outputs of every iteration (in checkpoints too, so a resumed run
    draws its whole history) and at the end of training writes, in ``dirpath``: ``progress.gif`` (the
    grids in ``samples_dir``), ``losses.png`` and ``real_vs_fake.png`` (the last real batch beside
    G(fixed noise)); real_vs_fake also goes to the image loggers. Rank zero writes."""

    def __init__(
        self, dirpath: str | Path, samples_dir: str | Path | None = None, smoothing: float = 0.9, frame_ms: int = 200
    ) -> None:
        self.dirpath, self.samples_dir = Path(dirpath), samples_dir
        self.smoothing, self.frame_ms = float(smoothing), int(frame_ms)
        self.rows: list[list[float]] = []  # [step, *HISTORY_KEYS] per iteration
        # Values still on the device, copied over in bulk: no host sync per step.
        self._pending: list[tuple[int, torch.Tensor]] = []
        self._real: torch.Tensor | None = None

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, outputs, batch, batch_idx) -> None:
        self._real = batch[0] if isinstance(batch, (list, tuple)) else batch
        metrics = trainer.callback_metrics
        if all(key in metrics for key in HISTORY_KEYS):
            values = torch.stack([metrics[key].detach().float().reshape(()) for key in HISTORY_KEYS])
            self._pending.append((trainer.global_step, values))
        if len(self._pending) >= 500:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            values = torch.stack([v for _, v in self._pending]).cpu().tolist()
            self.rows += [[float(step), *row] for (step, _), row in zip(self._pending, values, strict=True)]
            self._pending = []

    def history(self) -> dict[str, np.ndarray]:
        """``step`` and each of HISTORY_KEYS -> values per recorded iteration."""
        self._flush()
        return history_table(self.rows)

    def state_dict(self) -> dict:
        self._flush()
        return {"keys": ["step", *HISTORY_KEYS], "rows": torch.tensor(self.rows, dtype=torch.float32)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.rows, self._pending = history_rows(state_dict), []

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        fake = pl_module.sample().cpu()
        real = None if self._real is None else self._real[: len(fake)].cpu()
        written = write_run_pictures(
            self.dirpath, self.samples_dir, self.history(), real, fake, self.smoothing, self.frame_ms
        )
        if "real_vs_fake" in written:
            picture = read_image(str(written["real_vs_fake"]), ImageReadMode.RGB).float() / 255
            for logger in trainer.loggers:
                log_image(logger, "real_vs_fake", picture, trainer.global_step)


def history_table(rows: list[list[float]]) -> dict[str, np.ndarray]:
    """Rows of ``[step, *HISTORY_KEYS]`` as name -> column."""
    table = np.asarray(rows, dtype=float).reshape(-1, 1 + len(HISTORY_KEYS))
    return dict(zip(("step", *HISTORY_KEYS), table.T, strict=True))


def history_rows(state: dict) -> list[list[float]]:
    """The rows of a RunPictures state (from a checkpoint), ordered as ``["step", *HISTORY_KEYS]``."""
    keys, rows = list(state["keys"]), torch.as_tensor(state["rows"], dtype=torch.float64)
    if rows.numel() == 0 or not {"step", *HISTORY_KEYS} <= set(keys):
        return []
    order = [keys.index(key) for key in ("step", *HISTORY_KEYS)]
    return rows[:, order].tolist()


def _real_batch(config: DictConfig, n: int, seed: int) -> torch.Tensor | None:
    try:
        datamodule = instantiate(config.dataset)
        datamodule.setup("fit")
        torch.manual_seed(seed)  # the shuffle
        batches, count = [], 0
        for batch in datamodule.train_dataloader():
            batches.append(batch[0] if isinstance(batch, (list, tuple)) else batch)
            count += len(batches[-1])
            if count >= n:
                break
    except Exception as error:  # the data may live elsewhere now: draw the rest anyway
        log.warning(f"real_vs_fake.png skipped: cannot read the run's dataset ({' '.join(str(error).split())})")
        return None
    return torch.cat(batches)[:n] if batches else None


@torch.inference_mode()
def pictures_from_checkpoint(
    ckpt_path: str | Path, checkpoint: dict, config: DictConfig, generator: torch.nn.Module, out_dir=None, seed: int = 0
) -> dict[str, Path]:
    """Re-draw a run's pictures from one of its checkpoints (loaded by ``dcgan.checkpoint_io``): the loss
    history stored in it, the grids in the run's ``samples/`` folder, a real batch of the run's dataset
    beside G(fixed noise). Written into ``out_dir`` (default: the run folder of the checkpoint)."""
    ckpt_path = Path(ckpt_path)
    run_dir = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    samples_dir = run_dir / "samples"
    if not samples_dir.is_dir():
        samples_dir = OmegaConf.select(config, "callbacks.samples.dirpath")
    states = checkpoint.get("callbacks") or {}
    state = next((v for k, v in states.items() if str(k).startswith(RunPictures.__qualname__)), None)
    history = history_table(history_rows(state)) if state else {}
    noise = checkpoint["state_dict"].get("fixed_noise")
    fake = generator.eval()(noise if noise is not None else torch.randn(64, generator.nz))
    real = _real_batch(config, len(fake), seed)
    settings = OmegaConf.select(config, "callbacks.pictures", default=None) or {}
    out_dir = Path(out_dir) if out_dir else run_dir
    return write_run_pictures(
        out_dir, samples_dir, history, real, fake, settings.get("smoothing", 0.9), settings.get("frame_ms", 200)
    )
