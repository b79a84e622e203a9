"""A generator that runs without this package: an ONNX or TorchScript file and a JSON that describes it."""

from __future__ import annotations

import copy
import io
import json
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from dcgan.errors import ConfigError
from dcgan.files import atomic_write
from dcgan.models.generator import class_names, num_classes

log = logging.getLogger(__name__)

FORMATS = {".onnx": "onnx", ".pt": "torchscript"}
OUTPUT = "images"
VALUE_RANGE = [-1.0, 1.0]
EXTRA_HINT = "pip install -e '.[export]' (in this repository)"


def export_format(path: str | Path) -> str:
    """``onnx`` or ``torchscript`` from the file name; ConfigError for any other suffix."""
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ConfigError(f"output={path}: mode=export writes .onnx (ONNX) or .pt (TorchScript) files")
    return fmt


def input_names(generator: nn.Module) -> list[str]:
    """The inputs in call order: ``z``, and ``labels`` for a class-conditional generator."""
    return ["z", "labels"] if num_classes(generator) else ["z"]


def example_inputs(generator: nn.Module, batch: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Seeded inputs for ``batch`` samples: z (batch, nz) float32, and labels (batch,) int64 cycling through
    the classes when the generator is conditional."""
    z = torch.randn(batch, generator.nz, generator=torch.Generator().manual_seed(seed))
    count = num_classes(generator)
    return (z, torch.arange(batch) % count) if count else (z,)


def description(generator: nn.Module, weights: str, source: str | Path, global_step: int | None) -> dict:
    """The JSON beside an export: what goes in, what comes out, which weights."""
    count = num_classes(generator)
    inputs = [{"name": "z", "dtype": "float32", "shape": ["batch", generator.nz], "distribution": "standard normal"}]
    if count:
        inputs.append({"name": "labels", "dtype": "int64", "shape": ["batch"], "range": [0, count - 1]})
    shape = ["batch", generator.channels, generator.image_size, generator.image_size]
    return {
        "nz": generator.nz,
        "image_size": generator.image_size,
        "channels": generator.channels,
        "num_classes": count,
        "classes": class_names(generator),
        "value_range": VALUE_RANGE,
        "inputs": inputs,
        "output": {"name": OUTPUT, "dtype": "float32", "shape": shape, "to_uint8": "round((x + 1) * 127.5)"},
        "weights": weights,
        "generator": type(generator).__name__,
        "checkpoint": str(source),
        "global_step": global_step,
    }


def _frozen(generator: nn.Module) -> nn.Module:
    """A CPU copy in eval mode without gradients: what the exported graph computes."""
    return copy.deepcopy(generator).cpu().eval().requires_grad_(False)


def onnx_bytes(generator: nn.Module) -> bytes:
    """The generator as an ONNX model (torch.export-based exporter) with a dynamic batch axis."""
    try:
        import onnx  # noqa: F401  (the exporter needs both; say which extra instead of a traceback)
        import onnxscript  # noqa: F401
    except ImportError:
        raise ConfigError(f"exporting ONNX needs the onnx and onnxscript packages: {EXTRA_HINT}") from None
    names = input_names(generator)
    batch = torch.export.Dim("batch")
    program = torch.onnx.export(
        _frozen(generator),
        example_inputs(generator, 2),
        input_names=names,
        output_names=[OUTPUT],
        dynamic_shapes={name: {0: batch} for name in names},
        external_data=False,
        verbose=False,
    )
    return program.model_proto.SerializeToString()


def torchscript_bytes(generator: nn.Module) -> bytes:
    """The generator traced to TorchScript (``torch.jit.load`` runs it, no Python class needed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated in PyTorch; ONNX is not
        traced = torch.jit.trace(_frozen(generator), example_inputs(generator, 2))
        buffer = io.BytesIO()
        torch.jit.save(traced, buffer)
    return buffer.getvalue()


def onnx_difference(path: str | Path, generator: nn.Module, batch: int = 4) -> float | None:
    """Max |onnxruntime - PyTorch| over ``batch`` seeded samples; None without onnxruntime."""
    try:
        import onnxruntime
    except ImportError:
        return None
    inputs = example_inputs(generator, batch, seed=1)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run([OUTPUT], {name: x.numpy() for name, x in zip(input_names(generator), inputs, strict=True)})
    with torch.inference_mode():
        expected = _frozen(generator)(*inputs)
    return float((torch.from_numpy(out) - expected).abs().max())


def export_generator(
    generator: nn.Module, path: str | Path, weights: str, source: str | Path, global_step: int | None = None
) -> list[Path]:
    """Write ``generator`` (eval mode, dynamic batch) as ``path`` (.onnx or .pt) and its description as
    ``<stem>.json`` beside it; returns both paths."""
    path = Path(path)
    fmt = export_format(path)
    data = onnx_bytes(generator) if fmt == "onnx" else torchscript_bytes(generator)
    with atomic_write(path) as file:
        file.write(data)
    json_path = path.with_suffix(".json")
    with atomic_write(json_path) as file:
        file.write(json.dumps(description(generator, weights, source, global_step), indent=2).encode() + b"\n")
    if fmt == "onnx":
        difference = onnx_difference(path, generator)
        if difference is not None:
            level = logging.INFO if difference <= 1e-4 else logging.WARNING
            log.log(level, f"{path}: max |onnxruntime - PyTorch| = {difference:.1e} over 4 samples")
    return [path, json_path]
