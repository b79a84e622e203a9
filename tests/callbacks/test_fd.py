"""The val/fd callback: logged every N steps during training, and a ModelCheckpoint keeps the best by it."""

from __future__ import annotations

import csv
import math

import pytest
from hydra.utils import instantiate

from dcgan.cli.train import train
from tests.helpers import config_error


def test_val_fd_is_logged_and_the_best_checkpoint_kept(compose_cfg, tmp_path, classifier_file):
    cfg = compose_cfg(
        "trainer.max_steps=8", "logger=csv", "callbacks=[default,fd]", f"metrics.classifier={classifier_file}",
        f"metrics.cache_dir={tmp_path / 'cache'}", "metrics.batch_size=16", "callbacks.fd.every_n_steps=4",
        "callbacks.fd.num_samples=32",
    )  # fmt: skip
    metrics = train(cfg)
    assert math.isfinite(metrics["val/fd"]) and metrics["val/fd"] > 0
    with open(tmp_path / "run" / "csv" / "metrics.csv") as file:
        logged = {int(row["step"]): float(row["val/fd"]) for row in csv.DictReader(file) if row.get("val/fd")}
    assert sorted(logged) == [4, 8]  # every 4 global steps
    assert metrics["val/fd"] == pytest.approx(logged[8])
    best = list((tmp_path / "run" / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1
    assert float(best[0].stem.split("fd_")[1]) == pytest.approx(min(logged.values()), abs=1e-4)
    assert len(list((tmp_path / "cache").glob("real_fashion_mnist_train_*.pt"))) == 1


def test_val_fd_settings_are_checked(compose_cfg):
    settings = compose_cfg("callbacks=[default,fd]").callbacks.fd
    for key, value in (("every_n_steps", 0), ("num_samples", 1)):
        assert f"{key}={value}" in str(config_error(lambda key=key, value=value: instantiate(settings, **{key: value})))


def test_val_fd_of_a_conditional_run(compose_cfg, tmp_path, classifier_file):
    cfg = compose_cfg(
        "model.conditional=true", "trainer.max_steps=4", "callbacks=[default,fd]",
        f"metrics.classifier={classifier_file}", f"metrics.cache_dir={tmp_path / 'cache'}", "metrics.batch_size=16",
        "callbacks.fd.num_samples=32",
    )  # fmt: skip
    assert math.isfinite(train(cfg)["val/fd"])  # G's samples of every class in turn
