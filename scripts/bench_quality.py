"""Sample quality for a fixed CPU budget on Fashion-MNIST: the default DCGAN next to an improved experiment.

    python scripts/bench_quality.py --data-dir ../shared/data          # default vs experiment=fashion_mnist_best
    python scripts/bench_quality.py --data-dir ../shared/data default "generator=upsample optimizer_d.lr=1e-4"
    python scripts/bench_quality.py --data-dir ../shared/data --steps 20 --num-samples 500   # a smoke run
    python scripts/bench_quality.py --data-dir ../shared/data --curves outputs/a outputs/b --png docs/curve.png

Each run is one argument of space-separated train.py overrides (`default`: none), trained by
dcgan.train.train on the CPU for --steps global steps, then scored by dcgan.metrics.evaluate: the domain
FD of --num-samples generated images against as many images of the Fashion-MNIST test split. The floor
is the FD of real training images against the same test images. The domain classifier is trained first
when --cache-dir lacks it. The markdown table goes to stdout and to --out.

--curves scores the periodic checkpoints (checkpoints/step_*.ckpt, or step=*.ckpt of older runs) of finished
or running train.py runs instead, each generator a run kept (the EMA and the raw G: metrics.generator=both),
and plots FD (and the face-detection rate, with metrics.feature=face) against iterations to --png; --eval holds
evaluate.py overrides (e.g. "metrics.feature=face metrics.split=train" for CelebA). Each checkpoint's scores
are kept next to it (<checkpoint>.<settings>.json), so a rerun scores only the new ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import torch
from hydra.errors import HydraException
from hydra.utils import instantiate
from omegaconf import DictConfig

from dcgan.checkpoints import read_checkpoint
from dcgan.cli.evaluate import evaluate
from dcgan.cli.train import train
from dcgan.config import compose
from dcgan.errors import DCGANError
from dcgan.metrics.classifier import load_classifier
from dcgan.metrics.features import build_feature_net
from dcgan.metrics.real import load_datamodule, real_sets, with_split
from dcgan.metrics.scores import frechet_distance
from dcgan.training.module import WEIGHT_PREFIX

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RUNS = ["default", "experiment=fashion_mnist_best"]
# CPU, no external logger or live bar, a step budget instead of epochs
TRAIN = [
    "trainer=cpu", "trainer.max_epochs=-1", "++trainer.enable_progress_bar=false", "++callbacks.progress_bar=null",
    "logger=csv",
]  # fmt: skip


def run_overrides(run: str) -> list[str]:
    return [] if run == "default" else shlex.split(run)


def train_config(run: str, args, out: Path) -> DictConfig:
    overrides = [*run_overrides(run), *TRAIN, f"trainer.max_steps={args.steps}", f"paths.data_dir={args.data_dir}"]
    try:
        cfg = compose("train", overrides, output_dir=out)
    except (HydraException, ValueError) as error:  # e.g. an experiment config that does not exist (yet)
        raise SystemExit(f"error: run {run!r}: {str(error).splitlines()[0]}") from None
    if cfg.dataset.name != "fashion_mnist":
        raise SystemExit(f"error: run {run!r} trains on {cfg.dataset.name}: this benchmark is for Fashion-MNIST")
    return cfg


def evaluate_config(args, *overrides: str) -> DictConfig:
    settings = [
        "metrics=fid", "metrics.feature=domain", "metrics.split=test", f"metrics.num_samples={args.num_samples}",
        f"metrics.cache_dir={args.cache_dir}", f"paths.data_dir={args.data_dir}",
    ]  # fmt: skip
    return compose("evaluate", [*settings, *overrides])


def floor(args, dataset_cfg: DictConfig) -> float:
    """FD of real training images against the test split, with the same counts and features as the runs."""
    metrics = evaluate_config(args).metrics
    net = build_feature_net(instantiate(metrics.features), metrics.feature, channels=1)
    features = [
        real_sets(
            load_datamodule(with_split(dataset_cfg, split)), split, net, args.num_samples, args.cache_dir,
            metrics.batch_size, floor=False,
        ).features
        for split in ("train", "test")
    ]  # fmt: skip
    return frechet_distance(features[1], features[0])


def _settings(args) -> list[str]:
    """evaluate.py overrides of a curve: this benchmark's, with --eval's keys replacing theirs."""
    ours = [
        "metrics=fid", "metrics.feature=domain", "metrics.split=test", f"metrics.num_samples={args.num_samples}",
        f"metrics.cache_dir={args.cache_dir}", f"paths.data_dir={args.data_dir}",
    ]  # fmt: skip
    theirs = shlex.split(args.eval)
    keys = {item.split("=", 1)[0] for item in theirs}
    return [item for item in ours if item.split("=", 1)[0] not in keys] + theirs


def score_curve(run_dir: Path, settings: list[str]) -> list[dict]:
    """evaluate.py's result for each periodic checkpoint of a run, oldest first (cached next to each)."""
    tag = hashlib.sha1(" ".join(settings).encode()).hexdigest()[:8]
    results = []
    for ckpt in sorted((run_dir / "checkpoints").glob("step[_=]*.ckpt")):
        output = ckpt.with_name(f"{ckpt.stem}.{tag}.json")
        if output.is_file():
            results.append(json.loads(output.read_text()))
            continue
        ema = any(k.startswith(WEIGHT_PREFIX["ema"]) for k in read_checkpoint(ckpt)["state_dict"])
        which = "both" if ema else "raw"
        # quoted: older checkpoint names hold "="
        overrides = [*settings, f"ckpt_path='{ckpt}'", f"output='{output}'", f"metrics.generator={which}"]
        results.append(evaluate(compose("evaluate", overrides)))
    return results


