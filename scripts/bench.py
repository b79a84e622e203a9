"""Training throughput of the project against a plain PyTorch DCGAN loop, in the same run.

    python scripts/bench.py                          # CPU, default settings (Fashion-MNIST 32, batch 128)
    python scripts/bench.py --quick                  # tiny smoke run (CI)
    python scripts/bench.py --gpu                    # GPU fast path vs the tutorial's JPEG loop, CelebA-64
    python scripts/bench.py --scaling                # cost vs image size and batch size (FakeData)
    python scripts/bench.py --overhead               # host overhead per iteration: tiny nets, one thread

Both loops train the same nets (same config, same initial weights) on the same data, batch and
precision. Images/s are measured over windows of --iters iterations after --warmup iterations,
data loading included; the table reports the median of --repeats windows, runs alternating.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from lightning.fabric.utilities.throughput import get_available_flops
from lightning.pytorch import Callback
from omegaconf import DictConfig, open_dict
from torch.utils.flop_counter import FlopCounterMode

from dcgan.cli.train import build_trainer
from dcgan.config import compose

COMMON = ["logger=csv", "~callbacks.progress_bar", "trainer.max_epochs=-1"]


def compose_cfg(overrides: list[str], out: Path):
    return compose("train", [*COMMON, *overrides], output_dir=out)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class _Windows(Callback):
    """Wall time of windows of ``iters`` iterations after ``warmup`` (data loading included)."""

    def __init__(self, warmup: int, iters: int) -> None:
        self.warmup, self.iters, self.seen, self.start, self.times = warmup, iters, 0, None, []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.seen >= self.warmup and (self.seen - self.warmup) % self.iters == 0:
            _sync(pl_module.device)
            now = time.perf_counter()
            if self.start is not None:
                self.times.append(now - self.start)
            self.start = now
        self.seen += 1


def project(cfg, warmup: int, iters: int, windows: int) -> tuple[list[float], int]:
    """Seconds per window of the project's Trainer.fit; returns (times, batch size)."""
    with open_dict(cfg):
        cfg.trainer.max_steps = (warmup + iters * windows + 1) * (cfg.model.d_steps_per_g + 1)
    torch.manual_seed(0)
    model, datamodule = instantiate(cfg.model), instantiate(cfg.dataset)
    trainer = build_trainer(cfg)
    probe = _Windows(warmup, iters)
    trainer.callbacks.append(probe)
    trainer.fit(model, datamodule=datamodule)
    return probe.times, datamodule.batch_size


def plain(cfg, warmup: int, iters: int, windows: int, loader=None) -> list[float]:
    """The PyTorch DCGAN tutorial's loop (logits + BCE-with-logits) on the same nets and data."""
    torch.manual_seed(0)
    device = torch.device("cuda" if cfg.trainer.accelerator in ("gpu", "cuda") else "cpu")
    netG, netD = instantiate(cfg.generator).to(device), instantiate(cfg.discriminator).to(device)
    if cfg.model.channels_last:
        netG, netD = (net.to(memory_format=torch.channels_last) for net in (netG, netD))
    if cfg.model.compile is not False:
        options = dict(cfg.model.compile) if isinstance(cfg.model.compile, DictConfig) else {}
        netG, netD = (torch.compile(net, **options) for net in (netG, netD))
    optG = instantiate(cfg.optimizer_g)(netG.parameters())
    optD = instantiate(cfg.optimizer_d)(netD.parameters())
    if loader is None:
        datamodule = instantiate(cfg.dataset)
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()
    dtype = torch.bfloat16 if "bf16" in str(cfg.trainer.precision) else None
    bce = F.binary_cross_entropy_with_logits
    times, seen, start = [], 0, None
    while len(times) < windows:
        for batch in loader:
            if seen >= warmup and (seen - warmup) % iters == 0:
                _sync(device)
                now = time.perf_counter()
                if start is not None:
                    times.append(now - start)
                start = now
                if len(times) == windows:
                    break
            seen += 1
            real = (batch[0] if isinstance(batch, (list, tuple)) else batch).to(device, non_blocking=True)
            if real.dtype == torch.uint8:
                real = real.float().div_(127.5).sub_(1)
            if cfg.model.channels_last:
                real = real.contiguous(memory_format=torch.channels_last)
            b = real.shape[0]
            with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
                netD.zero_grad()
                out = netD(real)
                errD_real = bce(out, torch.ones_like(out))
                errD_real.backward()
                fake = netG(torch.randn(b, netG.nz, device=device))
                out = netD(fake.detach())
                errD_fake = bce(out, torch.zeros_like(out))
                errD_fake.backward()
                optD.step()
                netG.zero_grad()
                out = netD(fake)
                errG = bce(out, torch.ones_like(out))
                errG.backward()
                optG.step()
    return times


def iteration_flops(cfg, batch: int) -> int:
    """FLOPs of one iteration of the tutorial's step (D on a real and a fake batch, both backward; G's
    forward; D on the fake batch again and the backward through D into G), counted by FlopCounterMode."""
    netG, netD = instantiate(cfg.generator), instantiate(cfg.discriminator)
    real = torch.randn(batch, cfg.dataset.channels, cfg.dataset.image_size, cfg.dataset.image_size)
    with FlopCounterMode(display=False) as counter:
        netD(real).sum().backward()
        fake = netG(torch.randn(batch, netG.nz))
        netD(fake.detach()).sum().backward()
        netD(fake).sum().backward()
    return counter.get_total_flops()


