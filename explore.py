"""A page in the browser to look around a trained generator's latent space: python explore.py ckpt_path=PATH
[key=value ...] (see conf/explore.yaml and README.md)."""

import hydra
from omegaconf import DictConfig

from dcgan.cli.explore import explore
from dcgan.errors import exit_on_config_error, run


@hydra.main(version_base="1.3", config_path="conf", config_name="explore")
@exit_on_config_error
def main(cfg: DictConfig) -> None:
    explore(cfg)


if __name__ == "__main__":
    run(main)
