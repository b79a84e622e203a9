"""``evaluate(cfg)``: FID / KID / IS of a trained generator against its dataset's real images; the class
accuracy and per-class FD of a class-conditional one."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from torch import nn

from dcgan.checkpoints import LoadedGenerator, generator_of
from dcgan.cli.device import resolve_device
from dcgan.errors import ConfigError
from dcgan.images import render
from dcgan.latents import cycling_labels, latents
from dcgan.metrics.features import build_feature_net, class_logit_offset, extract
from dcgan.metrics.real import RealSets, load_datamodule, real_sets, with_split
from dcgan.metrics.scores import ClassLabels, compute_scores
from dcgan.models.generator import class_names

log = logging.getLogger(__name__)

GENERATORS = ("auto", "ema", "raw", "both")


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


def load_generators(cfg: DictConfig) -> list[LoadedGenerator]:
    """The generators ``metrics.generator`` names: ``auto`` the EMA copy where the run kept one, else G;
    ``ema`` the EMA copy (refused where there is none); ``raw`` G itself; ``both`` the EMA copy, then G."""
    choice = str(cfg.metrics.get("generator", "auto"))
    if choice not in GENERATORS:
        raise ConfigError(f"metrics.generator={choice} is invalid: use one of {', '.join(GENERATORS)}")
    first = generator_of(cfg, "evaluate.py", use_ema=choice != "raw")
    if choice in ("ema", "both") and first.weights != "ema":
        raise ConfigError(
            f"metrics.generator={choice}: {cfg.ckpt_path} holds no EMA generator (its run had no ema=on): "
            "use metrics.generator=raw"
        )
    return [first, generator_of(cfg, "evaluate.py", use_ema=False)] if choice == "both" else [first]


def _score(
    generator: nn.Module, net: nn.Module, cfg: DictConfig, scores: dict, real: RealSets, device, offset: int | None
) -> dict:
    """The scores of ``generator``'s images (a conditional one's classes in turn); ``offset``: where the
    dataset's classes start among the classifier's logits, for the scores by class (None: none asked)."""
    metrics, batch_size = cfg.metrics, int(cfg.metrics.batch_size)
    classes = class_names(generator)
    start = time.perf_counter()
    asked = cycling_labels(metrics.num_samples, list(range(len(classes)))) if classes else None  # classes in turn
    images = render(generator, latents(metrics.num_samples, generator.nz, cfg.seed), batch_size, device, asked)
    fake, fake_logits = extract(net, images.split(batch_size), device)
    log.info(f"features of {len(fake)} generated images in {time.perf_counter() - start:.1f}s")
    labels = None if offset is None else ClassLabels(real.labels, asked, classes, offset)
    record = {"num_samples": len(fake), "scores": compute_scores(scores, real.features, fake, fake_logits, labels)}
    if hasattr(net, "rates"):  # the face network: the share of images with a face found
        record["rates"] = net.rates(fake_logits)
    return record


def evaluate(cfg: DictConfig) -> dict:
    """Scores of ``cfg.ckpt_path``'s generator(s) (``cfg.metrics``: which generator, scores, feature network,
    sample counts, the real-data floor), printed and written as JSON to ``cfg.output``; returns what was
    written: ``generator`` and ``scores`` of the first generator scored, ``generators`` all of them."""
    generators = load_generators(cfg)
    run_cfg, checkpoint = generators[0].config, generators[0].checkpoint
    with open_dict(cfg):  # null: the run's data folder, where its caches and the classifier already are
        cfg.paths.data_dir = cfg.paths.data_dir or OmegaConf.select(run_cfg, "paths.data_dir") or "data"
    metrics = cfg.metrics
    if int(metrics.num_samples) < 2:
        raise ConfigError(f"metrics.num_samples={metrics.num_samples} is invalid: use 2 or more (10000 is the norm)")
    scores = instantiate(metrics.get("scores") or {})
    classes = class_names(generators[0].net)
    by_class = [name for name, score in scores.items() if getattr(score, "needs_labels", False)]
    if by_class and not classes:
        raise ConfigError(
            f"metrics={by_class[0]} measures a class-conditional generator, and {cfg.ckpt_path} was trained with "
            "model.conditional=false: use metrics=fid (or kid, is)"
        )
    device, batch_size = resolve_device(cfg.device), int(metrics.batch_size)
    datamodule = load_datamodule(_dataset_config(cfg, run_cfg))
    net = build_feature_net(instantiate(metrics.features), metrics.feature, datamodule.channels, datamodule.name)
    if net.kind == "face" and "is" in scores:
        raise ConfigError("metrics=is needs class logits and the face network has none: use metrics=[fid,kid]")
    offset = class_logit_offset(net, datamodule.name, len(classes)) if by_class else 0
    num_real = metrics.num_real or metrics.num_samples
    real = real_sets(datamodule, metrics.split, net, num_real, metrics.cache_dir, batch_size, device,
                     floor=bool(metrics.get("floor", False)), with_labels=bool(by_class))  # fmt: skip
    records = {g.weights: _score(g.net, net, cfg, scores, real, device, offset if by_class else None)
               for g in generators}  # fmt: skip
    first = records[generators[0].weights]
    result = {
        "ckpt_path": str(cfg.ckpt_path),
        "step": checkpoint.get("global_step"),
        "generator": generators[0].weights,
        "dataset": datamodule.name,
        "image_size": datamodule.image_size,
        "split": metrics.split,
        "feature": net.kind,
        "feature_id": net.id,
        "num_samples": first["num_samples"],
        "num_real": len(real.features),
        "seed": int(cfg.seed),
        "classes": classes,
        "scores": first["scores"],
        "generators": records,
        "floor": None if real.floor is None else {"fd": real.floor, "num_real": len(real.features)},
    }
    if hasattr(net, "rates"):
        result["real_rates"] = net.rates(real.logits)
    output = Path(cfg.get("output") or default_output(cfg.ckpt_path))
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    _print(result, datamodule.name)
    print(f"scores written to {output}")
    return result


def _print(result: dict, dataset: str) -> None:
    num_real, split = result["num_real"], result["split"]
    for which, record in result["generators"].items():
        what = f"{which} generator; {result['feature']} features, {record['num_samples']} generated vs {num_real}"
        for name, value in record["scores"].items():  # per class ("fd/<class>"): the same images
            print(f"{name}: {value:.4f}" + ("" if "/" in name else f"  ({what} real {split} images of {dataset})"))
        for name, value in record.get("rates", {}).items():
            real = result["real_rates"][name]
            print(f"{name}: {value:.4f}  ({which} generator, {record['num_samples']} images; real images: {real:.4f})")
    if result["floor"] is not None:
        print(f"floor: {result['floor']['fd']:.4f}  (FD of {num_real} real {split} images vs {num_real} others)")