def plot_curves(curves: dict[str, list[dict]], path: Path) -> None:
    """FD against iterations, one line per run and generator (and the face rate where there is one)."""
    import matplotlib.pyplot as plt

    first = next(iter(r for rs in curves.values() for r in rs))
    rates = "real_rates" in first
    fig, axes = plt.subplots(1, 2 if rates else 1, figsize=(12 if rates else 7, 4.5), squeeze=False)
    for run, results in curves.items():
        steps_per_iteration = 2  # d_steps_per_g=1: a D and a G step per iteration
        x = [r["step"] / steps_per_iteration for r in results]
        for which in results[0]["generators"] if results else []:
            label = f"{run} ({which} G)"
            axes[0][0].plot(x, [r["generators"][which]["scores"]["fid"] for r in results], marker="o", label=label)
            if rates:
                axes[0][1].plot(x, [r["generators"][which]["rates"]["face_rate"] for r in results], marker="o",
                                label=label)  # fmt: skip
    if first.get("floor"):
        axes[0][0].axhline(first["floor"]["fd"], color="gray", linestyle="--", label="real-data floor")
    if rates:
        axes[0][1].axhline(first["real_rates"]["face_rate"], color="gray", linestyle="--", label="real images")
        axes[0][1].set(xlabel="iterations", ylabel="face-detection rate", ylim=(0, 1))
        axes[0][1].legend(fontsize=8)
    what = f"{first['feature']} FD, {first['num_samples']} generated vs {first['num_real']} {first['split']} images"
    axes[0][0].set(xlabel="iterations", ylabel="FD (log scale)", yscale="log", title=f"{first['dataset']}: {what}")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def curves_main(args) -> int:
    settings = _settings(args)
    curves = {Path(run).name: score_curve(Path(run), settings) for run in args.curves}
    for run, results in curves.items():
        for r in results:
            scores = ", ".join(f"{w} {g['scores']['fid']:.3f}" for w, g in r["generators"].items())
            print(f"{run} step {r['step']}: FD {scores}")
    if args.png:
        plot_curves(curves, Path(args.png))
        print(f"written to {args.png}")
    return 0


def ensure_classifier(args) -> dict:
    classifier = Path(args.cache_dir) / "domain_classifier.pt"
    if not classifier.is_file():
        command = [sys.executable, str(ROOT / "scripts" / "train_classifier.py"), "--data-dir", args.data_dir]
        subprocess.run([*command, "--out", str(classifier)], check=True)
    return load_classifier(classifier)[1]


