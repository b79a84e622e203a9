"""Put every logged scalar on the ``trainer.global_step`` axis, like the sample grids and checkpoints."""

from __future__ import annotations

from lightning.pytorch import Callback, LightningModule, Trainer


class GlobalStepAxis(Callback):
    """Logs ``step`` = ``trainer.global_step`` with every batch; Lightning takes a logged ``step`` as the
    x-axis of the scalars it sends to the loggers (W&B ``trainer/global_step``, TensorBoard, the CSV
    ``step`` column). Otherwise, under manual optimization, it uses the batch count: half of
    ``global_step`` with one D and one G step per batch, so losses and images would not line up."""

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args) -> None:
        pl_module.log("step", float(trainer.global_step), on_step=True, on_epoch=False, batch_size=1)
