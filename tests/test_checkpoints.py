"""Checkpoints: loading a generator from a file alone, exact resume, atomic saves, refusals."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import time

import pytest
import torch

from dcgan.checkpoints import AtomicCheckpointIO, load_generator, resolve_ckpt_path
from dcgan.cli import train as cli_train
from dcgan.cli.train import train
from dcgan.errors import ConfigError, exit_on_config_error
from dcgan.latents import latents
from tests.conftest import FAST, LONG
from tests.helpers import (
    LogRecords,
    assert_same_tensors,
    command,
    make_read_only,
    read_ckpt,
    run_script,
    subprocess_env,
    wait_for,
)


def test_checkpoint_loads_without_training_overrides(run_dir):
    generator, config, checkpoint, weights = load_generator(run_dir / "checkpoints" / "last.ckpt")
    assert type(generator).__name__ == "TransposedGenerator" and generator.ngf == 8 and not generator.training
    assert weights == "raw"  # no EMA in this run
    assert torch.equal(generator.net[0][0].weight, checkpoint["state_dict"]["generator.net.0.0.weight"])
    exported, *_ = load_generator(run_dir / "generator.pt")  # the export at the end of training
    z = latents(4, generator.nz, seed=0)
    with torch.no_grad():
        torch.testing.assert_close(exported(z), generator(z))
    assert config.dataset.image_size == 32


def test_a_checkpoint_from_before_class_conditioning_loads(run_dir, tmp_path):
    checkpoint = read_ckpt(run_dir / "checkpoints" / "last.ckpt")
    for key in ("num_classes", "class_names", "condition", "embed_dim"):
        del checkpoint["hyper_parameters"]["model"]["generator"][key]
    torch.save(checkpoint, tmp_path / "old.ckpt")
    old, *_ = load_generator(tmp_path / "old.ckpt")
    new, *_ = load_generator(run_dir / "checkpoints" / "last.ckpt")
    z = latents(3, 100, seed=0)
    with torch.no_grad():
        assert old.num_classes == 0 and torch.equal(old(z), new(z))


def test_bad_checkpoints_are_one_config_error(run_dir, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    with pytest.raises(ConfigError, match="is not a PyTorch checkpoint"):
        load_generator(text)
    torch.save({"state_dict": {"w": torch.zeros(1)}, "hyper_parameters": {"lr": 0.1}}, tmp_path / "other.ckpt")
    with pytest.raises(ConfigError, match="is not a DCGAN checkpoint"):
        load_generator(tmp_path / "other.ckpt")
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    stored = checkpoint["hyper_parameters"]["model"]["generator"]
    stored.update(_target_="dcgan.models.UpsampleGenerator", mode="nearest", projection="linear")
    torch.save(checkpoint, tmp_path / "mismatch.ckpt")
    with pytest.raises(ConfigError, match=r"do not fit the stored architecture \(UpsampleGenerator\)"):
        load_generator(tmp_path / "mismatch.ckpt")
    torch.save({"state_dict": {}, "hyper_parameters": argparse.Namespace(lr=0.1)}, tmp_path / "obj.ckpt")
    with pytest.raises(ConfigError, match="weights_only=false"):
        load_generator(tmp_path / "obj.ckpt")
    with pytest.raises(ConfigError, match="no such file"):
        load_generator(tmp_path / "missing.ckpt")


def test_generate_and_evaluate_load_the_ema_generator(compose_cfg, tmp_path):
    from dcgan.checkpoints import load_generator

    train(compose_cfg("ema=on", "model.ema_rampup=null", "trainer.max_steps=6"))  # a full half-life: EMA != G
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    key = next(k for k in state if k.startswith("generator.") and k.endswith("weight"))
    ema_key = "generator_ema.module." + key[len("generator.") :]
    assert not torch.equal(state[key], state[ema_key])
    ema_g, _, _, which = load_generator(path)
    raw_g, _, _, raw = load_generator(path, use_ema=False)
    assert (which, raw) == ("ema", "raw")
    assert torch.equal(ema_g.state_dict()[key[len("generator.") :]], state[ema_key])
    assert torch.equal(raw_g.state_dict()[key[len("generator.") :]], state[key])
    exported = read_ckpt(tmp_path / "run" / "generator.pt")["state_dict"]  # the EMA generator, under its name
    assert torch.equal(exported[ema_key], state[ema_key]) and key not in exported
    assert load_generator(tmp_path / "run" / "generator.pt").weights == "ema"


def test_resume_continues_the_step_count(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=4"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    first = read_ckpt(last)
    assert first["global_step"] == 4
    train(compose_cfg("trainer.max_steps=8", f"ckpt_path={last}"))
    resumed = read_ckpt(last)
    assert resumed["global_step"] == 8
    assert torch.equal(resumed["state_dict"]["fixed_noise"], first["state_dict"]["fixed_noise"])
    assert not torch.equal(
        resumed["state_dict"]["generator.net.0.0.weight"], first["state_dict"]["generator.net.0.0.weight"]
    )
    assert (tmp_path / "run" / "samples" / "step_0000008.png").exists()


@pytest.mark.parametrize(
    "data",
    [
        [],
        ["dataset.cache=true"],
        ["ema=on"],
        ["model.conditional=true"],
        ["model.conditional=true", "dataset.cache=true", "ema=on"],
    ],
    ids=["loader", "resident", "ema", "conditional-loader", "conditional-resident-ema"],
)
def test_resume_is_bit_identical_to_an_uninterrupted_run(compose_cfg, tmp_path, data):
    # 96 fixture images / batch 16 = 6 batches = 12 global steps per epoch: stop mid-epoch (step 8),
    # resume across the epoch boundary to step 20.
    train(compose_cfg(*LONG, *data, f"dataset.cache_dir={tmp_path}/cache", "trainer.max_steps=20"))
    straight = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    (tmp_path / "run").rename(tmp_path / "straight")
    train(compose_cfg(*LONG, *data, f"dataset.cache_dir={tmp_path}/cache", "trainer.max_steps=8"))
    assert read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 8
    train(compose_cfg(*LONG, *data, f"dataset.cache_dir={tmp_path}/cache", "trainer.max_steps=20", "ckpt_path=last"))
    resumed = read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")
    assert resumed["global_step"] == straight["global_step"] == 20
    assert_same_tensors(straight["state_dict"], resumed["state_dict"], "state_dict")
    assert_same_tensors(straight["optimizer_states"], resumed["optimizer_states"], "optimizer_states")


def _train_to(compose_cfg, tmp_path, name, *overrides):
    """The last.ckpt of a run with ``overrides``, its folder renamed ``name``."""
    train(compose_cfg(*overrides))
    (tmp_path / "run").rename(tmp_path / name)
    return read_ckpt(tmp_path / name / "checkpoints" / "last.ckpt")


EPOCHS = ["seed=7", "trainer.max_steps=-1"]  # 96 fixture images / batch 16: 6 batches, 12 global steps an epoch


def test_epoch_end_checkpoints_resume_bit_identically(compose_cfg, tmp_path):
    straight = _train_to(compose_cfg, tmp_path, "straight", *EPOCHS, "trainer.max_epochs=4")
    assert (straight["global_step"], straight["epoch"]) == (48, 3)
    # an epoch-end checkpoint (max_epochs=2), and one where max_steps stops on an epoch's last batch
    for stop in (["trainer.max_epochs=2"], ["trainer.max_epochs=-1", "trainer.max_steps=12"]):
        first = _train_to(compose_cfg, tmp_path, "first", *EPOCHS, *stop)
        assert first["global_step"] in (12, 24)
        last = tmp_path / "first" / "checkpoints" / "last.ckpt"
        resumed = _train_to(compose_cfg, tmp_path, "resumed", *EPOCHS, "trainer.max_epochs=4", f"ckpt_path={last}")
        assert (resumed["global_step"], resumed["epoch"]) == (48, 3), stop  # not an epoch too few
        assert_same_tensors(straight["state_dict"], resumed["state_dict"], "state_dict")
        assert_same_tensors(straight["optimizer_states"], resumed["optimizer_states"], "optimizer_states")
        for name in ("first", "resumed"):
            shutil.rmtree(tmp_path / name)


def test_a_checkpoint_of_another_dataset_is_refused(compose_cfg, tmp_path, run_dir):
    # run_dir trained on the Fashion-MNIST fixture; the MNIST fixture has the same shape and count
    last = run_dir / "checkpoints" / "last.ckpt"
    with pytest.raises(ConfigError, match="trained on another dataset: fashion_mnist .* there, mnist .* here"):
        train(compose_cfg("dataset=mnist", "trainer.max_steps=8", f"ckpt_path={last}"))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_ckpt_path_last_takes_the_newest_run_that_fits(compose_cfg, tmp_path):
    runs = tmp_path / "outputs"
    good = _train_to(compose_cfg, tmp_path, "good", "trainer.max_steps=4")
    (runs / "a").mkdir(parents=True)
    (tmp_path / "good").rename(runs / "a" / "good")
    others = {  # newer runs that do not fit: edited copies of the good one
        "b_architecture": lambda c: c["state_dict"].update({"generator.net.0.0.weight": torch.zeros(3, 3)}),
        "c_dataset": lambda c: c["ImageDataModule"]["identity"].update(digest="0" * 40),
        "d_nan": lambda c: c["state_dict"]["discriminator.head.weight"].view(-1).__setitem__(0, float("nan")),
    }
    for name, edit in others.items():
        checkpoint = read_ckpt(runs / "a" / "good" / "checkpoints" / "last.ckpt")
        edit(checkpoint)
        (runs / name / "checkpoints").mkdir(parents=True)
        torch.save(checkpoint, runs / name / "checkpoints" / "last.ckpt")
        time.sleep(0.01)
    with LogRecords("dcgan.checkpoints") as logs:
        train(compose_cfg("trainer.max_steps=8", "ckpt_path=last", f"paths.runs_dir={runs}"))
    (message,) = [m for m in logs.messages if m.startswith("ckpt_path=last")]
    assert f"{runs / 'a' / 'good' / 'checkpoints' / 'last.ckpt'}, the newest run under" in message
    for reason in ("another architecture", "another dataset", "weights are not finite"):
        assert reason in message
    assert read_ckpt(tmp_path / "run" / "checkpoints" / "last.ckpt")["global_step"] == 8
    assert good["global_step"] == 4
    (tmp_path / "run").rename(tmp_path / "resumed")
    with pytest.raises(ConfigError, match="cannot be resumed: its weights are not finite .*discriminator.head.weight"):
        train(compose_cfg("trainer.max_steps=8", f"ckpt_path={runs / 'd_nan' / 'checkpoints' / 'last.ckpt'}"))


def test_ckpt_path_last_prefers_the_run_folder_then_the_newest(tmp_path):
    runs = tmp_path / "outputs"
    for name in ("a", "b"):
        (runs / name / "checkpoints").mkdir(parents=True)
        (runs / name / "checkpoints" / "last.ckpt").write_bytes(b"x")
        time.sleep(0.01)
    assert resolve_ckpt_path("last", runs / "a", runs) == str(runs / "a" / "checkpoints" / "last.ckpt")
    assert resolve_ckpt_path("last", tmp_path / "new", runs) == str(runs / "b" / "checkpoints" / "last.ckpt")
    with pytest.raises(ConfigError, match="ckpt_path=last"):
        resolve_ckpt_path("last", tmp_path / "new", tmp_path / "nothing")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_ckpt_path(str(tmp_path / "missing.ckpt"), tmp_path, runs)


def test_atomic_save_keeps_the_old_file_when_a_write_dies(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    target = tmp_path / "last.ckpt"
    io.save_checkpoint({"step": torch.tensor(1)}, target)

    def dying_save(obj, f):
        f.write(b"half a checkpoint")
        raise KeyboardInterrupt  # the process dies in the middle of the write

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint({"step": torch.tensor(2)}, target)
    monkeypatch.undo()
    assert torch.load(target, weights_only=True)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]


@pytest.mark.slow
def test_kill_9_during_saves_never_corrupts_last_ckpt(tmp_path, data_dir):
    run = tmp_path / "run"
    args = [f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", *LONG, "trainer.max_steps=100000",
            "callbacks.model_checkpoint.every_n_train_steps=2", "callbacks.samples.every_n_steps=1000"]  # fmt: skip
    last = run / "checkpoints" / "last.ckpt"
    for attempt in range(4):
        resume = ["ckpt_path=last"] if last.exists() else []
        proc = subprocess.Popen(command("train.py", *FAST, *args, *resume), cwd=tmp_path, env=subprocess_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
        wait_for(last, proc)
        time.sleep(0.3 + 0.37 * attempt)  # land somewhere in a stream of saves every 2 steps
        proc.kill()
        proc.wait()
        step = read_ckpt(last)["global_step"]  # loads: never a torn file
        assert step > 0


def test_checkpoint_of_another_architecture_is_a_clear_error(compose_cfg, tmp_path):
    train(compose_cfg("trainer.max_steps=2"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    with pytest.raises(ConfigError, match="another architecture.*generator.*is \\("):
        train(compose_cfg("trainer.max_steps=4", "generator.ngf=16", f"ckpt_path={last}"))


def test_a_checkpoint_cannot_run_code_when_loaded(compose_cfg, tmp_path):
    evil = tmp_path / "evil.ckpt"
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    torch.save({"state_dict": {}, "x": Payload()}, evil)
    with pytest.raises(ConfigError, match="weights-only load refuses"):
        train(compose_cfg("trainer.max_steps=2", f"ckpt_path={evil}"))
    assert not marker.exists()


def test_a_checkpoint_from_before_a_new_net_key_still_loads(run_dir, tmp_path):
    # runs saved before norm_eps / input_norm existed store no such key: they get the current default,
    # which is the old behaviour
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    checkpoint["hyper_parameters"]["model"]["generator"].pop("norm_eps")
    checkpoint["hyper_parameters"]["model"]["discriminator"].pop("input_norm")
    torch.save(checkpoint, tmp_path / "old.ckpt")
    generator = load_generator(tmp_path / "old.ckpt").net
    assert all(m.eps == 1e-5 for m in generator.modules() if isinstance(m, torch.nn.BatchNorm2d))


def test_a_checkpoint_of_the_older_discriminator_names_still_resumes(compose_cfg, tmp_path):
    # before the discriminator became a features trunk and a head, its layers were one `net` Sequential
    train(compose_cfg("trainer.max_steps=4"))
    path = tmp_path / "run" / "checkpoints" / "last.ckpt"
    checkpoint = read_ckpt(path)
    stages = 1 + max(int(k.split(".")[2]) for k in checkpoint["state_dict"] if k.startswith("discriminator.features."))

    def old(key: str) -> str:
        key = key.replace("discriminator.features.", "discriminator.net.")
        return key.replace("discriminator.head.", f"discriminator.net.{stages}.")

    checkpoint["state_dict"] = {old(k): v for k, v in checkpoint["state_dict"].items()}
    assert not any(".features." in k or ".head." in k for k in checkpoint["state_dict"])
    # nor did it store its dataset; it kept the loader's position as torchdata's StatefulDataLoader does
    del checkpoint["ImageDataModule"]
    checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"] = [{"_num_yielded": 2, "_snapshot": {}}]
    torch.save(checkpoint, tmp_path / "old.ckpt")
    (tmp_path / "run").rename(tmp_path / "first")
    with LogRecords("dcgan.training") as logs:
        train(compose_cfg("trainer.max_steps=8", f"ckpt_path={tmp_path / 'old.ckpt'}"))
    assert read_ckpt(path)["global_step"] == 8
    assert any("data order in an older form: the data order starts afresh" in m for m in logs.messages)


@pytest.mark.parametrize(
    "problem", ["checkpoint folder is a file", "checkpoint folder is read-only", "run folder is a file"]
)
def test_an_unwritable_folder_stops_the_run_before_training(compose_cfg, tmp_path, monkeypatch, capsys, problem):
    folder = tmp_path / ("run" if problem.startswith("run") else "ckpts")
    if problem.endswith("a file"):
        folder.write_text("a file where a folder should be")
    else:
        folder.mkdir()
        make_read_only(folder, monkeypatch)
    key = "hydra.run.dir" if problem.startswith("run") else "callbacks.model_checkpoint.dirpath"
    with pytest.raises(SystemExit) as stopped:
        exit_on_config_error(train)(compose_cfg("trainer.max_steps=2", f"callbacks.model_checkpoint.dirpath={folder}"))
    assert stopped.value.code == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    reason = "a file, not a folder" if problem.endswith("a file") else "Permission denied"
    assert line == f"error: {key}={folder} is not writable ({reason}): choose another folder"
    assert not (tmp_path / "run" / "samples").exists()  # not even the first grid: training never started


def test_a_save_that_fails_mid_run_keeps_the_previous_checkpoint_and_says_one_line(tmp_path, data_dir):
    """A disk that fills up at step 8 (after the saves of step 4): one line, exit 1, last.ckpt of step 4 intact,
    no temporary file left; the run resumes from it."""
    run = tmp_path / "run"
    args = [*FAST, *LONG, f"paths.data_dir={data_dir}", f"hydra.run.dir={run}", "trainer.max_steps=12",
            "callbacks.model_checkpoint.every_n_train_steps=4"]  # fmt: skip
    proc = run_script("train.py", *args, "+callbacks.full._target_=tests.helpers.DiskFull", "+callbacks.full.step=8",
                      cwd=tmp_path)  # fmt: skip
    last = run / "checkpoints" / "last.ckpt"
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stderr.splitlines() == [  # the periodic checkpoint of step 8 is the first save that fails
        f"error: cannot save {last.parent / 'step_0000008.ckpt'} (No space left on device): the file is left as it "
        "was; make room or fix the folder, then resume with ckpt_path=last"
    ]
    assert read_ckpt(last)["global_step"] == 4
    assert sorted(p.name for p in last.parent.iterdir()) == ["last.ckpt", "step_0000004.ckpt"]
    proc = run_script("train.py", *args, "ckpt_path=last", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_ckpt(last)["global_step"] == 12


def test_a_folder_made_read_only_mid_run_is_one_error(compose_cfg, tmp_path, monkeypatch, capsys):
    from lightning.pytorch import Callback

    checkpoints = tmp_path / "run" / "checkpoints"

    class LockAtStep(Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 8:
                make_read_only(checkpoints, monkeypatch)

    cfg = compose_cfg(*LONG, "trainer.max_steps=12", "callbacks.model_checkpoint.every_n_train_steps=4")
    build_trainer = cli_train.build_trainer

    def with_lock(cfg):
        trainer = build_trainer(cfg)
        trainer.callbacks.insert(0, LockAtStep())
        return trainer

    monkeypatch.setattr(cli_train, "build_trainer", with_lock)
    with pytest.raises(SystemExit) as stopped:
        exit_on_config_error(train)(cfg)
    assert stopped.value.code == 1
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert line.startswith(f"error: cannot save {checkpoints}/") and "(Permission denied)" in line
    monkeypatch.undo()
    assert read_ckpt(checkpoints / "last.ckpt")["global_step"] == 4
    assert not [p for p in checkpoints.iterdir() if p.name.endswith(".tmp")]


def test_a_run_deletes_the_temporary_files_of_killed_saves(compose_cfg, tmp_path):
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    live = subprocess.Popen(["sleep", "60"])
    try:
        stale, running = checkpoints / f".last.ckpt.{dead.pid}.tmp", checkpoints / f".last.ckpt.{live.pid}.tmp"
        for path in (stale, running):
            path.write_bytes(b"half a checkpoint")
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        train(compose_cfg("trainer.max_steps=2"))
        assert not stale.exists() and running.exists()
    finally:
        live.kill()
        live.wait()
