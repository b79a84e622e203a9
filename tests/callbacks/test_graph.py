"""ModelGraph: the graph of D(G(z)) in TensorBoard, with no effect on training."""

from __future__ import annotations

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dcgan.cli.train import train
from tests.helpers import read_ckpt


def test_model_graph_reaches_tensorboard_and_changes_nothing(compose_cfg, tmp_path):
    train(compose_cfg("logger=tensorboard", "callbacks=[default,graph]", "trainer.max_steps=4"))
    run = tmp_path / "run"
    events = EventAccumulator(str(next((run / "tensorboard").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    ops = [node.op for node in events.Graph().node]
    assert any("ConvTranspose" in op or "convolution" in op for op in ops)  # G's transposed convs ...
    assert sum("leaky_relu" in op for op in ops) >= 2  # ... and D's LeakyReLUs: both nets
    with_graph = read_ckpt(run / "checkpoints" / "last.ckpt")["state_dict"]
    (run).rename(tmp_path / "with_graph")
    train(compose_cfg("logger=tensorboard", "trainer.max_steps=4"))
    without = read_ckpt(run / "checkpoints" / "last.ckpt")["state_dict"]
    for key, value in without.items():  # tracing in eval mode moved no buffer and drew no random number
        assert value.equal(with_graph[key]), key


@pytest.mark.parametrize("logger", ["csv"])
def test_model_graph_without_tensorboard_is_skipped(compose_cfg, logger):
    metrics = train(compose_cfg(f"logger={logger}", "callbacks=[default,graph]", "trainer.max_steps=2"))
    assert metrics


def test_a_conditional_models_graph_takes_the_labels(compose_cfg, tmp_path):
    train(
        compose_cfg("model.conditional=true", "logger=tensorboard", "callbacks=[default,graph]", "trainer.max_steps=2")
    )
    events = EventAccumulator(str(next((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*")).parent))
    events.Reload()
    ops = [node.op for node in events.Graph().node]
    assert sum("embedding" in op for op in ops) >= 2  # G's class embedding and D's projection
    assert sum("leaky_relu" in op for op in ops) >= 2
