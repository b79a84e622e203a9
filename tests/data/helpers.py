"""Helpers for the data tests: config overrides for the fixtures, the batch the model sees, log capture."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from dcgan.errors import ConfigError
from tests.data.unchecked import CHECKED

DATASETS = ["fashion_mnist", "mnist", "svhn", "cifar10", "celeba", "image_folder", "array", "fake"]


def dataset_overrides(name: str, root: Path) -> list[str]:
    """dataset=<name> reading the fixtures under ``root`` (md5 checks skipped by test-only classes)."""
    overrides = [f"dataset={name}", f"paths.data_dir={root}", "dataset.download=false"]
    if name in CHECKED:
        overrides.append(f"dataset.source.dataset._target_={CHECKED[name]}")
    return overrides


def model_batch(dm, seed: int | None = None) -> torch.Tensor:
    """The first training batch as the LightningModule receives it (after the DataModule's batch hooks)."""
    dm.setup("fit")
    if seed is not None:
        torch.manual_seed(seed)
    batch = next(iter(dm.train_dataloader()))
    return dm.on_after_batch_transfer(dm.on_before_batch_transfer(batch, 0), 0)


def all_images(dm) -> torch.Tensor:
    """Every uint8 image the DataModule's training set yields, in index order."""
    dm.setup("fit")
    return torch.stack([dm.train_set[i][0] if isinstance(dm.train_set[i], tuple) else dm.train_set[i]
                        for i in range(len(dm.train_set))])  # fmt: skip


class LogRecords(logging.Handler):
    """``with LogRecords("dcgan.data") as logs:`` collects the messages (pytest may run with -p no:logging)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.INFO)
        self.logger, self.messages = logging.getLogger(name), []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> LogRecords:
        self.level = self.logger.level
        self.logger.addHandler(self)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level)


def config_error(build) -> ConfigError:
    """The ConfigError that ``build()`` raises (Hydra's instantiate wraps it); fails if there is none."""
    try:
        build()
    except Exception as error:
        while error is not None and not isinstance(error, ConfigError):
            error = error.__cause__ or error.__context__
        if error is not None:
            return error
        raise
    raise AssertionError("no ConfigError raised")
