"""Experiment loggers: an offline W&B run holds the scalars, images, config and generator artifact;
TensorBoard and CSV get the same scalars (and TensorBoard the images), all against trainer.global_step."""

from __future__ import annotations

import csv
import json
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import open_dict
from PIL import Image

from dcgan.cli.train import train
from dcgan.config import compose
from dcgan.images import TITLE_PX
from dcgan.loggers import WandbLogger, build_loggers, multirun_group
from tests.conftest import FAST
from tests.helpers import run_script, subprocess_env

SCALARS = ("train/loss_d", "train/loss_g", "train/d_real", "train/d_fake")


@pytest.fixture
def wandb_dirs(tmp_path, monkeypatch):
    """Keep W&B's settings, cache and artifact staging inside the test's folder."""
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    return tmp_path


def wandb_records(run_dir: Path):
    """The records of a run's ``run-*.wandb`` file (LevelDB-style log of protobuf ``Record``s): what
    ``wandb sync`` uploads."""
    from wandb.proto import wandb_internal_pb2

    (path,) = run_dir.glob("run-*.wandb")
    data, block = path.read_bytes(), 32768
    assert data[:4] == b":W&B"
    pos, chunk = 7, b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a header is padding
            pos += block - pos % block
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if (length == 0 and kind == 0) or pos + 7 + length > len(data):  # the end, or still being written
            break
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL or LAST
            record = wandb_internal_pb2.Record()
            record.ParseFromString(chunk)
            chunk = b""
            yield record


