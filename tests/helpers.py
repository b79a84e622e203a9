"""Test helpers: callbacks (also used in `python train.py` subprocesses, PYTHONPATH=repo root), dataset
overrides for the fixtures, the batch the model sees, log capture, the scripts as modules."""

from __future__ import annotations

import builtins
import errno
import importlib.util
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from hydra.utils import instantiate
from lightning.pytorch import Callback
from PIL import Image

from dcgan.checkpoints import build_net, run_config
from dcgan.cli.generate import generate
from dcgan.config import compose
from dcgan.config import option as option_defaults
from dcgan.errors import ConfigError, find_user_error
from dcgan.training.module import WEIGHT_PREFIX
from tests.unchecked import CHECKED

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ["fashion_mnist", "mnist", "emnist", "svhn", "cifar10", "celeba", "image_folder", "array", "fake"]


def param_snapshot(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


class StepRecorder(Callback):
    """Snapshots G and D parameters before every optimizer step and at the end of each batch."""

    def __init__(self) -> None:
        self.snapshots: list[tuple[str, dict, dict]] = []

    def _snap(self, tag, pl_module):
        self.snapshots.append((tag, param_snapshot(pl_module.generator), param_snapshot(pl_module.discriminator)))

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        is_g = optimizer is trainer.optimizers[0] or getattr(optimizer, "optimizer", None) is trainer.optimizers[0]
        self._snap("before_g" if is_g else "before_d", pl_module)

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        self._snap("batch_end", pl_module)


class ParamSyncReport(Callback):
    """At the end of a DDP run, each rank writes the max difference of its G/D parameters to rank 0's."""

    def __init__(self, dirpath: str) -> None:
        self.dirpath = Path(dirpath)

    def on_train_end(self, trainer, pl_module) -> None:
        flat = torch.cat([p.detach().flatten() for p in pl_module.parameters()])
        gathered = trainer.strategy.all_gather(flat)  # (world_size, n)
        noise = torch.randn(4)
        noises = trainer.strategy.all_gather(noise)
        report = {
            "rank": trainer.global_rank,
            "world_size": trainer.world_size,
            "max_param_diff": float((gathered - gathered[0]).abs().max()),
            "noise_differs": bool((noises[0] != noises[-1]).any()),
            "global_step": trainer.global_step,
        }
        self.dirpath.mkdir(parents=True, exist_ok=True)
        (self.dirpath / f"ddp_rank{trainer.global_rank}.json").write_text(json.dumps(report))


class CorruptWeights(Callback):
    """At global step ``step``, sets one generator weight to NaN (a diverged update)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, *args) -> None:
        if trainer.global_step == self.step:
            with torch.no_grad():
                next(pl_module.generator.parameters()).view(-1)[0] = float("nan")


class FailBetweenSteps(Callback):
    """Raises RuntimeError between the D and the G step of the iteration that starts at global step ``step``
    (as a crash, or a second Ctrl-C, in the middle of an iteration)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        if trainer.global_step == self.step + 1:  # D stepped, G about to
            raise RuntimeError("stopped between the D and the G step")


class CorruptBatch(Callback):
    """Fills the real batch of iteration ``batch_number`` (0-based, counted in this run) with NaN."""

    def __init__(self, batch_number: int) -> None:
        self.batch_number, self.seen = batch_number, 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.seen == self.batch_number:
            (batch[0] if isinstance(batch, (list, tuple)) else batch).fill_(float("nan"))
        self.seen += 1


def dataset_overrides(name: str, root: Path) -> list[str]:
    """dataset=<name> reading the fixtures under ``root`` (md5 checks skipped by test-only classes)."""
    overrides = [f"dataset={name}", f"paths.data_dir={root}", "dataset.download=false"]
    if name in CHECKED:
        overrides.append(f"dataset.source.dataset._target_={CHECKED[name]}")
    return overrides


def folder(root: Path) -> list[str]:
    """The overrides of dataset=image_folder reading ``root``."""
    return ["dataset=image_folder", f"dataset.root={root}"]


def model_batch(dm, seed: int | None = None) -> torch.Tensor:
    """The first training batch as the LightningModule receives it (after the DataModule's batch hooks)."""
    dm.setup("fit")
    if seed is not None:
        torch.manual_seed(seed)
    batch = next(iter(dm.train_dataloader()))
    return dm.on_after_batch_transfer(dm.on_before_batch_transfer(batch, 0), 0)


def all_images(dm) -> torch.Tensor:
    """Every uint8 image the DataModule's training set yields, in index order."""
    dm.setup("fit")
    return torch.stack([dm.train_set[i][0] if isinstance(dm.train_set[i], tuple) else dm.train_set[i]
                        for i in range(len(dm.train_set))])  # fmt: skip


def nearest(image, references) -> tuple[int, float]:
    """(index, largest pixel difference) of the one of ``references`` (N, ...) closest to ``image``."""
    references, image = np.asarray(references, dtype=float), np.asarray(image, dtype=float)
    differences = np.abs(references.reshape(len(references), -1) - image.reshape(1, -1)).max(axis=1)
    return int(differences.argmin()), float(differences.min())


class LogRecords(logging.Handler):
    """``with LogRecords("dcgan.data") as logs:`` collects the messages (pytest may run with -p no:logging)."""

    def __init__(self, name: str) -> None:
        super().__init__(logging.INFO)
        self.logger, self.messages = logging.getLogger(name), []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def __enter__(self) -> LogRecords:
        self.level = self.logger.level
        self.logger.addHandler(self)
        self.logger.setLevel(logging.INFO)
        return self

    def __exit__(self, *exc) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.level)


