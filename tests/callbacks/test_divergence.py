"""DivergenceGuard: non-finite losses and a collapsed discriminator stop the run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from dcgan.callbacks.divergence import DivergenceGuard
from dcgan.cli.train import train
from dcgan.errors import DivergenceError
from dcgan.training.losses import NonSaturating
from tests.conftest import LONG


def test_stop_mode_stops_on_a_non_finite_loss(compose_cfg):
    cfg = compose_cfg(
        *LONG,
        "trainer.max_steps=8",
        "+callbacks.corrupt._target_=tests.helpers.CorruptBatch",
        "+callbacks.corrupt.batch_number=1",
    )
    with pytest.raises(DivergenceError, match="non-finite loss_d"):
        train(cfg)


def test_collapsed_discriminator_stops_after_patience():
    guard = DivergenceGuard(check_every_n_steps=1, collapse_threshold=0.01, collapse_patience=3)
    module = SimpleNamespace(loss=NonSaturating(d_average=False))
    trainer = SimpleNamespace(global_step=0, checkpoint_callback=SimpleNamespace(last_good="ck/last.ckpt (step 3)"))
    healthy = {"train/loss_d": 1.0, "train/loss_g": 1.0, "train/d_real": 0.7, "train/d_fake": 0.3}
    collapsed = {"train/loss_d": 0.001, "train/loss_g": 9.0, "train/d_real": 0.999, "train/d_fake": 0.0001}
    for step, metrics in enumerate([healthy, collapsed, collapsed, healthy, collapsed, collapsed, collapsed], 1):
        trainer.global_step, module.stats = step, {k: torch.tensor(v) for k, v in metrics.items()}
        guard.on_train_batch_end(trainer, module)
    trainer.global_step += 1
    with pytest.raises(
        DivergenceError, match="discriminator collapsed at step 8.*since step 5.*ck/last.ckpt \\(step 3\\)"
    ):
        guard.on_train_batch_end(trainer, module)
