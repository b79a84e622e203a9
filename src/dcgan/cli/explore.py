"""``explore(cfg)``: a page in the browser (Gradio) to look around a generator's latent space.

``Explorer`` draws everything the page shows (grid, walk, nudge, download) as plain images and files, so
it is tested without a browser; ``build_page`` wires it to Gradio components; ``serve`` runs the page until
Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import numpy as np
import torch
from omegaconf import DictConfig
from PIL import Image, ImageDraw
from torch import nn

from dcgan.checkpoints import generator_of
from dcgan.cli.device import resolve_device
from dcgan.errors import ConfigError
from dcgan.images import grid_image, render
from dcgan.latents import METHODS, latents, nudge, walk
from dcgan.models.generator import class_names

try:  # an optional extra: the rest of the package works without it
    import gradio as gr
except ImportError:
    gr = None

log = logging.getLogger(__name__)

EXTRA_HINT = "pip install -e '.[explore]' (in this repository)"
BUTTONS = ["download", "fullscreen"]  # not "share": it would upload the image


def upscale(image: Image.Image, factor: int) -> Image.Image:
    """``image`` enlarged ``factor`` times, nearest neighbour (pixels stay sharp)."""
    return image.resize((image.width * factor, image.height * factor), Image.Resampling.NEAREST)


class Explorer:
    """A generator's latent space as pictures: a grid of samples for a seed, and one latent on the walk from
    grid sample ``a`` to grid sample ``b`` with one dimension nudged."""

    def __init__(
        self,
        generator: nn.Module,
        device: str | torch.device,
        rows: int,
        columns: int,
        cell_px: int,
        sample_px: int,
        path_steps: int,
    ) -> None:
        self.generator, self.device = generator.eval(), resolve_device(str(device))
        self.rows, self.columns, self.path_steps = int(rows), int(columns), int(path_steps)
        self.count, self.nz, size = self.rows * self.columns, generator.nz, generator.image_size
        # whole enlargement factors: a grid cell about cell_px wide, the sample at most sample_px
        self.cell_zoom, self.sample_zoom = max(1, round(cell_px / size)), max(1, int(sample_px) // size)
        self.classes = class_names(generator)
        self.files: Path | None = None  # the downloads, made on the first

    def close(self) -> None:
        """Delete the files made for download."""
        if self.files is not None:
            shutil.rmtree(self.files, ignore_errors=True)

    def grid_latents(self, seed: int, truncation: float) -> torch.Tensor:
        """(count, nz): the grid's latents; ``truncation`` 0 means none."""
        return latents(self.count, self.nz, int(seed), float(truncation) or None)

    def labels(self, label: str | None, n: int) -> torch.Tensor | None:
        """``n`` copies of the class named ``label`` (None for an unconditional generator)."""
        if not self.classes:
            return None
        if label not in self.classes:
            raise ConfigError(f"class {label!r} is not one of the generator's: {', '.join(self.classes)}")
        return torch.full((n,), self.classes.index(label), dtype=torch.long)

    def draw(self, z: torch.Tensor, label: str | None) -> torch.Tensor:
        """uint8 images (N, C, H, W) of the latents ``z``."""
        return render(self.generator, z, len(z), self.device, self.labels(label, len(z)))

    def grid(self, seed: int, truncation: float, label: str | None = None) -> Image.Image:
        """The grid of samples, each cell numbered (the numbers ``a`` and ``b`` pick)."""
        images = self.draw(self.grid_latents(seed, truncation), label)
        picture = upscale(grid_image(images, self.columns), self.cell_zoom).convert("RGB")
        step = (images.shape[-1] + 2) * self.cell_zoom  # grid_image pads 2 px
        pen = ImageDraw.Draw(picture)
        for i in range(self.count):
            x, y = (i % self.columns) * step + 2 * self.cell_zoom, (i // self.columns) * step + 2 * self.cell_zoom
            *_, right, bottom = pen.textbbox((x + 2, y + 1), str(i))
            pen.rectangle((x, y, right + 1, bottom + 1), fill=(0, 0, 0))
            pen.text((x + 2, y + 1), str(i), fill=(255, 210, 0))
        return picture

    def point(self, seed: int, truncation: float, a: int, b: int, t: float, method: str, dim: int, amount: float):
        """The latent (nz,) a fraction ``t`` of the way from grid sample ``a`` to ``b``, nudged along ``dim``."""
        z = self.grid_latents(seed, truncation)
        for name, index in (("a", a), ("b", b)):
            if not 0 <= int(index) < self.count:
                raise ConfigError(f"{name}={index}: the grid has samples 0 to {self.count - 1}")
        return nudge(walk(z[int(a)], z[int(b)], float(t), method), int(dim), float(amount))

    def sample(self, z: torch.Tensor, label: str | None = None) -> Image.Image:
        """The sample of one latent, enlarged about ``sample_px`` wide."""
        image = self.draw(z[None], label)[0].permute(1, 2, 0).numpy()  # (H, W, C)
        return upscale(Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image), self.sample_zoom)

    def path(self, seed, truncation, a, b, method, dim, amount, label=None) -> Image.Image:
        """``path_steps`` samples along the walk from ``a`` to ``b`` (with the same nudge): where ``t`` leads."""
        ts = np.linspace(0, 1, self.path_steps)
        z = torch.stack([self.point(seed, truncation, a, b, t, method, dim, amount) for t in ts])
        return upscale(grid_image(self.draw(z, label), self.path_steps), self.cell_zoom)

    def save(self, z: torch.Tensor, label: str | None, **view) -> Path:
        """The sample of ``z`` as an ``.npz`` to download: ``images`` (1, C, H, W) uint8 and ``latents``
        (1, nz) as generate.py writes them, ``labels`` (1,) when conditional, and the view's settings."""
        images = self.draw(z[None], label)
        arrays = {"images": images.numpy(), "latents": z[None].numpy()}
        labels = self.labels(label, 1)
        if labels is not None:
            arrays["labels"] = labels.numpy()
        arrays.update({k: np.asarray(v) for k, v in view.items() if v is not None})
        key = hashlib.sha1(z.numpy().tobytes() + repr(sorted(view.items())).encode()).hexdigest()[:12]
        if self.files is None:
            self.files = Path(tempfile.mkdtemp(prefix="dcgan-explore-"))
        path = self.files / key / "dcgan_sample.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)
        return path

    def view(self, seed, truncation, a, b, t, method, dim, amount, label=None):
        """What the lower half of the page shows: (the sample, the path strip, the file to download)."""
        z = self.point(seed, truncation, a, b, t, method, dim, amount)
        settings = dict(seed=seed, truncation=truncation, a=a, b=b, t=t, method=method, dim=dim, amount=amount)
        return (
            self.sample(z, label),
            self.path(seed, truncation, a, b, method, dim, amount, label),
            str(self.save(z, label, **settings)),
        )


