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
