"""Blocks shared by the nets: the spatial plan of an image size, the DCGAN weight init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from dcgan.errors import ConfigError
from dcgan.models.blocks import spatial_plan
from tests.helpers import build


@pytest.mark.parametrize(("size", "plan"), [(16, (4, 2)), (28, (7, 2)), (32, (4, 3)), (64, (4, 4)), (128, (4, 5))])
def test_spatial_plan(size, plan):
    assert spatial_plan(size) == plan


@pytest.mark.parametrize("size", [8 + 1, 30, 7, 3, 36 * 3])
def test_unsupported_size_is_a_clear_error(size):
    with pytest.raises(ConfigError, match="dataset.image_size"):
        build("generator/transposed", image_size=size, channels=1)


@pytest.mark.parametrize("net", ["generator/transposed", "generator/upsample", "discriminator/dcgan"])
def test_dcgan_init(net):
    torch.manual_seed(0)
    width = {"ndf": 16} if net.startswith("discriminator") else {"ngf": 16}
    net = build(net, image_size=64, channels=3, **width)
    convs = [m.weight for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bns = [m.weight for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    conv = torch.cat([w.flatten() for w in convs])
    bn = torch.cat([w.flatten() for w in bns])
    assert abs(conv.mean()) < 0.002 and 0.018 < conv.std() < 0.022
    assert abs(bn.mean() - 1) < 0.01 and 0.01 < bn.std() < 0.03
