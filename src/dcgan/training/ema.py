"""An exponential moving average of the generator's weights (Karras et al. 2018; Yazici et al. 2019)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class ExponentialMovingAverage(nn.Module):
    """``module``: a frozen copy of the generator, ``decay * ema + (1 - decay) * weights`` after every
    G step from ``start_step`` (global steps) on, a plain copy before.

    BatchNorm: the running statistics of the live generator do not fit the averaged weights (a DCGAN's EMA
    sampled with them scores worse), so from ``start_step`` on, ``update(..., noise)`` runs the averaged
    generator on that step's latents (and ``labels``, for a class-conditional G) in train mode: its running
    statistics track its own activations, as the live generator's track its own. Without ``noise`` (or
    before ``start_step``) the buffers are copied.
    """

    def __init__(self, generator: nn.Module, decay: float, start_step: int) -> None:
        super().__init__()
        self.module = copy.deepcopy(generator).requires_grad_(False)
        self.decay, self.start_step = float(decay), int(start_step)

    @torch.no_grad()
    def update(
        self, generator: nn.Module, step: int, noise: torch.Tensor | None = None, labels: torch.Tensor | None = None
    ) -> None:
        averaging = step >= self.start_step
        ema, live = list(self.module.parameters()), [p.detach() for p in generator.parameters()]
        torch._foreach_lerp_(ema, live, 1.0 - self.decay if averaging else 1.0)
        if averaging and noise is not None and any(True for _ in self.module.buffers()):
            was_training = self.module.training
            self.module.train()(noise) if labels is None else self.module.train()(noise, labels)
            self.module.train(was_training)
        else:
            for ema_buffer, buffer in zip(self.module.buffers(), generator.buffers(), strict=True):
                ema_buffer.copy_(buffer)
