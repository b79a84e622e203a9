"""scripts/bench_quality.py on the tiny fixture: two runs, the floor, one markdown table."""

from __future__ import annotations

import shutil

import pytest

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
