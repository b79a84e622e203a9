"""DiffAugment (Zhao et al. 2020): the same differentiable augmentations on real and fake images before D.

A port of the authors' PyTorch reference (github.com/mit-han-lab/data-efficient-gans, BSD-2), for
images in [-1, 1]; each op draws its own random parameters per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from dcgan.errors import ConfigError


def brightness(x: torch.Tensor) -> torch.Tensor:
    return x + (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) - 0.5)


def saturation(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) * 2) + mean


def contrast(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (torch.rand(x.size(0), 1, 1, 1, dtype=x.dtype, device=x.device) + 0.5) + mean


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    shift_h, shift_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dh = torch.randint(-shift_h, shift_h + 1, size=[b, 1, 1], device=x.device)
    dw = torch.randint(-shift_w, shift_w + 1, size=[b, 1, 1], device=x.device)
    gb, gh, gw = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(h, device=x.device), torch.arange(w, device=x.device),
        indexing="ij",
    )  # fmt: skip
    gh = torch.clamp(gh + dh + 1, 0, h + 1)
    gw = torch.clamp(gw + dw + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1).contiguous()[gb, gh, gw].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oh = torch.randint(0, h + (1 - ch % 2), size=[b, 1, 1], device=x.device)
    ow = torch.randint(0, w + (1 - cw % 2), size=[b, 1, 1], device=x.device)
    gb, gh, gw = torch.meshgrid(
        torch.arange(b, device=x.device), torch.arange(ch, device=x.device), torch.arange(cw, device=x.device),
        indexing="ij",
    )  # fmt: skip
    gh = torch.clamp(gh + oh - ch // 2, min=0, max=h - 1)
    gw = torch.clamp(gw + ow - cw // 2, min=0, max=w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gh, gw] = 0
    return x * mask.unsqueeze(1)


POLICIES = {"color": (brightness, saturation, contrast), "translation": (translation,), "cutout": (cutout,)}


class DiffAugment(nn.Module):
    """``policy``: comma-separated subset of color, translation, cutout (the paper's default: all three)."""

    def __init__(self, policy: str) -> None:
        super().__init__()
        names = [p.strip() for p in str(policy).split(",") if p.strip()]
        unknown = sorted(set(names) - POLICIES.keys())
        if unknown or not names:
            raise ConfigError(
                f"augment.policy={policy!r} is invalid: use a comma-separated subset of {', '.join(POLICIES)}"
            )
        self.policy = names

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for name in self.policy:
            for op in POLICIES[name]:
                x = op(x)
        return x.contiguous()
