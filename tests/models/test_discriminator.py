"""Discriminators: one unbounded logit per image for every variant and size, spectral norm, options."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dcgan.errors import ConfigError
from tests.helpers import build

SIZES = [16, 28, 32, 64, 128]
DISCRIMINATORS = {
    "dcgan": lambda s, c: build("discriminator/dcgan", image_size=s, channels=c, ndf=4),
    "cblock": lambda s, c: build("discriminator/cblock", image_size=s, channels=c, ndf=4),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_discriminator_gives_one_unbounded_logit(name, size, channels):
    d = DISCRIMINATORS[name](size, channels)
    logits = d(torch.randn(5, channels, size, size) * 3)
    assert logits.shape == (5,)
    assert logits.dtype == torch.float32
    assert not isinstance(list(d.modules())[-1], nn.Sigmoid)


def test_spectral_norm_bounds_every_d_layer():
    d = build("discriminator/dcgan", image_size=16, channels=1, ndf=8, spectral_norm=True)
    for _ in range(20):  # power iterations converge in train mode
        d(torch.randn(2, 1, 16, 16))
    d.eval()
    layers = [m for m in d.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    top = float(torch.linalg.matrix_norm(layers[0].weight.detach().flatten(1), ord=2))
    assert top == pytest.approx(1.0, abs=0.05)


def test_bad_options_are_clear_errors():
    with pytest.raises(ConfigError, match="discriminator.dropout"):
        build("discriminator/cblock", image_size=32, channels=1, dropout=1.5)
    with pytest.raises(ConfigError, match="discriminator.norm"):
        build("discriminator/dcgan", image_size=32, channels=1, norm="layer")


def test_cblock_is_the_labs_critic():
    d = build("discriminator/cblock", image_size=28, channels=1)  # the YAML's own widths: 32, 64, 96
    features = d.features(torch.randn(4, 1, 28, 28))
    assert features.shape == (4, 96, 4, 4)
    assert isinstance(d.head, nn.Linear) and d.head.weight.numel() == 1536
    # the stride-2 convs: 4x4, no BatchNorm after them, a bias (nothing normalizes them away)
    downs = [m for m in d.features.modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]
    assert [(m.kernel_size, m.bias is not None) for m in downs] == [((4, 4), True)] * 3
    for stage in d.features:
        assert not any(isinstance(m, nn.BatchNorm2d) for m in stage[2].modules())


def test_dcgan_input_norm_and_norm_eps():
    plain = build("discriminator/dcgan", image_size=32, channels=3, ndf=8)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.features[0])  # the tutorial's D
    d2l = build("discriminator/dcgan", image_size=32, channels=3, ndf=8, input_norm=True, norm_eps=0.8)
    norms = [m for m in d2l.modules() if isinstance(m, nn.BatchNorm2d)]
    assert isinstance(d2l.features[0][1], nn.BatchNorm2d) and len(norms) == 3 and {m.eps for m in norms} == {0.8}
    # input_norm adds 2 * ndf BatchNorm parameters and nothing else
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(d2l) - count(plain) == 2 * 8


def test_lab_options_are_clear_errors():
    with pytest.raises(ConfigError, match="discriminator.width_factors"):
        build("discriminator/cblock", image_size=28, channels=1, width_factors=[])
    with pytest.raises(ConfigError, match="discriminator.norm_eps"):
        build("discriminator/dcgan", image_size=32, channels=1, norm_eps=0)


@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_the_projection_term_makes_the_logit_depend_on_the_label(name):
    torch.manual_seed(0)
    no_dropout = {"dropout": 0.0} if name == "cblock" else {}
    # train mode (BatchNorm on the batch's statistics, as in training): at init, eval mode shrinks the features to ~0
    d = build(f"discriminator/{name}", image_size=32, channels=1, ndf=4, num_classes=4, **no_dropout)
    x = torch.randn(3, 1, 32, 32)
    logits = d(x, torch.tensor([0, 1, 2]))
    assert logits.shape == (3,)
    every_label = torch.stack([d(x, torch.full((3,), k)) for k in range(4)])  # (labels, images)
    assert (every_label.max(0).values - every_label.min(0).values).min() > 1e-4
    features = d.features(x)
    head = d.head(features if name == "dcgan" else features.flatten(1)).flatten()
    projection = (d.embed(torch.tensor([0, 1, 2])) * features.sum(dim=(2, 3))).sum(1)  # <embed(y), phi(x)>
    torch.testing.assert_close(logits, head + projection)
    with pytest.raises(ValueError, match="needs labels"):
        d(x)


def test_an_unconditional_discriminator_has_no_projection():
    torch.manual_seed(0)
    plain = build("discriminator/dcgan", image_size=64, channels=3)
    assert not hasattr(plain, "embed") and sum(p.numel() for p in plain.parameters()) == 2_765_568
    sn = build("discriminator/cblock", image_size=32, channels=1, ndf=4, num_classes=3, spectral_norm=True)
    assert hasattr(sn.embed, "parametrizations")  # spectral norm on the projection too


@pytest.mark.parametrize("condition", ["concat", "cbn"])
@pytest.mark.parametrize("discriminator", DISCRIMINATORS)
@pytest.mark.parametrize("generator", ["transposed", "upsample"])
def test_every_conditional_pair_fits_together(generator, discriminator, condition):
    g = build(f"generator/{generator}", image_size=28, channels=1, nz=12, ngf=4, num_classes=10, condition=condition)
    d = build(f"discriminator/{discriminator}", image_size=28, channels=1, ndf=4, num_classes=10)
    labels = torch.tensor([9, 0, 4, 4])
    fake = g(torch.randn(4, 12), labels)
    assert fake.shape == (4, 1, 28, 28)
    out = d(fake, labels)
    assert out.shape == (4,) and torch.isfinite(out).all()
    out.sum().backward()  # gradients reach G's class conditioning through D
    conditioning = (
        g.embed.weight if condition == "concat" else next(m.scale.weight for m in g.modules() if hasattr(m, "scale"))
    )
    assert conditioning.grad is not None and conditioning.grad.abs().sum() > 0