def config_error(build) -> ConfigError:
    """The ConfigError that ``build()`` raises (Hydra's instantiate wraps it); fails if there is none."""
    try:
        build()
    except Exception as error:
        while error is not None and not isinstance(error, ConfigError):
            error = error.__cause__ or error.__context__
        if error is not None:
            return error
        raise
    raise AssertionError("no ConfigError raised")


def load_script(name: str):
    """scripts/<name>.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_ckpt(path) -> dict:
    """A checkpoint file's contents (weights only), on the CPU."""
    return torch.load(path, map_location="cpu", weights_only=True)


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for `python train.py` subprocesses: tests importable, offline, quiet."""
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])  # this checkout's package first, then tests
    return dict(os.environ, PYTHONPATH=path, WANDB_MODE="offline", WANDB_SILENT="true", MPLBACKEND="Agg", **extra)


def command(script: str, *args) -> list[str]:
    """``python <repo>/<script> ARGS`` as an argument list."""
    return [sys.executable, str(ROOT / script), *map(str, args)]


def run_script(script: str, *args, cwd, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python <repo>/<script> ARGS`` run in ``cwd`` as a user runs it; output captured as text."""
    return subprocess.run(
        command(script, *args), cwd=cwd, env=env or subprocess_env(), capture_output=True, text=True, timeout=timeout
    )


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single ``error:`` line of a failed command (fails if there are more, or a traceback)."""
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return errors[0]


def run_generate(run_dir: Path, *overrides: str, ckpt: str = "checkpoints/last.ckpt") -> list[Path]:
    """generate(cfg) on a checkpoint of ``run_dir`` with ``overrides``; the paths written."""
    return generate(compose("generate", [f"ckpt_path={run_dir / ckpt}", *overrides]))


def assert_same_tensors(a, b, where=""):
    """Every tensor (and value) of two nested structures equal, else a failure naming where."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_tensors(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def wait_for(path, proc, timeout=120):
    """Until ``path`` exists; fails if ``proc`` exits first or the time runs out."""
    deadline = time.time() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def image_info(path) -> tuple[tuple[int, int], int]:
    """(size, frame count) of a picture whose every frame decodes."""
    with Image.open(path) as image:
        frames = getattr(image, "n_frames", 1)
        for i in range(frames):
            image.seek(i)
            image.load()
        return image.size, frames


def build(option: str, **values):
    """The object of one config option file (``"generator/upsample"``, ``"loss/wgan_gp"`` ...) with ``values``
    over its settings: the defaults stay those of the YAML."""
    node = option_defaults(option)
    try:
        return instantiate(node, **values)
    except Exception as error:  # the ConfigError a user would see, not Hydra's wrapper
        raise find_user_error(error) or error from None


def has_text(picture, box) -> bool:
    """Whether the ``box`` (left, top, right, bottom) of a picture holds dark strokes on white: a title."""
    pixels = np.asarray(picture.convert("L").crop(box))
    return bool((pixels < 100).mean() > 0.01 and (pixels == 255).mean() > 0.5)


