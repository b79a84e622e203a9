import pytest
import torch
from torch import nn

from dcgan.errors import ConfigError
from dcgan.models import CBlockDiscriminator, DCGANDiscriminator, TransposedGenerator, UpsampleGenerator
from dcgan.models.blocks import spatial_plan

SIZES = [16, 28, 32, 64, 128]
GENERATORS = {
    "transposed": lambda s, c: TransposedGenerator(image_size=s, channels=c, nz=12, ngf=4),
    "upsample-linear-nearest": lambda s, c: UpsampleGenerator(image_size=s, channels=c, nz=12, ngf=4),
    "upsample-transposed-bilinear": lambda s, c: UpsampleGenerator(
        image_size=s, channels=c, nz=12, ngf=4, mode="bilinear", projection="transposed"
    ),
}
DISCRIMINATORS = {
    "dcgan": lambda s, c: DCGANDiscriminator(image_size=s, channels=c, ndf=4),
    "cblock": lambda s, c: CBlockDiscriminator(image_size=s, channels=c, ndf=4),
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


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", DISCRIMINATORS)
def test_discriminator_gives_one_unbounded_logit(name, size, channels):
    d = DISCRIMINATORS[name](size, channels)
    logits = d(torch.randn(5, channels, size, size) * 3)
    assert logits.shape == (5,)
    assert logits.dtype == torch.float32
    assert not isinstance(list(d.modules())[-1], nn.Sigmoid)


@pytest.mark.parametrize(("size", "plan"), [(16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (128, (4, 5))])
def test_spatial_plan(size, plan):
    assert spatial_plan(size) == plan


@pytest.mark.parametrize("size", [8 + 1, 30, 7, 3, 36 * 3])
def test_unsupported_size_is_a_clear_error(size):
    with pytest.raises(ConfigError, match="dataset.image_size"):
        TransposedGenerator(image_size=size)


def test_bad_channels_and_options_are_clear_errors():
    with pytest.raises(ConfigError, match="dataset.channels=2"):
        DCGANDiscriminator(channels=2)
    with pytest.raises(ConfigError, match="generator.mode"):
        UpsampleGenerator(mode="bicubic")
    with pytest.raises(ConfigError, match="generator.projection"):
        UpsampleGenerator(projection="dense")
    with pytest.raises(ConfigError, match="discriminator.dropout"):
        CBlockDiscriminator(dropout=1.5)


@pytest.mark.parametrize("net", [TransposedGenerator(ngf=16), UpsampleGenerator(ngf=16), DCGANDiscriminator(ndf=16)])
def test_dcgan_init(net):
    torch.manual_seed(0)
    convs = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bns = [m.weight for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    conv = torch.cat([w.flatten() for w in convs])
    bn = torch.cat([w.flatten() for w in bns])
    assert abs(conv.mean()) < 0.002 and 0.018 < conv.std() < 0.022
    assert abs(bn.mean() - 1) < 0.01 and 0.01 < bn.std() < 0.03


def test_transposed_generator_is_the_dcgan_stack():
    g = TransposedGenerator(image_size=64, channels=3, nz=100, ngf=64)
    convs = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)]
    # nz -> 512 (4x4) -> 256 (8) -> 128 (16) -> 64 (32) -> 3 (64): the PyTorch tutorial's netG
    assert [(c.in_channels, c.out_channels) for c in convs] == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert sum(p.numel() for p in g.parameters()) == 3_576_704
    d = DCGANDiscriminator(image_size=64, channels=3, ndf=64)
    assert sum(p.numel() for p in d.parameters()) == 2_765_568


def test_upsample_generator_has_no_transposed_conv_with_linear_projection():
    g = UpsampleGenerator(image_size=32, channels=1, ngf=8)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in g.modules())
    assert sum(isinstance(m, nn.Upsample) for m in g.modules()) == 3
