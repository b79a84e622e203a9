"""Adversarial losses and gradient penalties."""

from __future__ import annotations

import pytest
import torch

from dcgan.training.losses import Hinge, LeastSquares, NonSaturating, Wasserstein, r1_penalty
from tests.helpers import build

LOSSES = ["nonsaturating", "hinge", "lsgan", "wgan_gp"]


@pytest.mark.parametrize("loss", [build(f"loss/{name}") for name in LOSSES], ids=LOSSES)
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
    penalty = Wasserstein(gp_weight=10, d_average=False).penalty(d, real, torch.randn(4, 1, 16, 16))
    assert penalty > 0 and penalty.requires_grad
    assert Wasserstein(gp_weight=0, d_average=False).penalty(d, real, real) is None


@pytest.mark.parametrize("name", LOSSES)
def test_d_average_halves_ds_loss_as_a_loss_option(name):
    assert build(f"loss/{name}").d_weight == 1.0  # off by default: real + fake, as the tutorial
    assert build(f"loss/{name}", d_average=True).d_weight == 0.5  # (real + fake) / 2, as d2l


def test_discriminator_verdicts():
    out = torch.tensor([-2.0, -0.1, 0.2, 0.7])
    assert NonSaturating(d_average=False).says_real(out).tolist() == [False, False, True, True]  # p > 0.5
    assert Hinge(d_average=False).says_real(out).tolist() == [False, False, True, True]
    assert LeastSquares(d_average=False).says_real(out).tolist() == [False, False, False, True]  # targets 0, 1
    assert Wasserstein(gp_weight=10, d_average=False).says_real(out) is None  # a critic has no verdict
