"""The project's Hydra configs (``conf/``) composed outside ``@hydra.main``: for scripts and tests."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hydra import compose as hydra_compose
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf, open_dict

from dcgan.errors import ConfigError

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


# A run config nests a few levels (model.generator, dataset.source.dataset); a file nesting deeper is not one.
MAX_DEPTH = 32


def _nodes(config: Any) -> Iterator[tuple[str, Any, Any, int]]:
    """(path, key, value, depth) of every entry of nested dicts and lists, depth first, without recursion."""
    stack = [("", config, 0)]
    while stack:
        where, node, depth = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list | tuple) else ()
        for key, value in items:
            inner = f"{where}[{key}]" if isinstance(node, list | tuple) else f"{where}.{key}" if where else str(key)
            yield inner, key, value, depth + 1
            stack.append((inner, value, depth + 1))


def targets_in(config: Any) -> frozenset[str]:
    """The ``_target_`` strings anywhere in a config (plain dicts and lists)."""
    return frozenset(value for _, key, value, _ in _nodes(config) if key == "_target_" and isinstance(value, str))


@cache
def kit_targets() -> frozenset[str]:
    """Every ``_target_`` that the kit's configs (``conf/``) name: the only classes a config read from a file
    may build (the kit's nets, data, losses, callbacks; the torchvision datasets, Adam, Lightning's Trainer
    and loggers that the YAMLs use)."""
    return frozenset().union(*(targets_in(yaml.safe_load(path.read_text())) for path in sorted(CONF.rglob("*.yaml"))))


def _shown(text: Any, limit: int = 80) -> str:
    text = str(text)
    plain = text.isprintable() and " " not in text and len(text) <= limit
    return text if plain else repr(text[:limit]) + ("..." if len(text) > limit else "")


def check_stored_config(config: Any, source: str) -> None:
    """Refuse a config read from a file the user did not write (a checkpoint's run config) before anything
    is built from it: each ``_target_`` at any depth (``_args_`` and ``_partial_`` factories included) must
    be one of ``kit_targets()``, and no string may hold an interpolation (``${...}``: a
    resolver such as ``oc.create`` could make a ``_target_`` appear when the config is resolved; a run
    config is stored resolved). ConfigError naming the key and the value otherwise."""
    known = kit_targets()
    for where, key, value, depth in _nodes(config):
        if depth > MAX_DEPTH:
            raise ConfigError(f"{source}: its run config nests deeper than {MAX_DEPTH} levels: it is not one")
        if key == "_target_" and not (isinstance(value, str) and value in known):
            raise ConfigError(
                f"{source}: {_shown(where)}={_shown(value)} is not one of this kit's classes (those conf/ names): "
                "the file was not written by this kit's train.py, so nothing is built from it"
            )
        if any(isinstance(text, str) and "${" in text for text in (key, value)):
            raise ConfigError(
                f"{source}: {_shown(where)} holds an interpolation ({_shown(value, 40)}): a run config is stored "
                "resolved, so the file was not written by this kit's train.py and nothing is built from it"
            )
