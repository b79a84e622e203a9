"""``generate(cfg)``: samples, latent interpolations, the run pictures or a standalone export of a trained
checkpoint's generator."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, OmegaConf
from PIL import Image

from dcgan.callbacks.pictures import RunPictures
from dcgan.checkpoints import LoadedGenerator, generator_of
from dcgan.cli.device import resolve_device
from dcgan.cli.export import export_format, export_generator
from dcgan.data import split_batch
from dcgan.errors import ConfigError, whole_number
from dcgan.files import check_writable
from dcgan.images import GRID_COLUMNS, grid_image, render, write_gif, write_run_pictures
from dcgan.latents import class_rows, cycling_labels, interpolation_latents, latents, ping_pong
from dcgan.models.generator import class_names
from dcgan.training.module import draw

log = logging.getLogger(__name__)

FORMATS = ("auto", "npz", "grid", "folder")
GRID_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
DEFAULT_OUTPUT = {"samples": "samples.npz", "interpolate": "interpolation.png", "export": "generator.onnx"}


def output_kind(path: Path, fmt: str) -> tuple[str, Path]:
    """(npz | grid | folder, the path to write) for an output path and ``format``; ConfigError for a suffix
    that is neither .npz nor a picture's (never ``a.gif.npz``)."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is not supported: use one of {', '.join(FORMATS)}")
    suffix = path.suffix.lower()
    if fmt in ("auto", "npz", "grid") and suffix and suffix not in GRID_SUFFIXES | {".npz"}:
        gif = " (a GIF: mode=interpolate interpolation.gif=<path>.gif)" if suffix == ".gif" else ""
        raise ConfigError(
            f"output={path}: {suffix} is not written by generate.py; use .npz, {', '.join(sorted(GRID_SUFFIXES))}, "
            f"no suffix (<output>.npz) or format=folder{gif}"
        )
    if fmt == "auto":
        fmt = "grid" if suffix in GRID_SUFFIXES else "npz"
    if fmt == "npz" and path.suffix.lower() != ".npz":
        path = path.with_name(path.name + ".npz")
    elif fmt == "grid" and path.suffix.lower() not in GRID_SUFFIXES:
        path = path.with_name(path.name + ".png")
    return fmt, path


