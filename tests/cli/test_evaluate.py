"""evaluate.py: scores of a checkpoint against its dataset, with cached real statistics."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from dcgan.cli.evaluate import evaluate
from dcgan.cli.train import train
from dcgan.config import compose
from dcgan.data import to_unit_range
from dcgan.errors import ConfigError
from dcgan.metrics.classifier import save_classifier
from dcgan.metrics.classifier_training import fit_classifier
from dcgan.metrics.features import build_feature_net
from tests.conftest import FAST, SMALL
from tests.helpers import ROOT, class_patterns, one_error_line, read_ckpt, run_script, subprocess_env


def test_evaluate_py_prints_and_saves_scores(tiny_checkpoint, tmp_path, data_dir, classifier_file):
    output = tmp_path / "scores.json"
    args = [
        f"ckpt_path={tiny_checkpoint}", "metrics=[fid,kid,is]", f"output={output}", f"paths.data_dir={data_dir}",
        f"metrics.classifier={classifier_file}", f"metrics.cache_dir={tmp_path / 'cache'}", "dataset.num_workers=0",
        *SMALL, "metrics.scores.kid.subsets=5", "metrics.scores.kid.subset_size=16",
    ]  # fmt: skip
    proc = subprocess.run(
        [sys.executable, str(ROOT / "evaluate.py"), *args],
        cwd=tmp_path, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(output.read_text())
    assert set(result["scores"]) == {"fid", "kid_mean", "kid_std", "is_mean", "is_std"}
    assert all(math.isfinite(v) for v in result["scores"].values())
    assert result["scores"]["fid"] > 0 and result["scores"]["is_mean"] >= 1.0
    assert (result["feature"], result["dataset"], result["split"], result["generator"]) == (
        "domain",
        "fashion_mnist",
        "train",
        "raw",
    )
    assert (result["num_samples"], result["num_real"], result["step"]) == (48, 48, 4)
    assert f"fid: {result['scores']['fid']:.4f}" in proc.stdout


def test_evaluate_caches_real_statistics_per_split(tiny_checkpoint, evaluate_cfg, tmp_path):
    first = evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}"))
    cache = sorted(p.name for p in (tmp_path / "cache").glob("real_*.pt"))
    assert len(cache) == 1 and "fashion_mnist_train_1x32_domain-" in cache[0]
    again = evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}"))
    assert again["scores"] == first["scores"]  # same latents, same cached real features
    assert (tiny_checkpoint.parent / "last.scores.json").is_file()  # the default output
    test_split = evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}", "metrics.split=test"))
    assert test_split["num_real"] == 16  # the fixture's whole test split
    assert len(list((tmp_path / "cache").glob("real_*_test_*.pt"))) == 1
    assert test_split["scores"]["fid"] != first["scores"]["fid"]


def test_evaluate_inception_offline_is_a_config_error(tiny_checkpoint, evaluate_cfg, tmp_path, monkeypatch):
    from dcgan.metrics import inception

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(inception, "_download", lambda destination: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(ConfigError, match="metrics.inception_weights=PATH, or use metrics.feature=domain"):
        evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}", "metrics.feature=inception"))


@pytest.mark.slow  # an Inception forward is seconds per image on a CPU
def test_evaluate_with_inception_from_a_local_file(tiny_checkpoint, evaluate_cfg, inception_file):
    overrides = ["metrics.feature=inception", f"metrics.inception_weights={inception_file}", "metrics.num_samples=3"]
    result = evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}", "metrics=[fid,is]", *overrides))
    assert result["feature"] == "inception" and result["feature_id"] == "inception-2015-12-05"
    assert result["num_samples"] == 3 and math.isfinite(result["scores"]["fid"])


def test_evaluate_bad_settings_are_config_errors(tiny_checkpoint, evaluate_cfg):
    with pytest.raises(ConfigError, match="metrics.split=valid is invalid for fashion_mnist"):
        evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}", "metrics.split=valid"))
    with pytest.raises(ConfigError, match="metrics.num_samples=1 is invalid"):
        evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}", "metrics.num_samples=1"))


def test_evaluate_scores_the_ema_generator(compose_cfg, evaluate_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=4", "ema=on", "model.ema_rampup=null", "model.ema_halflife_kimg=0.01"))
    checkpoint = tmp_path / "run" / "checkpoints" / "last.ckpt"
    ema = evaluate(evaluate_cfg(f"ckpt_path={checkpoint}"))
    raw = evaluate(evaluate_cfg(f"ckpt_path={checkpoint}", "metrics.generator=raw"))
    assert (ema["generator"], raw["generator"]) == ("ema", "raw")
    assert ema["scores"]["fid"] != raw["scores"]["fid"]
    assert evaluate(evaluate_cfg(f"ckpt_path={checkpoint}", "metrics.generator=ema"))["scores"] == ema["scores"]
    # both: the EMA generator first (its scores are the file's `scores`), each said in the output
    proc = run_script("evaluate.py", *_args(evaluate_cfg), f"ckpt_path={checkpoint}", "metrics.generator=both",
                      f"output={tmp_path / 'both.json'}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    both = json.loads((tmp_path / "both.json").read_text())
    assert both["generator"] == "ema" and list(both["generators"]) == ["ema", "raw"]
    assert both["scores"] == ema["scores"]
    assert both["generators"]["raw"]["scores"]["fid"] == pytest.approx(raw["scores"]["fid"])
    lines = [line for line in proc.stdout.splitlines() if line.startswith("fid: ")]
    assert len(lines) == 2 and "(ema generator;" in lines[0] and "(raw generator;" in lines[1]
    assert f"fid: {raw['scores']['fid']:.4f}" in lines[1]


def _args(evaluate_cfg) -> list[str]:
    """evaluate_cfg's settings as evaluate.py arguments."""
    cfg = evaluate_cfg("ckpt_path=x")
    return [f"paths.data_dir={cfg.paths.data_dir}", f"metrics.classifier={cfg.metrics.classifier}",
            f"metrics.cache_dir={cfg.metrics.cache_dir}", "dataset.num_workers=0", *SMALL]  # fmt: skip


