"""The rich progress bar with the live losses under short names."""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

from dcgan.callbacks.summary import SHOWN


class ProgressBar(RichProgressBar):
    """RichProgressBar showing the module's progress-bar metrics (``loss_d``, ``loss_g``) under short
    names, without ``v_num``. It reads nothing else, so ``model.prog_bar=false`` still means no host sync
    per step for the bar."""

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return {SHOWN.get(key, key): value for key, value in metrics.items()}
