"""Score a trained GAN: python evaluate.py ckpt_path=PATH metrics=[fid,kid,is] [key=value ...]
(see conf/evaluate.yaml and conf/metrics/)."""

import hydra
from omegaconf import DictConfig

from dcgan.cli.evaluate import evaluate
from dcgan.errors import exit_on_config_error, run


@hydra.main(version_base="1.3", config_path="conf", config_name="evaluate")
@exit_on_config_error
def main(cfg: DictConfig) -> None:
    evaluate(cfg)


if __name__ == "__main__":
    run(main)
