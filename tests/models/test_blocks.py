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


@pytest.mark.parametrize(("size", "out", "pads"), [(28, 14, (1, 1)), (14, 7, (1, 1)), (7, 4, (1, 2)), (32, 16, (1, 1))])
def test_same_padding_is_tensorflows(size, out, pads):
    from dcgan.models.blocks import same_padding

    pad = same_padding(size, 4, 2)
    assert pad.padding == (pads[0], pads[1], pads[0], pads[1])  # the odd pixel at the bottom and right
    conv = nn.Conv2d(1, 1, 4, 2, 0)
    assert conv(pad(torch.zeros(1, 1, size, size))).shape[-1] == out


@pytest.mark.parametrize(("size", "stages", "plan"), [(28, 2, (7, 2)), (32, 2, (8, 2)), (64, 3, (8, 3))])
def test_spatial_plan_with_a_fixed_number_of_stages(size, stages, plan):
    assert spatial_plan(size, stages) == plan


def test_stages_that_do_not_divide_the_size_are_a_clear_error():
    with pytest.raises(ConfigError, match="generator.stages"):
        build("generator/upsample", image_size=28, channels=1, stages=3)


def test_preserved_buffers_puts_batchnorm_statistics_back():
    from dcgan.models.blocks import preserved_buffers

    net = build("generator/transposed", image_size=16, channels=1, nz=4, ngf=4).train()
    before = {k: v.clone() for k, v in net.named_buffers()}
    with preserved_buffers(net):
        net(torch.randn(8, 4))
        assert any(not torch.equal(v, before[k]) for k, v in net.named_buffers())  # the forward moved them
    assert all(torch.equal(v, before[k]) for k, v in net.named_buffers())