def build_page(explorer: Explorer, cfg: DictConfig, title: str):
    """The Gradio page: seed, truncation and (conditional G only) class controls over the grid; sliders for
    the walk from sample a to sample b and the nudge of one dimension over the sample; a download button."""
    if gr is None:
        raise ConfigError(f"the explorer needs Gradio: {EXTRA_HINT}")
    last = explorer.count - 1
    with gr.Blocks(title="DCGAN latent explorer", analytics_enabled=False) as page:
        gr.Markdown(f"## DCGAN latent explorer\n{title}")
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                seed = gr.Number(value=int(cfg.seed), precision=0, label="seed", elem_id="seed")
                truncation = gr.Slider(0, 3, value=float(cfg.truncation or 0), step=0.05,
                                       label="truncation (0: off)", elem_id="truncation")  # fmt: skip
                label = gr.Dropdown(explorer.classes, value=explorer.classes[0] if explorer.classes else None,
                                    label="class", visible=bool(explorer.classes), elem_id="label")  # fmt: skip
            with gr.Column(scale=3):
                grid = gr.Image(label="samples of this seed", type="pil", format="png", buttons=BUTTONS, elem_id="grid")
        with gr.Row():
            with gr.Column(scale=1, min_width=240):
                a = gr.Slider(0, last, value=0, step=1, label="walk from sample a", elem_id="a")
                b = gr.Slider(0, last, value=min(1, last), step=1, label="to sample b", elem_id="b")
                t = gr.Slider(0, 1, value=0.5, step=0.01, label="t: how far from a to b", elem_id="t")
                method = gr.Radio(list(METHODS), value=cfg.method, label="path", elem_id="method")
                dim = gr.Slider(0, explorer.nz - 1, value=0, step=1, label="nudge dimension", elem_id="dim")
                amount = gr.Slider(-float(cfg.nudge_range), float(cfg.nudge_range), value=0, step=0.1,
                                   label="nudge amount", elem_id="amount")  # fmt: skip
                download = gr.DownloadButton("Download this sample (.npz: image + latent)", elem_id="download")
            with gr.Column(scale=3):
                sample = gr.Image(label="the latent at t", type="pil", format="png", buttons=BUTTONS, elem_id="sample")
                path = gr.Image(label="the walk from a to b", type="pil", format="png", buttons=BUTTONS, elem_id="path")
        grid_inputs, walk_inputs = [seed, truncation, label], [a, b, t, method, dim, amount]

        def show_grid(seed, truncation, label):
            return explorer.grid(seed, truncation, label)

        def show_view(seed, truncation, label, a, b, t, method, dim, amount):
            return explorer.view(seed, truncation, a, b, t, method, dim, amount, label)

        for control in grid_inputs:
            control.change(show_grid, grid_inputs, grid)
        for control in grid_inputs + walk_inputs:
            control.change(show_view, grid_inputs + walk_inputs, [sample, path, download])
        page.load(show_grid, grid_inputs, grid)
        page.load(show_view, grid_inputs + walk_inputs, [sample, path, download])
    return page


