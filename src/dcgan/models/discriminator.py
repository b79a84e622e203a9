"""Discriminators: images (B, channels, image_size, image_size) -> one logit per image, shape (B,).

Each is a feature trunk (``features``: images -> a feature map) and a head (``head``: the feature map ->
one logit), so a head of another kind (e.g. a class projection) can sit on the same trunk.

With ``num_classes`` > 0 (train.py sets it from the dataset for model.conditional=true) either one is a
projection discriminator (Miyato & Koyama 2018), called as ``forward(x, labels)``: the logit is the head's
plus ``<embed(y), phi(x)>``, phi(x) the trunk's feature map summed over its positions. With
``num_classes=0`` there is no embedding: the weights and names of the unconditional nets.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from dcgan.errors import ConfigError, whole_number
from dcgan.models.blocks import batch_norm, block, init_dcgan_weights, same_padding, spatial_plan


def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class _Discriminator(nn.Module):
    """Common interface: ``image_size``, ``channels``, ``features``, ``head`` and ``forward(x) -> logits``.

    ``norm='batch'`` (DCGAN) or ``'none'`` (for WGAN-GP, whose per-sample penalty BatchNorm breaks);
    ``norm_eps``: BatchNorm's eps; ``spectral_norm=True`` wraps every conv, linear and embedding layer
    (Miyato et al. 2018); ``num_classes`` > 0: the class projection.
    """

    def __init__(
        self,
        image_size: int,
        channels: int,
        ndf: int,
        norm: str,
        norm_eps: float,
        spectral_norm: bool,
        num_classes: int,
    ) -> None:
        super().__init__()
        if norm not in ("batch", "none"):
            raise ConfigError(f"discriminator.norm={norm!r} is not supported: use 'batch' or 'none'")
        if not float(norm_eps) > 0:
            raise ConfigError(f"discriminator.norm_eps={norm_eps} is invalid: use a positive number (1e-5)")
        self.image_size, self.channels, self.ndf = image_size, channels, whole_number("discriminator.ndf", ndf)
        self.norm, self.norm_eps, self.spectral_norm = norm, float(norm_eps), bool(spectral_norm)
        self.num_classes = int(num_classes or 0)

    def norm_layer(self, channels: int, normalize: bool) -> nn.Module | None:
        return batch_norm(channels, self.norm_eps) if normalize and self.norm == "batch" else None

    def conv_block(self, c_in: int, c_out: int, kernel: int, stride: int, normalize: bool) -> nn.Sequential:
        """Conv (padding 1; a bias only with norm='none', as in DCGAN) + BatchNorm + LeakyReLU(0.2)."""
        conv = nn.Conv2d(c_in, c_out, kernel, stride, 1, bias=self.norm == "none")
        return block(conv, self.norm_layer(c_out, normalize), _lrelu())

    def finish(self, feature_channels: int) -> None:
        """The class embedding of a projection discriminator (``feature_channels`` wide), DCGAN init, spectral norm."""
        if self.num_classes:
            self.embed = nn.Embedding(self.num_classes, feature_channels)
        init_dcgan_weights(self)
        if self.num_classes:
            nn.init.normal_(self.embed.weight, 0.0, 0.02)  # as DCGAN initialises every other weight of D
        if self.spectral_norm:
            for module in list(self.modules()):
                for name, child in module.named_children():
                    if isinstance(child, (nn.Conv2d, nn.Linear, nn.Embedding)):
                        setattr(module, name, _spectral_norm(child))

    def project(self, logits: torch.Tensor, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """(B,) logits, plus <embed(y), sum of the feature map over its positions> for a projection D."""
        if not self.num_classes:
            return logits
        if labels is None:
            raise ValueError("a projection discriminator needs labels: call it as discriminator(x, labels)")
        return logits + (self.embed(labels) * features.sum(dim=(2, 3))).sum(dim=1)


class DCGANDiscriminator(_Discriminator):
    """The DCGAN discriminator: strided 4x4 convs, BN on all but the first (``input_norm=True``: on the
    first too, as Dive into Deep Learning and the CelebA walkthrough), LeakyReLU(0.2), a 4x4 conv logit."""

    def __init__(
        self,
        image_size: int,
        channels: int,
        ndf: int,
        norm: str,
        norm_eps: float,
        input_norm: bool,
        spectral_norm: bool,
        num_classes: int,
    ) -> None:
        super().__init__(image_size, channels, ndf, norm, norm_eps, spectral_norm, num_classes)
        ndf = self.ndf  # a checked whole number
        base, stages = spatial_plan(image_size)
        width = lambda stage: ndf * 2**stage  # noqa: E731
        # (B, channels, S, S) -> (B, ndf, S/2, S/2)
        layers = [self.conv_block(channels, ndf, 4, 2, normalize=bool(input_norm))]
        # each stage: (B, C, s, s) -> (B, 2C, s/2, s/2), down to (B, ndf * 2**(stages-1), base, base)
        for stage in range(1, stages):
            layers.append(self.conv_block(width(stage - 1), width(stage), 4, 2, normalize=True))
        self.features = nn.Sequential(*layers)
        # (B, C, base, base) -> (B, 1, 1, 1)
        self.head = nn.Conv2d(width(stages - 1), 1, base, 1, 0, bias=False)
        self.finish(width(stages - 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.features(x)
        return self.project(self.head(features).flatten(), features, labels)


class CBlockDiscriminator(_Discriminator):
    """The DCGAN lab's critic: per block a 3x3 conv + BN + LeakyReLU(0.2), then a stride-2 4x4 conv (TF
    'same' padding, no BN) + LeakyReLU(0.2) + Dropout; ``ndf * width_factors`` channels per block
    (the lab: 32 * [1, 2, 3]); a linear logit head. At 28x28: (B, 96, 4, 4) -> Linear(1536, 1)."""

    def __init__(
        self,
        image_size: int,
        channels: int,
        ndf: int,
        width_factors: list[int],
        dropout: float,
        norm: str,
        norm_eps: float,
        spectral_norm: bool,
        num_classes: int,
    ) -> None:
        super().__init__(image_size, channels, ndf, norm, norm_eps, spectral_norm, num_classes)
        ndf = self.ndf  # a checked whole number
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"discriminator.dropout={dropout} is out of range: use 0 <= dropout < 1")
        factors = [int(f) for f in width_factors]
        if not factors or min(factors) < 1:
            raise ConfigError(f"discriminator.width_factors={list(width_factors)} is invalid: use positive integers")
        size = int(image_size)
        if size < 2 ** len(factors):
            raise ConfigError(f"dataset.image_size={size} is too small for {len(factors)} stride-2 blocks")
        blocks, c_in = [], channels
        for factor in factors:
            c = ndf * factor
            # (B, c_in, s, s) -> (B, c, ceil(s/2), ceil(s/2))
            blocks.append(
                nn.Sequential(
                    self.conv_block(c_in, c, 3, 1, normalize=True),
                    same_padding(size, 4, 2),
                    block(nn.Conv2d(c, c, 4, 2, 0), None, _lrelu()),
                    nn.Dropout(dropout),
                )
            )
            c_in, size = c, -(-size // 2)
        self.features = nn.Sequential(*blocks)
        self.feature_shape = (c_in, size, size)
        # (B, C * s * s) -> (B, 1)
        self.head = nn.Linear(c_in * size * size, 1)
        self.finish(c_in)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        features = self.features(x)
        return self.project(self.head(features.flatten(1)).flatten(), features, labels)
