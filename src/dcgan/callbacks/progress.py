"""The rich progress bar with the live losses and D outputs under short names."""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

from dcgan.callbacks.summary import SHOWN


class ProgressBar(RichProgressBar):
    """RichProgressBar showing ``loss_d loss_g D(x) D(G(z))`` of the last batch (no ``v_num``)."""

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict[str, str]:
        metrics = trainer.callback_metrics
        return {name: f"{float(metrics[key]):.3f}" for key, name in SHOWN.items() if key in metrics}