def serve(page, host: str, port: int) -> None:
    """Serve ``page`` on http://host:port/ until Ctrl+C or SIGTERM, then close the server."""
    stop = threading.Event()
    # before the launch: a SIGTERM the moment the page first answers must stop it cleanly, not kill it
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        page.launch(server_name=host, server_port=int(port), share=False, inbrowser=False, quiet=True,
                    prevent_thread_lock=True, show_error=True)  # fmt: skip
    except OSError as error:
        signal.signal(signal.SIGTERM, previous)
        if "Cannot find empty port" in str(error):
            raise ConfigError(f"port={port}: the port is taken on {host}: pick another, e.g. port={port + 1}") from None
        raise
    log.info(f"Explorer on http://{host}:{port}/ (Ctrl+C stops it)")
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        page.close()
    log.info("Explorer stopped")


def explore(cfg: DictConfig) -> None:
    """Load ``cfg.ckpt_path``'s generator (its EMA copy where the run has one) and serve the explorer."""
    if gr is None:
        raise ConfigError(f"the explorer needs Gradio: {EXTRA_HINT}")
    if cfg.method not in METHODS:
        raise ConfigError(f"method={cfg.method!r} is not supported: use lerp or slerp")
    loaded = generator_of(cfg, "explore.py")
    net = loaded.net
    explorer = Explorer(net, cfg.device, cfg.grid.rows, cfg.grid.columns, cfg.cell_px, cfg.sample_px, cfg.path_steps)
    title = (
        f"`{cfg.ckpt_path}`: the {loaded.weights} generator, {net.channels}x{net.image_size}x{net.image_size} "
        f"images from {net.nz}-dimensional latents"
    )
    try:
        serve(build_page(explorer, cfg, title), cfg.host, cfg.port)
    finally:
        explorer.close()
