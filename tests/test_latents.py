"""Latents: seeded and truncated draws, lerp and slerp paths."""

from __future__ import annotations

import math

import pytest
import torch

from dcgan.errors import ConfigError
from dcgan.latents import interpolation_latents, latents, lerp, slerp


def test_truncated_latents():
    z = latents(500, 100, seed=0, truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() > 0.2
    assert torch.equal(z, latents(500, 100, seed=0, truncation=0.5))
    assert not torch.equal(latents(4, 100, seed=0), latents(4, 100, seed=0, truncation=0.5))
    with pytest.raises(ConfigError, match="truncation"):
        latents(4, 100, seed=0, truncation=0)


def test_lerp_and_slerp():
    z0, z1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    t = torch.tensor([0.0, 0.5, 1.0])
    for path in (lerp(z0, z1, t), slerp(z0, z1, t)):
        assert path.shape == (1, 3, 2)
        torch.testing.assert_close(path[0, 0], z0[0])
        torch.testing.assert_close(path[0, 2], z1[0])
    torch.testing.assert_close(lerp(z0, z1, t)[0, 1], torch.tensor([0.5, 1.0]))
    # on the arc at 45 degrees, with the norm halfway between 1 and 2 (sin-weights of 1/sqrt(2))
    torch.testing.assert_close(slerp(z0, z1, t)[0, 1], torch.tensor([1.0, 2.0]) / math.sqrt(2))
    same = slerp(z0, z0, t)  # parallel ends: no division by sin(0)
    assert torch.isfinite(same).all() and torch.allclose(same, z0.expand(3, 2))
    both = interpolation_latents(torch.randn(2, 5), torch.randn(2, 5), steps=4, method="both")
    assert both.shape == (2 * 2 * 4, 5)
    with pytest.raises(ConfigError, match="interpolation.method"):
        interpolation_latents(z0, z1, steps=4, method="cubic")
