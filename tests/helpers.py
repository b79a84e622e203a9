"""Test helpers: callbacks (also used in `python train.py` subprocesses, PYTHONPATH=repo root), dataset
overrides for the fixtures, the batch the model sees, log capture, the scripts as modules."""

from __future__ import annotations

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
        for seed in range(batches):
            net(torch.randn(64, net.nz, generator=torch.Generator().manual_seed(seed)))
        state.update({prefix + k: v for k, v in net.state_dict().items()})
    torch.save(checkpoint, out)
    return out


class TinyGenerator(torch.nn.Module):
    """A stand-in generator (nz 8, 1x8x8 images) whose samples differ clearly from latent to latent."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.nz, self.image_size, self.channels = 8, 8, 1
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z * 2).view(-1, 1, 8, 8)


class TinyConditional(torch.nn.Module):
    """A stand-in class-conditional generator: ``forward(z, labels)``, ``num_classes``, ``class_names``."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.nz, self.image_size, self.channels, self.num_classes = 8, 4, 1, 3
        self.class_names = ["shirt", "shoe", "bag"]
        self.embed = torch.nn.Embedding(3, 8)
        bn = torch.nn.BatchNorm1d(32)
        nn = torch.nn
        self.net = nn.Sequential(nn.Linear(16, 32), bn, nn.ReLU(), nn.Linear(32, 16), nn.Tanh())
        with torch.no_grad():  # BatchNorm statistics that are not the identity, so eval mode shows
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        x = self.net(torch.cat([z, self.embed(labels)], dim=1))
        return x.view(-1, self.channels, self.image_size, self.image_size)
