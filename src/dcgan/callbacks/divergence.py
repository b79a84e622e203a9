"""Stop a run that diverged instead of training on: non-finite losses, a collapsed discriminator."""

from __future__ import annotations

import math

from lightning.pytorch import Callback, LightningModule, Trainer

from dcgan.callbacks.checkpoint import last_good
from dcgan.errors import ConfigError, DivergenceError


class DivergenceGuard(Callback):
    """Every ``check_every_n_steps`` global steps (one host sync each), reads the iteration's statistics
    (``pl_module.stats``):

    - a non-finite ``train/loss_d`` or ``train/loss_g`` stops training (unless ``model.on_nonfinite=skip``
      dropped that update; non-finite weights still stop it, at the next checkpoint);
    - a collapsed discriminator (mean D(x) > 1 - ``collapse_threshold`` and mean D(G(z)) <
      ``collapse_threshold``, the generator's gradient vanishing) for ``collapse_patience`` global steps
      in a row stops training (losses whose D scores are probabilities only, e.g. the default
      non-saturating loss). ``collapse_threshold=0`` turns this check off.

    The message names the step and the last good checkpoint (checkpoints never hold non-finite weights).
    """

    def __init__(self, check_every_n_steps: int, collapse_threshold: float, collapse_patience: int) -> None:
        if int(check_every_n_steps) < 1:
            raise ConfigError(f"check_every_n_steps={check_every_n_steps} is invalid: use an integer >= 1")
        if not 0 <= collapse_threshold < 0.5:
            raise ConfigError(f"collapse_threshold={collapse_threshold} is invalid: use 0 (off) up to 0.5")
        self.check_every_n_steps = int(check_every_n_steps)
        self.collapse_threshold, self.collapse_patience = float(collapse_threshold), int(collapse_patience)
        self._last_check = 0
        self._collapsed_since: int | None = None

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args) -> None:
        step = trainer.global_step
        if step - self._last_check < self.check_every_n_steps:
            return
        self._last_check = step
        metrics = {k: float(v) for k, v in pl_module.stats.items()}
        bad = [k for k in ("train/loss_d", "train/loss_g") if k in metrics and not math.isfinite(metrics[k])]
        if bad and getattr(pl_module, "on_nonfinite", "stop") != "skip":  # skip: that update was dropped
            self._stop(trainer, f"non-finite {', '.join(k.split('/')[1] for k in bad)} at step {step}")
        probabilities = getattr(getattr(pl_module, "loss", None), "probabilities", False)
        if self.collapse_threshold and probabilities and {"train/d_real", "train/d_fake"} <= metrics.keys():
            if (
                metrics["train/d_real"] > 1 - self.collapse_threshold
                and metrics["train/d_fake"] < self.collapse_threshold
            ):
                self._collapsed_since = step if self._collapsed_since is None else self._collapsed_since
                if step - self._collapsed_since >= self.collapse_patience:
                    self._stop(
                        trainer,
                        f"discriminator collapsed at step {step}: D(x) > {1 - self.collapse_threshold:g} and "
                        f"D(G(z)) < {self.collapse_threshold:g} since step {self._collapsed_since}",
                    )
            else:
                self._collapsed_since = None

    @staticmethod
    def _stop(trainer: Trainer, reason: str) -> None:
        raise DivergenceError(f"{reason}: training stopped; last good checkpoint: {last_good(trainer)}")
