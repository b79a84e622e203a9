"""Discriminators: images (B, channels, image_size, image_size) -> one logit per image, shape (B,)."""

from __future__ import annotations

import torch
from torch import nn

from dcgan.errors import ConfigError
from dcgan.models.blocks import block, init_dcgan_weights, spatial_plan


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class _Discriminator(nn.Module):
    """Common interface: ``image_size``, ``channels`` and ``forward(x) -> logits``."""

    def __init__(self, image_size: int, channels: int, ndf: int) -> None:
        super().__init__()
        if channels not in (1, 3):
            raise ConfigError(f"dataset.channels={channels} is not supported: use 1 (gray) or 3 (RGB)")
        self.image_size, self.channels, self.ndf = image_size, channels, ndf
        self.base, self.stages = spatial_plan(image_size)

    def width(self, stage: int) -> int:
        """Feature channels after ``stage + 1`` halvings of the resolution: ndf * 2**stage."""
        return self.ndf * 2**stage


class DCGANDiscriminator(_Discriminator):
    """The DCGAN discriminator: strided 4x4 convs, BN on all but the first, LeakyReLU(0.2), a logit."""

    def __init__(self, image_size: int = 64, channels: int = 3, ndf: int = 64) -> None:
        super().__init__(image_size, channels, ndf)
        # (B, channels, S, S) -> (B, ndf, S/2, S/2), no BN on the input layer
        layers = [block(nn.Conv2d(channels, ndf, 4, 2, 1, bias=False), None, _lrelu())]
        # each stage: (B, C, s, s) -> (B, 2C, s/2, s/2), down to (B, ndf * 2**(stages-1), base, base)
        for stage in range(1, self.stages):
            conv = nn.Conv2d(self.width(stage - 1), self.width(stage), 4, 2, 1, bias=False)
            layers.append(block(conv, self.width(stage), _lrelu()))
        # (B, C, base, base) -> (B, 1, 1, 1)
        layers.append(nn.Conv2d(self.width(self.stages - 1), 1, self.base, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


class CBlockDiscriminator(_Discriminator):
    """The DCGAN lab's critic: per stage two 3x3 conv-BN-LeakyReLU, a stride-2 3x3 conv, dropout;
    then a linear logit head."""

    def __init__(self, image_size: int = 64, channels: int = 3, ndf: int = 64, dropout: float = 0.3) -> None:
        super().__init__(image_size, channels, ndf)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"discriminator.dropout={dropout} is out of range: use 0 <= dropout < 1")
        stages, c_in = [], channels
        for stage in range(self.stages):
            c = self.width(stage)
            # (B, c_in, s, s) -> (B, c, s/2, s/2)
            stages.append(
                nn.Sequential(
                    block(nn.Conv2d(c_in, c, 3, 1, 1, bias=False), c, _lrelu()),
                    block(nn.Conv2d(c, c, 3, 1, 1, bias=False), c, _lrelu()),
                    block(nn.Conv2d(c, c, 3, 2, 1, bias=False), c, _lrelu()),
                    nn.Dropout(dropout),
                )
            )
            c_in = c
        self.net = nn.Sequential(*stages)
        # (B, C * base * base) -> (B, 1)
        self.head = nn.Linear(c_in * self.base * self.base, 1)
        init_dcgan_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x).flatten(1)).flatten()
