"""The progress bar: the tutorial's statistics (losses, D(x), D(G(z)) before / after the D update), a total
that stops where max_steps does, log lines above it, not over it."""

from __future__ import annotations

import logging
import sys

import pytest
from hydra.utils import instantiate
from lightning.pytorch import Callback
from rich.file_proxy import FileProxy

from dcgan.callbacks.progress import ProgressBar
from dcgan.cli.train import build_trainer

# The bar as users get it (the tests' FAST overrides leave it out), in a terminal, where rich draws a
# live display and redirects stdout/stderr.
BAR = ["+callbacks.bar._target_=dcgan.callbacks.ProgressBar", "+callbacks.bar.console_kwargs.force_terminal=true"]


class Probe(Callback):
    """Records what the bar shows (completed/total) and the stream of a console log handler at every batch."""

    def __init__(self, handler: logging.StreamHandler) -> None:
        self.handler, self.shown, self.streams = handler, [], []

    def on_train_batch_end(self, trainer, *args) -> None:
        bar = trainer.progress_bar_callback
        task = bar.progress.tasks[bar.train_progress_bar_id]
        self.shown.append((int(task.completed), int(task.total)))
        self.streams.append(self.handler.stream)


@pytest.fixture
def console_handler():
    handler = logging.StreamHandler(sys.__stderr__)  # as Hydra's console handler holds the real stream
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def _fit(cfg, handler) -> Probe:
    trainer, probe = build_trainer(cfg), Probe(handler)
    trainer.callbacks.append(probe)
    assert isinstance(trainer.progress_bar_callback, ProgressBar)
    trainer.fit(instantiate(cfg.model), datamodule=instantiate(cfg.dataset))
    return probe


@pytest.mark.parametrize(("d_steps", "max_steps", "totals"), [(1, 6, [3]), (2, 9, [3]), (1, 40, [6, 6, 6, 2])])
def test_the_total_is_the_iterations_max_steps_allows(compose_cfg, console_handler, d_steps, max_steps, totals):
    # 96 fixture images, batch 16: 6 batches an epoch; max_steps counts d_steps_per_g + 1 steps a batch
    cfg = compose_cfg(*BAR, "trainer.max_epochs=-1", f"trainer.max_steps={max_steps}", f"model.d_steps_per_g={d_steps}")
    probe = _fit(cfg, console_handler)
    assert probe.shown == [(i, total) for total in totals for i in range(1, total + 1)]


def test_log_lines_go_through_the_live_display_and_back(compose_cfg, console_handler):
    probe = _fit(compose_cfg(*BAR, "trainer.max_steps=4"), console_handler)
    assert probe.streams and all(isinstance(stream, FileProxy) for stream in probe.streams)  # above the bar
    assert console_handler.stream is sys.__stderr__  # restored when training ends


def test_a_resumed_run_counts_the_batches_already_done_this_epoch(compose_cfg, console_handler, tmp_path):
    from dcgan.cli.train import train

    train(compose_cfg("trainer.max_epochs=-1", "trainer.max_steps=4"))  # 2 of the epoch's 6 batches
    cfg = compose_cfg(*BAR, "trainer.max_epochs=-1", "trainer.max_steps=8")
    trainer, probe = build_trainer(cfg), Probe(console_handler)
    trainer.callbacks.append(probe)
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    trainer.fit(instantiate(cfg.model), datamodule=instantiate(cfg.dataset), ckpt_path=ckpt, weights_only=True)
    assert probe.shown == [(3, 4), (4, 4)]  # the bar runs on from 2/4 to 4/4


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
