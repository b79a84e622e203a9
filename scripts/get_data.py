"""Make the dataset of a training config available, as `make data` (and so `make train`) does first.

    python scripts/get_data.py                      # the default run's dataset (Fashion-MNIST)
    python scripts/get_data.py dataset=mnist        # any train.py overrides

Tries, in order: the local copy under paths.data_dir, a system copy (Debian's dataset-fashion-mnist in
/usr/share/datasets), the dataset's download, then Debian's package through apt-get (as root, or with
passwordless sudo) where the dataset has one. Exits 0 when the dataset is there, else prints one line
naming where it looked and how to get it, and exits 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from hydra.errors import HydraException
from omegaconf import OmegaConf

from dcgan.config import compose
from dcgan.errors import ConfigError
from dcgan.metrics.real import load_datamodule


def apt_get(package: str) -> str | None:
    """Install a Debian package; None on success, else why not."""
    if shutil.which("apt-get") is None:
        return "no apt-get on this machine"
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        return "not root and no sudo"
    install = [*sudo, "apt-get", "install", "-y", "-q", package]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (install, [*sudo, "apt-get", "update", "-q"], install):  # a fresh machine has no lists yet
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if done.returncode == 0 and command is install:
            return None
    return f"apt-get install {package} failed: {' '.join(done.stderr.split())[-200:]}"


def main(argv: list[str]) -> int:
    try:
        dataset_cfg = compose("train", argv).dataset
    except HydraException as error:  # an override train.py would refuse too
        print(f"error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    try:
        datamodule = load_datamodule(dataset_cfg)
    except ConfigError as error:
        package = OmegaConf.select(dataset_cfg, "source.system_package")
        if not package:
            print(f"error: {error}", file=sys.stderr)
            return 2
        print(f"{dataset_cfg.name}: not found locally and no download; installing Debian's {package} ...")
        problem = apt_get(package)
        try:
            datamodule = load_datamodule(dataset_cfg)
        except ConfigError as again:
            print(f"error: {again}{f' ({problem})' if problem else ''}", file=sys.stderr)
            return 2
    print(f"{datamodule.source.title}: {len(datamodule.dataset)} images under {datamodule.root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
