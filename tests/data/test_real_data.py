"""A few training steps on the real data in ../shared/data (Fashion-MNIST IDX, CelebA JPEGs), where present."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

from dcgan.train import train
from tests.conftest import ROOT

SHARED = ROOT.parent / "shared" / "data"
REAL = {
    "fashion_mnist": ([f"paths.data_dir={SHARED}"], 60_000, (1, 32, 32)),
    "celeba": ([f"dataset.root={SHARED / 'celeba-10k'}"], 10_000, (3, 64, 64)),
}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHARED.is_dir(), reason=f"no {SHARED}")]


@pytest.mark.parametrize("name", sorted(REAL))
def test_trains_on_the_real_data(compose_cfg, tmp_path, name):
    overrides, count, shape = REAL[name]
    cfg = compose_cfg(f"dataset={name}", *overrides, "trainer.max_steps=4", f"dataset.cache_dir={tmp_path}/cache")
    assert len(instantiate(cfg.dataset).dataset) == count
    metrics = train(cfg)
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4
    assert ckpt["hyper_parameters"]["dataset"]["image_size"] == shape[-1]
