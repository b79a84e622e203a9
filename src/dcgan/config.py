"""The project's Hydra configs (``conf/``) composed outside ``@hydra.main``: for scripts and tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose(
    name: str, overrides: Sequence[str] = (), output_dir: str | Path | None = None, hydra_node: bool = False
) -> DictConfig:
    """``conf/<name>.yaml`` with ``overrides``, as the entry point would see it; ``output_dir`` sets
    ``paths.output_dir`` (Hydra's run folder, which only a running app has); ``hydra_node`` keeps ``hydra``."""
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = hydra_compose(name, overrides=list(overrides), return_hydra_config=hydra_node)
    finally:
        GlobalHydra.instance().clear()
    if output_dir is not None:
        with open_dict(cfg):
            cfg.paths.output_dir = str(output_dir)
    return cfg
