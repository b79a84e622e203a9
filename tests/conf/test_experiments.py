"""Every experiment= config reproduces its setup, composes and trains a few steps on fixtures."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from dcgan.cli.train import train
from dcgan.config import CONF, compose
from tests.unchecked import CHECKED

EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))

# What each setup prints: dataset, image size, channels, batch, G, D, lr, epochs, logger.
SEEDS = {
    "tutorial_celeba": ("celeba", 64, 3, 128, "Transposed", "DCGAN", 2e-4, 5, "wandb"),
    "celeba_tensorboard": ("celeba", 64, 3, 128, "Transposed", "DCGAN", 2e-4, 5, "tensorboard"),
    "d2l_pokemon": ("image_folder", 64, 3, 256, "Transposed", "DCGAN", 0.005, 50, "wandb"),
    "dcgan_lab": ("mnist", 28, 1, 128, "Upsample", "CBlock", 2e-4, 5, "wandb"),
    "dcgan_lab_fashion_mnist": ("fashion_mnist", 28, 1, 128, "Upsample", "CBlock", 2e-4, 5, "wandb"),
    "dcgan_lab_emnist": ("emnist", 28, 1, 128, "Upsample", "CBlock", 2e-4, 5, "wandb"),
    "dcgan_lab_svhn": ("svhn", 32, 3, 128, "Upsample", "CBlock", 2e-4, 5, "wandb"),
    "face_array": ("array", 64, 3, 128, "Transposed", "DCGAN", 2e-4, 5, "tensorboard"),
}

LAB = {
    "generator.projection": "linear",
    "generator.mode": "bilinear",
    "generator.stages": 2,
    "generator.convs_per_stage": 2,
    "generator.out_kernel": 1,
    "discriminator.ndf": 32,
    "discriminator.width_factors": [1, 2, 3],
    "discriminator.dropout": 0.3,
}
TUTORIAL = {
    "seed": 999,
    "deterministic": True,
    "dataset.resize": "crop",
    "dataset.source.dataset.split": "all",
    "generator.norm_eps": 1e-5,
    "discriminator.norm_eps": 1e-5,
    "discriminator.input_norm": False,
    "loss.d_average": False,
    "model.g_fresh_noise": False,
    "model.grid_batch_stats": True,
    "callbacks.samples.every_n_steps": 1000,  # every 500 iterations
    "callbacks.training_images._target_": "dcgan.callbacks.TrainingImages",
}
# The settings that make each setup what its source does (the table in the report).
SETTINGS = {
    "tutorial_celeba": TUTORIAL,
    "celeba_tensorboard": {
        **TUTORIAL,
        "discriminator.input_norm": True,
        "model.g_fresh_noise": True,
        "dataset.source.dataset.split": "train",
    },
    "d2l_pokemon": {
        "generator.norm_eps": 0.8,
        "discriminator.norm_eps": 0.8,
        "discriminator.input_norm": True,
        "loss.d_average": True,
        "dataset.resize": "squash",
        "trainer.max_epochs": 50,
    },
    "dcgan_lab": LAB,
    "dcgan_lab_fashion_mnist": LAB,
    "dcgan_lab_emnist": {**LAB, "dataset.source.dataset.split": "balanced"},
    "dcgan_lab_svhn": LAB,
    "face_array": {
        "dataset.layout": "hwn",
        "dataset.root": ["data/faces/train.npy", "data/faces/test.npy"],
        "callbacks.model_graph._target_": "dcgan.callbacks.graph.ModelGraph",
    },
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


@pytest.mark.parametrize("experiment", sorted(SETTINGS))
def test_experiment_sets_what_its_source_does(experiment):
    cfg = compose("train", [f"experiment={experiment}"])
    got = {key: OmegaConf.select(cfg, key) for key in SETTINGS[experiment]}
    got = {k: OmegaConf.to_container(v, resolve=True) if OmegaConf.is_config(v) else v for k, v in got.items()}
    assert got == SETTINGS[experiment]


def _nets(experiment: str) -> tuple[nn.Module, nn.Module]:
    cfg = compose("train", [f"experiment={experiment}"])
    return instantiate(cfg.generator), instantiate(cfg.discriminator)


@pytest.mark.parametrize(
    ("experiment", "size", "projected"), [("dcgan_lab", 28, (256, 7)), ("dcgan_lab_svhn", 32, (256, 8))]
)
def test_lab_nets_have_the_labs_shapes(experiment, size, projected):
    g, d = _nets(experiment)
    channels = 3 if experiment.endswith("svhn") else 1
    # D: (B, 96, 4, 4) features and a Linear(1536, 1) head, at 28x28 and at 32x32
    assert d.features(torch.zeros(2, channels, size, size)).shape == (2, 96, 4, 4)
    assert d.head.weight.shape == (1, 1536)
    convs = [m for m in d.features.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (c, k, s) for c in (32, 64, 96) for k, s in (((3, 3), (1, 1)), ((4, 4), (2, 2)))
    ]
    norms = [m.num_features for m in d.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms == [32, 64, 96]  # BN after the 3x3 convs only, none after the stride-2 convs
    assert [m.p for m in d.modules() if isinstance(m, nn.Dropout)] == [0.3] * 3
    # G: Linear(100, C*s*s) + BN, two stages of bilinear Upsample + two 3x3 convs, a 1x1 output conv
    channels_0, side = projected
    assert g.project[0].out_features == channels_0 * side * side and g.base == side
    ups = [m for m in g.modules() if isinstance(m, nn.Upsample)]
    assert [u.mode for u in ups] == ["bilinear", "bilinear"]
    convs = [m for m in g.net.modules() if isinstance(m, nn.Conv2d)]
    assert [c.kernel_size for c in convs] == [(3, 3)] * 4 + [(1, 1)]
    assert g(torch.randn(2, 100)).shape == (2, channels, size, size)


def test_d2l_batchnorm_eps_is_in_both_nets_and_on_ds_input_layer():
    g, d = _nets("d2l_pokemon")
    for net in (g, d):
        norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
        assert norms and all(m.eps == 0.8 for m in norms)
    first = d.features[0]
    assert isinstance(first[0], nn.Conv2d) and first[0].in_channels == 3 and isinstance(first[1], nn.BatchNorm2d)
    # the tutorial's D has none there, and PyTorch's eps
    _, tutorial = _nets("tutorial_celeba")
    assert not isinstance(tutorial.features[0][1], nn.BatchNorm2d)
    assert all(m.eps == 1e-5 for m in tutorial.modules() if isinstance(m, nn.BatchNorm2d))


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
    assert (cfg.model.r1_gamma, cfg.model.ema_halflife_kimg, cfg.model.ema_rampup) == (0.1, 50, 0.05)
    assert cfg.loss._target_.endswith("NonSaturating") and cfg.discriminator._target_.endswith("DCGANDiscriminator")


def test_ttur_sets_two_learning_rates(compose_cfg):
    cfg = compose_cfg("ttur=on")
    assert (cfg.optimizer_g.lr, cfg.optimizer_d.lr) == (1e-4, 4e-4)
