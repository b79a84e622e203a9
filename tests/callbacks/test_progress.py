"""The progress bar shows the tutorial's statistics: losses, D(x), D(G(z)) before / after the D update."""

from __future__ import annotations

from hydra.utils import instantiate

from dcgan.callbacks import ProgressBar
from dcgan.cli.train import build_trainer


def test_progress_bar_shows_d_of_x_and_d_of_g_of_z_before_and_after(compose_cfg):
    cfg = compose_cfg("trainer.max_steps=2")
    trainer = build_trainer(cfg)
    trainer.fit(instantiate(cfg.model), datamodule=instantiate(cfg.dataset))
    shown = ProgressBar().get_metrics(trainer, trainer.lightning_module)
    assert set(shown) == {"loss_d", "loss_g", "D(x)", "D(G(z))"}
    logged = trainer.callback_metrics
    before, after = (float(logged[k]) for k in ("train/d_fake", "train/d_fake_after"))
    assert shown["D(G(z))"] == f"{before:.3f} / {after:.3f}"
    assert shown["D(x)"] == float(logged["train/d_real"])
