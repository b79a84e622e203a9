"""Sample grids of the fixed noise: PNGs in the run folder, images in the experiment logger."""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

from dcgan.data import split_batch
from dcgan.errors import ConfigError
from dcgan.images import grid_image, sample_grid, titled, to_uint8
from dcgan.loggers import log_image


class SampleGrid(Callback):
    """Every ``every_n_steps`` global steps, at the start and at the end: G(fixed_noise) as
    ``samples/step_XXXXXXX.png``, titled with its iteration, and as ``samples`` in each logger. Rank zero only.
    A class-conditional model's grid has one row per class, named: ``nrow`` of the fixed latents, the same
    ones in every row."""

    def __init__(self, dirpath: str | Path, every_n_steps: int, nrow: int) -> None:
        if int(every_n_steps) <= 0:
            raise ConfigError(f"callbacks.samples.every_n_steps={every_n_steps} is invalid: use a positive integer")
        self.dirpath, self.every_n_steps, self.nrow = Path(dirpath), int(every_n_steps), int(nrow)
        self._last_step: int | None = None

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._save(trainer, pl_module)

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args) -> None:
        if trainer.global_step - self._last_step >= self.every_n_steps:
            self._save(trainer, pl_module)

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._save(trainer, pl_module)

    def _save(self, trainer: Trainer, pl_module: LightningModule) -> None:
        step = trainer.global_step
        if step == self._last_step:
            return
        self._last_step = step
        if not trainer.is_global_zero:
            return
        picture = sample_grid(pl_module.grid_images(self.nrow), self.nrow, pl_module.iteration, pl_module.classes)
        self.dirpath.mkdir(parents=True, exist_ok=True)
        picture.save(self.dirpath / f"step_{step:07d}.png")
        for logger in trainer.loggers:
            log_image(logger, "samples", picture, step)


class TrainingImages(Callback):
    """At the first batch of a new run: a grid of up to ``num_images`` real training images (the PyTorch
    tutorial's "Training Images" plot) as ``path`` and as ``training_images`` in each logger. Rank zero only;
    a resumed run keeps the picture of its start."""

    def __init__(self, path: str | Path, num_images: int, nrow: int) -> None:
        self.path, self.num_images, self.nrow = Path(path), int(num_images), int(nrow)

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, batch, batch_idx: int) -> None:
        if trainer.global_step != 0 or not trainer.is_global_zero:
            return
        images, _ = split_batch(batch)
        picture = titled(grid_image(to_uint8(images[: self.num_images].cpu()), self.nrow), "Training Images")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        picture.save(self.path)
        for logger in trainer.loggers:
            log_image(logger, "training_images", picture, trainer.global_step)