def mfu_line(cfg, batch: int, images_per_second: float) -> str:
    """FLOPs per image and iteration, achieved FLOP/s, and the share of the device's bf16 peak (MFU)."""
    flops = iteration_flops(cfg, batch) / batch
    device = torch.device("cuda" if torch.cuda.is_available() and cfg.trainer.accelerator in ("gpu", "cuda") else "cpu")
    peak = get_available_flops(device, torch.bfloat16)
    achieved = flops * images_per_second
    share = f"MFU {100 * achieved / peak:.1f}% of {peak / 1e12:.0f} TFLOP/s bf16" if peak else "MFU n/a (no known peak)"
    return f"{flops / 1e9:.3f} GFLOP per image per iteration, {achieved / 1e12:.3f} TFLOP/s, {share}"


def images_per_sec(times: list[float], batch: int, iters: int) -> float:
    return batch * iters / statistics.median(times)


def measure(project_cfg, plain_cfg, args, plain_loader=None) -> tuple[list[float], list[float], int]:
    """Seconds per window of the project and of the plain loop, alternating runs; and the batch size."""
    ours, theirs, batch = [], [], None
    for _ in range(args.repeats):  # alternate, so drift on a shared machine hits both alike
        times, batch = project(project_cfg.copy(), args.warmup, args.iters, 1)
        ours += times
        theirs += plain(plain_cfg, args.warmup, args.iters, 1, plain_loader)
    return ours, theirs, batch


def compare(label, project_cfg, plain_cfg, args, plain_loader=None) -> float:
    ours, theirs, batch = measure(project_cfg, plain_cfg, args, plain_loader)
    a, b = images_per_sec(ours, batch, args.iters), images_per_sec(theirs, batch, args.iters)
    print(f"| {label} | {batch} | {a:,.0f} | {b:,.0f} | {a / b:.2f} | {mfu_line(project_cfg, batch, a)} |")
    return a / b


# --overhead: nets so small that their compute is negligible, data in memory, one thread, the fast
# settings a GPU run uses: what is left is each loop's own work per iteration on the host.
OVERHEAD = [
    "trainer=cpu", "perf=fast", "dataset=fake", "dataset.image_size=16", "dataset.batch_size=4",
    "dataset.num_workers=0", "dataset.cache=true", "dataset.cache_device=cpu", "generator.ngf=2",
    "discriminator.ndf=2",
]  # fmt: skip


def overhead(args, out: Path) -> float:
    """Milliseconds per iteration of the project's Trainer.fit and of the plain loop; their ratio."""
    torch.set_num_threads(1)
    size = 4 * (args.warmup + args.iters + 2)  # one epoch covers warm-up and window: no epoch end measured
    extra = [f"dataset.cache_dir={out}/cache", f"dataset.source.dataset.size={size}"]
    cfg = compose_cfg([*OVERHEAD, *extra, *args.overrides], out)
    ours, theirs, _ = measure(cfg, cfg, args)
    a, b = (1000 * statistics.median(t) / args.iters for t in (ours, theirs))
    print(f"| tiny nets, {', '.join(args.overrides) or 'perf=fast'} | project {a:.2f} ms | plain loop {b:.2f} ms |")
    print(f"\nratio: {a / b:.2f} (project / plain loop, time per iteration)")
    return a / b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="tiny nets and FakeData: a smoke run")
    parser.add_argument("--gpu", action="store_true", help="fast path vs the tutorial's JPEG loop on CelebA-64")
    parser.add_argument("--scaling", action="store_true", help="cost vs image size and batch size")
    parser.add_argument("--overhead", action="store_true", help="host time per iteration, tiny nets, one thread")
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for both loops")
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="dcgan-bench-"))
    data = [f"paths.data_dir={args.data_dir}"]
    if args.quick:
        args.repeats, args.iters, args.warmup = 2, 3, 1
        data = [
            "dataset=fake",
            "dataset.num_workers=0",
            "generator.ngf=8",
            "discriminator.ndf=8",
            "dataset.batch_size=16",
        ]
    if args.overhead:
        overhead(args, out)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU'}")  # fmt: skip
    print(f"median of {args.repeats} windows of {args.iters} iterations after {args.warmup} warm-up\n")
    print("| setting | batch | project img/s | plain loop img/s | ratio | FLOPs, MFU |\n|---|---|---|---|---|---|")
    if args.gpu:
        fast = ["trainer=gpu", "perf=fast", "dataset=celeba", "dataset.cache=true", "dataset.cache_device=auto"]
        slow = ["trainer=gpu", "dataset=celeba", "dataset.num_workers=8"]
        ratio = compare("CelebA-64 bf16, fast path vs JPEG loop", compose_cfg([*data, *fast, *args.overrides], out),
                        compose_cfg([*data, *slow, *args.overrides], out), args)  # fmt: skip
    elif args.scaling:
        ratio = None
        gpu = ["trainer=gpu"] if torch.cuda.is_available() else ["trainer=cpu"]
        for size, batch in ((32, 128), (64, 128), (128, 128), (64, 32), (64, 512)):
            grid = [
                *gpu,
                "dataset=fake",
                f"dataset.image_size={size}",
                f"dataset.batch_size={batch}",
                "dataset.channels=3",
                # one epoch covers warm-up and window: no dataloader restart inside a measurement
                f"dataset.source.dataset.size={batch * (args.warmup + args.iters + 2)}",
            ]
            cfg = compose_cfg([*grid, *args.overrides], out)
            compare(f"{size}x{size}", cfg, cfg, args)
    else:
        cfg = compose_cfg([*data, *args.overrides], out)
        ratio = compare("default settings", cfg, cfg, args)
    if ratio is not None:
        print(f"\nratio: {ratio:.2f}")


if __name__ == "__main__":
    main()
