"""generate.py mode=export: the generator as ONNX / TorchScript that runs without this package, with a JSON."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from dcgan.checkpoints import load_generator
from dcgan.cli.generate import generate
from dcgan.cli.train import train
from dcgan.config import compose
from dcgan.images import to_uint8
from tests.conftest import FAST
from tests.helpers import ROOT, config_error, run_generate, subprocess_env

onnxruntime = pytest.importorskip("onnxruntime", reason="the export extra is not installed: pip install '.[export]'")
pytest.importorskip("onnxscript", reason="the export extra is not installed: pip install '.[export]'")


@pytest.fixture(scope="module")
def ema_run(tmp_path_factory, data_dir):
    """A 6-step run that keeps an EMA of G (a full half-life from step 0, so its weights differ from G's)."""
    out = tmp_path_factory.mktemp("ema_run")
    overrides = [*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=6", "ema=on", "model.ema_rampup=null"]
    train(compose("train", overrides, output_dir=out))
    return out


def run_onnx(path, **inputs) -> np.ndarray:
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: x.numpy() for name, x in inputs.items()})[0]


def test_onnx_export_is_the_ema_generator_in_eval_mode_with_a_dynamic_batch(ema_run, tmp_path):
    written = run_generate(ema_run, "mode=export", f"output={tmp_path / 'generator.onnx'}")
    assert written == [tmp_path / "generator.onnx", tmp_path / "generator.json"]
    ckpt = ema_run / "checkpoints" / "last.ckpt"
    ema, raw = load_generator(ckpt).net, load_generator(ckpt, use_ema=False).net
    session = onnxruntime.InferenceSession(str(tmp_path / "generator.onnx"), providers=["CPUExecutionProvider"])
    (z_in,), (out,) = session.get_inputs(), session.get_outputs()
    assert (z_in.name, z_in.shape[1], z_in.type) == ("z", 100, "tensor(float)") and isinstance(z_in.shape[0], str)
    assert out.name == "images" and out.shape[1:] == [1, 32, 32]
    for batch in (1, 5):
        z = torch.randn(batch, 100, generator=torch.Generator().manual_seed(batch))
        images = run_onnx(tmp_path / "generator.onnx", z=z)
        with torch.inference_mode():
            expected, raw_images = ema(z).numpy(), raw(z).numpy()
        assert images.shape == (batch, 1, 32, 32)
        np.testing.assert_allclose(images, expected, atol=1e-4, rtol=0)
        # a barely trained G draws values near 0: also within 0.1% of their scale, and far from the raw G
        scale = np.abs(expected).max()
        assert np.abs(images - expected).max() < 1e-3 * scale and np.abs(images - raw_images).max() > 0.1 * scale
    info = json.loads((tmp_path / "generator.json").read_text())
    assert {k: info[k] for k in ("nz", "image_size", "channels", "num_classes", "classes", "value_range")} == {
        "nz": 100, "image_size": 32, "channels": 1, "num_classes": 0, "classes": [], "value_range": [-1.0, 1.0]
    }  # fmt: skip
    assert info["weights"] == "ema" and info["global_step"] == 6 and [i["name"] for i in info["inputs"]] == ["z"]


def readme_snippet() -> str:
    """The README's Python example of using an exported ONNX file."""
    text = (ROOT / "README.md").read_text()
    return re.search(r"without this package.*?```python\n(.*?)```", text, re.S).group(1)


def test_exports_run_without_this_package(ema_run, tmp_path):
    """The README's ONNX example verbatim and TorchScript through torch.jit.load, in a Python that cannot
    import dcgan."""
    run_generate(ema_run, "mode=export", f"output=[{tmp_path / 'generator.onnx'},{tmp_path / 'generator.pt'}]")
    script = "\n".join([
        "import sys",
        'sys.modules["dcgan"] = None  # any import of the package fails',
        readme_snippet(),
        "import torch",
        'script_images = torch.jit.load("generator.pt")(torch.from_numpy(z)).numpy()',
        'np.savez("out.npz", z=z, onnx=images, pixels=pixels, script=script_images)',
    ])  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", script], env=subprocess_env(), capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    with np.load(tmp_path / "out.npz") as out:
        with torch.inference_mode():
            expected = load_generator(ema_run / "checkpoints" / "last.ckpt").net(torch.from_numpy(out["z"])).numpy()
        tolerance = 1e-3 * np.abs(expected).max()  # the values of a barely trained G are near 0
        assert out["onnx"].shape == out["script"].shape == (16, 1, 32, 32)
        np.testing.assert_allclose(out["onnx"], expected, atol=min(1e-4, tolerance), rtol=0)
        np.testing.assert_allclose(out["script"], expected, atol=min(1e-5, tolerance), rtol=0)
        # the README's uint8 conversion is the package's (off by one where a value sits on a rounding edge)
        assert np.abs(out["pixels"].astype(int) - to_uint8(torch.from_numpy(expected)).numpy()).max() <= 1


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def test_a_conditional_runs_exports_take_labels(conditional_checkpoint, tmp_path):
    """generate.py mode=export on a model.conditional=true run: both files take (z, labels) and match PyTorch."""
    outputs = f"output=[{tmp_path / 'c.onnx'},{tmp_path / 'c.pt'}]"
    written = generate(compose("generate", [f"ckpt_path={conditional_checkpoint}", "mode=export", outputs]))
    assert written == [tmp_path / "c.onnx", tmp_path / "c.json", tmp_path / "c.pt", tmp_path / "c.json"]
    g = load_generator(conditional_checkpoint).net
    session = onnxruntime.InferenceSession(str(tmp_path / "c.onnx"), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type) for i in session.get_inputs()] == [("z", "tensor(float)"), ("labels", "tensor(int64)")]
    traced = torch.jit.load(tmp_path / "c.pt")
    z = torch.randn(6, 100, generator=torch.Generator().manual_seed(0))
    for labels in (torch.tensor([0, 1, 2, 7, 8, 9]), torch.tensor([9, 9, 9, 1, 1, 1])):
        with torch.inference_mode():
            expected = g(z, labels).numpy()
            np.testing.assert_allclose(traced(z, labels).numpy(), expected, atol=1e-5, rtol=0)
        np.testing.assert_allclose(run_onnx(tmp_path / "c.onnx", z=z, labels=labels), expected, atol=1e-4, rtol=0)
    one = run_onnx(tmp_path / "c.onnx", z=z[:1], labels=torch.tensor([1]))
    other = run_onnx(tmp_path / "c.onnx", z=z[:1], labels=torch.tensor([8]))
    assert one.shape == (1, 1, 32, 32) and np.abs(one - other).max() > 0.1  # the label steers the image
    info = json.loads((tmp_path / "c.json").read_text())
    assert info["num_classes"] == 10 and info["classes"] == FASHION
    assert info["inputs"][1] == {"name": "labels", "dtype": "int64", "shape": ["batch"], "range": [0, 9]}


def test_export_refuses_other_suffixes_and_names_a_missing_extra(run_dir, tmp_path, monkeypatch):
    error = config_error(lambda: run_generate(run_dir, "mode=export", f"output={tmp_path / 'g.png'}"))
    assert "mode=export writes .onnx (ONNX) or .pt (TorchScript)" in str(error)
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    error = config_error(lambda: run_generate(run_dir, "mode=export", f"output={tmp_path / 'g.onnx'}"))
    assert "pip install -e '.[export]'" in str(error) and not (tmp_path / "g.onnx").exists()
