"""Generators: z of shape (B, nz) -> images in [-1, 1] of shape (B, channels, image_size, image_size).

Each maps z to a first feature map (its input stage), then doubles the resolution stage by stage.

A class-conditional generator has ``num_classes`` > 0 (absent or 0: unconditional), takes
``forward(z, labels)`` with int64 labels of shape (B,), and may name its classes in ``class_names``.
Export and the explorer ask ``num_classes(net)`` and ``class_names(net)``.
"""

from __future__ import annotations

import torch
from torch import nn

from dcgan.errors import ConfigError, whole_number
from dcgan.models.blocks import batch_norm, block, init_dcgan_weights, spatial_plan


def _relu() -> nn.ReLU:
    return nn.ReLU(inplace=True)


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
    """Common interface: ``nz``, ``image_size``, ``channels`` and ``forward(z)``; ``norm_eps``: BatchNorm's eps."""

    def __init__(
        self, image_size: int, channels: int, nz: int, ngf: int, norm_eps: float, stages: int | None = None
    ) -> None:
        super().__init__()
        if not float(norm_eps) > 0:
            raise ConfigError(f"generator.norm_eps={norm_eps} is invalid: use a positive number (1e-5)")
        nz, ngf = whole_number("generator.nz", nz), whole_number("generator.ngf", ngf)
        self.image_size, self.channels, self.nz, self.ngf = image_size, channels, nz, ngf
        self.norm_eps = float(norm_eps)
        self.base, self.stages = spatial_plan(image_size, stages)

    def width(self, stage: int) -> int:
        """Feature channels after ``stage`` doublings of the resolution: ngf * 2**(stages - 1 - stage)."""
        return self.ngf * 2 ** (self.stages - 1 - stage)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(z.shape[0], self.nz, 1, 1))


class TransposedGenerator(_Generator):
    """The DCGAN generator: a stack of stride-2 ConvTranspose + BN + ReLU, Tanh out."""

    def __init__(self, image_size: int, channels: int, nz: int, ngf: int, norm_eps: float) -> None:
        super().__init__(image_size, channels, nz, ngf, norm_eps)
        nz, ngf = self.nz, self.ngf  # checked whole numbers
        bn = lambda c: batch_norm(c, self.norm_eps)  # noqa: E731
        # (B, nz, 1, 1) -> (B, ngf * 2**(stages-1), base, base)
        layers = [block(nn.ConvTranspose2d(nz, self.width(0), self.base, 1, 0, bias=False), bn(self.width(0)), _relu())]
        # each stage: (B, C, s, s) -> (B, C/2, 2s, 2s)
        for stage in range(1, self.stages):
            conv = nn.ConvTranspose2d(self.width(stage - 1), self.width(stage), 4, 2, 1, bias=False)
            layers.append(block(conv, bn(self.width(stage)), _relu()))
        # (B, ngf, S/2, S/2) -> (B, channels, S, S)
        layers.append(block(nn.ConvTranspose2d(ngf, channels, 4, 2, 1, bias=False), None, nn.Tanh()))
        self.net = nn.Sequential(*layers)
        init_dcgan_weights(self)


class UpsampleGenerator(_Generator):
    """Upsample + 3x3 conv generator (Odena et al. 2016), free of checkerboard artifacts.

    ``projection='linear'`` maps z to the first feature map with Linear + BN + ReLU (the DCGAN lab);
    ``projection='transposed'`` with a ``base x base`` transposed conv (the DCGAN paper). Each of the
    ``stages`` stages (null: as many as the image size allows, base 4..7; the lab: 2) is Upsample(x2,
    ``mode``) and ``convs_per_stage`` 3x3 conv + BN + ReLU; the output conv is ``out_kernel`` wide + Tanh.
    The DCGAN lab's generator: mode=bilinear, stages=2, convs_per_stage=2, out_kernel=1.
    """

    def __init__(
        self,
        image_size: int,
        channels: int,
        nz: int,
        ngf: int,
        norm_eps: float,
        mode: str,
        projection: str,
        stages: int | None,
        convs_per_stage: int,
        out_kernel: int,
    ) -> None:
        super().__init__(image_size, channels, nz, ngf, norm_eps, stages)
        nz, ngf = self.nz, self.ngf  # checked whole numbers
        if mode not in ("nearest", "bilinear"):
            raise ConfigError(f"generator.mode={mode!r} is not supported: use 'nearest' or 'bilinear'")
        if projection not in ("linear", "transposed"):
            raise ConfigError(f"generator.projection={projection!r} is not supported: use 'linear' or 'transposed'")
        if int(convs_per_stage) < 1:
            raise ConfigError(f"generator.convs_per_stage={convs_per_stage} is invalid: use 1 or more")
        if int(out_kernel) not in (1, 3):
            raise ConfigError(f"generator.out_kernel={out_kernel} is not supported: use 1 or 3")
        self.projection = projection
        bn = lambda c: batch_norm(c, self.norm_eps)  # noqa: E731
        c0, s0 = self.width(0) * 2, self.base
        if projection == "linear":
            # (B, nz) -> (B, c0 * s0 * s0), reshaped in forward to (B, c0, s0, s0)
            features = c0 * s0 * s0
            self.project = nn.Sequential(
                nn.Linear(nz, features, bias=False), nn.BatchNorm1d(features, eps=self.norm_eps), _relu()
            )
        else:
            # (B, nz, 1, 1) -> (B, c0, s0, s0)
            self.project = block(nn.ConvTranspose2d(nz, c0, s0, 1, 0, bias=False), bn(c0), _relu())
        stages = []
        for stage in range(self.stages):
            # (B, 2C, s, s) -> (B, C, 2s, 2s); the last stage ends at (B, ngf, S, S)
            c_in, c = self.width(stage) * 2, self.width(stage)
            layers = [nn.Upsample(scale_factor=2, mode=mode)]
            for i in range(int(convs_per_stage)):
                layers.append(block(nn.Conv2d(c_in if i == 0 else c, c, 3, 1, 1, bias=False), bn(c), _relu()))
            stages.append(nn.Sequential(*layers))
        # (B, ngf, S, S) -> (B, channels, S, S)
        kernel = int(out_kernel)
        stages.append(block(nn.Conv2d(ngf, channels, kernel, 1, kernel // 2), None, nn.Tanh()))
        self.net = nn.Sequential(*stages)
        init_dcgan_weights(self)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.projection == "linear":
            x = self.project(z.view(z.shape[0], self.nz))
        else:
            x = self.project(z.view(z.shape[0], self.nz, 1, 1))
        return self.net(x.view(z.shape[0], -1, self.base, self.base))
