"""``evaluate(cfg)``: FID / KID / IS of a trained generator against its dataset's real images; the class
accuracy and per-class FD of a class-conditional one."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from dcgan.checkpoints import load_generator
from dcgan.cli.device import resolve_device
from dcgan.errors import ConfigError
from dcgan.images import render
from dcgan.latents import cycling_labels, latents
from dcgan.metrics.features import build_feature_net, class_logit_offset, extract
from dcgan.metrics.real import load_datamodule, real_features, with_split
from dcgan.metrics.scores import ClassLabels, compute_scores
from dcgan.models.generator import class_names

log = logging.getLogger(__name__)


def _dataset_config(cfg: DictConfig, run_cfg: DictConfig) -> DictConfig:
    dataset_cfg = run_cfg.dataset
    for key, value in (cfg.get("dataset") or {}).items():
        if value is not None:  # evaluate.py's dataset.* overrides, e.g. dataset.root where the images are here
            dataset_cfg[key] = value
    return with_split(dataset_cfg, cfg.metrics.split)


def default_output(ckpt_path: str | Path) -> Path:
    """``<checkpoint without its extension>.scores.json``, next to the checkpoint."""
    path = Path(ckpt_path)
    return path.with_name(f"{path.stem}.scores.json")


def evaluate(cfg: DictConfig) -> dict:
    """Scores of ``cfg.ckpt_path``'s generator (``cfg.metrics``: which scores, feature network, sample counts),
    printed and written as JSON to ``cfg.output``; returns what was written."""
    generator, run_cfg, checkpoint, weights = load_generator(cfg.ckpt_path, cfg.weights_only, cfg.use_ema)
    with open_dict(cfg):  # null: the run's data folder, where its caches and the classifier already are
        cfg.paths.data_dir = cfg.paths.data_dir or OmegaConf.select(run_cfg, "paths.data_dir") or "data"
    metrics = cfg.metrics
    if int(metrics.num_samples) < 2:
        raise ConfigError(f"metrics.num_samples={metrics.num_samples} is invalid: use 2 or more (10000 is the norm)")
    scores = instantiate(metrics.get("scores") or {})
    classes = class_names(generator)
    by_class = [name for name, score in scores.items() if getattr(score, "needs_labels", False)]
    if by_class and not classes:
        raise ConfigError(
            f"metrics={by_class[0]} measures a class-conditional generator, and {cfg.ckpt_path} was trained with "
            "model.conditional=false: use metrics=fid (or kid, is)"
        )
    device, batch_size = resolve_device(cfg.device), int(metrics.batch_size)
    datamodule = load_datamodule(_dataset_config(cfg, run_cfg))
    net = build_feature_net(instantiate(metrics.features), metrics.feature, datamodule.channels, datamodule.name)
    offset = class_logit_offset(net, datamodule.name, len(classes)) if by_class else 0
    num_real = metrics.num_real or metrics.num_samples
    real = real_features(datamodule, metrics.split, net, num_real, metrics.cache_dir, batch_size, device,
                         with_labels=bool(by_class))  # fmt: skip
    real, real_labels = real if by_class else (real, None)
    start = time.perf_counter()
    asked = cycling_labels(metrics.num_samples, list(range(len(classes)))) if classes else None  # classes in turn
    images = render(generator, latents(metrics.num_samples, generator.nz, cfg.seed), batch_size, device, asked)
    fake, fake_logits = extract(net, images.split(batch_size), device)
    labels = ClassLabels(real_labels, asked, classes, offset) if by_class else None
    log.info(f"features of {len(fake)} generated images in {time.perf_counter() - start:.1f}s")
    result = {
        "ckpt_path": str(cfg.ckpt_path),
        "step": checkpoint.get("global_step"),
        "generator": weights,
        "dataset": datamodule.name,
        "image_size": datamodule.image_size,
        "split": metrics.split,
        "feature": net.kind,
        "feature_id": net.id,
        "num_samples": len(fake),
        "num_real": len(real),
        "seed": int(cfg.seed),
        "classes": classes,
        "scores": compute_scores(scores, real, fake, fake_logits, labels),
    }
    output = Path(cfg.get("output") or default_output(cfg.ckpt_path))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    what = f"{net.kind} features, {len(fake)} generated vs {len(real)} real {metrics.split} images of {datamodule.name}"
    for name, value in result["scores"].items():
        print(f"{name}: {value:.4f}" + ("" if "/" in name else f"  ({what})"))  # per class: the same images
    print(f"scores written to {output}")
    return result