@pytest.mark.parametrize("choice", ["ema", "both"])
def test_ema_is_refused_where_the_run_kept_none(tiny_checkpoint, evaluate_cfg, tmp_path, choice):
    proc = run_script("evaluate.py", *_args(evaluate_cfg), f"ckpt_path={tiny_checkpoint}",
                      f"metrics.generator={choice}", f"output={tmp_path / 's.json'}", cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 2
    assert f"metrics.generator={choice}" in one_error_line(proc) and "use metrics.generator=raw" in proc.stderr
    assert not (tmp_path / "s.json").exists()
    assert evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}"))["generator"] == "raw"  # auto: G itself
    with pytest.raises(ConfigError, match="metrics.generator=best is invalid"):
        evaluate(evaluate_cfg(f"ckpt_path={tiny_checkpoint}", "metrics.generator=best"))


def test_evaluate_py_scores_fashion_mnist_with_no_other_step(tiny_checkpoint, tmp_path, data_dir):
    # the documented command, offline, with the classifier shipped in the package (no metrics.classifier)
    args = [f"ckpt_path={tiny_checkpoint}", f"output={tmp_path / 's.json'}", f"paths.data_dir={data_dir}",
            f"metrics.cache_dir={tmp_path / 'cache'}", *SMALL]  # fmt: skip
    proc = run_script("evaluate.py", *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "s.json").read_text())
    assert result["feature"] == "domain" and result["feature_id"].startswith("domain-")
    assert math.isfinite(result["scores"]["fid"]) and result["scores"]["fid"] > 0


