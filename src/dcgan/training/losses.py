"""Adversarial losses on discriminator outputs (no Sigmoid + BCELoss: safe under autocast), and penalties.

Each loss gives ``d_real(real_out)`` + ``d_fake(fake_out)`` for D (each times ``d_weight``: 1, or 1/2
with ``d_average``), ``g_loss(fake_out)`` for G, ``penalty(net, real, fake)`` (an extra D term or None;
``net`` maps images to D's outputs: for a class-conditional D, bound to the batch's labels),
``score(out)``: the per-image number logged as ``train/d_real`` / ``train/d_fake`` (a probability where
the loss has one), and ``says_real(out)``: D's verdict per image, behind ``train/d_acc_*`` (None where
the loss has no verdict).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Critic = Callable[[torch.Tensor], torch.Tensor]  # images -> D's outputs (D itself, or D bound to labels)


class GANLoss:
    """What every loss shares: ``d_average=True`` makes D's loss (real + fake) / 2 (Dive into Deep
    Learning) instead of real + fake (the PyTorch tutorial)."""

    probabilities = False  # whether score() is D's probability that the image is real
    threshold: float | None = 0.0  # D's output above which it says "real" (None: no verdict)

    def __init__(self, d_average: bool) -> None:
        self.d_weight = 0.5 if d_average else 1.0

    def penalty(self, net: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        return None

    def says_real(self, out: torch.Tensor) -> torch.Tensor | None:
        """Per image: True where D takes it for real (logit > 0: probability > 0.5), None without a verdict."""
        return None if self.threshold is None else out.detach().float() > self.threshold


class NonSaturating(GANLoss):
    """The DCGAN loss (Goodfellow et al. 2014, non-saturating G), BCE-with-logits written with softplus:
    D: BCE(D(x), 1) + BCE(D(G(z)), 0), the tutorial's errD_real + errD_fake; G: BCE(D(G(z)), 1)."""

    probabilities = True

    def d_real(self, out: torch.Tensor) -> torch.Tensor:
        return F.softplus(-out).mean()

    def d_fake(self, out: torch.Tensor) -> torch.Tensor:
        return F.softplus(out).mean()

    def g_loss(self, out: torch.Tensor) -> torch.Tensor:
        return F.softplus(-out).mean()

    def score(self, out: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(out.float())


class Hinge(GANLoss):
    """Hinge loss (Lim & Ye 2017; SAGAN, BigGAN): D: relu(1 - D(x)) + relu(1 + D(G(z))); G: -D(G(z))."""

    def d_real(self, out: torch.Tensor) -> torch.Tensor:
        return F.relu(1 - out).mean()

    def d_fake(self, out: torch.Tensor) -> torch.Tensor:
        return F.relu(1 + out).mean()

    def g_loss(self, out: torch.Tensor) -> torch.Tensor:
        return -out.mean()

    def score(self, out: torch.Tensor) -> torch.Tensor:
        return out.float()


class LeastSquares(Hinge):
    """LSGAN (Mao et al. 2017), targets 1 and 0: D: ((D(x) - 1)^2 + D(G(z))^2) / 2; G: (D(G(z)) - 1)^2 / 2."""

    threshold = 0.5  # halfway between the targets

    def d_real(self, out: torch.Tensor) -> torch.Tensor:
        return 0.5 * (out.float() - 1).pow(2).mean()

    def d_fake(self, out: torch.Tensor) -> torch.Tensor:
        return 0.5 * out.float().pow(2).mean()

    def g_loss(self, out: torch.Tensor) -> torch.Tensor:
        return 0.5 * (out.float() - 1).pow(2).mean()


class Wasserstein(Hinge):
    """WGAN-GP (Gulrajani et al. 2017): D: D(G(z)) - D(x) + gp_weight * (||grad D(x_hat)|| - 1)^2 on
    random interpolates x_hat; G: -D(G(z)). Use a discriminator without BatchNorm (discriminator.norm=none).
    A critic's output has no real/fake verdict: no ``train/d_acc_*``."""

    threshold = None

    def __init__(self, gp_weight: float, d_average: bool) -> None:
        super().__init__(d_average)
        self.gp_weight = float(gp_weight)

    def d_real(self, out: torch.Tensor) -> torch.Tensor:
        return -out.float().mean()

    def d_fake(self, out: torch.Tensor) -> torch.Tensor:
        return out.float().mean()

    def penalty(self, net: Critic, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor | None:
        if not self.gp_weight:
            return None
        eps = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
        interpolates = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        grad = input_gradient(net(interpolates), interpolates)
        return self.gp_weight * (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


def input_gradient(out: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
    """d sum(out) / d inputs, kept in the graph (for gradient penalties)."""
    (grad,) = torch.autograd.grad(out.float().sum(), inputs, create_graph=True)
    return grad.float()


def r1_penalty(real_out: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E ||grad_x D(x)||^2 on real images (``real`` must require grad)."""
    return input_gradient(real_out, real).flatten(1).pow(2).sum(1).mean()
