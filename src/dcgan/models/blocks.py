"""Building blocks shared by every generator and discriminator."""

from __future__ import annotations

from torch import nn

from dcgan.errors import ConfigError


def spatial_plan(image_size: int) -> tuple[int, int]:
    """Split ``image_size`` into ``base * 2**stages`` with ``4 <= base <= 7`` and ``stages >= 1``.

    64 -> (4, 4), 32 -> (4, 3), 28 -> (7, 2), 16 -> (4, 2), 128 -> (4, 5): every net starts (or ends)
    at a ``base x base`` feature map and doubles (or halves) the resolution ``stages`` times, so 28x28
    MNIST-style images are generated natively (7 -> 14 -> 28), without resizing to 32.
    """
    size, stages = int(image_size), 0
    while size > 7 and size % 2 == 0:
        size, stages = size // 2, stages + 1
    if stages == 0 or not 4 <= size <= 7:
        raise ConfigError(
            f"dataset.image_size={image_size} is not supported by the nets: "
            "use base * 2**k with base in 4..7 and k >= 1 (e.g. 16, 28, 32, 64, 128)"
        )
    return size, stages


def block(layer: nn.Module, channels: int | None, activation: nn.Module | None) -> nn.Sequential:
    """``layer`` followed by an optional BatchNorm over ``channels`` and an optional activation."""
    layers = [layer]
    if channels is not None:
        layers.append(nn.BatchNorm2d(channels))
    if activation is not None:
        layers.append(activation)
    return nn.Sequential(*layers)


def init_dcgan_weights(module: nn.Module) -> None:
    """DCGAN init (Radford et al. 2015): conv/linear weights N(0, 0.02), BatchNorm weights N(1, 0.02)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)
