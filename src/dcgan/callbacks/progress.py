"""The rich progress bar with the live losses and D's outputs under short names."""

from __future__ import annotations

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import RichProgressBar

from dcgan.callbacks.summary import SHOWN


class ProgressBar(RichProgressBar):
    """RichProgressBar showing the module's progress-bar metrics as the PyTorch tutorial prints them:
    ``loss_d``, ``loss_g``, ``D(x)`` and ``D(G(z))`` before / after the D update (``0.512 / 0.431``),
    without ``v_num``. It reads nothing else, so ``model.prog_bar=false`` still means no host sync per step
    for the bar."""

    def get_metrics(self, trainer: Trainer, pl_module: LightningModule) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        after = metrics.pop("train/d_fake_after", None)
        if after is not None and "train/d_fake" in metrics:
            metrics["train/d_fake"] = f"{float(metrics['train/d_fake']):.3f} / {float(after):.3f}"
        return {SHOWN.get(key, key): value for key, value in metrics.items()}