def write_images(
    images: torch.Tensor, outputs: list[str], fmt: str, nrow: int, labels: torch.Tensor | None = None
) -> list[Path]:
    """uint8 images (N, C, H, W) to each output: ``.npz`` (key ``images``, and ``labels`` (N,) int64: the
    class of each image, where given), a grid picture, or a folder of PNGs (``000000.png`` ...). Returns the
    paths written."""
    written = []
    for output in outputs:
        kind, path = output_kind(Path(output), fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "npz":
            np.savez(path, images=images.numpy(), **({} if labels is None else {"labels": labels.numpy()}))
        elif kind == "grid":
            grid_image(images, nrow).save(path)
        else:
            path.mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(images.permute(0, 2, 3, 1).numpy()):
                Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(path / f"{i:06d}.png")
        written.append(path)
    return written


def _outputs(cfg: DictConfig) -> list[str]:
    output = cfg.get("output") or DEFAULT_OUTPUT[cfg.mode]
    return [str(output)] if isinstance(output, str | Path) else [str(o) for o in output]


def class_index(item, names: list[str]) -> int:
    """The index of the class ``item`` names (by its index or its name); ConfigError for any other."""
    if isinstance(item, str) and item in names:
        return names.index(item)
    if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < len(names):
        return item
    listed = ", ".join(f"{i}={name}" for i, name in enumerate(names))
    raise ConfigError(f"label={item} is not a class of this generator: use 0 to {len(names) - 1} ({listed})")


def asked_labels(label, generator: torch.nn.Module, n: int) -> torch.Tensor | None:
    """(n,) labels for ``label`` (a class index or name, or a list of them, taken in turn; None: every class
    in turn) of a class-conditional ``generator``; None for an unconditional one, which takes no ``label``."""
    names = class_names(generator)
    if not names:
        if label is not None:
            raise ConfigError(
                f"label={label}: this generator is not class-conditional (model.conditional=false): drop label"
            )
        return None
    asked = list(range(len(names))) if label is None else list(label) if isinstance(label, ListConfig) else [label]
    if not asked:
        raise ConfigError("label=[]: give a class (label=3), a list (label=[0,3]) or no label (every class in turn)")
    return cycling_labels(n, [class_index(item, names) for item in asked])


def generate_samples(cfg: DictConfig, loaded: LoadedGenerator) -> list[Path]:
    start = time.perf_counter()
    labels = asked_labels(cfg.get("label"), loaded.net, int(cfg.num_samples))
    z = latents(cfg.num_samples, loaded.net.nz, cfg.seed, cfg.get("truncation"))
    images = render(loaded.net, z, cfg.batch_size, resolve_device(cfg.device), labels)
    nrow = cfg.get("nrow") or math.ceil(math.sqrt(len(images)))
    written = write_images(images, _outputs(cfg), cfg.format, nrow, labels)
    log.info(f"{len(images)} samples {tuple(images.shape[1:])} in {time.perf_counter() - start:.2f}s")
    return written


def generate_interpolation(cfg: DictConfig, loaded: LoadedGenerator) -> list[Path]:
    spec = cfg.interpolation
    ends = latents(2 * int(spec.rows), loaded.net.nz, cfg.seed, cfg.get("truncation"))
    z = interpolation_latents(ends[0::2], ends[1::2], spec.steps, spec.method)
    rows = len(z) // int(spec.steps)  # a conditional G: one class per row, as ``label`` asks
    labels = asked_labels(cfg.get("label"), loaded.net, rows)
    labels = None if labels is None else labels.repeat_interleave(int(spec.steps))
    images = render(loaded.net, z, cfg.batch_size, resolve_device(cfg.device), labels)
    written = write_images(images, _outputs(cfg), cfg.format, nrow=int(spec.steps), labels=labels)
    if spec.get("gif"):
        rows = images.reshape(-1, int(spec.steps), *images.shape[1:])  # (rows, steps, C, H, W)
        frames = [grid_image(rows[:, t], nrow=min(len(rows), 8)) for t in range(int(spec.steps))]
        Path(spec.gif).parent.mkdir(parents=True, exist_ok=True)
        write_gif(ping_pong(frames), spec.gif, spec.frame_ms, hold_last=1)
        written.append(Path(spec.gif))
    return written


def _real_batch(config: DictConfig, n: int, seed: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    try:
        return split_batch(instantiate(config.dataset).real_batch(n, seed))
    except Exception as error:  # the data may live elsewhere now: draw the rest anyway
        log.warning(f"real_vs_fake.png skipped: cannot read the run's dataset ({' '.join(str(error).split())})")
        return None, None


@torch.inference_mode()
def generate_pictures(cfg: DictConfig, loaded: LoadedGenerator) -> list[Path]:
    """Re-draw a run's pictures from one of its checkpoints: the loss history stored in it, the grids in the
    run's ``samples/`` folder, a real batch of the run's dataset beside G(fixed noise). Written into
    ``output`` (default: the run folder of the checkpoint)."""
    ckpt_path = Path(cfg.ckpt_path)
    run_dir = ckpt_path.parent.parent if ckpt_path.parent.name == "checkpoints" else ckpt_path.parent
    samples_dir = run_dir / "samples"
    if not samples_dir.is_dir():
        samples_dir = OmegaConf.select(loaded.config, "callbacks.samples.dirpath")
    noise = loaded.checkpoint["state_dict"].get("fixed_noise")
    noise = noise if noise is not None else torch.randn(64, loaded.net.nz)
    # As the run drew its grids: batch statistics where it did (not for an EMA generator), else eval mode.
    batch_stats = bool(OmegaConf.select(loaded.config, "model.grid_batch_stats", default=False))
    classes, labels = class_names(loaded.net), None
    if classes:  # a class grid, as the run drew it: one row per class
        noise, labels = class_rows(noise[:GRID_COLUMNS], len(classes))
    fake = draw(loaded.net, noise, batch_stats and loaded.weights == "raw", labels)
    real, real_labels = _real_batch(loaded.config, len(noise) if classes else len(fake), cfg.seed)
    settings = OmegaConf.select(loaded.config, "callbacks.pictures")
    if settings is None:
        raise ConfigError(
            f"ckpt_path={ckpt_path}: its run had no callbacks.pictures, so there are no pictures to re-draw"
        )
    out_dir = Path(cfg.output) if cfg.get("output") else run_dir
    history = RunPictures.history_in(loaded.checkpoint)
    written = write_run_pictures(
        out_dir, samples_dir, history, real, fake, settings.smoothing, settings.frame_ms, classes, real_labels
    )
    return list(written.values())


def generate_export(cfg: DictConfig, loaded: LoadedGenerator) -> list[Path]:
    """The generator (its EMA copy where the run has one) as a standalone ONNX (.onnx) or TorchScript (.pt)
    file per output, each with a JSON beside it."""
    step = loaded.checkpoint.get("global_step")
    written = []
    for output in _outputs(cfg):
        written += export_generator(loaded.net, output, loaded.weights, cfg.ckpt_path, step)
    return written


MODES = {
    "samples": generate_samples,
    "interpolate": generate_interpolation,
    "pictures": generate_pictures,
    "export": generate_export,
}


def check_settings(cfg: DictConfig) -> None:
    """generate.py's own settings, checked before the checkpoint is read: ConfigError naming the key."""
    if cfg.mode not in MODES:
        raise ConfigError(f"mode={cfg.mode!r} is not supported: use {', '.join(MODES)}")
    spec = cfg.interpolation
    for key, value, minimum in [
        ("num_samples", cfg.num_samples, 1), ("batch_size", cfg.batch_size, 1), ("seed", cfg.seed, 0),
        ("interpolation.rows", spec.rows, 1), ("interpolation.steps", spec.steps, 2),
        ("interpolation.frame_ms", spec.frame_ms, 1), *([("nrow", cfg.nrow, 1)] if cfg.get("nrow") is not None else []),
    ]:  # fmt: skip
        whole_number(key, value, minimum)
    truncation = cfg.get("truncation")
    if truncation is not None and not (isinstance(truncation, int | float) and 0 < truncation < math.inf):
        raise ConfigError(f"truncation={truncation} is invalid: use a positive number (e.g. 0.7) or null")


def _check_outputs(cfg: DictConfig) -> None:
    """Every file the mode will write has a suffix it writes and a folder that can be written."""
    folders = {}
    if cfg.mode in ("samples", "interpolate"):
        for output in _outputs(cfg):
            kind, path = output_kind(Path(output), cfg.format)
            folders[f"output={output}"] = path if kind == "folder" else path.parent
        if cfg.mode == "interpolate" and cfg.interpolation.get("gif"):
            folders[f"interpolation.gif={cfg.interpolation.gif}"] = Path(cfg.interpolation.gif).parent
    elif cfg.mode == "export":
        for output in _outputs(cfg):
            export_format(output)
            folders[f"output={output}"] = Path(output).parent
    elif cfg.get("output"):
        folders[f"output={cfg.output}"] = Path(cfg.output)
    for key, folder in folders.items():
        try:
            check_writable(folder)
        except OSError as error:
            raise ConfigError(f"{key}: cannot write into {folder} ({error.strerror or error})") from None


def generate(cfg: DictConfig) -> list[Path]:
    """Run ``cfg.mode`` (samples | interpolate | pictures | export) on ``cfg.ckpt_path``; returns the paths
    written."""
    check_settings(cfg)
    loaded = generator_of(cfg, "generate.py")
    _check_outputs(cfg)  # after the checkpoint is known good: no folder is made for a file that is refused
    try:
        written = MODES[cfg.mode](cfg, loaded)
    except OSError as error:  # a disk that filled up meanwhile: the user's output, one line
        raise ConfigError(f"cannot write {error.filename or 'the output'} ({error.strerror or error})") from None
    for path in written:
        log.info(f"wrote {path}")
    return written
