"""Adversarial losses on discriminator logits (no Sigmoid + BCELoss: safe under autocast)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


class NonSaturating:
    """The DCGAN loss (Goodfellow et al. 2014, non-saturating G): BCE-with-logits written with softplus.

    ``d_loss`` = BCE(D(x), 1) + BCE(D(G(z)), 0), the sum of the tutorial's errD_real and errD_fake;
    ``g_loss`` = BCE(D(G(z)), 1).
    """

    def d_real(self, real_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-real_logits).mean()

    def d_fake(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(-fake_logits).mean()
