"""generate.py: samples and interpolations from a checkpoint alone, deterministic under a seed."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict
from PIL import Image

from dcgan.checkpoint_io import load_generator
from dcgan.errors import ConfigError
from dcgan.generate import generate, latents
from dcgan.interpolate import interpolation_latents, lerp, slerp
from dcgan.train import train
from tests.conftest import CONF, FAST, ROOT, subprocess_env


def compose_named(config_name: str, overrides: list[str]):
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            return compose(config_name, overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data_dir):
    """A finished 4-step run of tiny nets (generator.ngf=8: not the default, so loading must use the
    config stored in the checkpoint)."""
    cfg = compose_named("train", [*FAST, f"paths.data_dir={data_dir}", "trainer.max_steps=4"])
    out = tmp_path_factory.mktemp("trained")
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
    train(cfg)
    return out


def run_generate(run_dir, *overrides: str, ckpt: str = "checkpoints/last.ckpt"):
    return generate(compose_named("generate", [f"ckpt_path={run_dir / ckpt}", *overrides]))


def load_npz(path) -> np.ndarray:
    with np.load(path) as data:
        return data["images"]


def test_samples_npz_shape_dtype_and_determinism(run_dir, tmp_path):
    (a,) = run_generate(run_dir, "num_samples=10", "seed=1", f"output={tmp_path / 'a.npz'}")
    run_generate(run_dir, "num_samples=10", "seed=1", "batch_size=3", f"output={tmp_path / 'b.npz'}")
    run_generate(run_dir, "num_samples=10", "seed=2", f"output={tmp_path / 'c.npz'}")
    images = load_npz(a)
    assert images.shape == (10, 1, 32, 32) and images.dtype == np.uint8
    assert images.std() > 0 and len({im.tobytes() for im in images}) == 10
    np.testing.assert_array_equal(images, load_npz(tmp_path / "b.npz"))  # same seed, other batching
    assert not np.array_equal(images, load_npz(tmp_path / "c.npz"))


def test_output_formats_hold_the_same_images(run_dir, tmp_path):
    outputs = [tmp_path / "plain", tmp_path / "grid.png"]
    written = run_generate(run_dir, "num_samples=10", f"output=[{outputs[0]},{outputs[1]}]")
    assert written == [tmp_path / "plain.npz", tmp_path / "grid.png"]
    images = load_npz(tmp_path / "plain.npz")
    with Image.open(tmp_path / "grid.png") as grid:  # ceil(sqrt(10)) = 4 per row, 3 rows, 2px padding
        assert grid.size == (4 * 34 + 2, 3 * 34 + 2)
        np.testing.assert_array_equal(np.asarray(grid)[2:34, 36:68, 0], images[1, 0])
    (folder,) = run_generate(run_dir, "num_samples=10", "format=folder", f"output={tmp_path / 'pngs'}")
    files = sorted(folder.glob("*.png"))
    assert [f.name for f in files[:2]] == ["000000.png", "000001.png"] and len(files) == 10
    with Image.open(files[3]) as png:
        assert png.size == (32, 32) and png.mode == "L"
        np.testing.assert_array_equal(np.asarray(png), images[3, 0])


def test_truncated_latents():
    z = latents(500, 100, seed=0, truncation=0.5)
    assert z.abs().max() <= 0.5 and z.std() > 0.2
    assert torch.equal(z, latents(500, 100, seed=0, truncation=0.5))
    assert not torch.equal(latents(4, 100, seed=0), latents(4, 100, seed=0, truncation=0.5))
    with pytest.raises(ConfigError, match="truncation"):
        latents(4, 100, seed=0, truncation=0)


def test_lerp_and_slerp():
    z0, z1 = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    t = torch.tensor([0.0, 0.5, 1.0])
    for path in (lerp(z0, z1, t), slerp(z0, z1, t)):
        assert path.shape == (1, 3, 2)
        torch.testing.assert_close(path[0, 0], z0[0])
        torch.testing.assert_close(path[0, 2], z1[0])
    torch.testing.assert_close(lerp(z0, z1, t)[0, 1], torch.tensor([0.5, 1.0]))
    # on the arc at 45 degrees, with the norm halfway between 1 and 2 (sin-weights of 1/sqrt(2))
    torch.testing.assert_close(slerp(z0, z1, t)[0, 1], torch.tensor([1.0, 2.0]) / math.sqrt(2))
    same = slerp(z0, z0, t)  # parallel ends: no division by sin(0)
    assert torch.isfinite(same).all() and torch.allclose(same, z0.expand(3, 2))
    both = interpolation_latents(torch.randn(2, 5), torch.randn(2, 5), steps=4, method="both")
    assert both.shape == (2 * 2 * 4, 5)
    with pytest.raises(ConfigError, match="interpolation.method"):
        interpolation_latents(z0, z1, steps=4, method="cubic")


def test_interpolate_mode_grid_gif_and_determinism(run_dir, tmp_path):
    args = ["mode=interpolate", "interpolation.rows=3", "interpolation.steps=5", "interpolation.method=both", "seed=4"]
    outputs = f"output=[{tmp_path / 'i.png'},{tmp_path / 'i.npz'}]"
    run_generate(run_dir, *args, outputs, f"interpolation.gif={tmp_path / 'i.gif'}")
    images = load_npz(tmp_path / "i.npz")
    assert images.shape == (3 * 2 * 5, 1, 32, 32)
    rows = images.reshape(6, 5, 1, 32, 32)
    np.testing.assert_array_equal(rows[0, [0, -1]], rows[1, [0, -1]])  # lerp and slerp rows share their ends
    assert not np.array_equal(rows[0, 2], rows[1, 2])
    with Image.open(tmp_path / "i.png") as grid:
        assert grid.size == (5 * 34 + 2, 6 * 34 + 2)
    with Image.open(tmp_path / "i.gif") as gif:
        assert gif.n_frames == 2 * 5 - 2 and gif.size == (6 * 34 + 2, 34 + 2)  # forth and back
    run_generate(run_dir, *args, f"output={tmp_path / 'again.npz'}")
    np.testing.assert_array_equal(images, load_npz(tmp_path / "again.npz"))


def test_checkpoint_loads_without_training_overrides(run_dir):
    generator, config, checkpoint = load_generator(run_dir / "checkpoints" / "last.ckpt")
    assert type(generator).__name__ == "TransposedGenerator" and generator.ngf == 8 and not generator.training
    assert torch.equal(generator.net[0][0].weight, checkpoint["state_dict"]["generator.net.0.0.weight"])
    exported, _, _ = load_generator(run_dir / "generator.pt")  # the export at the end of training
    z = latents(4, generator.nz, seed=0)
    with torch.no_grad():
        torch.testing.assert_close(exported(z), generator(z))
    assert config.dataset.image_size == 32


def test_bad_checkpoints_are_one_config_error(run_dir, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="is not a PyTorch checkpoint"):
        load_generator(text)
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"lr": 0.1}}, tmp_path / "other.ckpt")
    with pytest.raises(ConfigError, match="is not a DCGAN checkpoint"):
        load_generator(tmp_path / "other.ckpt")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["hyper_parameters"]["model"]["generator"]["_target_"] = "dcgan.models.UpsampleGenerator"
    torch.save(checkpoint, tmp_path / "mismatch.ckpt")
    with pytest.raises(ConfigError, match=r"do not fit the stored architecture \(UpsampleGenerator\)"):
        load_generator(tmp_path / "mismatch.ckpt")
    torch.save({"state_dict": {}, "hyper_parameters": argparse.Namespace(lr=0.1)}, tmp_path / "obj.ckpt")
    with pytest.raises(ConfigError, match="weights_only=false"):
        load_generator(tmp_path / "obj.ckpt")
    with pytest.raises(ConfigError, match="no such file"):
        load_generator(tmp_path / "missing.ckpt")


def _generate_py(args, cwd):
    return subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), *args],
        cwd=cwd, env=subprocess_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_generate_py_command_line(run_dir, tmp_path):
    proc = _generate_py([f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", "num_samples=6", "output=out"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert load_npz(tmp_path / "out.npz").shape == (6, 1, 32, 32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]  # no Hydra run folder, no log file
    junk = tmp_path / "junk" / "x.ckpt"
    junk.parent.mkdir()
    junk.write_text("not a checkpoint")
    proc = _generate_py([f"ckpt_path={junk}"], tmp_path)
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "not a PyTorch checkpoint" in errors[0] and "Traceback" not in proc.stderr
