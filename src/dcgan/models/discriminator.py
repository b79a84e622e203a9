"""Discriminators: images (B, channels, image_size, image_size) -> one logit per image, shape (B,)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from dcgan.errors import ConfigError
from dcgan.models.blocks import block, init_dcgan_weights, spatial_plan


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class _Discriminator(nn.Module):
    """Common interface: ``image_size``, ``channels`` and ``forward(x) -> logits``.

    ``norm='batch'`` (DCGAN) or ``'none'`` (for WGAN-GP, whose per-sample penalty BatchNorm breaks);
    ``spectral_norm=True`` wraps every conv and linear layer (Miyato et al. 2018).
    """

    def __init__(self, image_size: int, channels: int, ndf: int, norm: str, spectral_norm: bool) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ConfigError(f"discriminator.norm={norm!r} is not supported: use 'batch' or 'none'")
        self.image_size, self.channels, self.ndf = image_size, channels, ndf
        self.norm, self.spectral_norm = norm, bool(spectral_norm)
        self.base, self.stages = spatial_plan(image_size)

    def width(self, stage: int) -> int:
        """Feature channels after ``stage + 1`` halvings of the resolution: ndf * 2**stage."""
        return self.ndf * 2**stage

    def conv_block(self, c_in: int, c_out: int, kernel: int, stride: int, normalize: bool = True) -> nn.Sequential:
        """Conv (padding 1; a bias only with norm='none', as in DCGAN) + BatchNorm + LeakyReLU(0.2)."""
        conv = nn.Conv2d(c_in, c_out, kernel, stride, 1, bias=self.norm == "none")
        return block(conv, c_out if normalize and self.norm == "batch" else None, _lrelu())

    def finish(self) -> None:
        init_dcgan_weights(self)
        if self.spectral_norm:
            for module in list(self.modules()):
                for name, child in module.named_children():
                    if isinstance(child, (nn.Conv2d, nn.Linear)):
                        setattr(module, name, _spectral_norm(child))


class DCGANDiscriminator(_Discriminator):
    """The DCGAN discriminator: strided 4x4 convs, BN on all but the first, LeakyReLU(0.2), a logit."""

    def __init__(self, image_size: int, channels: int, ndf: int, norm: str, spectral_norm: bool) -> None:
        super().__init__(image_size, channels, ndf, norm, spectral_norm)
        # (B, channels, S, S) -> (B, ndf, S/2, S/2), no BN on the input layer
        layers = [self.conv_block(channels, ndf, 4, 2, normalize=False)]
        # each stage: (B, C, s, s) -> (B, 2C, s/2, s/2), down to (B, ndf * 2**(stages-1), base, base)
        for stage in range(1, self.stages):
            layers.append(self.conv_block(self.width(stage - 1), self.width(stage), 4, 2))
        # (B, C, base, base) -> (B, 1, 1, 1)
        layers.append(nn.Conv2d(self.width(self.stages - 1), 1, self.base, 1, 0, bias=False))
        self.net = nn.Sequential(*layers)
        self.finish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()


class CBlockDiscriminator(_Discriminator):
    """The DCGAN lab's critic: per stage two 3x3 conv-BN-LeakyReLU, a stride-2 3x3 conv, dropout;
    then a linear logit head."""

    def __init__(
        self,
        image_size: int,
        channels: int,
        ndf: int,
        dropout: float,
        norm: str,
        spectral_norm: bool,
    ) -> None:
        super().__init__(image_size, channels, ndf, norm, spectral_norm)
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"discriminator.dropout={dropout} is out of range: use 0 <= dropout < 1")
        stages, c_in = [], channels
        for stage in range(self.stages):
            c = self.width(stage)
            # (B, c_in, s, s) -> (B, c, s/2, s/2)
            stages.append(
                nn.Sequential(
                    self.conv_block(c_in, c, 3, 1),
                    self.conv_block(c, c, 3, 1),
                    self.conv_block(c, c, 3, 2),
                    nn.Dropout(dropout),
                )
            )
            c_in = c
        self.net = nn.Sequential(*stages)
        # (B, C * base * base) -> (B, 1)
        self.head = nn.Linear(c_in * self.base * self.base, 1)
        self.finish()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.net(x).flatten(1)).flatten()
