"""Generators: z of shape (B, nz) -> images in [-1, 1] of shape (B, channels, image_size, image_size).

Each maps z to a first feature map (its input stage), then doubles the resolution stage by stage.

A class-conditional generator has ``num_classes`` > 0 (absent or 0: unconditional), takes
``forward(z, labels)`` with int64 labels of shape (B,), and may name its classes in ``class_names``.
Export and the explorer ask ``num_classes(net)`` and ``class_names(net)``. Both generators here become
class-conditional with ``num_classes`` > 0 (train.py sets it from the dataset for model.conditional=true):
``condition='concat'`` joins a learned class embedding of ``embed_dim`` to z, ``'cbn'`` gives every
BatchNorm a per-class scale and shift instead. With ``num_classes=0`` their weights and names are those of
the unconditional nets.
"""

from __future__ import annotations

import torch
from torch import nn

from dcgan.errors import ConfigError, whole_number
from dcgan.models.blocks import ConditionalBatchNorm, block, init_dcgan_weights, run_conditional, spatial_plan


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


CONDITIONS = ("concat", "cbn")


class _Generator(nn.Module):
    """Common interface: ``nz``, ``image_size``, ``channels`` and ``forward(z)`` (``forward(z, labels)`` when
    ``num_classes`` > 0); ``norm_eps``: BatchNorm's eps; ``num_classes``, ``class_names``, ``condition``,
    ``embed_dim``: the class conditioning (see the module's docstring)."""

    def __init__(
        self,
        image_size: int,
        channels: int,
        nz: int,
        ngf: int,
        norm_eps: float,
        num_classes: int,
        class_names: list[str] | None,
        condition: str,
        embed_dim: int,
        stages: int | None = None,
    ) -> None:
        super().__init__()
        if not float(norm_eps) > 0:
            raise ConfigError(f"generator.norm_eps={norm_eps} is invalid: use a positive number (1e-5)")
        nz, ngf = whole_number("generator.nz", nz), whole_number("generator.ngf", ngf)
        if condition not in CONDITIONS:
            raise ConfigError(f"generator.condition={condition!r} is not supported: use {' or '.join(CONDITIONS)}")
        self.image_size, self.channels, self.nz, self.ngf = image_size, channels, nz, ngf
        self.norm_eps = float(norm_eps)
        self.base, self.stages = spatial_plan(image_size, stages)
        self.num_classes, self.class_names = int(num_classes or 0), [str(n) for n in class_names or []]
        self.condition = condition if self.num_classes else None
        if self.condition == "concat":
            if int(embed_dim) < 1:
                raise ConfigError(f"generator.embed_dim={embed_dim} is invalid: use 1 or more")
            self.embed = nn.Embedding(self.num_classes, int(embed_dim))  # N(0, 1), as z
        self.in_features = nz + (int(embed_dim) if self.condition == "concat" else 0)

    def width(self, stage: int) -> int:
        """Feature channels after ``stage`` doublings of the resolution: ngf * 2**(stages - 1 - stage)."""
        return self.ngf * 2 ** (self.stages - 1 - stage)

    def norm(self, channels: int, norm: type[nn.Module] = nn.BatchNorm2d) -> nn.Module:
        """BatchNorm (eps ``norm_eps``), or its class-conditional form for ``condition='cbn'``."""
        if self.condition != "cbn":
            return norm(channels, eps=self.norm_eps)
        return ConditionalBatchNorm(norm(channels, eps=self.norm_eps, affine=False), self.num_classes)

    def latent(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """(B, in_features): z, joined by its class embedding for ``condition='concat'``."""
        z = z.view(z.shape[0], self.nz)
        if self.num_classes and labels is None:
            raise ValueError("a class-conditional generator needs labels: call it as generator(z, labels)")
        return torch.cat([z, self.embed(labels)], dim=1) if self.condition == "concat" else z

    def run(self, net: nn.Sequential, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return run_conditional(net, x, labels) if self.condition == "cbn" else net(x)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.latent(z, labels)
        return self.run(self.net, x.view(z.shape[0], self.in_features, 1, 1), labels)


class TransposedGenerator(_Generator):
    """The DCGAN generator: a stack of stride-2 ConvTranspose + BN + ReLU, Tanh out."""

    def __init__(self, image_size: int, channels: int, nz: int, ngf: int, norm_eps: float, **conditioning) -> None:
        super().__init__(image_size, channels, nz, ngf, norm_eps, **conditioning)
        nz, ngf = self.nz, self.ngf  # checked whole numbers
        bn = self.norm
        # (B, nz [+ embed_dim], 1, 1) -> (B, ngf * 2**(stages-1), base, base)
        first = nn.ConvTranspose2d(self.in_features, self.width(0), self.base, 1, 0, bias=False)
        layers = [block(first, bn(self.width(0)), _relu())]
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
        **conditioning,
    ) -> None:
        super().__init__(image_size, channels, nz, ngf, norm_eps, stages=stages, **conditioning)
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
        bn = self.norm
        c0, s0, nin = self.width(0) * 2, self.base, self.in_features
        if projection == "linear":
            # (B, nz [+ embed_dim]) -> (B, c0 * s0 * s0), reshaped in forward to (B, c0, s0, s0)
            features = c0 * s0 * s0
            self.project = nn.Sequential(nn.Linear(nin, features, bias=False), bn(features, nn.BatchNorm1d), _relu())
        else:
            # (B, nz [+ embed_dim], 1, 1) -> (B, c0, s0, s0)
            self.project = block(nn.ConvTranspose2d(nin, c0, s0, 1, 0, bias=False), bn(c0), _relu())
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

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x = self.latent(z, labels)
        if self.projection != "linear":
            x = x.view(z.shape[0], self.in_features, 1, 1)
        x = self.run(self.project, x, labels)
        return self.run(self.net, x.view(z.shape[0], -1, self.base, self.base), labels)
