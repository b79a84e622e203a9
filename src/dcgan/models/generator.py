"""Generators: z of shape (B, nz) -> images in [-1, 1] of shape (B, channels, image_size, image_size).

A class-conditional generator has ``num_classes`` > 0 (absent or 0: unconditional), takes
``forward(z, labels)`` with int64 labels of shape (B,), and may name its classes in ``class_names``.
Export and the explorer ask ``num_classes(net)`` and ``class_names(net)``.
"""

from __future__ import annotations

import torch
from torch import nn

from dcgan.errors import ConfigError
from dcgan.models.blocks import block, init_dcgan_weights, spatial_plan


def num_classes(generator: nn.Module) -> int:
    """The classes a conditional generator draws (0: unconditional, ``forward(z)``)."""
    return int(getattr(generator, "num_classes", 0) or 0)


def class_names(generator: nn.Module) -> list[str]:
    """The names of a conditional generator's classes (its ``class_names``, else "0", "1" ...); [] when
    unconditional."""
    names = [str(name) for name in getattr(generator, "class_names", None) or []]
    count = num_classes(generator)
    return names if len(names) == count else [str(i) for i in range(count)]


class _Generator(nn.Module):
    """Common interface: ``nz``, ``image_size``, ``channels`` and ``forward(z)``."""

    def __init__(self, image_size: int, channels: int, nz: int, ngf: int) -> None:
        super().__init__()
        self.image_size, self.channels, self.nz, self.ngf = image_size, channels, nz, ngf
        self.base, self.stages = spatial_plan(image_size)

    def width(self, stage: int) -> int:
        """Feature channels after ``stage`` doublings of the resolution: ngf * 2**(stages - 1 - stage)."""
        return self.ngf * 2 ** (self.stages - 1 - stage)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.nz, 1, 1))


class TransposedGenerator(_Generator):
    """The DCGAN generator: a stack of stride-2 ConvTranspose + BN + ReLU, Tanh out."""

    def __init__(self, image_size: int, channels: int, nz: int, ngf: int) -> None:
        super().__init__(image_size, channels, nz, ngf)
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        # (B, nz, 1, 1) -> (B, ngf * 2**(stages-1), base, base)
        layers = [block(nn.ConvTranspose2d(nz, self.width(0), self.base, 1, 0, bias=False), self.width(0), relu())]
        # each stage: (B, C, s, s) -> (B, C/2, 2s, 2s)
        for stage in range(1, self.stages):
            conv = nn.ConvTranspose2d(self.width(stage - 1), self.width(stage), 4, 2, 1, bias=False)
            layers.append(block(conv, self.width(stage), relu()))
        # (B, ngf, S/2, S/2) -> (B, channels, S, S)
        layers.append(block(nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), None, nn.Tanh()))
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)


class UpsampleGenerator(_Generator):
    """Upsample + 3x3 conv generator (Odena et al. 2016), free of checkerboard artifacts.

    ``projection='linear'`` maps z to the first feature map with Linear + BN + ReLU (the DCGAN lab);
    ``projection='transposed'`` with a ``base x base`` transposed conv (the DCGAN paper).
    """

    def __init__(
        self,
        image_size: int,
        channels: int,
        nz: int,
        ngf: int,
        mode: str,
        projection: str,
    ) -> None:
        super().__init__(image_size, channels, nz, ngf)
        if mode not in ("nearest", "bilinear"):
            raise ConfigError(f"generator.mode={mode!r} is not supported: use 'nearest' or 'bilinear'")
        if projection not in ("linear", "transposed"):
            raise ConfigError(f"generator.projection={projection!r} is not supported: use 'linear' or 'transposed'")
        self.projection = projection
        c0, s0 = self.width(0) * 2, self.base
        if projection == "linear":
            # (B, nz) -> (B, c0 * s0 * s0), reshaped in forward to (B, c0, s0, s0)
            self.project = nn.Sequential(
                nn.Linear(nz, c0 * s0 * s0, bias=False), nn.BatchNorm1d(c0 * s0 * s0), nn.ReLU(inplace=True)
            )
        else:
            # (B, nz, 1, 1) -> (B, c0, s0, s0)
            self.project = block(nn.ConvTranspose2d(nz, c0, s0, 1, 0, bias=False), c0, nn.ReLU(inplace=True))
        stages = []
        for stage in range(self.stages):
            # (B, C, s, s) -> (B, C/2, 2s, 2s); the last stage ends at (B, ngf, S, S)
            conv = nn.Conv2d(self.width(stage) * 2, self.width(stage), 3, 1, 1, bias=False)
            up = nn.Upsample(scale_factor=2, mode=mode)
            stages.append(nn.Sequential(up, block(conv, self.width(stage), nn.ReLU(inplace=True))))
        # (B, ngf, S, S) -> (B, channels, S, S)
        stages.append(block(nn.Conv2d(ngf, channels, 3, 1, 1), None, nn.Tanh()))
        self.net = nn.Sequential(*stages)
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.projection == "linear":
            x = self.project(z.view(z.shape[0], self.nz))
        else:
            x = self.project(z.view(z.shape[0], self.nz, 1, 1))
        return self.net(x.view(z.shape[0], -1, self.base, self.base))
