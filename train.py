"""Train a DCGAN: python train.py [group=option ...] [key=value ...]   (see README.md)."""

import hydra
from omegaconf import DictConfig

from dcgan.cli.train import train
from dcgan.errors import exit_on_config_error, run


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@exit_on_config_error
def main(cfg: DictConfig) -> float | None:
    metrics = train(cfg)
    # A Hydra sweeper (hparams_search=optuna) minimizes what main returns.
    return metrics.get(cfg.optimized_metric) if cfg.get("optimized_metric") else None


if __name__ == "__main__":
    run(main)
