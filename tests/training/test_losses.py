"""Adversarial losses and gradient penalties."""

from __future__ import annotations

import pytest
import torch

from dcgan.training.losses import Hinge, LeastSquares, NonSaturating, Wasserstein, r1_penalty
from tests.helpers import build


@pytest.mark.parametrize("loss", [NonSaturating(), Hinge(), LeastSquares(), build("loss/wgan_gp")])
def test_losses_push_d_and_g_in_opposite_directions(loss):
    out = torch.full((8,), 0.5, requires_grad=True)
    (d_grad,) = torch.autograd.grad(loss.d_real(out), out)
    (g_grad,) = torch.autograd.grad(loss.g_loss(out), out)
    assert (d_grad < 0).all() and (g_grad < 0).all()  # both raise D(x) resp. D(G(z)) toward "real"
    (d_fake_grad,) = torch.autograd.grad(loss.d_fake(out), out)
    assert (d_fake_grad > 0).all()


def test_gradient_penalties():
    d = build("discriminator/dcgan", image_size=16, channels=1, ndf=4, norm="none")
    real = torch.randn(4, 1, 16, 16, requires_grad=True)
    assert r1_penalty(d(real), real) > 0
    penalty = Wasserstein(gp_weight=10).penalty(d, real, torch.randn(4, 1, 16, 16))
    assert penalty > 0 and penalty.requires_grad
    assert Wasserstein(gp_weight=0).penalty(d, real, real) is None
