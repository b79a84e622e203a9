"""Images as people see them: uint8 conversion, G's samples in batches, grids, GIFs, loss curves and the
pictures of a run. Shared by the callbacks and the command-line tools."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from torch import nn
from torchvision.utils import make_grid, save_image

log = logging.getLogger(__name__)

# What losses.png draws: panel title -> (logged key, label) per curve.
PANELS = {
    "losses": (("train/loss_d", "D loss"), ("train/loss_g", "G loss")),
    "discriminator outputs": (("train/d_real", "D(x)"), ("train/d_fake", "D(G(z))")),
}


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] -> uint8 in [0, 255]."""
    return images.float().mul(127.5).add_(127.5).round_().clamp_(0, 255).to(torch.uint8)


@torch.inference_mode()
def render(
    generator: nn.Module,
    z: torch.Tensor,
    batch_size: int,
    device: str | torch.device = "cpu",
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """G(z) (G(z, labels) for a class-conditional G) in batches as uint8 images (N, C, H, W) on CPU; G in
    eval mode, so a sample does not depend on the batch it is in."""
    generator = generator.eval().to(device)
    out = torch.empty(len(z), generator.channels, generator.image_size, generator.image_size, dtype=torch.uint8)
    for start in range(0, len(z), int(batch_size)):
        batch = z[start : start + int(batch_size)].to(device)
        if labels is None:
            images = generator(batch)
        else:
            images = generator(batch, labels[start : start + len(batch)].to(device))
        out[start : start + len(batch)] = to_uint8(images).cpu()
    return out


def grid_image(images: torch.Tensor, nrow: int) -> Image.Image:
    """uint8 images (N, C, H, W) as one grid picture, 2px black padding (as the training grids)."""
    grid = make_grid(images, nrow=int(nrow), padding=2)
    return Image.fromarray(grid.permute(1, 2, 0).numpy())


def write_gif(frames: Sequence[Image.Image], path: str | Path, frame_ms: int, hold_last: int = 5) -> int:
    """An endlessly looping GIF of ``frames``; the last one shows ``hold_last`` times longer. Returns the
    frame count."""
    if not frames:
        return 0
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * hold_last]
    frames[0].save(path, save_all=True, append_images=list(frames[1:]), duration=durations, loop=0)
    return len(frames)


def evenly_spaced(items: Sequence, limit: int) -> list:
    """At most ``limit`` items, evenly spaced, first and last kept."""
    if len(items) <= limit:
        return list(items)
    picks = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in dict.fromkeys(picks)]


def write_progress_gif(samples_dir: str | Path, path: str | Path, frame_ms: int, max_frames: int = 200) -> int:
    """``progress.gif`` from the ``step_*.png`` grids in ``samples_dir`` in step order; returns the frame count."""
    grids = evenly_spaced(sorted(Path(samples_dir).glob("step_*.png")), max_frames)
    frames = []
    for grid in grids:
        with Image.open(grid) as image:
            frames.append(image.convert("RGB"))
    return write_gif(frames, path, frame_ms)


def smooth(values: np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average with the start-up bias removed (TensorBoard's smoothing slider)."""
    out, avg, weight = np.empty(len(values)), 0.0, 0.0
    for i, value in enumerate(values):
        avg = smoothing * avg + (1 - smoothing) * value
        weight = smoothing * weight + (1 - smoothing)
        out[i] = avg / weight
    return out


def write_loss_plot(history: Mapping[str, np.ndarray], path: str | Path, smoothing: float, dpi: int = 100) -> bool:
    """``losses.png``: one panel per entry of PANELS with the curves found in ``history`` (key -> values,
    plus ``step``), raw and faint behind their smoothed line. False when there is nothing to draw."""
    steps = np.asarray(history.get("step", []))
    panels = {title: [(k, label) for k, label in curves if k in history] for title, curves in PANELS.items()}
    panels = {title: curves for title, curves in panels.items() if curves}
    if len(steps) == 0 or not panels:
        return False
    fig = Figure(figsize=(6 * len(panels), 4), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (title, curves) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key, label in curves:
            values = np.asarray(history[key], dtype=float)
            (line,) = ax.plot(steps, values, alpha=0.25, linewidth=0.8)
            ax.plot(steps, smooth(values, smoothing), color=line.get_color(), label=label)
        ax.set(title=title, xlabel="trainer/global_step")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return True


def real_vs_fake(real: torch.Tensor, fake: torch.Tensor, nrow: int = 8, gap: int = 8) -> torch.Tensor:
    """Grids of ``real`` and ``fake`` images (both in [-1, 1]) side by side, ``gap`` white pixels apart:
    a (3, H, 2W + gap) image in [0, 1]."""
    left, right = (make_grid(x.float().cpu(), nrow=nrow, normalize=True, value_range=(-1, 1)) for x in (real, fake))
    return torch.cat([left, torch.ones(3, left.shape[1], gap), right], dim=2)


def write_real_vs_fake(real: torch.Tensor, fake: torch.Tensor, path: str | Path, nrow: int = 8) -> torch.Tensor:
    """Save ``real_vs_fake`` as ``path``; returns the picture for the loggers."""
    n = min(len(real), len(fake))
    picture = real_vs_fake(real[:n], fake[:n], nrow=nrow)
    save_image(picture, path)
    return picture


def write_run_pictures(
    dirpath: str | Path,
    samples_dir: str | Path | None,
    history: dict[str, np.ndarray],
    real: torch.Tensor | None,
    fake: torch.Tensor | None,
    smoothing: float,
    frame_ms: int,
) -> dict[str, Path]:
    """``progress.gif``, ``losses.png`` and ``real_vs_fake.png`` in ``dirpath``, as far as there is
    something to draw; returns name -> path of those written."""
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    written = {}
    if samples_dir is not None and write_progress_gif(samples_dir, dirpath / "progress.gif", frame_ms):
        written["progress"] = dirpath / "progress.gif"
    if write_loss_plot(history, dirpath / "losses.png", smoothing):
        written["losses"] = dirpath / "losses.png"
    if real is not None and fake is not None:
        write_real_vs_fake(real, fake, dirpath / "real_vs_fake.png")
        written["real_vs_fake"] = dirpath / "real_vs_fake.png"
    log.info("Pictures: %s", ", ".join(str(p) for p in written.values()) or "none (nothing to draw)")
    return written
