"""The quality options of issue 6: losses, EMA, spectral norm, R1, DiffAugment, TTUR."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from dcgan.augment import DiffAugment
from dcgan.ema import ExponentialMovingAverage
from dcgan.errors import ConfigError
from dcgan.losses import Hinge, LeastSquares, NonSaturating, Wasserstein, r1_penalty
from dcgan.models import DCGANDiscriminator, TransposedGenerator
from dcgan.train import train

OPTIONS = [
    ["loss=hinge"],
    ["loss=lsgan"],
    ["experiment=wgan_gp"],
    ["ema=on", "model.ema_start_step=2"],
    ["augment=diffaugment"],
    ["regularizer=r1"],
    ["spectral_norm=on"],
    ["ttur=on"],
    ["loss=hinge", "spectral_norm=on", "regularizer=r1", "augment=diffaugment", "ema=on", "ttur=on"],
]


@pytest.mark.parametrize("overrides", OPTIONS, ids=lambda o: ",".join(o))
def test_each_option_trains_without_nan(compose_cfg, tmp_path, overrides):
    metrics = train(compose_cfg(*overrides, "trainer.max_steps=12"))
    for key in ("train/loss_d", "train/loss_g", "train/d_real", "train/d_fake"):
        assert math.isfinite(metrics[key]), key
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    weights = ckpt["state_dict"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    if "ema=on" in overrides:
        assert any(k.startswith("generator_ema.module.") for k in weights)
    if "spectral_norm=on" in overrides:
        assert any("parametrizations.weight.original" in k for k in weights if k.startswith("discriminator."))
    if "regularizer=r1" in overrides:
        assert metrics["train/r1"] > 0
    if "experiment=wgan_gp" in overrides:
        assert metrics["train/penalty"] >= 0
        assert not any("running_mean" in k for k in weights if k.startswith("discriminator."))  # no BatchNorm


@pytest.mark.parametrize("overrides", [["experiment=fashion_mnist_best"], ["experiment=best", "dataset=celeba"]])
def test_the_best_recipe_composes_on_any_dataset(compose_cfg, overrides):
    # FAST (tests/conftest.py) shrinks the nets; the recipe is what the measurements in docs/ used
    cfg = compose_cfg(*overrides)
    assert cfg.dataset.name == ("celeba" if "dataset=celeba" in overrides else "fashion_mnist")
    assert cfg.generator._target_.endswith("UpsampleGenerator")
    assert (cfg.model.r1_gamma, cfg.model.ema_decay, cfg.model.ema_start_step) == (0.1, 0.999, 1000)
    assert cfg.loss._target_.endswith("NonSaturating") and cfg.discriminator._target_.endswith("DCGANDiscriminator")


def test_ttur_sets_two_learning_rates(compose_cfg):
    cfg = compose_cfg("ttur=on")
    assert (cfg.optimizer_g.lr, cfg.optimizer_d.lr) == (1e-4, 4e-4)


def test_ema_differs_from_raw_weights_and_tracks_them():
    torch.manual_seed(0)
    g = TransposedGenerator(image_size=16, channels=1, nz=4, ngf=4)
    ema = ExponentialMovingAverage(g, decay=0.9, start_step=2)
    target = [torch.randn_like(p) for p in g.parameters()]
    for step in range(60):
        with torch.no_grad():  # the live weights jump to a fixed target: EMA must approach it
            for p, t in zip(g.parameters(), target, strict=True):
                p.copy_(t)
        ema.update(g, step)
        if step == 2:
            first_gap = max((e - p).abs().max() for e, p in zip(ema.module.parameters(), g.parameters(), strict=True))
    gap = max((e - p).abs().max() for e, p in zip(ema.module.parameters(), g.parameters(), strict=True))
    assert first_gap == 0  # before start_step the EMA is a plain copy
    assert gap < 1e-2
    assert not any(p.requires_grad for p in ema.module.parameters())
    # during training the EMA lags the live weights
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    ema.update(g, 100)
    lag = [(p - e) for e, p in zip(ema.module.parameters(), g.parameters(), strict=True)]
    assert all(torch.allclose(d, torch.full_like(d, 0.9), atol=1e-2) for d in lag)


def test_ema_batchnorm_statistics_fit_the_averaged_weights():
    # The live G moves far away; the EMA (decay ~1) keeps the old weights. Its BatchNorm statistics must
    # come from its own activations, so that eval mode reproduces its train-mode (batch statistics) output.
    torch.manual_seed(0)
    g = TransposedGenerator(image_size=16, channels=1, nz=4, ngf=4)
    ema = ExponentialMovingAverage(g, decay=1 - 1e-9, start_step=0)
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(3.0).add_(0.5)
        for _ in range(20):
            g.train()(torch.randn(64, 4))  # the live running statistics, of the moved weights
    z = torch.randn(256, 4)
    for _ in range(60):
        ema.update(g, step=10, noise=torch.randn(256, 4))
    with torch.no_grad():
        batch_stats = ema.module.train()(z)
        own_stats = ema.module.eval()(z)
    assert (own_stats - batch_stats).abs().mean() < 0.05
    ema.update(g, step=10)  # no latents: the live statistics are copied, and they do not fit
    with torch.no_grad():
        copied_stats = ema.module.eval()(z)
    assert (copied_stats - batch_stats).abs().mean() > 2 * (own_stats - batch_stats).abs().mean()


def test_sampling_uses_the_ema_generator(compose_cfg):
    from hydra.utils import instantiate

    model = instantiate(compose_cfg("ema=on").model)
    assert model.sampling_generator is model.generator_ema.module
    with torch.no_grad():
        for p in model.generator_ema.module.parameters():
            p.zero_()
    out = model.sample()
    assert torch.allclose(out, torch.zeros_like(out))  # all-zero weights give tanh(0) = 0 everywhere


@pytest.mark.parametrize("loss", [NonSaturating(), Hinge(), LeastSquares(), Wasserstein()])
def test_losses_push_d_and_g_in_opposite_directions(loss):
    out = torch.full((8,), 0.5, requires_grad=True)
    (d_grad,) = torch.autograd.grad(loss.d_real(out), out)
    (g_grad,) = torch.autograd.grad(loss.g_loss(out), out)
    assert (d_grad < 0).all() and (g_grad < 0).all()  # both raise D(x) resp. D(G(z)) toward "real"
    (d_fake_grad,) = torch.autograd.grad(loss.d_fake(out), out)
    assert (d_fake_grad > 0).all()


def test_gradient_penalties():
    d = DCGANDiscriminator(image_size=16, channels=1, ndf=4, norm="none")
    real = torch.randn(4, 1, 16, 16, requires_grad=True)
    assert r1_penalty(d(real), real) > 0
    penalty = Wasserstein(gp_weight=10).penalty(d, real, torch.randn(4, 1, 16, 16))
    assert penalty > 0 and penalty.requires_grad
    assert Wasserstein(gp_weight=0).penalty(d, real, real) is None


def test_diffaugment_is_differentiable_and_changes_images():
    torch.manual_seed(0)
    x = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    y = DiffAugment()(x)
    assert y.shape == x.shape and not torch.equal(x, y)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(DiffAugment("translation")(torch.zeros(2, 1, 8, 8)), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="augment.policy"):
        DiffAugment("color,rotate")


def test_spectral_norm_bounds_every_d_layer():
    d = DCGANDiscriminator(image_size=16, channels=1, ndf=8, spectral_norm=True)
    for _ in range(20):  # power iterations converge in train mode
        d(torch.randn(2, 1, 16, 16))
    d.eval()
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    top = float(torch.linalg.matrix_norm(layers[0].weight.detach().flatten(1), ord=2))
    assert top == pytest.approx(1.0, abs=0.05)


def test_generate_and_evaluate_load_the_ema_generator(compose_cfg, tmp_path):
    from dcgan.checkpoint_io import load_generator

    train(compose_cfg("ema=on", "model.ema_start_step=0", "trainer.max_steps=6"))
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    key = next(k for k in state if k.startswith("generator.") and k.endswith("weight"))
    ema_key = "generator_ema.module." + key[len("generator.") :]
    assert not torch.equal(state[key], state[ema_key])
    ema_g, _, _ = load_generator(path)
    raw_g, _, _ = load_generator(path, use_ema=False)
    assert torch.equal(ema_g.state_dict()[key[len("generator.") :]], state[ema_key])
    assert torch.equal(raw_g.state_dict()[key[len("generator.") :]], state[key])
    exported = torch.load(tmp_path / "run" / "generator.pt", map_location="cpu", weights_only=True)["state_dict"]
    assert torch.equal(exported[key], state[ema_key])
