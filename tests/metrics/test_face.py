"""metrics.feature=face: dlib's face embeddings, the detection rate and the real-data floor, in evaluate.py,
the val/fd callback and a sweep's optimized_metric. The plumbing runs on a fake embedder (tests.helpers),
dlib itself on generated pixels, and on real faces in one slow test where the data is at hand."""

from __future__ import annotations

import csv
import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from dcgan.checkpoints import load_generator
from dcgan.cli.evaluate import evaluate
from dcgan.cli.train import train
from dcgan.config import compose
from dcgan.images import render
from dcgan.latents import latents
from dcgan.metrics.real import load_datamodule
from dcgan.metrics.scores import frechet_distance
from tests.conftest import FAST
from tests.helpers import FakeFaceEmbedder, config_error, dataset_overrides

FAKE = ["metrics.feature=face", "metrics.features.face.embedder._target_=tests.helpers.FakeFaceEmbedder"]
# celeba_run's checkpoint names the tests' md5-free CelebA class (tests/unchecked.py)
pytestmark = pytest.mark.usefixtures("trust_unchecked_datasets")
HAS_DLIB = importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models")


@pytest.fixture(scope="module")
def celeba_run(fixture_root, tmp_path_factory) -> Path:
    """A 4-step run on the CelebA fixture (24 JPEGs, 64x64 RGB) keeping an EMA of G."""
    out = tmp_path_factory.mktemp("celeba_run")
    train(compose("train", [*FAST, *dataset_overrides("celeba", fixture_root), "trainer.max_steps=4", "ema=on"],
                  output_dir=out))  # fmt: skip
    return out


def _images(datamodule, count: int) -> torch.Tensor:
    """The first ``count`` uint8 images of the dataset, in index order."""
    items = [datamodule.dataset[i] for i in range(count)]
    return torch.stack([item[0] if isinstance(item, tuple) else item for item in items])


def _embed(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    embedder = FakeFaceEmbedder()
    pairs = [embedder(np.ascontiguousarray(image.permute(1, 2, 0).numpy())) for image in images]
    return torch.from_numpy(np.stack([v for v, _ in pairs])), torch.tensor([float(f) for _, f in pairs])


def test_evaluate_scores_faces_with_the_detection_rate_and_the_floor(celeba_run, tmp_path, capsys):
    ckpt = celeba_run / "checkpoints" / "last.ckpt"
    cfg = compose("evaluate", [f"ckpt_path={ckpt}", *FAKE, "metrics.num_samples=10", "metrics.batch_size=4",
                               f"metrics.cache_dir={tmp_path / 'cache'}", "dataset.num_workers=0"])  # fmt: skip
    result = evaluate(cfg)
    # the same numbers from the fixture images and G's images, embedded here
    loaded = load_generator(ckpt)
    fake, found = _embed(render(loaded.net, latents(10, loaded.net.nz, 0), 4))
    datamodule = load_datamodule(loaded.config.dataset)
    real, real_found = _embed(_images(datamodule, len(datamodule.dataset)))
    order = torch.randperm(len(real), generator=torch.Generator().manual_seed(0))
    ref, others = order[:10], order[10:20]  # two disjoint sets of 10 of the 24 faces
    assert (result["feature"], result["generator"], result["num_samples"], result["num_real"]) == (
        "face",
        "ema",
        10,
        10,
    )
    assert result["scores"]["fid"] == pytest.approx(frechet_distance(real[ref], fake), rel=1e-4)
    assert result["floor"] == {"fd": pytest.approx(frechet_distance(real[ref], real[others]), rel=1e-4), "num_real": 10}
    assert result["generators"]["ema"]["rates"]["face_rate"] == pytest.approx(float(found.mean()))
    assert result["real_rates"]["face_rate"] == pytest.approx(float(real_found[ref].mean()))
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("fid: ") and "(ema generator; face features, 10 generated vs 10 real" in line
               for line in lines)  # fmt: skip
    assert f"face_rate: {float(found.mean()):.4f}  (ema generator, 10 images; real images: " in "\n".join(lines)
    assert any(line.startswith("floor: ") and "10 real train images vs 10 others" in line for line in lines)


def test_no_floor_where_the_split_is_too_small(celeba_run, tmp_path):
    ckpt = celeba_run / "checkpoints" / "last.ckpt"
    cfg = compose("evaluate", [f"ckpt_path={ckpt}", *FAKE, "metrics.num_samples=13", "metrics.batch_size=4",
                               f"metrics.cache_dir={tmp_path / 'cache'}", "dataset.num_workers=0"])  # fmt: skip
    result = evaluate(cfg)  # 2 x 13 > 24 fixture faces
    assert result["floor"] is None and result["num_real"] == 13


