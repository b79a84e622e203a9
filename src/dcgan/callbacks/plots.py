"""Run pictures as files: the sample grids as a GIF, smoothed loss curves, a real batch beside a fake one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from torchvision.utils import make_grid, save_image

# What losses.png draws: panel title -> (logged key, label) per curve.
PANELS = {
    "losses": (("train/loss_d", "D loss"), ("train/loss_g", "G loss")),
    "discriminator outputs": (("train/d_real", "D(x)"), ("train/d_fake", "D(G(z))")),
}


def write_gif(frames: Sequence[Image.Image], path: str | Path, frame_ms: int = 200, hold_last: int = 5) -> int:
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


def write_progress_gif(samples_dir: str | Path, path: str | Path, frame_ms: int = 200, max_frames: int = 200) -> int:
    """``progress.gif`` from the ``step_*.png`` grids in ``samples_dir`` in step order; returns the frame count."""
    grids = evenly_spaced(sorted(Path(samples_dir).glob("step_*.png")), max_frames)
    frames = []
    for grid in grids:
        with Image.open(grid) as image:
            frames.append(image.convert("RGB"))
    return write_gif(frames, path, frame_ms)


def ema(values: np.ndarray, smoothing: float) -> np.ndarray:
    """Exponential moving average with the start-up bias removed (TensorBoard's smoothing slider)."""
    out, avg, weight = np.empty(len(values)), 0.0, 0.0
    for i, value in enumerate(values):
        avg = smoothing * avg + (1 - smoothing) * value
        weight = smoothing * weight + (1 - smoothing)
        out[i] = avg / weight
    return out


def write_loss_plot(
    history: Mapping[str, np.ndarray], path: str | Path, smoothing: float = 0.9, dpi: int = 100
) -> bool:
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
            ax.plot(steps, ema(values, smoothing), color=line.get_color(), label=label)
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