def table(rows: list[tuple[str, str, str, str]], floor_fd: float, num: int) -> str:
    lines = [
        f"| run | steps (iterations) | training time | domain FD ({num} generated vs {num} test images) |",
        "|---|---:|---:|---:|",
        *(f"| {run} | {steps} | {seconds} | {fd} |" for run, steps, seconds, fd in rows),
        f"| floor: {num} real training images | - | - | {floor_fd:.3f} |",
    ]
    return "\n".join(lines)


def report(body: str, record: dict) -> str:
    accuracy = ", ".join(f"{name} {100 * acc:.2f}%" for name, acc in record["test_accuracy"].items())
    command = " ".join(["python scripts/bench_quality.py", *(shlex.quote(a) for a in sys.argv[1:])])
    load = os.getloadavg()[2]  # others' processes on the machine slow the runs down
    machine = f"{torch.get_num_threads()} CPU threads, {platform.machine()}, 15-min load average {load:.1f} at the end"
    machine += f", torch {torch.__version__}"
    return f"""# Sample quality on Fashion-MNIST for a CPU budget

Measured {date.today()} ({machine}):

    {command}

{body}

- **Domain FD**: the Frechet distance between the domain classifier's penultimate-layer features
  (`scripts/train_classifier.py`, test accuracy {accuracy}) of the generated images and of the
  Fashion-MNIST test split, at 32x32. Lower is better; it depends on the sample count, so compare
  numbers measured with the same count only.
- **Floor**: the FD of real training images against the same test images, what a generator that
  reproduces the training distribution would score.
- **Steps**: global steps (D and G optimizer steps: 2 per iteration with one D step per G step);
  training time includes the sample grids and checkpoints of the default callbacks.

The search behind `experiment=fashion_mnist_best`, at budgets up to 20,000 steps on a GPU, is in
[sweep_fashion_mnist.md](sweep_fashion_mnist.md).
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", default=DEFAULT_RUNS, help="train.py overrides per run ('default': none)")
    parser.add_argument("--data-dir", default="data", help="paths.data_dir with FashionMNIST/raw/")
    parser.add_argument("--cache-dir", default=None, help="classifier + real features (default <data-dir>/metrics)")
    parser.add_argument("--steps", type=int, default=1000, help="global steps per run")
    parser.add_argument("--num-samples", type=int, default=10000, help="generated (and real) images per FD")
    parser.add_argument("--runs-dir", default="outputs/bench_quality", help="where the runs' folders go")
    parser.add_argument("--out", default=str(ROOT / "docs" / "quality.md"), help="the markdown report")
    parser.add_argument("--curves", nargs="+", default=None, help="run folders: score their periodic checkpoints")
    parser.add_argument("--eval", default="", help="--curves: evaluate.py overrides over this benchmark's")
    parser.add_argument("--png", default=None, help="--curves: the plot of FD against iterations")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.cache_dir = args.cache_dir or str(Path(args.data_dir) / "metrics")
    if args.curves:
        try:
            return curves_main(args)
        except DCGANError as error:
            print(f"error: {error}", file=sys.stderr)
            return error.exit_code
    try:
        configs = {run: train_config(run, args, Path(args.runs_dir) / f"run{i}") for i, run in enumerate(args.runs)}
        record = ensure_classifier(args)
        floor_fd, rows = floor(args, next(iter(configs.values())).dataset), []
        for run, cfg in configs.items():
            start = time.perf_counter()
            train(cfg)
            seconds = time.perf_counter() - start
            out = Path(cfg.paths.output_dir)
            checkpoint, output = out / "checkpoints" / "last.ckpt", out / "scores.json"
            result = evaluate(evaluate_config(args, f"ckpt_path={checkpoint}", f"output={output}"))
            steps = f"{args.steps} ({args.steps // (cfg.model.d_steps_per_g + 1)})"
            rows.append((f"`{run}`", steps, f"{seconds / 60:.1f} min", f"{result['scores']['fid']:.3f}"))
    except DCGANError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.exit_code
    body = table(rows, floor_fd, args.num_samples)
    print(body)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(report(body, record))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
