"""Images/s the DataModule alone delivers (no model): JPEG decoding each epoch vs the uint8 tensor cache.

    python scripts/bench_data.py                                   # CelebA-64 from ../shared/data, 2 workers
    python scripts/bench_data.py --root /data/celeba --workers 8 --batches 200
    python scripts/bench_data.py dataset=image_folder dataset.root=/data/pokemon   # any dataset overrides

Each mode builds the DataModule from the project's config, skips --warmup batches (worker start-up),
then times --batches batches: the uint8 batches the loader hands to the device, and again with the
DataModule's uint8 -> float [-1, 1] conversion done here on the CPU (on a GPU it runs there).
The cache is built (and timed) once if missing, then reused; cached batches need no workers.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from hydra.utils import instantiate

from dcgan.config import compose

REPO = Path(__file__).resolve().parents[1]


def images_per_second(dm, batches: int, warmup: int, to_float: bool) -> float:
    dm.setup("fit")
    done, images, start = 0, 0, None
    while done < warmup + batches:
        for batch in dm.train_dataloader():
            batch = dm.on_before_batch_transfer(batch, 0)
            if to_float:
                batch = dm.on_after_batch_transfer(batch, 0)
            done += 1
            if done == warmup:
                start = time.perf_counter()
            elif done > warmup:
                images += batch.shape[0]
            if done == warmup + batches:
                break
    return images / (time.perf_counter() - start)


def measure(dm, args) -> tuple[float, float]:
    return tuple(images_per_second(dm, args.batches, args.warmup, to_float) for to_float in (False, True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the dataset (default: CelebA-64)")
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "celeba-10k"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--cache-dir", default=None, help="default: dataset.cache_dir (paths.data_dir/cache)")
    args = parser.parse_args()

    overrides = ["dataset=celeba", f"dataset.root={args.root}", *args.overrides]
    overrides += [f"dataset.num_workers={args.workers}", f"dataset.batch_size={args.batch_size}"]
    if args.cache_dir:
        overrides.append(f"dataset.cache_dir={args.cache_dir}")
    plain_cfg = compose("train", overrides).dataset
    cached_cfg = compose("train", [*overrides, "dataset.cache=true"]).dataset

    torch.manual_seed(0)
    rows = []
    plain = instantiate(plain_cfg)
    name = f"{plain.source.title} {plain.channels}x{plain.image_size}px, {len(plain.dataset)} images"
    rows.append(("decode each epoch", *measure(plain, args)))
    cached = instantiate(cached_cfg)
    start = time.perf_counter()
    cached.prepare_data()
    prepare = time.perf_counter() - start
    rows.append(("uint8 tensor cache", *measure(cached, args)))

    print(f"{name}, batch {args.batch_size}, {args.workers} decode workers, {args.batches} batches timed")
    print(f"cache: {prepare:.1f} s to build or load ({cached_cfg.cache_dir})")
    print(f"{'mode':<20} {'uint8 img/s':>12} {'float img/s':>12}   (float: + uint8 -> [-1, 1] on the CPU)")
    for mode, uint8_rate, float_rate in rows:
        print(f"{mode:<20} {uint8_rate:>12,.0f} {float_rate:>12,.0f}")
    print(f"speed-up (uint8): {rows[1][1] / rows[0][1]:.1f}x")


if __name__ == "__main__":
    main()
