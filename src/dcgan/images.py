"""Images as people see them: uint8 conversion, G's samples in batches, grids, GIFs, loss curves and the
pictures of a run. Shared by the callbacks and the command-line tools."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image, ImageDraw, ImageFont
from torch import nn
from torchvision.utils import make_grid

# What losses.png draws: panel title -> (logged key, label) per curve.
PANELS = {
    "losses": (("train/loss_d", "D loss"), ("train/loss_g", "G loss")),
    "discriminator outputs": (("train/d_real", "D(x)"), ("train/d_fake", "D(G(z))")),
}
YLABELS = {"losses": "loss", "discriminator outputs": "mean D output (batch)"}


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
    """uint8 images (N, C, H, W) as one RGB grid picture, 2px black padding (as the training grids)."""
    grid = make_grid(images, nrow=int(nrow), padding=2)
    return Image.fromarray(grid.permute(1, 2, 0).numpy()).convert("RGB")


GRID_COLUMNS = 8  # images per row of the run's grids (real_vs_fake; a class grid's latents per class)
TITLE_PX = 14  # the font size of picture titles; the band above a picture is TITLE_PX + 8 high
LABEL_PX = 160  # the widest a band of row names gets (its type shrinks to fit)


def _font_fitting(texts: Sequence[str], size: int, width: int) -> ImageFont.FreeTypeFont:
    """The default font, from ``size`` down to 6, until the longest of ``texts`` fits ``width`` pixels."""
    while size > 6 and max(ImageFont.load_default(size=size).getlength(t) for t in texts) > width:
        size -= 1
    return ImageFont.load_default(size=size)


def titled(picture: Image.Image, title: str) -> Image.Image:
    """``picture`` below a white band holding ``title`` in black (smaller type where the picture is narrow):
    what a picture shows, on the picture."""
    out = Image.new("RGB", (picture.width, picture.height + TITLE_PX + 8), "white")
    out.paste(picture.convert("RGB"), (0, TITLE_PX + 8))
    ImageDraw.Draw(out).text((4, 4), title, fill="black", font=_font_fitting([title], TITLE_PX, picture.width - 8))
    return out


def row_names(picture: Image.Image, names: Sequence[str], row_px: int, pad: int = 2) -> Image.Image:
    """``picture`` (a grid of rows ``row_px`` apart after ``pad`` pixels, as ``grid_image`` lays them out)
    right of a white band that names each row in black: which class a row of a class grid shows."""
    font = _font_fitting(names, min(TITLE_PX, max(6, row_px - 2)), LABEL_PX - 8)
    band = int(max(font.getlength(name) for name in names)) + 8
    out = Image.new("RGB", (band + picture.width, picture.height), "white")
    out.paste(picture.convert("RGB"), (band, 0))
    pen = ImageDraw.Draw(out)
    for r, name in enumerate(names):
        middle = pad + r * row_px + (row_px - pad) / 2
        pen.text((band - 4, middle), name, fill="black", font=font, anchor="rm")
    return out


def sample_grid(images: torch.Tensor, nrow: int, iteration: int, classes: Sequence[str] = ()) -> Image.Image:
    """The grid of G's images in [-1, 1] (N, C, H, W) titled with the iteration that made them; with
    ``classes``, a class grid (one row of ``nrow`` images per class) with each row named."""
    picture = grid_image(to_uint8(images.cpu()), nrow)
    if classes:
        picture = row_names(picture, classes, images.shape[-2] + 2)
    return titled(picture, f"iteration {iteration}")


def by_class(images: torch.Tensor, labels: torch.Tensor, num_classes: int, columns: int) -> torch.Tensor:
    """uint8 images sorted into a class grid's cells: (num_classes * columns, C, H, W), row r holding the
    first ``columns`` images of class r in their order, black cells where a class has fewer."""
    out = torch.zeros(int(num_classes) * int(columns), *images.shape[1:], dtype=images.dtype)
    for r in range(int(num_classes)):
        found = images[labels.cpu() == r][: int(columns)]
        out[r * int(columns) : r * int(columns) + len(found)] = found
    return out


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


def loss_figure(history: Mapping[str, np.ndarray], smoothing: float, dpi: int = 100) -> Figure | None:
    """One panel per entry of PANELS with the curves found in ``history`` (key -> values, plus
    ``iteration``), raw and faint behind their smoothed line, against iterations. None when there is
    nothing to draw."""
    iterations = np.asarray(history.get("iteration", []))
    panels = {title: [(k, label) for k, label in curves if k in history] for title, curves in PANELS.items()}
    panels = {title: curves for title, curves in panels.items() if curves}
    if len(iterations) == 0 or not panels:
        return None
    fig = Figure(figsize=(6 * len(panels), 4), dpi=dpi)
    FigureCanvasAgg(fig)
    for i, (title, curves) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for key, label in curves:
            values = np.asarray(history[key], dtype=float)
            (line,) = ax.plot(iterations, values, alpha=0.25, linewidth=0.8)
            ax.plot(iterations, smooth(values, smoothing), color=line.get_color(), label=label)
        ax.set(title=title, xlabel="iteration", ylabel=YLABELS[title])
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


def write_loss_plot(history: Mapping[str, np.ndarray], path: str | Path, smoothing: float) -> bool:
    """``losses.png`` of ``loss_figure``; False when there is nothing to draw."""
    fig = loss_figure(history, smoothing)
    if fig is not None:
        fig.savefig(path)
    return fig is not None


def real_vs_fake(
    real: torch.Tensor,
    fake: torch.Tensor,
    nrow: int = GRID_COLUMNS,
    gap: int = 8,
    classes: Sequence[str] = (),
    real_labels: torch.Tensor | None = None,
) -> Image.Image:
    """Grids of ``real`` and ``fake`` images (both in [-1, 1]) side by side under the headings "Real" and
    "Fake", ``gap`` white pixels apart. With ``classes``: ``fake`` is a class grid (a row of ``nrow`` per
    class), the real images (of ``real_labels``) are sorted into the same rows, and the rows are named."""
    if classes:
        real = by_class(to_uint8(real.cpu()), real_labels, len(classes), nrow)
        grids = [grid_image(x, nrow) for x in (real, to_uint8(fake.cpu()))]
        grids[0] = row_names(grids[0], classes, real.shape[-2] + 2)
    else:
        n = min(len(real), len(fake))
        grids = [grid_image(to_uint8(x[:n].cpu()), nrow) for x in (real, fake)]
    left, right = (titled(grid, name) for grid, name in zip(grids, ("Real", "Fake"), strict=True))
    picture = Image.new("RGB", (left.width + gap + right.width, left.height), "white")
    picture.paste(left, (0, 0))
    picture.paste(right, (left.width + gap, 0))
    return picture


def write_run_pictures(
    dirpath: str | Path,
    samples_dir: str | Path | None,
    history: dict[str, np.ndarray],
    real: torch.Tensor | None,
    fake: torch.Tensor | None,
    smoothing: float,
    frame_ms: int,
    classes: Sequence[str] = (),
    real_labels: torch.Tensor | None = None,
) -> dict[str, Path]:
    """``progress.gif``, ``losses.png`` and ``real_vs_fake.png`` in ``dirpath``, as far as there is
    something to draw (a class-conditional run's: its class grid beside the real images of ``real_labels``
    sorted by class); returns name -> path of those written."""
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    written = {}
    if samples_dir is not None and write_progress_gif(samples_dir, dirpath / "progress.gif", frame_ms):
        written["progress"] = dirpath / "progress.gif"
    if write_loss_plot(history, dirpath / "losses.png", smoothing):
        written["losses"] = dirpath / "losses.png"
    if real is not None and fake is not None:
        real_vs_fake(real, fake, classes=classes, real_labels=real_labels).save(dirpath / "real_vs_fake.png")
        written["real_vs_fake"] = dirpath / "real_vs_fake.png"
    return written
