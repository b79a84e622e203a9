"""Sample, interpolate or re-draw the pictures of a trained GAN: python generate.py ckpt_path=PATH [key=value ...]
(see conf/generate.yaml and README.md)."""

import hydra
from omegaconf import DictConfig

from dcgan.cli.generate import generate
from dcgan.errors import exit_on_config_error, run


@hydra.main(version_base="1.3", config_path="conf", config_name="generate")
@exit_on_config_error
def main(cfg: DictConfig) -> None:
    generate(cfg)


if __name__ == "__main__":
    run(main)