def finished_records(run_dir: Path, timeout: float = 60.0) -> list:
    """The records once the run's ``exit`` record is on disk: W&B's service may still be writing the file
    when ``finish()`` has returned."""
    deadline = time.monotonic() + timeout
    while True:
        records = list(wandb_records(run_dir))
        if (records and records[-1].WhichOneof("record_type") == "exit") or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def wandb_summary(run_dir: Path) -> dict:
    """run (group, tags), config (key -> value) and history rows (key -> value) of an offline run."""
    out = {"run": None, "config": {}, "history": [], "artifacts": []}
    for record in finished_records(run_dir):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            out["run"] = record.run
            out["config"].update({i.key: json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "config":
            out["config"].update({i.key: json.loads(i.value_json) for i in record.config.update})
        elif kind == "history":
            out["history"].append(
                {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
            )
        elif kind == "artifact":
            out["artifacts"].append((record.artifact.name, record.artifact.type))
    return out


def steps_with(history: list[dict], key: str) -> list[int]:
    return [row["trainer/global_step"] for row in history if key in row or f"{key}/_type" in row]


def test_offline_wandb_run_holds_scalars_images_config_and_artifact(compose_cfg, tmp_path, wandb_dirs):
    cfg = compose_cfg(
        "logger=wandb", "tags=[smoke,ci]", "logger.wandb.group=grp", "trainer.max_steps=8",
        "callbacks.generator_export.wandb_artifact=true",
    )  # fmt: skip
    train(cfg)
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1, "one offline run directory for `wandb sync`"
    run = wandb_summary(runs[0])
    assert run["run"].run_group == "grp" and list(run["run"].tags) == ["smoke", "ci"]
    assert run["config"]["generator"]["ngf"] == 8 and run["config"]["trainer"]["max_steps"] == 8
    for key in SCALARS:  # one row per iteration (log_every_n_steps=1), on the global-step axis
        assert steps_with(run["history"], key) == [2, 4, 6, 8], key
    assert steps_with(run["history"], "samples") == [0, 4, 8]
    assert steps_with(run["history"], "real_vs_fake") == [8]
    # the logged pictures are the run folder's, pixel for pixel: not black, not flat (wandb's Image casts
    # float tensors to uint8 without scaling, so [0, 1] floats would arrive black)
    media = runs[0] / "files" / "media" / "images"
    logged = sorted(media.glob("samples_*.png"), key=lambda p: int(p.name.split("_")[1]))
    assert len(logged) == 3
    for path, step in zip(logged, (0, 4, 8), strict=True):
        ours = np.asarray(Image.open(tmp_path / "run" / "samples" / f"step_{step:07d}.png").convert("RGB"))
        theirs = np.asarray(Image.open(path).convert("RGB"))
        np.testing.assert_array_equal(theirs, ours)
        assert theirs.max() == 255 and theirs.std() > 10
    (logged_rvf,) = media.glob("real_vs_fake_*.png")
    rvf = np.asarray(Image.open(logged_rvf).convert("RGB"))
    np.testing.assert_array_equal(rvf, np.asarray(Image.open(tmp_path / "run" / "real_vs_fake.png").convert("RGB")))
    assert rvf.std() > 10
    assert run["artifacts"] == [(f"generator-{runs[0].name.rsplit('-', 1)[-1]}", "model")]


@pytest.mark.parametrize("offline_key", [True, False])
def test_wandb_offline_without_login_or_env(compose_cfg, monkeypatch, tmp_path, offline_key):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    cfg = compose_cfg("logger=wandb", f"logger.wandb.offline={str(offline_key).lower()}")
    (logger,) = build_loggers(cfg)
    assert isinstance(logger, WandbLogger) and logger._offline  # no login: offline either way


def test_multirun_groups_wandb_runs_by_sweep_folder(compose_cfg, tmp_path):
    cfg = compose_cfg("logger=wandb")
    hydra_cfg = compose("train", FAST, hydra_node=True)
    with open_dict(hydra_cfg):
        hydra_cfg.hydra.mode = RunMode.MULTIRUN
        hydra_cfg.hydra.sweep.dir = str(tmp_path / "2026-01-31" / "12-00-00")
    assert multirun_group() is None
    HydraConfig.instance().set_config(hydra_cfg)
    try:
        assert multirun_group() == "2026-01-31/12-00-00"
        (logger,) = build_loggers(cfg)
        assert logger._wandb_init["group"] == "2026-01-31/12-00-00"
    finally:
        HydraConfig.instance().cfg = None


def test_tensorboard_and_csv_get_the_same_scalars(compose_cfg, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(compose_cfg("logger=[tensorboard,csv]", "trainer.max_steps=8"))
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"), size_guidance={"images": 0}).Reload()
    for key in SCALARS:
        assert [e.step for e in events.Scalars(key)] == [2, 4, 6, 8], key
    assert [e.step for e in events.Images("samples")] == [0, 4, 8]
    assert (events.Images("samples")[-1].width, events.Images("samples")[-1].height) == (274, 274 + TITLE_PX + 8)
    assert [e.step for e in events.Images("real_vs_fake")] == [8]
    with open(tmp_path / "run" / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    losses = [r for r in rows if r["train/loss_d"]]
    assert [int(r["step"]) for r in losses] == [2, 4, 6, 8]
    assert all(float(r[key]) > 0 for r in losses for key in SCALARS)
    # the throughput at every logging step, on the same axis
    throughput = [(int(r["step"]), float(r["train/samples"])) for r in rows if r["train/samples"]]
    assert throughput == [(2, 16), (4, 32), (6, 48), (8, 64)]


@pytest.mark.slow
def test_multirun_jobs_get_their_own_grouped_wandb_runs(tmp_path, data_dir, wandb_dirs):
    sweep = tmp_path / "sweeps" / "lr-sweep"
    env = subprocess_env() | {k: str(tmp_path / k.lower()) for k in ("WANDB_CONFIG_DIR", "WANDB_DATA_DIR")}
    args = [
        "-m",
        *FAST,
        "logger=wandb",
        f"paths.data_dir={data_dir}",
        "trainer.max_steps=2",
        "optimizer_d.lr=1e-4,2e-4",
    ]
    proc = run_script("train.py", *args, f"hydra.sweep.dir={sweep}", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = [next((sweep / job / "wandb").glob("offline-run-*")) for job in ("0", "1")]
    summaries = [wandb_summary(run) for run in runs]
    assert len({s["run"].run_id for s in summaries}) == 2
    assert all(s["run"].run_group == "sweeps/lr-sweep" for s in summaries)
    assert sorted(s["config"]["optimizer_d"]["lr"] for s in summaries) == [1e-4, 2e-4]


@pytest.mark.slow
def test_ddp_only_rank_zero_logs_to_wandb(tmp_path, data_dir, wandb_dirs):
    run_dir = tmp_path / "run"
    args = [*FAST, "logger=wandb", f"paths.data_dir={data_dir}", "trainer.max_steps=4", "trainer.accelerator=cpu",
            "trainer.devices=2", f"hydra.run.dir={run_dir}"]  # fmt: skip
    env = subprocess_env() | {k: str(tmp_path / k.lower()) for k in ("WANDB_CONFIG_DIR", "WANDB_DATA_DIR")}
    proc = run_script("train.py", *args, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = (run_dir / "wandb").glob("offline-run-*")
    history = wandb_summary(run)["history"]
    assert steps_with(history, "samples") == [0, 4]
    assert steps_with(history, "train/loss_d") == [2, 4]