class FirstBatch(Callback):
    """Saves the first training batch the model receives as ``<run folder>/first_batch.pt``."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step == 0:
            torch.save(batch.detach().cpu(), Path(trainer.default_root_dir) / "first_batch.pt")


@torch.no_grad()
def with_own_batch_statistics(ckpt: Path, out: Path, batches: int = 4) -> Path:
    """A copy of checkpoint ``ckpt`` as ``out`` whose generators (G and its EMA) keep the BatchNorm statistics
    of their own activations on random latents. A barely trained G still has its initial statistics, with
    which it draws nearly the same flat gray for every z in eval mode; with these its samples vary with z."""
    checkpoint = read_ckpt(ckpt)
    config, state = run_config(checkpoint), checkpoint["state_dict"]
    for prefix in WEIGHT_PREFIX.values():
        weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if not weights:
            continue
        net = build_net(weights, config, "generator").train()
        for module in net.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_running_stats()
                module.momentum = None  # a plain average over the batches
        labels = (torch.arange(64) % net.num_classes,) if getattr(net, "num_classes", 0) else ()  # every class
        for seed in range(batches):
            net(torch.randn(64, net.nz, generator=torch.Generator().manual_seed(seed)), *labels)
        state.update({prefix + k: v for k, v in net.state_dict().items()})
    torch.save(checkpoint, out)
    return out


def class_patterns(per_class: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Gray 32x32 uint8 images (10 * per_class, 1, 32, 32) whose class k shows a bright band at rows 3k..3k+2
    over noise, and their labels: classes any small classifier tells apart."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(10).repeat_interleave(per_class)
    images = torch.randint(0, 90, (len(labels), 1, 32, 32), generator=generator, dtype=torch.uint8)
    for i, k in enumerate(labels.tolist()):
        images[i, 0, 3 * k : 3 * k + 3] = 255
    return images, labels


class RealImagesGenerator(torch.nn.Module):
    """A cheating "generator" for class-conditional scores: ``forward(z, labels)`` returns, for each label,
    one of the images of that class it holds (``images``: (classes, per_class, C, S, S) in [-1, 1], chosen
    by z); ``shuffled``: an image of a class drawn from z instead, whatever the label asks."""

    def __init__(self, image_size, channels, nz, num_classes, class_names, per_class, shuffled) -> None:
        super().__init__()
        self.image_size, self.channels, self.nz, self.num_classes = image_size, channels, nz, num_classes
        self.class_names, self.shuffled = list(class_names), bool(shuffled)
        self.register_buffer("images", torch.zeros(num_classes, per_class, channels, image_size, image_size))

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        pick = (z[:, 0].abs() * 1000).long() % self.images.shape[1]
        classes = (z[:, 1].abs() * 1000).long() % self.num_classes if self.shuffled else labels
        return self.images[classes, pick]


class TinyGenerator(torch.nn.Module):
    """A stand-in generator (nz 8, 1x8x8 images) whose samples differ clearly from latent to latent."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.nz, self.image_size, self.channels = 8, 8, 1
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z * 2).view(-1, 1, 8, 8)


class DiskFull(Callback):
    """From global step ``step`` on (the saves of that step included: Lightning runs checkpoint callbacks
    last), every fsync fails with ENOSPC, as on a disk that filled up during the run. For ``python train.py``
    subprocesses: it patches ``os.fsync`` of the process."""

    def __init__(self, step: int) -> None:
        self.step, self.full, real = step, False, os.fsync

        def fsync(fd: int) -> None:
            if self.full:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real(fd)

        os.fsync = fsync

    def on_train_batch_end(self, trainer, *args) -> None:
        self.full = self.full or trainer.global_step >= self.step


def make_read_only(folder: Path, monkeypatch) -> None:
    """``folder`` refuses new files as a read-only folder does: chmod 555, and for root (whom permissions do
    not stop) ``os.open`` and ``open`` refuse to create or write files in it."""
    folder.chmod(0o555)
    if os.geteuid() != 0:
        return
    inside = lambda path: Path(path).resolve().parent == folder.resolve()  # noqa: E731
    denied = lambda path: PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))  # noqa: E731
    real_os_open, real_open = os.open, builtins.open

    def os_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and inside(path):
            raise denied(path)
        return real_os_open(path, flags, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, str | os.PathLike) and any(c in mode for c in "wax+") and inside(file):
            raise denied(file)
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)


class FakeFaceEmbedder:
    """``metrics.features.face.embedder`` without dlib (``_target_=tests.helpers.FakeFaceEmbedder``): a "face"
    is an image whose centre is brighter than the whole; the embedding is the 2x2-pooled gray image and the
    mean red and green. Takes (and ignores) the dlib embedder's settings."""

    id = "fake"

    def __init__(self, **settings) -> None:
        self.settings = settings

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, bool]:
        gray = torch.from_numpy(image.astype(np.float32).mean(axis=2))
        height, width = gray.shape
        found = bool(gray[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4].mean() > gray.mean())
        pooled = torch.nn.functional.adaptive_avg_pool2d(gray[None, None], 2).flatten() / 255
        colour = torch.from_numpy(image.reshape(-1, 3)[:, :2].astype(np.float32).mean(axis=0)) / 255
        return torch.cat([pooled, colour]).numpy(), found
