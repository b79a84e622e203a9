"""The val/fd callback: logged every N steps during training, and a ModelCheckpoint keeps the best by it."""

from __future__ import annotations

import csv
import math

import pytest
from omegaconf import OmegaConf, open_dict

from dcgan.callbacks.fid import ValFrechetDistance
from dcgan.errors import ConfigError
from dcgan.train import train

# The callbacks config that switches val/fd on (conf/callbacks/fd.yaml; python train.py 'callbacks=[default,fd]').
FD_CALLBACKS = """
fd:
  _target_: dcgan.callbacks.fid.ValFrechetDistance
  settings: ${metrics}
  every_n_steps: 2000
  num_samples: 2000
best_fd:
  _target_: dcgan.callbacks.Checkpoint
  dirpath: ${paths.output_dir}/checkpoints
  filename: "best-step={step:07d}-fd={val/fd:.4f}"
  auto_insert_metric_name: false
  monitor: val/fd
  mode: min
  save_top_k: 1
  every_n_train_steps: ${callbacks.fd.every_n_steps}
  save_last: false
"""


def test_val_fd_is_logged_and_the_best_checkpoint_kept(compose_cfg, tmp_path, classifier_file):
    cfg = compose_cfg(
        "trainer.max_steps=8", "logger=csv", "+metrics=fid", f"metrics.classifier={classifier_file}",
        f"metrics.cache_dir={tmp_path / 'cache'}", "metrics.batch_size=16",
    )  # fmt: skip
    with open_dict(cfg):
        cfg.callbacks = OmegaConf.merge(cfg.callbacks, OmegaConf.create(FD_CALLBACKS))
        cfg.callbacks.fd.every_n_steps, cfg.callbacks.fd.num_samples = 4, 32
    metrics = train(cfg)
    assert math.isfinite(metrics["val/fd"]) and metrics["val/fd"] > 0
    with open(tmp_path / "run" / "csv" / "metrics.csv") as file:
        logged = {int(row["step"]): float(row["val/fd"]) for row in csv.DictReader(file) if row.get("val/fd")}
    assert sorted(logged) == [4, 8]  # every 4 global steps
    assert metrics["val/fd"] == pytest.approx(logged[8])
    best = list((tmp_path / "run" / "checkpoints").glob("best-*.ckpt"))
    assert len(best) == 1
    assert float(best[0].stem.split("fd=")[1]) == pytest.approx(min(logged.values()), abs=1e-4)
    assert len(list((tmp_path / "cache").glob("real_fashion_mnist_train_*.pt"))) == 1


def test_val_fd_settings_are_checked():
    with pytest.raises(ConfigError, match="every_n_steps=0"):
        ValFrechetDistance({}, every_n_steps=0)
    with pytest.raises(ConfigError, match="num_samples=1"):
        ValFrechetDistance({}, num_samples=1)
