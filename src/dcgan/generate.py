"""``generate(cfg)``: samples, latent interpolations or the run pictures from a trained checkpoint."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image
from torch import nn
from torchvision.utils import make_grid

from dcgan.checkpoint_io import load_generator
from dcgan.device import resolve_device
from dcgan.errors import ConfigError
from dcgan.interpolate import interpolation_latents, ping_pong

log = logging.getLogger(__name__)

FORMATS = ("auto", "npz", "grid", "folder")
GRID_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp"}
DEFAULT_OUTPUT = {"samples": "samples.npz", "interpolate": "interpolation.png"}


def latents(n: int, nz: int, seed: int, truncation: float | None = None) -> torch.Tensor:
    """(n, nz) standard normal latents from ``seed`` (on CPU, so every device gets the same ones). With
    ``truncation`` t, every entry is redrawn until it lies in [-t, t] (the truncation trick)."""
    generator = torch.Generator().manual_seed(int(seed))
    z = torch.randn(int(n), int(nz), generator=generator)
    if truncation is not None:
        if not truncation > 0:
            raise ConfigError(f"truncation={truncation} is invalid: use a positive number (e.g. 0.7) or null")
        flat = z.view(-1)
        redraw = (flat.abs() > truncation).nonzero().squeeze(1)
        while len(redraw):
            flat[redraw] = torch.randn(len(redraw), generator=generator)
            redraw = redraw[flat[redraw].abs() > truncation]
    return z


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255]."""
    return images.float().mul(127.5).add_(127.5).round_().clamp_(0, 255).to(torch.uint8)


@torch.inference_mode()
def render(generator: nn.Module, z: torch.Tensor, batch_size: int = 500, device: str = "cpu") -> torch.Tensor:
    """G(z) in batches as uint8 images (N, C, H, W) on CPU; G in eval mode, so a sample does not depend on
    the batch it is in."""
    generator = generator.eval().to(device)
    out = torch.empty(len(z), generator.channels, generator.image_size, generator.image_size, dtype=torch.uint8)
    for start in range(0, len(z), int(batch_size)):
        batch = z[start : start + int(batch_size)].to(device)
        out[start : start + len(batch)] = to_uint8(generator(batch)).cpu()
    return out


def grid_image(images: torch.Tensor, nrow: int) -> Image.Image:
    """uint8 images (N, C, H, W) as one grid picture, 2px black padding (as the training grids)."""
    grid = make_grid(images, nrow=int(nrow), padding=2)
    return Image.fromarray(grid.permute(1, 2, 0).numpy())


def output_kind(path: Path, fmt: str) -> tuple[str, Path]:
    """(npz | grid | folder, the path to write) for an output path and ``format``."""
    if fmt not in FORMATS:
        raise ConfigError(f"format={fmt!r} is not supported: use one of {', '.join(FORMATS)}")
    if fmt == "auto":
        suffix = path.suffix.lower()
        fmt = "grid" if suffix in GRID_SUFFIXES else "npz"
    if fmt == "npz" and path.suffix.lower() != ".npz":
        path = path.with_name(path.name + ".npz")
    elif fmt == "grid" and path.suffix.lower() not in GRID_SUFFIXES:
        path = path.with_name(path.name + ".png")
    return fmt, path


def write_images(images: torch.Tensor, outputs: list[str], fmt: str = "auto", nrow: int = 8) -> list[Path]:
    """uint8 images (N, C, H, W) to each output: ``.npz`` (key ``images``), a grid picture, or a folder of
    PNGs (``000000.png`` ...). Returns the paths written."""
    written = []
    for output in outputs:
        kind, path = output_kind(Path(output), fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "npz":
            np.savez(path, images=images.numpy())
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


def generate_samples(cfg: DictConfig, generator: nn.Module, *_) -> list[Path]:
    if int(cfg.num_samples) < 1:
        raise ConfigError(f"num_samples={cfg.num_samples} is invalid: use 1 or more")
    start = time.perf_counter()
    z = latents(cfg.num_samples, generator.nz, cfg.seed, cfg.get("truncation"))
    images = render(generator, z, cfg.batch_size, resolve_device(cfg.device))
    nrow = cfg.get("nrow") or math.ceil(math.sqrt(len(images)))
    written = write_images(images, _outputs(cfg), cfg.format, nrow)
    log.info(f"{len(images)} samples {tuple(images.shape[1:])} in {time.perf_counter() - start:.2f}s")
    return written


def generate_interpolation(cfg: DictConfig, generator: nn.Module, *_) -> list[Path]:
    spec = cfg.interpolation
    ends = latents(2 * int(spec.rows), generator.nz, cfg.seed, cfg.get("truncation"))
    z = interpolation_latents(ends[0::2], ends[1::2], spec.steps, spec.method)
    images = render(generator, z, cfg.batch_size, resolve_device(cfg.device))
    written = write_images(images, _outputs(cfg), cfg.format, nrow=int(spec.steps))
    if spec.get("gif"):
        from dcgan.callbacks.plots import write_gif  # Lightning comes with it: only when needed

        rows = images.reshape(-1, int(spec.steps), *images.shape[1:])  # (rows, steps, C, H, W)
        frames = [grid_image(rows[:, t], nrow=min(len(rows), 8)) for t in range(int(spec.steps))]
        Path(spec.gif).parent.mkdir(parents=True, exist_ok=True)
        write_gif(ping_pong(frames), spec.gif, spec.frame_ms, hold_last=1)
        written.append(Path(spec.gif))
    return written


def generate_pictures(cfg: DictConfig, generator: nn.Module, config: DictConfig, checkpoint: dict) -> list[Path]:
    from dcgan.callbacks.pictures import pictures_from_checkpoint

    written = pictures_from_checkpoint(cfg.ckpt_path, checkpoint, config, generator, cfg.get("output"), cfg.seed)
    return list(written.values())


MODES = {"samples": generate_samples, "interpolate": generate_interpolation, "pictures": generate_pictures}


def generate(cfg: DictConfig) -> list[Path]:
    """Run ``cfg.mode`` (samples | interpolate | pictures) on ``cfg.ckpt_path``; returns the paths written."""
    if cfg.mode not in MODES:
        raise ConfigError(f"mode={cfg.mode!r} is not supported: use {', '.join(MODES)}")
    generator, config, checkpoint = load_generator(cfg.ckpt_path, cfg.get("weights_only", True))
    written = MODES[cfg.mode](cfg, generator, config, checkpoint)
    for path in written:
        log.info(f"wrote {path}")
    return written
