"""The project's Hydra configs (``conf/``) composed outside ``@hydra.main``: for scripts and tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

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


def option(name: str) -> DictConfig:
    """One option file of a config group (``"generator/upsample"``) with the settings its group shares
    (``conf/_generator.yaml``) under it, interpolations unresolved: the option's own defaults."""
    node = OmegaConf.load(CONF / f"{name}.yaml")
    for parent in node.pop("defaults", []):  # [/_generator@_here_, _self_]: the shared settings under the option's
        if parent != "_self_":
            node = OmegaConf.merge(OmegaConf.load(CONF / f"{parent.lstrip('/').split('@')[0]}.yaml"), node)
    return node


def with_current_defaults(stored: DictConfig, group: str) -> DictConfig:
    """A net config stored in an older checkpoint, with each key added to its option since then set to the
    option's current default (new keys default to the old behaviour); the stored values win."""
    for path in sorted((CONF / group).glob("*.yaml")):
        if path.stem.startswith("_"):
            continue
        defaults = option(f"{group}/{path.stem}")
        if defaults.get("_target_") == stored.get("_target_"):
            own = OmegaConf.to_container(defaults, resolve=False)
            missing = {k: v for k, v in own.items() if k not in stored}
            return OmegaConf.merge(stored, missing) if missing else stored
    return stored
