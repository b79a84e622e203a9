"""The EMA of G: tracks the live weights, keeps its own BatchNorm statistics."""

from __future__ import annotations

import torch

from dcgan.training.ema import ExponentialMovingAverage
from tests.helpers import build


def test_ema_differs_from_raw_weights_and_tracks_them():
    torch.manual_seed(0)
    g = build("generator/transposed", image_size=16, channels=1, nz=4, ngf=4)
    ema = ExponentialMovingAverage(g, decay=0.9, start_step=2)
    target = [torch.randn_like(p) for p in g.parameters()]
    for step in range(60):
        with torch.no_grad():  # the live weights jump to a fixed target: EMA must approach it
            for p, t in zip(g.parameters(), target, strict=True):
                p.copy_(t)
        ema.update(g, step)
        if step == 2:
            first_gap = max((e - p).abs().max() for e, p in zip(ema.module.parameters(), g.parameters(), strict=True))
    gap = max((e - p).abs().max() for e, p in zip(ema.module.parameters(), g.parameters(), strict=True))
    assert first_gap == 0  # before start_step the EMA is a plain copy
    assert gap < 1e-2
    assert not any(p.requires_grad for p in ema.module.parameters())
    # during training the EMA lags the live weights
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    ema.update(g, 100)
    lag = [(p - e) for e, p in zip(ema.module.parameters(), g.parameters(), strict=True)]
    assert all(torch.allclose(d, torch.full_like(d, 0.9), atol=1e-2) for d in lag)


def test_ema_batchnorm_statistics_fit_the_averaged_weights():
    # The live G moves far away; the EMA (decay ~1) keeps the old weights. Its BatchNorm statistics must
    # come from its own activations, so that eval mode reproduces its train-mode (batch statistics) output.
    torch.manual_seed(0)
    g = build("generator/transposed", image_size=16, channels=1, nz=4, ngf=4)
    ema = ExponentialMovingAverage(g, decay=1 - 1e-9, start_step=0)
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(3.0).add_(0.5)
        for _ in range(20):
            g.train()(torch.randn(64, 4))  # the live running statistics, of the moved weights
    z = torch.randn(256, 4)
    for _ in range(60):
        ema.update(g, step=10, noise=torch.randn(256, 4))
    with torch.no_grad():
        batch_stats = ema.module.train()(z)
        own_stats = ema.module.eval()(z)
    assert (own_stats - batch_stats).abs().mean() < 0.05
    ema.update(g, step=10)  # no latents: the live statistics are copied, and they do not fit
    with torch.no_grad():
        copied_stats = ema.module.eval()(z)
    assert (copied_stats - batch_stats).abs().mean() > 2 * (own_stats - batch_stats).abs().mean()
