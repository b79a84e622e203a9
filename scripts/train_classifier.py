"""Train the domain feature network (metrics.feature=domain) on the gray datasets found under --data-dir.

    python scripts/train_classifier.py --data-dir data            # Fashion-MNIST (+ MNIST where present)
    python scripts/train_classifier.py --data-dir data --epochs 1 --limit 5000   # a quick, weaker one

Reads the training and test splits through the datasets' own configs (conf/dataset/<name>.yaml, no
download), resized to 32x32 as the GAN sees them; one class per label of every dataset found. Writes the
weights with their test accuracy and this command to --out (default <data-dir>/metrics/domain_classifier.pt;
use it with metrics.classifier=<that file>) and prints the accuracy per dataset. A few minutes on 2 CPU
cores. The classifier shipped with the package (src/dcgan/metrics/weights/fashion_mnist.pt) was made with
    python scripts/train_classifier.py --data-dir ../shared/data --datasets fashion_mnist --epochs 4 \
        --out src/dcgan/metrics/weights/fashion_mnist.pt
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

import torch

from dcgan.config import compose
from dcgan.errors import ConfigError
from dcgan.metrics.classifier import save_classifier
from dcgan.metrics.classifier_training import fit_classifier, load_labelled
from dcgan.metrics.real import load_datamodule, with_split

log = logging.getLogger("train_classifier")


def labelled_splits(name: str, data_dir: str, limit: int | None):
    """((train images, labels), (test images, labels)) of dataset ``name`` at 32x32; ConfigError if absent."""
    overrides = [f"dataset={name}", f"paths.data_dir={data_dir}", "dataset.download=false", "dataset.image_size=32"]
    dataset_cfg = compose("train", [*overrides, "dataset.num_workers=0"]).dataset
    if dataset_cfg.channels != 1:
        raise ConfigError(f"{name} is not a gray dataset")
    train = load_labelled(load_datamodule(dataset_cfg).dataset)
    test = load_labelled(load_datamodule(with_split(dataset_cfg, "test")).dataset)
    if limit:
        train = (train[0][:limit], train[1][:limit])
    return train, test


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default="data", help="the paths.data_dir holding FashionMNIST/, MNIST/")
    parser.add_argument("--datasets", nargs="+", default=["fashion_mnist", "mnist"], help="gray dataset configs")
    parser.add_argument("--out", default=None, help="weights file (default <data-dir>/metrics/domain_classifier.pt)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--limit", type=int, default=None, help="training images per dataset (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out or Path(args.data_dir) / "metrics" / "domain_classifier.pt")

    train_sets, test_sets, found, offset, offsets = [], {}, [], 0, {}
    for name in args.datasets:
        try:
            (train_images, train_labels), (test_images, test_labels) = labelled_splits(name, args.data_dir, args.limit)
        except ConfigError as error:
            log.info(f"skipping {name}: {error}")
            continue
        # each dataset gets its own classes: label + the number of classes before it
        train_sets.append((train_images, train_labels + offset))
        test_sets[name] = (test_images, test_labels + offset)
        offsets[name] = offset
        offset += int(max(train_labels.max(), test_labels.max())) + 1
        found.append(name)
        log.info(f"{name}: {len(train_images)} training, {len(test_images)} test images")
    if not found:
        print(f"error: none of {', '.join(args.datasets)} found under {args.data_dir}", file=sys.stderr)
        return 2
    train = (torch.cat([images for images, _ in train_sets]), torch.cat([labels for _, labels in train_sets]))
    net, accuracy = fit_classifier(train, test_sets, offset, args.epochs, args.batch_size, seed=args.seed)
    given = sys.argv[1:] if argv is None else argv
    command = " ".join(["python scripts/train_classifier.py", *map(shlex.quote, given)])
    save_classifier(net, out, found, accuracy, command, offsets)
    for name, value in accuracy.items():
        print(f"test accuracy {name}: {100 * value:.2f}% ({len(test_sets[name][0])} images)")
    print(f"domain classifier written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