def test_the_shipped_classifier_refuses_a_dataset_it_does_not_know(evaluate_cfg):
    assert compose("train", [*FAST, "dataset=mnist"]).dataset.channels == 1  # gray: auto picks the domain features
    features = instantiate(evaluate_cfg("metrics.classifier=null").metrics.features)
    with pytest.raises(ConfigError, match="knows fashion_mnist, not mnist: train one with"):
        build_feature_net(features, "auto", 1, "mnist")


def test_class_accuracy_of_a_conditional_run(conditional_run, evaluate_cfg):
    result = evaluate(
        evaluate_cfg(f"ckpt_path={conditional_run / 'checkpoints' / 'last.ckpt'}", "metrics=[class_accuracy]")
    )
    scores = result["scores"]
    assert 0 <= scores["class_accuracy"] <= 1 and math.isfinite(scores["class_fd_mean"]) and scores["class_fd_mean"] > 0
    assert result["classes"][0] == "T-shirt/top" and len(scores) == 2 + 2 * 10
    per_class = [scores[f"class_accuracy/{name}"] for name in result["classes"]]
    # 48 samples, every class in turn: classes 0-7 asked 5 times, 8-9 4 times
    assert scores["class_accuracy"] == pytest.approx(sum(a * (5 if k < 8 else 4) for k, a in enumerate(per_class)) / 48)


def test_class_accuracy_refuses_an_unconditional_generator(tiny_checkpoint, tmp_path, data_dir):
    args = [f"ckpt_path={tiny_checkpoint}", "metrics=[class_accuracy]", f"paths.data_dir={data_dir}", *SMALL]
    proc = run_script("evaluate.py", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "metrics=class_accuracy measures a class-conditional generator" in one_error_line(proc)


@pytest.fixture(scope="module")
def pattern_classifier(tmp_path_factory) -> Path:
    """A domain classifier of "fashion_mnist" trained on class_patterns: it knows the patterns' classes."""
    images, labels = class_patterns(60)
    test = class_patterns(10, seed=1)
    net, accuracy = fit_classifier((images, labels), {"fashion_mnist": test}, 10, epochs=3, batch_size=64)
    assert accuracy["fashion_mnist"] > 0.95
    path = tmp_path_factory.mktemp("patterns") / "classifier.pt"
    return save_classifier(net, path, ["fashion_mnist"], accuracy, "tests", {"fashion_mnist": 0})


@pytest.mark.parametrize(("shuffled", "low", "high"), [(False, 0.9, 1.0), (True, 0.0, 0.25)])
def test_class_accuracy_measures_the_asked_class(conditional_run, evaluate_cfg, pattern_classifier, tmp_path,
                                                 allow_targets, shuffled, low, high):  # fmt: skip
    """A "generator" that returns real images of the asked class scores high; one whose classes ignore the
    asked label scores near chance (0.1): the metric measures whether G draws the class it is asked for."""
    checkpoint = read_ckpt(conditional_run / "checkpoints" / "last.ckpt")
    stored = checkpoint["hyper_parameters"]["model"]["generator"]
    images, _ = class_patterns(20, seed=2)
    checkpoint["hyper_parameters"]["model"]["generator"] = {
        "_target_": "tests.helpers.RealImagesGenerator", "image_size": 32, "channels": 1, "nz": 100,
        "num_classes": 10, "class_names": stored["class_names"], "per_class": 20, "shuffled": shuffled,
    }  # fmt: skip
    state = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("generator.")}
    checkpoint["state_dict"] = state | {"generator.images": to_unit_range(images).view(10, 20, 1, 32, 32)}
    torch.save(checkpoint, tmp_path / "cheat.ckpt")
    allow_targets("tests.helpers.RealImagesGenerator")
    overrides = [f"ckpt_path={tmp_path / 'cheat.ckpt'}", "metrics=[class_accuracy]", "metrics.num_samples=300"]
    result = evaluate(evaluate_cfg(*overrides, f"metrics.classifier={pattern_classifier}"))
    assert low <= result["scores"]["class_accuracy"] <= high
