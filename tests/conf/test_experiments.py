"""Every experiment= config reproduces its setup, composes and trains a few steps on fixtures."""

from __future__ import annotations

import pytest
import torch

from dcgan.cli.train import train
from dcgan.config import CONF, compose
from tests.unchecked import CHECKED

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))

# What each setup prints: dataset, image size, channels, batch, G, D, lr, epochs, logger.
SEEDS = {
    "tutorial_celeba": ("celeba", 64, 3, 128, "Transposed", "DCGAN", 2e-4, 5, "wandb"),
    "celeba_tensorboard": ("celeba", 64, 3, 128, "Transposed", "DCGAN", 2e-4, 5, "tensorboard"),
    "d2l_pokemon": ("image_folder", 64, 3, 256, "Transposed", "DCGAN", 0.005, 20, "wandb"),
    "dcgan_lab": ("mnist", 28, 1, 128, "Upsample", "CBlock", 2e-4, 5, "wandb"),
    "dcgan_lab_fashion_mnist": ("fashion_mnist", 28, 1, 128, "Upsample", "CBlock", 2e-4, 5, "wandb"),
    "dcgan_lab_svhn": ("svhn", 32, 3, 128, "Upsample", "CBlock", 2e-4, 5, "wandb"),
    "face_array": ("array", 64, 3, 128, "Transposed", "DCGAN", 2e-4, 5, "wandb"),
}


def test_every_seed_has_its_experiment():
    assert set(SEEDS) <= set(EXPERIMENTS)


@pytest.mark.parametrize("experiment", sorted(SEEDS))
def test_experiment_reproduces_its_seed(experiment):
    cfg = compose("train", [f"experiment={experiment}"])
    d = cfg.dataset
    got = (d.name, d.image_size, d.channels, d.batch_size, cfg.generator._target_, cfg.discriminator._target_,
           cfg.optimizer_g.lr, cfg.trainer.max_epochs, next(iter(cfg.logger)))  # fmt: skip
    name, size, channels, batch, gen, disc, lr, epochs, logger = SEEDS[experiment]
    assert got[:4] == (name, size, channels, batch)
    assert got[4].endswith(f"{gen}Generator") and got[5].endswith(f"{disc}Discriminator")
    assert got[6:] == (lr, epochs, logger) and cfg.optimizer_d.lr == lr
    assert tuple(cfg.optimizer_g.betas) == (0.5, 0.999)
    if gen == "Upsample":
        assert cfg.generator.projection == "linear" and cfg.loss._target_.endswith("NonSaturating")


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_trains_on_fixtures(compose_cfg, fixture_root, tmp_path, experiment):
    own = compose("train", [f"experiment={experiment}"])
    dataset, logger = own.dataset.name, next(iter(own.logger or {}), "none")
    overrides = [f"experiment={experiment}", f"paths.data_dir={fixture_root}", "trainer.max_steps=2"]
    overrides.append("dataset.batch_size=4")
    if dataset in CHECKED:
        overrides.append(f"dataset.source.dataset._target_={CHECKED[dataset]}")
    if logger != "wandb":
        overrides.append(f"logger={logger}")  # FAST turns loggers off; keep an experiment's own
    train(compose_cfg(*overrides))
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == own.model.d_steps_per_g + 1  # one iteration reaches max_steps=2
    if logger == "tensorboard":
        assert list((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*"))


@pytest.mark.parametrize("overrides", [["experiment=fashion_mnist_best"], ["experiment=best", "dataset=celeba"]])
def test_the_best_recipe_composes_on_any_dataset(compose_cfg, overrides):
    # FAST (tests/conftest.py) shrinks the nets; the recipe is what the measurements in docs/ used
    cfg = compose_cfg(*overrides)
    assert cfg.dataset.name == ("celeba" if "dataset=celeba" in overrides else "fashion_mnist")
    assert cfg.generator._target_.endswith("UpsampleGenerator")
    assert (cfg.model.r1_gamma, cfg.model.ema_decay, cfg.model.ema_start_step) == (0.1, 0.999, 1000)
    assert cfg.loss._target_.endswith("NonSaturating") and cfg.discriminator._target_.endswith("DCGANDiscriminator")


def test_ttur_sets_two_learning_rates(compose_cfg):
    cfg = compose_cfg("ttur=on")
    assert (cfg.optimizer_g.lr, cfg.optimizer_d.lr) == (1e-4, 4e-4)
