"""ModelCheckpoint whose last.ckpt always holds the final, finite state of a run, taken between iterations."""

from __future__ import annotations

import logging

from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import ModelCheckpoint

from dcgan.checkpoints import nonfinite
from dcgan.errors import DivergenceError, SaveError

log = logging.getLogger(__name__)


class Checkpoint(ModelCheckpoint):
    """Also writes ``last.ckpt`` at the batch where ``max_steps`` stops training (so such a run resumes
    mid-epoch, where it stopped), at every epoch end and on an interruption (SIGTERM, Ctrl-C), besides
    the periodic checkpoints. Every checkpoint is taken between two iterations: an interruption in the middle of
    one (an error, a second Ctrl-C) saves nothing, and the saves due at an epoch's last batch are made at
    the epoch's end (a checkpoint of the last batch itself would resume into an epoch that Lightning counts
    twice). Never writes weights that are not finite: training stops instead, naming the last good checkpoint."""

    def __init__(self, *args, save_on_exception: bool = True, enable_version_counter: bool = False, **kwargs) -> None:
        # No version counter: a rerun into the same folder overwrites last.ckpt instead of writing
        # last-v1.ckpt beside a stale last.ckpt that ckpt_path=last would then pick.
        super().__init__(
            *args, save_on_exception=save_on_exception, enable_version_counter=enable_version_counter, **kwargs
        )
        self.last_good: str | None = None  # "path (step N)" of the newest checkpoint written
        self._between_iterations = False  # an iteration of this run ended and the next has not started
        self._deferred = False  # the saves of an epoch's last batch, made at the epoch's end

    def on_train_batch_start(self, trainer: Trainer, pl_module: LightningModule, *args, **kwargs) -> None:
        self._between_iterations = False

    def on_train_batch_end(self, trainer: Trainer, pl_module: LightningModule, *args, **kwargs) -> None:
        self._between_iterations = True
        progress = trainer.fit_loop.epoch_loop.batch_progress
        if progress.is_last_batch or progress.current.ready == trainer.num_training_batches:
            self._deferred = True
            return
        super().on_train_batch_end(trainer, pl_module, *args, **kwargs)
        if 0 < trainer.max_steps <= trainer.global_step:
            self._save_last(trainer)

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._deferred:
            self._deferred = False
            super().on_train_batch_end(trainer, pl_module, None, None, 0)  # the periodic save, if one is due
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last(trainer)

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        # a diverged state is not worth keeping; a failed save is not tried again
        if isinstance(exception, DivergenceError | SaveError):
            return
        if not self._between_iterations:
            if self._should_save_on_exception(trainer):
                log.warning(
                    "stopped in the middle of an iteration (%s): not saved; the newest checkpoint is %s",
                    type(exception).__name__, last_good(trainer),
                )  # fmt: skip
            return
        super().on_exception(trainer, pl_module, exception)

    def _save_last(self, trainer: Trainer) -> None:
        if self.save_last and not self._should_skip_saving_checkpoint(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def _save_checkpoint(self, trainer: Trainer, filepath: str) -> None:
        bad = nonfinite(trainer.lightning_module.state_dict())
        if bad:
            raise DivergenceError(
                f"weights are not finite at step {trainer.global_step} ({bad[0]}): training stopped; "
                f"last good checkpoint: {last_good(trainer)}"
            )
        super()._save_checkpoint(trainer, filepath)
        self.last_good = f"{filepath} (step {trainer.global_step})"


def last_good(trainer: Trainer) -> str:
    """The newest checkpoint written by this run with its step, else the one it resumed from (which train.py
    checked to be finite)."""
    written = getattr(trainer.checkpoint_callback, "last_good", None)
    if written:
        return written
    return f"{trainer.ckpt_path} (where this run resumed)" if getattr(trainer, "ckpt_path", None) else "none"