def test_face_refusals(celeba_run, tiny_checkpoint, tmp_path):
    ckpt = celeba_run / "checkpoints" / "last.ckpt"
    base = ["metrics.num_samples=4", f"metrics.cache_dir={tmp_path / 'cache'}", "dataset.num_workers=0"]
    error = config_error(lambda: evaluate(compose("evaluate", [f"ckpt_path={ckpt}", *FAKE, *base, "metrics=is"])))
    assert "face network has none" in str(error)
    error = config_error(lambda: evaluate(compose("evaluate", [f"ckpt_path={tiny_checkpoint}", *FAKE, *base])))
    assert "metrics.feature=face is for RGB" in str(error)


def test_a_missing_dlib_is_one_line_naming_the_extra(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "dlib", None)  # import dlib raises ImportError
    features = instantiate(compose("evaluate", ["ckpt_path=x"]).metrics.features)
    assert "pip install 'dcgan[face]'" in str(config_error(features["face"]))


def test_val_fd_logs_the_face_rate_and_the_floor(fixture_root, tmp_path):
    cfg = compose("train", [*FAST, *dataset_overrides("celeba", fixture_root), *FAKE, "trainer.max_steps=8",
                            "trainer.max_epochs=-1", "logger=csv", "callbacks=[default,fd]",
                            "callbacks.fd.every_n_steps=4", "callbacks.fd.num_samples=8",
                            f"metrics.cache_dir={tmp_path / 'cache'}", "optimized_metric=val/face_rate"],
                  output_dir=tmp_path / "run")  # fmt: skip
    metrics = train(cfg)
    with open(tmp_path / "run" / "csv" / "metrics.csv") as file:
        rows = [row for row in csv.DictReader(file) if row.get("val/fd")]
    assert [int(row["step"]) for row in rows] == [4, 8]
    for row in rows:
        assert 0 <= float(row["val/face_rate"]) <= 1 and float(row["val/fd_floor"]) > 0
    assert len({row["val/fd_floor"] for row in rows}) == 1  # the floor is computed once
    assert math.isfinite(metrics["val/fd"]) and metrics["val/face_rate"] == pytest.approx(
        float(rows[-1]["val/face_rate"])
    )


def test_the_optuna_search_on_celeba_optimizes_the_face_fd(fixture_root, tmp_path):
    # what a user types: python train.py -m hparams_search=optuna dataset=celeba metrics.feature=face
    cfg = compose("train", ["hparams_search=optuna", *FAST, *dataset_overrides("celeba", fixture_root), *FAKE,
                            "trainer.max_steps=4", "callbacks.fd.num_samples=8",
                            f"metrics.cache_dir={tmp_path / 'cache'}"], output_dir=tmp_path / "run")  # fmt: skip
    assert (cfg.optimized_metric, cfg.callbacks.fd.feature) == ("val/fd", "face")
    metrics = train(cfg)  # check_optimized_metric accepts it; the trial returns it
    assert math.isfinite(metrics["val/fd"]) and 0 <= metrics["val/face_rate"] <= 1


@pytest.mark.skipif(not HAS_DLIB, reason="needs dcgan[face]: dlib-bin and face-recognition-models")
def test_dlib_embeds_an_image_without_a_face_from_the_fallback_box():
    features = instantiate(compose("evaluate", ["ckpt_path=x"]).metrics.features)
    net = features["face"]()
    noise = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    embeddings, found = net(noise)
    assert embeddings.shape == (3, 128) and torch.isfinite(embeddings).all()
    assert found.flatten().tolist() == [0.0, 0.0, 0.0]
    assert not torch.allclose(embeddings[0], embeddings[1])  # each image has its own embedding
    assert net.id.startswith("face-dlib-") and "up1" in net.id


def _shared_celeba() -> Path | None:
    for root in (Path("/work/shared/data"), Path(__file__).resolve().parents[3] / "shared" / "data"):
        if (root / "celeba-10k" / "img_align_celeba").is_dir():
            return root / "celeba-10k"
    return None


@pytest.mark.slow
@pytest.mark.skipif(not HAS_DLIB or _shared_celeba() is None, reason="needs dcgan[face] and ../shared/data/celeba-10k")
def test_dlib_finds_the_faces_of_real_celeba_64_and_none_in_noise():
    cfg = compose("train", ["dataset=celeba", f"dataset.root={_shared_celeba()}", "dataset.num_workers=0"])
    datamodule = load_datamodule(cfg.dataset)
    faces = _images(datamodule, 200)  # 64x64, as the GAN sees them
    net = instantiate(compose("evaluate", ["ckpt_path=x"]).metrics.features)["face"]()
    _, found = net(faces)
    noise = torch.randint(0, 256, (200, 3, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    _, noise_found = net(noise)
    assert net.rates(found)["face_rate"] > 0.8
    assert net.rates(noise_found)["face_rate"] < 0.05
