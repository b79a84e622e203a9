"""Latents: seeded and truncated draws, lerp and slerp paths."""

from __future__ import annotations

import math

import pytest
import torch

from dcgan.errors import ConfigError
from dcgan.latents import interpolation_latents, latents, lerp, nudge, slerp, walk


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


def test_a_point_on_the_walk_and_a_nudge():
    z0, z1 = latents(2, 16, seed=5)
    for method in ("lerp", "slerp"):
        row = interpolation_latents(z0[None], z1[None], 5, method)  # t = 0, 0.25, ... 1
        torch.testing.assert_close(walk(z0, z1, 0.25, method), row[1])
    z = walk(z0, z1, 0.5, "slerp")
    nudged = nudge(z, 3, -2.0)
    torch.testing.assert_close(nudged - z, -2.0 * torch.eye(16)[3])
    assert torch.equal(z, walk(z0, z1, 0.5, "slerp"))  # a copy: the latent itself is unchanged
    with pytest.raises(ConfigError, match="dimension 16 does not exist"):
        nudge(z, 16, 1.0)
    with pytest.raises(ConfigError, match="method='cubic'"):
        walk(z0, z1, 0.5, "cubic")
