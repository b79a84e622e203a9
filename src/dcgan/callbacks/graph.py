"""The model graph in TensorBoard (``SummaryWriter.add_graph``), as the face-array tutorial logs it."""

from __future__ import annotations

import logging
import warnings

import torch
from lightning.pytorch import Callback, LightningModule, Trainer
from lightning.pytorch.loggers import TensorBoardLogger
from torch import nn

log = logging.getLogger(__name__)


class _DOfG(nn.Module):
    """D(G(z, labels), labels): the graph of a class-conditional pair."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module) -> None:
        super().__init__()
        self.generator, self.discriminator = generator, discriminator

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.discriminator(self.generator(z, labels), labels)


class ModelGraph(Callback):
    """At the start of training, the graph of D(G(z)) (both nets, traced on two fixed-noise latents) in each
    TensorBoard logger. Traced in eval mode: no BatchNorm statistics move and no random numbers are drawn,
    so training continues exactly as without it. Rank zero only."""

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        loggers = [logger for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        if not trainer.is_global_zero or not loggers:
            if trainer.is_global_zero:
                log.warning("callbacks.model_graph: no TensorBoard logger (logger=tensorboard), no graph logged")
            return
        nets = nn.Sequential(pl_module.generator, pl_module.discriminator)
        inputs = pl_module.fixed_noise[:2]
        if pl_module.conditional:
            nets, inputs = (
                _DOfG(pl_module.generator, pl_module.discriminator),
                (inputs, torch.arange(2, device=inputs.device)),
            )
        modes = [m.training for m in nets.modules()]
        nets.eval()
        try:
            with torch.no_grad(), warnings.catch_warnings():
                # TensorBoard's add_graph traces with torch.jit.trace, which torch now calls deprecated
                warnings.filterwarnings("ignore", r"`torch\.jit\.trace", FutureWarning)
                for logger in loggers:
                    logger.experiment.add_graph(nets, inputs)
        finally:
            for module, mode in zip(nets.modules(), modes, strict=True):
                module.training = mode
