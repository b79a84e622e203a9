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
