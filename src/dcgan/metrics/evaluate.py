"""``evaluate(cfg)``: FID / KID / IS of a trained generator against its dataset's real images."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from dcgan.checkpoint_io import EMA_PREFIX, load_generator
from dcgan.device import resolve_device
from dcgan.errors import ConfigError
from dcgan.generate import latents, render
from dcgan.metrics.features import build_feature_net, extract
from dcgan.metrics.real import load_datamodule, real_features, with_split
from dcgan.metrics.scores import SCORES, compute_scores

log = logging.getLogger(__name__)


def _dataset_config(cfg: DictConfig, run_cfg: DictConfig) -> DictConfig:
    dataset_cfg = run_cfg.dataset
    for key, value in (cfg.get("dataset") or {}).items():
        if value is not None:  # evaluate.py's dataset.* overrides, e.g. dataset.root where the images are here
            dataset_cfg[key] = value
    return with_split(dataset_cfg, cfg.metrics.get("split", "train"))


def _generator(cfg: DictConfig):
    """(G, run config, checkpoint, which weights): the EMA copy of G where the run kept one and ``cfg.use_ema``."""
    use_ema = cfg.get("use_ema", True)
    generator, run_cfg, checkpoint = load_generator(cfg.ckpt_path, cfg.get("weights_only", True), use_ema)
    has_ema = any(k.startswith(EMA_PREFIX) for k in checkpoint["state_dict"])
    return generator, run_cfg, checkpoint, "ema" if use_ema and has_ema else "raw"


def default_output(ckpt_path: str | Path) -> Path:
    """``<checkpoint without its extension>.scores.json``, next to the checkpoint."""
    path = Path(ckpt_path)
    return path.with_name(f"{path.stem}.scores.json")


def evaluate(cfg: DictConfig) -> dict:
    """Scores of ``cfg.ckpt_path``'s generator (``cfg.metrics``: which scores, feature network, sample counts),
    printed and written as JSON to ``cfg.output``; returns what was written."""
    settings = cfg.metrics
    names = [name for name in SCORES if name in settings]
    generator, run_cfg, checkpoint, weights = _generator(cfg)
    with open_dict(cfg):  # null: the run's data folder, where its caches and the classifier already are
        cfg.paths.data_dir = cfg.paths.get("data_dir") or OmegaConf.select(run_cfg, "paths.data_dir") or "data"
    if int(settings.num_samples) < 2:
        raise ConfigError(f"metrics.num_samples={settings.num_samples} is invalid: use 2 or more (10000 is the norm)")
    device, batch_size = resolve_device(cfg.get("device", "cpu")), int(settings.batch_size)
    datamodule = load_datamodule(_dataset_config(cfg, run_cfg))
    net = build_feature_net(settings, datamodule.channels, cfg.paths.data_dir)
    split = settings.get("split", "train")
    num_real = settings.get("num_real") or settings.num_samples
    real = real_features(datamodule, split, net, num_real, settings.cache_dir, batch_size, device)
    start = time.perf_counter()
    images = render(generator, latents(settings.num_samples, generator.nz, cfg.seed), batch_size, str(device))
    fake, fake_logits = extract(net, images.split(batch_size), device)
    log.info(f"features of {len(fake)} generated images in {time.perf_counter() - start:.1f}s")
    result = {
        "ckpt_path": str(cfg.ckpt_path),
        "step": checkpoint.get("global_step"),
        "generator": weights,
        "dataset": datamodule.name,
        "image_size": datamodule.image_size,
        "split": split,
        "feature": net.kind,
        "feature_id": net.id,
        "num_samples": len(fake),
        "num_real": len(real),
        "seed": int(cfg.seed),
        "scores": compute_scores(names, real, fake, fake_logits, settings),
    }
    output = Path(cfg.get("output") or default_output(cfg.ckpt_path))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    what = f"{net.kind} features, {len(fake)} generated vs {len(real)} real {split} images of {datamodule.name}"
    for name, value in result["scores"].items():
        print(f"{name}: {value:.4f}  ({what})")
    print(f"scores written to {output}")
    return result
