"""Train a DCGAN: python train.py [group=option ...] [key=value ...]   (see README.md)."""

import hydra
from omegaconf import DictConfig

from dcgan.errors import exit_on_config_error


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@exit_on_config_error
def main(cfg: DictConfig) -> None:
    from dcgan.train import train

    train(cfg)


if __name__ == "__main__":
    main()
