"""Every user error is one line and exit 2: bad values, generate.py's settings, Hydra's own errors about the
command line, at every entry point (train.py, generate.py, evaluate.py, explore.py)."""

from __future__ import annotations

import argparse
import importlib
import runpy
import sys

import pytest
import torch

from dcgan.cli.generate import generate
from dcgan.cli.train import train
from dcgan.config import compose
from dcgan.errors import ConfigError, exit_on_config_error, whole_number
from tests.conftest import FAST
from tests.helpers import ROOT, run_script


def one_line(capsys, code: int = 2) -> str:
    """The one line a failed command printed on stderr (fails on more, or on another exit code)."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err[-3000:]
    return lines[0]


def exits(call, *args) -> int:
    """The exit code of ``call(*args)`` wrapped as the entry points wrap it."""
    with pytest.raises(SystemExit) as stopped:
        exit_on_config_error(call)(*args)
    return stopped.value.code


@pytest.mark.parametrize(
    ("value", "minimum", "expected"),
    [(3, 1, 3), (3.0, 1, 3), ("12", 1, 12), (0, 0, 0), (0, 1, None), (1.5, 1, None), ("abc", 1, None),
     (True, 1, None), (float("inf"), 1, None), (float("nan"), 1, None), (None, 1, None), (-2, 0, None)],
)  # fmt: skip
def test_whole_number_refuses_what_int_would_silently_change(value, minimum, expected):
    if expected is None:
        with pytest.raises(ConfigError, match=f"^key={value} is invalid: use a whole number >= {minimum}$"):
            whole_number("key", value, minimum)
    else:
        assert whole_number("key", value, minimum) == expected


# (override, what the line must name): values that used to give a traceback, a late crash or a silent change
TRAIN_ROWS = [
    ("generator.nz=0", "generator.nz=0"),
    ("generator.ngf=0", "generator.ngf=0"),
    ("discriminator.ndf=0", "discriminator.ndf=0"),
    ("discriminator=cblock discriminator.ndf=0", "discriminator.ndf=0"),
    ("model.num_fixed_samples=0", "model.num_fixed_samples=0"),
    ("optimizer_d.lr=inf", "optimizer_d.lr=inf is not finite"),
    ("optimizer_g.lr=nan", "optimizer_g: Invalid learning rate: nan"),
    ("+optimizer_g.eps=inf", "optimizer_g.eps=inf is not finite"),
    ("dataset.batch_size=1.5", "dataset.batch_size=1.5"),
    ("dataset.batch_size=abc", "dataset.batch_size=abc"),
    ("dataset.num_workers=-1", "dataset.num_workers=-1"),
]


@pytest.mark.parametrize(("overrides", "expected"), TRAIN_ROWS)
def test_train_refuses_bad_values_in_one_line(compose_cfg, capsys, tmp_path, overrides, expected):
    assert exits(train, compose_cfg(*overrides.split())) == 2
    assert expected in one_line(capsys)
    assert not (tmp_path / "run" / "checkpoints").exists()  # nothing trained


@pytest.fixture(scope="module")
def pickled_checkpoint(tmp_path_factory):
    """A file that holds a Python object: a weights-only load refuses it."""
    path = tmp_path_factory.mktemp("pickled") / "pickled.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": argparse.Namespace(lr=0.1)}, path)
    return path


GENERATE_ROWS = [
    ([], "ckpt_path is missing: python generate.py ckpt_path="),
    (["batch_size=0"], "batch_size=0 is invalid"),
    (["num_samples=abc"], "num_samples=abc is invalid"),
    (["mode=interpolate", "interpolation.rows=0"], "interpolation.rows=0 is invalid"),
    (["seed=1.5"], "seed=1.5 is invalid"),
    (["truncation=abc"], "truncation=abc is invalid"),
    (["output=OUT/afile/x.npz"], "output=OUT/afile/x.npz: cannot write into OUT/afile (a file, not a folder)"),
    (["mode=export", "output=OUT/afile/g.onnx"], "output=OUT/afile/g.onnx: cannot write into OUT/afile"),
    (["mode=interpolate", "interpolation.gif=OUT/afile/i.gif"], "interpolation.gif=OUT/afile/i.gif: cannot write"),
    (["output=OUT/a.gif"], "output=OUT/a.gif: .gif is not written by generate.py; use .npz, .bmp, .jpeg"),
    (["format=npz", "output=OUT/a.txt"], "output=OUT/a.txt: .txt is not written by generate.py"),
    (["mode=export", "output=OUT/g.gif"], "output=OUT/g.gif: mode=export writes .onnx (ONNX) or .pt (TorchScript)"),
]


@pytest.mark.parametrize(("overrides", "expected"), GENERATE_ROWS)
def test_generate_refuses_bad_settings_in_one_line(tiny_checkpoint, capsys, tmp_path, overrides, expected):
    (tmp_path / "afile").write_text("a file where a folder should be")
    args = [arg.replace("OUT", str(tmp_path)) for arg in overrides]
    given = [f"ckpt_path={tiny_checkpoint}"] if overrides else []  # the first row: no ckpt_path at all
    cfg = compose("generate", [*given, *args])
    assert exits(generate, cfg) == 2
    assert expected.replace("OUT", str(tmp_path)) in one_line(capsys)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing written (not a.gif.npz)


@pytest.mark.parametrize("script", ["evaluate", "explore"])
def test_evaluate_and_explore_without_ckpt_path_are_one_line(capsys, script):
    if script == "explore":
        pytest.importorskip("gradio", reason="the explore extra is not installed: pip install '.[explore]'")
    call = getattr(importlib.import_module(f"dcgan.cli.{script}"), script)
    assert exits(call, compose(script)) == 2
    assert one_line(capsys).startswith(f"error: ckpt_path is missing: python {script}.py ckpt_path=")


@pytest.mark.parametrize(
    ("script", "hint"),
    [("generate", "if you trust the file, pass weights_only=false"),
     ("evaluate", "if you trust the file, pass weights_only=false"),
     ("train", "train.py resumes only from the weights-only checkpoints it writes")],
)  # fmt: skip
def test_the_weights_only_refusal_advises_what_the_entry_point_accepts(
    pickled_checkpoint, compose_cfg, capsys, script, hint
):
    if script == "train":
        call, cfg = train, compose_cfg(f"ckpt_path={pickled_checkpoint}")
    else:
        call = generate if script == "generate" else importlib.import_module("dcgan.cli.evaluate").evaluate
        cfg = compose(script, [f"ckpt_path={pickled_checkpoint}"])
    assert exits(call, cfg) == 2
    line = one_line(capsys)
    assert line.endswith(hint) and (script != "train" or "weights_only=false" not in line)


def run_entry_point(script: str, *args: str) -> None:
    """``python <script> ARGS`` in this process: the root script as ``__main__`` (its ``run(main)``)."""
    sys.argv = [str(ROOT / script), *args]
    runpy.run_path(str(ROOT / script), run_name="__main__")


# Hydra's errors: raised while composing, before the app runs (so no job, no run folder, no log file)
HYDRA_ROWS = [
    ("train.py", ["foo=1"], "Could not override 'foo'. To append to your config use +foo=1"),
    ("train.py", ["generator.ngff=3"], "Could not override 'generator.ngff'"),
    ("train.py", ["dataset=fashon_mnist"], "did you mean dataset=fashion_mnist? options: array, celeba,"),
    ("train.py", ["-m", "dataset=fashon_mnist"], "did you mean dataset=fashion_mnist?"),
    ("train.py", ["--cfg", "job", "foo=1"], "Could not override 'foo'"),
    ("train.py", ["a=b=c"], "a=b=c: mismatched input '='"),
    ("train.py", ["dataset.batch_size=1,2"], "Ambiguous value for argument 'dataset.batch_size=1,2'"),
    ("generate.py", ["num_sample=3"], "Could not override 'num_sample'"),
    ("evaluate.py", ["metrics=fdi"], "did you mean metrics=fid?"),
    ("explore.py", ["gird.rows=2"], "Could not override 'gird.rows'"),
]


@pytest.mark.parametrize(("script", "args", "expected"), HYDRA_ROWS)
def test_hydra_errors_are_one_line_and_exit_2(monkeypatch, capsys, tmp_path, script, args, expected):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", sys.argv)
    monkeypatch.delenv("HYDRA_FULL_ERROR", raising=False)
    with pytest.raises(SystemExit) as stopped:
        run_entry_point(script, *args)
    assert stopped.value.code == 2
    assert expected in one_line(capsys)
    assert list(tmp_path.iterdir()) == []  # no run folder


def test_help_and_cfg_still_work_through_run(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", sys.argv)
    run_entry_point("generate.py", "--cfg", "job", "num_samples=7")
    assert "num_samples: 7" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stopped:
        run_entry_point("generate.py", "--help")
    assert stopped.value.code == 0 and "generate is powered by Hydra" in capsys.readouterr().out


def test_full_hydra_errors_stay_available(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", sys.argv)
    monkeypatch.setenv("HYDRA_FULL_ERROR", "1")  # Hydra's own report, with its exception, as it documents
    with pytest.raises(Exception, match="Could not override 'foo'"):
        run_entry_point("train.py", "foo=1")


# The wiring, as a user meets it: each script in a subprocess (a few rows; the cases are above)
SUBPROCESS_ROWS = [
    ("train.py", ["dataset=fashon_mnist"], "did you mean dataset=fashion_mnist?"),
    ("train.py", [*FAST, "generator.nz=0"], "generator.nz=0 is invalid"),
    ("train.py", ["hydra.run.dir=RUN/afile/run"], "afile/run is not writable (Not a directory): choose another folder"),
    ("generate.py", [], "ckpt_path is missing"),
    ("evaluate.py", ["metrics=fdi"], "did you mean metrics=fid?"),
    ("explore.py", ["gird.rows=2"], "Could not override 'gird.rows'"),
]


@pytest.mark.parametrize(("script", "args", "expected"), SUBPROCESS_ROWS)
def test_each_entry_point_prints_one_line_and_exits_2(tmp_path, data_dir, script, args, expected):
    (tmp_path / "afile").write_text("a file where a folder should be")
    args = [arg.replace("RUN", str(tmp_path)) for arg in args]
    if script == "train.py" and "hydra.run.dir" not in " ".join(args):
        args += [f"hydra.run.dir={tmp_path / 'run'}", f"paths.data_dir={data_dir}"]
    proc = run_script(script, *args, cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    assert expected in lines[0]
    assert not (tmp_path / "run" / "checkpoints").exists()
