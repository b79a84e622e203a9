"""Building blocks shared by every generator and discriminator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

from dcgan.errors import ConfigError


def spatial_plan(image_size: int, stages: int | None = None) -> tuple[int, int]:
    """Split ``image_size`` into ``base * 2**stages``.

    Without ``stages``: ``4 <= base <= 7`` and ``stages >= 1``: 64 -> (4, 4), 32 -> (4, 3), 28 -> (7, 2),
    16 -> (4, 2), 128 -> (4, 5): every net starts (or ends) at a ``base x base`` feature map and doubles
    (or halves) the resolution ``stages`` times, so 28x28 MNIST-style images are generated natively
    (7 -> 14 -> 28), without resizing to 32. With ``stages`` (a net that fixes its number of stages, as the
    DCGAN lab's generator: 2): ``base = image_size / 2**stages``, which must be a whole number >= 2.
    """
    if stages is not None:
        stages = int(stages)
        base, rest = divmod(int(image_size), 2**stages) if stages >= 1 else (0, 1)
        if stages < 1 or rest or base < 2:
            raise ConfigError(
                f"dataset.image_size={image_size} cannot be reached in {stages} doubling stage(s) "
                "(generator.stages): use an image size divisible by 2**stages, or generator.stages=null"
            )
        return base, stages
    size, stages = int(image_size), 0
    while size > 7 and size % 2 == 0:
        size, stages = size // 2, stages + 1
    if stages == 0 or not 4 <= size <= 7:
        raise ConfigError(
            f"dataset.image_size={image_size} is not supported by the nets: "
            "use base * 2**k with base in 4..7 and k >= 1 (e.g. 16, 28, 32, 64, 128)"
        )
    return size, stages


def batch_norm(channels: int, eps: float) -> nn.BatchNorm2d:
    """BatchNorm2d with ``eps`` (1e-5 in PyTorch; Dive into Deep Learning's nets use 0.8)."""
    return nn.BatchNorm2d(channels, eps=float(eps))


def block(layer: nn.Module, norm: nn.Module | None, activation: nn.Module | None) -> nn.Sequential:
    """``layer`` followed by an optional normalization and an optional activation."""
    return nn.Sequential(*(m for m in (layer, norm, activation) if m is not None))


def same_padding(size: int, kernel: int, stride: int) -> nn.ZeroPad2d:
    """TensorFlow's ``padding='same'`` for a ``size x size`` input: the output is ceil(size / stride), the
    odd pixel of padding goes to the bottom and right (7 -> 4 with a stride-2 4x4 conv, as the DCGAN lab)."""
    out = -(-int(size) // int(stride))
    total = max((out - 1) * stride + kernel - size, 0)
    before = total // 2
    return nn.ZeroPad2d((before, total - before, before, total - before))


@contextmanager
def preserved_buffers(net: nn.Module) -> Iterator[nn.Module]:
    """Run ``net`` and put its buffers (BatchNorm running statistics, counters) back afterwards: a forward
    pass in train mode (batch statistics) then leaves no trace on training."""
    saved = [buffer.detach().clone() for buffer in net.buffers()]
    try:
        yield net
    finally:
        with torch.no_grad():
            for buffer, value in zip(net.buffers(), saved, strict=True):
                buffer.copy_(value)


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN init (Radford et al. 2015): conv/linear weights N(0, 0.02), BatchNorm weights N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class ConditionalBatchNorm(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017; the generator of
    Miyato & Koyama 2018): ``norm`` (affine=False) then ``scale[y] * x + shift[y]``, initialised as DCGAN
    initialises BatchNorm (scale N(1, 0.02), shift 0). Called as ``forward(x, labels)``."""

    def __init__(self, norm: nn.BatchNorm1d | nn.BatchNorm2d, num_classes: int) -> None:
        super().__init__()
        self.norm = norm
        self.scale, self.shift = (
            nn.Embedding(num_classes, norm.num_features),
            nn.Embedding(num_classes, norm.num_features),
        )
        nn.init.normal_(self.scale.weight, 1.0, 0.02)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)  # (B, C) or (B, C, 1, 1)
        return self.norm(x) * self.scale(labels).view(shape) + self.shift(labels).view(shape)


def run_conditional(net: nn.Sequential, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``net(x)`` with ``labels`` handed to every ConditionalBatchNorm inside it (nested Sequentials too)."""
    for layer in net:
        if isinstance(layer, ConditionalBatchNorm):
            x = layer(x, labels)
        elif isinstance(layer, nn.Sequential):
            x = run_conditional(layer, x, labels)
        else:
            x = layer(x)
    return x
