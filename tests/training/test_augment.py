"""DiffAugment: differentiable, changes images, checks its policy."""

from __future__ import annotations

import pytest
import torch

from dcgan.errors import ConfigError
from dcgan.training.augment import DiffAugment
from tests.helpers import build


def test_diffaugment_is_differentiable_and_changes_images():
    torch.manual_seed(0)
    x = (torch.rand(6, 3, 16, 16) * 2 - 1).requires_grad_(True)
    y = build("augment/diffaugment").augment(x)
    assert y.shape == x.shape and not torch.equal(x, y)
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(DiffAugment("translation")(torch.zeros(2, 1, 8, 8)), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ConfigError, match="augment.policy"):
        DiffAugment("color,rotate")
