"""An exponential moving average of the generator's weights (Karras et al. 2018; Yazici et al. 2019), with a
half-life in images that grows with training (StyleGAN2-ADA's ``ema_kimg``/``ema_rampup``, EDM)."""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_beta(num_images: int, batch_size: int, halflife_kimg: float, rampup: float | None) -> float:
    """The weight of the old average in one update (StyleGAN2-ADA's ``ema_beta``): a half-life of
    ``halflife_kimg`` thousand images, capped at ``rampup`` times the ``num_images`` seen so far, so that
    the average never reaches further back than a fixed share of training; ``batch_size`` images per update."""
    halflife = halflife_kimg * 1000
    if rampup is not None:
        halflife = min(halflife, num_images * rampup)
    return 0.5 ** (batch_size / max(halflife, 1e-8))


class ExponentialMovingAverage(nn.Module):
    """``module``: a frozen copy of the generator, ``beta * ema + (1 - beta) * weights`` after every G step,
    ``beta`` from ``ema_beta``: 0 at the first step (a copy), close to the live weights while training is
    young, smoothing over ``halflife_kimg`` thousand images late in training.

    BatchNorm: the running statistics of the live generator do not fit the averaged weights (a DCGAN's EMA
    sampled with them scores worse), so ``update(..., noise)`` runs the averaged generator on that step's
    latents (and ``labels``, for a class-conditional G) in train mode: its running statistics track its own
    activations, as the live generator's track its own. Without ``noise`` (or while ``beta`` is 0: a plain
    copy) the buffers are copied.
    """

    def __init__(self, generator: nn.Module, halflife_kimg: float, rampup: float | None) -> None:
        super().__init__()
        self.module = copy.deepcopy(generator).requires_grad_(False)
        self.halflife_kimg = float(halflife_kimg)
        self.rampup = None if rampup is None else float(rampup)

    def beta(self, num_images: int, batch_size: int) -> float:
        """``ema_beta`` with this average's half-life and ramp-up."""
        return ema_beta(num_images, batch_size, self.halflife_kimg, self.rampup)

    @torch.no_grad()
    def update(
        self,
        generator: nn.Module,
        num_images: int,
        batch_size: int,
        noise: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
    ) -> None:
        """One step towards ``generator``'s weights, ``num_images`` the images trained on before this step and
        ``batch_size`` the images of this step (the global batch)."""
        beta = self.beta(num_images, batch_size)
        ema, live = list(self.module.parameters()), [p.detach() for p in generator.parameters()]
        torch._foreach_lerp_(ema, live, 1.0 - beta)
        if beta > 0 and noise is not None and any(True for _ in self.module.buffers()):
            was_training = self.module.training
            self.module.train()(noise) if labels is None else self.module.train()(noise, labels)
            self.module.train(was_training)
        else:
            for ema_buffer, buffer in zip(self.module.buffers(), generator.buffers(), strict=True):
                ema_buffer.copy_(buffer)
