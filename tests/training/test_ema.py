"""The EMA of G: a half-life that grows with training (tracks the live weights early, smooths late), its
own BatchNorm statistics."""

from __future__ import annotations

import math

import pytest
import torch

from dcgan.config import option
from dcgan.training.ema import ExponentialMovingAverage, ema_beta
from tests.helpers import build

BATCH = 64
# conf/ema/on.yaml: what a user gets with ema=on
ON = option("ema/on")
HALFLIFE_KIMG, RAMPUP = float(ON.ema_halflife_kimg), float(ON.ema_rampup)


def _generator():
    torch.manual_seed(0)
    return build("generator/transposed", image_size=16, channels=1, nz=4, ngf=4)


def _flat(module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def _drift(halflife_kimg: float, rampup: float | None, iterations: int) -> float:
    """The live G walks in a straight line (as a young G does, fast); the EMA's distance to it, relative
    to how far the live G went."""
    g = _generator()
    start = _flat(g)
    ema = ExponentialMovingAverage(g, halflife_kimg, rampup)
    direction = [torch.randn_like(p) for p in g.parameters()]
    for iteration in range(iterations):
        with torch.no_grad():
            for p, d in zip(g.parameters(), direction, strict=True):
                p.add_(d, alpha=0.01)
        ema.update(g, iteration * BATCH, BATCH)
    return float((_flat(ema.module) - _flat(g)).norm() / (_flat(g) - start).norm())


def test_beta_is_the_stylegan2_ada_formula():
    # StyleGAN2-ADA training_loop.py: ema_nimg = min(ema_kimg * 1000, cur_nimg * ema_rampup);
    # ema_beta = 0.5 ** (batch_size / max(ema_nimg, 1e-8))
    assert ema_beta(0, BATCH, HALFLIFE_KIMG, RAMPUP) == 0.0  # the first step copies the live weights
    assert ema_beta(64_000, BATCH, 50, 0.05) == pytest.approx(0.5 ** (64 / 3_200))
    assert ema_beta(10**8, BATCH, 50, 0.05) == pytest.approx(0.5 ** (64 / 50_000))  # capped at the half-life
    assert ema_beta(0, BATCH, 50, None) == pytest.approx(0.5 ** (64 / 50_000))  # no ramp-up: fixed from the start
    # a half-life of h images: after h images (h / batch updates) the old average weighs one half
    beta = ema_beta(10**8, BATCH, HALFLIFE_KIMG, RAMPUP)
    assert beta ** (HALFLIFE_KIMG * 1000 / BATCH) == pytest.approx(0.5)


def test_beta_grows_with_training_and_smooths_late():
    betas = [ema_beta(n, BATCH, HALFLIFE_KIMG, RAMPUP) for n in (0, 6_400, 64_000, 640_000, 6_400_000, 64_000_000)]
    assert betas == sorted(betas) and betas[0] == 0.0
    assert betas[1] < 0.9  # 100 iterations in: averages over ~5 iterations
    assert betas[-1] > 0.998  # late: a half-life of ema_halflife_kimg thousand images


def test_the_ema_tracks_the_live_weights_early_where_a_fixed_decay_lags():
    # 100 iterations at batch 64: the ramped EMA is close to the live weights (its half-life is 5% of the
    # images seen: on a straight line it lags by ~rampup / ln 2 = 7% of the way); the old fixed decay 0.999
    # (a half-life of 693 updates: halflife_kimg = 0.693 * 64, no ramp-up) has barely left the start.
    ramped = _drift(HALFLIFE_KIMG, RAMPUP, 100)
    fixed = _drift(693 * BATCH / 1000, None, 100)
    assert 0.5 ** (BATCH / (693 * BATCH)) == pytest.approx(0.999, abs=1e-6)
    assert ramped < 1.5 * RAMPUP / math.log(2)
    assert fixed > 0.8


def test_the_ema_lags_by_the_ramped_half_life():
    # live weights jump by 1 once, late in training: the EMA moves by 1 - beta, and after a half-life of
    # images it has covered half the jump
    g = _generator()
    ema = ExponentialMovingAverage(g, HALFLIFE_KIMG, RAMPUP)
    seen = 10**8
    with torch.no_grad():
        for p in g.parameters():
            p.add_(1.0)
    ema.update(g, seen, BATCH)
    lag = _flat(g) - _flat(ema.module)
    assert torch.allclose(lag, torch.full_like(lag, ema.beta(seen, BATCH)), atol=1e-5)
    for _ in range(int(HALFLIFE_KIMG * 1000 / BATCH) - 1):
        ema.update(g, seen, BATCH)
    lag = _flat(g) - _flat(ema.module)
    assert torch.allclose(lag, torch.full_like(lag, 0.5), atol=1e-3)
    assert not any(p.requires_grad for p in ema.module.parameters())


def test_ema_batchnorm_statistics_fit_the_averaged_weights():
    # The live G moves far away; the EMA (a huge half-life) keeps the old weights. Its BatchNorm statistics
    # must come from its own activations, so that eval mode reproduces its train-mode (batch statistics) output.
    g = _generator()
    ema = ExponentialMovingAverage(g, halflife_kimg=1e9, rampup=None)
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(3.0).add_(0.5)
        for _ in range(20):
            g.train()(torch.randn(64, 4))  # the live running statistics, of the moved weights
    z = torch.randn(256, 4)
    for _ in range(60):
        ema.update(g, 10_000, BATCH, noise=torch.randn(256, 4))
    with torch.no_grad():
        batch_stats = ema.module.train()(z)
        own_stats = ema.module.eval()(z)
    assert (own_stats - batch_stats).abs().mean() < 0.05
    ema.update(g, 10_000, BATCH)  # no latents: the live statistics are copied, and they do not fit
    with torch.no_grad():
        copied_stats = ema.module.eval()(z)
    assert (copied_stats - batch_stats).abs().mean() > 2 * (own_stats - batch_stats).abs().mean()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.ema_halflife_kimg=-1", "model.ema_halflife_kimg=-1 is invalid"),
        ("model.ema_rampup=0", "model.ema_rampup=0"),
    ],
)
def test_bad_ema_settings_are_one_config_error(compose_cfg, override, message):
    from hydra.utils import instantiate

    from tests.helpers import config_error

    assert message in str(config_error(lambda: instantiate(compose_cfg("ema=on", override).model)))
