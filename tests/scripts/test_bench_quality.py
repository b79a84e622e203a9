"""scripts/bench_quality.py on the tiny fixture: two runs, the floor, one markdown table."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from tests.helpers import load_script


@pytest.mark.slow  # two short trainings and their scores
def test_bench_quality_writes_the_table(tmp_path, data_dir, classifier_file):
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(classifier_file, cache / "domain_classifier.pt")
    out = tmp_path / "quality.md"
    argv = [
        "default", "generator=upsample dataset.batch_size=16", "--data-dir", str(data_dir), "--cache-dir", str(cache),
        "--steps", "4", "--num-samples", "16", "--runs-dir", str(tmp_path / "runs"), "--out", str(out),
    ]  # fmt: skip
    assert load_script("bench_quality").main(argv) == 0
    text = out.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split("|")[1].strip() for row in rows] == ["`default`", "`generator=upsample dataset.batch_size=16`"]
    assert all(row.split("|")[2].strip() == "4 (2)" for row in rows)
    fds = [float(row.split("|")[-2]) for row in rows]
    floor = float(next(line for line in text.splitlines() if line.startswith("| floor")).split("|")[-2])
    assert all(fd > 0 for fd in fds) and floor >= 0
    assert (tmp_path / "runs" / "run1" / "scores.json").is_file()


def test_bench_quality_names_a_missing_experiment(tmp_path, data_dir):
    argv = ["experiment=no_such_experiment", "--data-dir", str(data_dir), "--out", str(tmp_path / "q.md")]
    with pytest.raises(SystemExit, match="error: run 'experiment=no_such_experiment'"):
        load_script("bench_quality").main(argv)


def test_bench_quality_curves_score_each_checkpoint_once_and_plot(tmp_path, data_dir, classifier_file):
    from dcgan.cli.train import train
    from dcgan.config import compose
    from tests.conftest import FAST

    run = tmp_path / "runs" / "ema_run"  # checkpoints at 2 and 4 global steps, with an EMA of G
    train(compose("train", [*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=4", "ema=on",
                            "callbacks.model_checkpoint.every_n_train_steps=2"], output_dir=run))  # fmt: skip
    argv = ["--data-dir", str(data_dir), "--cache-dir", str(tmp_path / "cache"), "--num-samples", "16",
            "--eval", f"metrics.classifier={classifier_file} metrics.batch_size=16 dataset.num_workers=0",
            "--curves", str(run), "--png", str(tmp_path / "curve.png")]  # fmt: skip
    assert load_script("bench_quality").main(argv) == 0
    scores = sorted((run / "checkpoints").glob("step_*.json"))
    assert [p.name.split(".")[0] for p in scores] == ["step_0000002", "step_0000004"]
    first = [json.loads(p.read_text()) for p in scores]
    assert all(list(r["generators"]) == ["ema", "raw"] and r["num_samples"] == 16 for r in first)
    picture = Image.open(tmp_path / "curve.png")
    assert picture.size[0] > 300 and len(set(picture.convert("L").getdata())) > 10  # axes, lines, text
    stamps = [p.stat().st_mtime_ns for p in scores]
    assert load_script("bench_quality").main(argv) == 0  # a rerun reads the scores kept next to each checkpoint
    assert [p.stat().st_mtime_ns for p in scores] == stamps
