"""Generators: shapes and range for every variant and size, the DCGAN stack, the upsample variant."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dcgan.errors import ConfigError
from tests.helpers import build

SIZES = [16, 28, 32, 64, 128]
GENERATORS = {
    "transposed": lambda s, c: build("generator/transposed", image_size=s, channels=c, nz=12, ngf=4),
    "upsample-linear-nearest": lambda s, c: build("generator/upsample", image_size=s, channels=c, nz=12, ngf=4),
    "upsample-transposed-bilinear": lambda s, c: build(
        "generator/upsample", image_size=s, channels=c, nz=12, ngf=4, mode="bilinear", projection="transposed"
    ),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", GENERATORS)
def test_generator_shape_and_range(name, size, channels):
    g = GENERATORS[name](size, channels)
    x = g(torch.randn(5, 12))
    assert x.shape == (5, channels, size, size)
    assert x.min() >= -1 and x.max() <= 1
    assert x.std() > 0  # not a constant image
    # the noise may also come in the DCGAN paper's (B, nz, 1, 1) shape
    assert g(torch.randn(2, 12, 1, 1)).shape == (2, channels, size, size)


def test_transposed_generator_is_the_dcgan_stack():
    g = build("generator/transposed", image_size=64, channels=3)
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    # nz -> 512 (4x4) -> 256 (8) -> 128 (16) -> 64 (32) -> 3 (64): the PyTorch tutorial's netG
    assert [(c.in_channels, c.out_channels) for c in convs] == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert sum(p.numel() for p in g.parameters()) == 3_576_704
    d = build("discriminator/dcgan", image_size=64, channels=3)
    assert sum(p.numel() for p in d.parameters()) == 2_765_568


def test_upsample_generator_has_no_transposed_conv_with_linear_projection():
    g = build("generator/upsample", image_size=32, channels=1, ngf=8)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in g.modules())
    assert sum(isinstance(m, nn.Upsample) for m in g.modules()) == 3


def test_bad_options_are_clear_errors():
    with pytest.raises(ConfigError, match="generator.mode"):
        build("generator/upsample", image_size=32, channels=1, mode="bicubic")
    with pytest.raises(ConfigError, match="generator.projection"):
        build("generator/upsample", image_size=32, channels=1, projection="dense")


def test_upsample_generator_as_the_labs():
    g = build(
        "generator/upsample", image_size=28, channels=1, mode="bilinear", stages=2, convs_per_stage=2, out_kernel=1
    )
    assert g.project[0].out_features == 7 * 7 * 256 and g.base == 7
    assert [m.mode for m in g.modules() if isinstance(m, nn.Upsample)] == ["bilinear"] * 2
    convs = [m for m in g.net.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (256, 128, (3, 3)), (128, 128, (3, 3)), (128, 64, (3, 3)), (64, 64, (3, 3)), (64, 1, (1, 1))
    ]  # fmt: skip
    svhn = build("generator/upsample", image_size=32, channels=3, stages=2)
    assert svhn.project[0].out_features == 8 * 8 * 256 and svhn(torch.randn(2, 100)).shape == (2, 3, 32, 32)


def test_norm_eps_reaches_every_batchnorm():
    for name in ("generator/transposed", "generator/upsample"):
        g = build(name, image_size=32, channels=1, ngf=8, norm_eps=0.8)
        norms = [m for m in g.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
        assert norms and {m.eps for m in norms} == {0.8}


def test_default_upsample_generator_keeps_its_checkpoint_names():
    # experiment=best's runs: one conv per stage at net.<stage>.1, a 3x3 output conv
    g = build("generator/upsample", image_size=32, channels=1, ngf=8)
    names = set(g.state_dict())
    assert {"net.0.1.0.weight", "net.0.1.1.running_mean", "net.3.0.weight"} <= names
    assert not any(name.startswith("net.0.2.") for name in names)
    assert g.net[3][0].kernel_size == (3, 3)


def test_lab_generator_options_are_clear_errors():
    with pytest.raises(ConfigError, match="generator.convs_per_stage"):
        build("generator/upsample", image_size=32, channels=1, convs_per_stage=0)
    with pytest.raises(ConfigError, match="generator.out_kernel"):
        build("generator/upsample", image_size=32, channels=1, out_kernel=5)


CONDITIONAL = {
    "transposed": lambda **kw: build("generator/transposed", image_size=32, channels=1, nz=12, ngf=4, **kw),
    "upsample-linear": lambda **kw: build("generator/upsample", image_size=28, channels=3, nz=12, ngf=4, **kw),
    "upsample-transposed": lambda **kw: build(
        "generator/upsample", image_size=16, channels=1, nz=12, ngf=4, projection="transposed", **kw
    ),
}


@pytest.mark.parametrize("condition", ["concat", "cbn"])
@pytest.mark.parametrize("name", CONDITIONAL)
def test_a_conditional_generator_draws_the_class_it_is_given(name, condition):
    g = CONDITIONAL[name](num_classes=5, class_names=list("abcde"), condition=condition)
    assert (g.num_classes, g.class_names, g.condition) == (5, list("abcde"), condition)
    z, labels = torch.randn(6, 12), torch.tensor([0, 1, 2, 3, 4, 0])
    x = g(z, labels)
    assert x.shape == (6, g.channels, g.image_size, g.image_size) and x.min() >= -1 and x.max() <= 1
    other = g(z, (labels + 1) % 5)  # the same latents, other classes
    assert ((other - x).flatten(1).abs().max(dim=1).values > 1e-4).all()  # the label steers every image
    g.eval()
    torch.testing.assert_close(g(z[:2], labels[:2]), g(z, labels)[:2])  # eval mode: per sample
    with pytest.raises(ValueError, match="needs labels"):
        g(z)
    kinds = {type(m).__name__ for m in g.modules()}
    assert ("ConditionalBatchNorm" in kinds) == (condition == "cbn") and hasattr(g, "embed") == (condition == "concat")


def test_unconditional_generators_keep_their_weights_and_names():
    for name in ("generator/transposed", "generator/upsample"):
        torch.manual_seed(0)
        plain = build(name, image_size=32, channels=1, ngf=8)
        assert plain.num_classes == 0 and plain.class_names == [] and not hasattr(plain, "embed")
        torch.manual_seed(0)
        conditional = build(name, image_size=32, channels=1, ngf=8, num_classes=3)
        assert set(conditional.state_dict()) - set(plain.state_dict()) == {"embed.weight"}
        assert not any("embed" in k or "scale" in k for k in plain.state_dict())
    torch.manual_seed(0)
    g = build("generator/transposed", image_size=64, channels=3)
    assert sum(p.numel() for p in g.parameters()) == 3_576_704  # the tutorial's netG, unchanged


def test_bad_conditioning_is_a_clear_error():
    with pytest.raises(ConfigError, match="generator.condition='film' is not supported"):
        build("generator/transposed", image_size=32, channels=1, num_classes=3, condition="film")
    with pytest.raises(ConfigError, match="generator.embed_dim=0"):
        build("generator/transposed", image_size=32, channels=1, num_classes=3, embed_dim=0)
