"""A checkpoint cannot run code: every config read from a file is checked against the classes conf/ names
before anything is built from it, at every depth, for every entry point that builds from a checkpoint's
config; train.py's resume builds nothing from it."""

from __future__ import annotations

import copy
import importlib
import inspect
from pathlib import Path

import pytest
import torch
from hydra.errors import InstantiationException
from hydra.utils import get_object, instantiate
from omegaconf import OmegaConf

from dcgan.checkpoints import load_generator
from dcgan.cli.evaluate import evaluate
from dcgan.cli.explore import explore
from dcgan.cli.generate import generate
from dcgan.cli.train import train
from dcgan.config import check_stored_config, compose, kit_targets
from dcgan.errors import ConfigError
from tests.helpers import one_error_line, run_script

PRECIOUS = "precious\n"


class Scene:
    """A victim file that a hostile config would truncate, and a path it would create."""

    def __init__(self, root: Path) -> None:
        self.victim, self.made = root / "victim.txt", root / "made.txt"
        self.victim.write_text(PRECIOUS)

    def harmed(self) -> bool:
        return self.victim.read_text() != PRECIOUS or self.made.exists()


# Hostile configs: (name, the node given the scene). Each would run code if instantiated (see the control test).
PAYLOADS = {
    "builtins.open": lambda s: {"_target_": "builtins.open", "_args_": [str(s.victim), "w"]},
    "pathlib.Path.write_text": lambda s: {
        "_target_": "pathlib.Path.write_text",
        "_args_": [{"_target_": "pathlib.Path", "_args_": [str(s.made)]}, "import os"],
    },
    "os.system": lambda s: {"_target_": "os.system", "_args_": [f"echo pwned > {s.made}"]},
    "subprocess.run": lambda s: {"_target_": "subprocess.run", "_args_": [["touch", str(s.made)]]},
    "builtins.exec": lambda s: {"_target_": "builtins.exec", "_args_": [f"open({str(s.made)!r}, 'w')"]},
    "dcgan.files.os.system": lambda s: {"_target_": "dcgan.files.os.system", "_args_": [f"touch {s.made}"]},
    "dcgan.files.atomic_save": lambda s: {"_target_": "dcgan.files.atomic_save", "_args_": [{}, str(s.made)]},
    "dcgan.data.cache.torch.save": lambda s: {"_target_": "dcgan.data.cache.torch.save", "_args_": [{}, str(s.made)]},
    "oc.create interpolation": lambda s: f"${{oc.create:{{_target_: builtins.open, _args_: ['{s.victim}', w]}}}}",
}
# Hydra's own blocklist stops these at instantiate; the kit's check refuses them before Hydra sees them anyway.
HYDRA_BLOCKS = {"os.system", "subprocess.run", "builtins.exec", "dcgan.files.os.system"}


def _generator_args(hp, node):  # deep inside a list: an argument of the generator that generate.py builds
    hp["model"]["generator"]["_args_"] = [node]


def _generator_kwarg(hp, node):  # a nested config as a keyword argument of the generator
    hp["model"]["generator"]["norm_eps"] = node


def _optimizer(hp, node):  # a _partial_ factory
    hp["model"]["optimizer_g"] = {**node, "_partial_": True} if isinstance(node, dict) else node


def _torchvision(hp, node):  # the dataset inside the DataModule's source (a _partial_ in conf/)
    hp["dataset"]["source"]["dataset"] = {**node, "_partial_": True} if isinstance(node, dict) else node


def _list_in_callbacks(hp, node):  # deep in a list of a config nothing builds today
    hp["callbacks"]["samples"]["extra"] = [1, {"deeper": [node]}]


POSITIONS = {
    "model.generator": lambda hp, node: hp["model"].__setitem__("generator", node),
    "model.generator._args_[0]": _generator_args,
    "model.generator.norm_eps": _generator_kwarg,
    "model.discriminator": lambda hp, node: hp["model"].__setitem__("discriminator", node),
    "model.optimizer_g": _optimizer,
    "dataset": lambda hp, node: hp.__setitem__("dataset", node),
    "dataset.source.dataset": _torchvision,
    "callbacks.samples.extra[1].deeper[0]": _list_in_callbacks,
}


def hostile_file(run_dir: Path, kind: str, position: str, payload: str, scene: Scene, out: Path) -> Path:
    """A copy of the run's ``kind`` file (last.ckpt or generator.pt) with ``payload`` at ``position`` of its
    stored run config."""
    source = run_dir / ("checkpoints/last.ckpt" if kind == "ckpt" else "generator.pt")
    checkpoint = copy.deepcopy(torch.load(source, map_location="cpu", weights_only=True))
    POSITIONS[position](checkpoint["hyper_parameters"], PAYLOADS[payload](scene))
    path = out / f"hostile.{'ckpt' if kind == 'ckpt' else 'pt'}"
    torch.save(checkpoint, path)
    return path


def assert_refused(error: ConfigError, path: Path) -> None:
    message = str(error)
    assert len(message.splitlines()) == 1 and message.startswith(f"ckpt_path={path}:"), message
    assert "is not one of this kit's classes" in message or "holds an interpolation" in message, message


def test_the_allowlist_is_what_conf_names_and_each_is_the_kits_or_a_library_class():
    targets = kit_targets()
    assert {"dcgan.models.TransposedGenerator", "dcgan.data.ImageDataModule", "torch.optim.Adam"} <= targets
    assert {"torchvision.datasets.FashionMNIST", "lightning.pytorch.Trainer"} <= targets
    for target in targets:
        obj = get_object(target)
        assert inspect.isclass(obj), target  # classes only: no function that writes files
        home = obj.__module__.split(".")[0]
        assert home in ("dcgan", "torchvision", "torch", "lightning"), target
        assert home == target.split(".")[0], target  # not a re-export of another package's class
    assert not any(t.startswith(("builtins.", "os.", "subprocess.", "pathlib.")) for t in targets)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_each_hostile_payload_runs_code_when_instantiated(payload, tmp_path):
    """The control: without the check, these configs do harm or only Hydra's blocklist stops them (so the
    refusals below mean something)."""
    scene = Scene(tmp_path)
    node = OmegaConf.create({"node": PAYLOADS[payload](scene)}).node
    try:
        instantiate(node)
    except InstantiationException as error:
        assert payload in HYDRA_BLOCKS and "blocklisted" in str(error)
        return
    assert payload not in HYDRA_BLOCKS and scene.harmed()


@pytest.mark.parametrize("kind", ["ckpt", "generator.pt"])
@pytest.mark.parametrize("position", POSITIONS)
def test_the_loader_refuses_every_payload_at_every_position(run_dir, tmp_path, position, kind):
    for payload in PAYLOADS:
        scene = Scene(tmp_path)
        path = hostile_file(run_dir, kind, position, payload, scene, tmp_path)
        with pytest.raises(ConfigError) as refused:
            load_generator(path)
        assert_refused(refused.value, path)
        assert not scene.harmed(), (payload, position)


def _generate(mode):
    output = {"export": "g.onnx", "pictures": "pictures"}.get(mode, "g.npz")

    def call(path, out):
        generate(compose("generate", [f"ckpt_path={path}", f"mode={mode}", "num_samples=2", f"output={out / output}"]))

    return call


def _evaluate(path, out):
    evaluate(compose("evaluate", [f"ckpt_path={path}", f"output={out / 'scores.json'}", f"metrics.cache_dir={out}"]))


def _explore(path, out):
    pytest.importorskip("gradio", reason="the explore extra is not installed: pip install '.[explore]'")
    explore(compose("explore", [f"ckpt_path={path}", "port=1"]))  # refused before any server starts


ENTRY_POINTS = {
    "generate samples": _generate("samples"),
    "generate interpolate": _generate("interpolate"),
    "generate pictures": _generate("pictures"),
    "generate export": _generate("export"),
    "evaluate": _evaluate,
    "explore": _explore,
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_refuses_a_hostile_checkpoint_before_building(entry, run_dir, tmp_path):
    names = list(PAYLOADS)
    for i, position in enumerate(POSITIONS):
        scene, out = Scene(tmp_path), tmp_path / f"out{i}"
        payload = names[(i + list(ENTRY_POINTS).index(entry)) % len(names)]  # every entry meets several
        path = hostile_file(run_dir, ("ckpt", "generator.pt")[i % 2], position, payload, scene, tmp_path)
        with pytest.raises(ConfigError) as refused:
            ENTRY_POINTS[entry](path, out)
        assert_refused(refused.value, path)
        assert not scene.harmed() and not out.exists(), (payload, position)  # nothing written either


@pytest.mark.parametrize(
    ("position", "payload"),
    [("model.generator", "builtins.open"), ("model.optimizer_g", "pathlib.Path.write_text"),
     ("dataset.source.dataset", "dcgan.data.cache.torch.save"), ("dataset", "oc.create interpolation")],
)  # fmt: skip
def test_a_resume_builds_nothing_from_the_stored_config(run_dir, compose_cfg, tmp_path, position, payload):
    """train.py resumes the weights, optimizer states and counters; the run's own config builds the run, and
    it is what the new checkpoints store."""
    scene = Scene(tmp_path)
    path = hostile_file(run_dir, "ckpt", position, payload, scene, tmp_path)
    train(compose_cfg("trainer.max_steps=6", f"ckpt_path={path}"))
    assert not scene.harmed()
    resumed = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert resumed["global_step"] == 6
    check_stored_config(resumed["hyper_parameters"], "resumed")  # this run's config: nothing hostile left


def test_stored_config_check_reports_the_key_path_on_one_line():
    hostile = {"a": [{"b": {"_target_": "builtins.open\nsecond line"}}]}
    with pytest.raises(ConfigError) as refused:
        check_stored_config(hostile, "ckpt_path=x")
    assert str(refused.value).startswith("ckpt_path=x: a[0].b._target_='builtins.open\\nsecond line' is not one")
    assert len(str(refused.value).splitlines()) == 1
    with pytest.raises(ConfigError, match=r"ckpt_path=x: paths.data_dir holds an interpolation"):
        check_stored_config({"paths": {"data_dir": "${oc.env:HOME}"}}, "ckpt_path=x")
    deep = current = {}
    for _ in range(20):
        current["n"] = current = {}
    current["_target_"] = "dcgan.data.cache.torch.save"
    with pytest.raises(ConfigError, match=r"^ckpt_path=x: (n\.){20}_target_=dcgan.data.cache.torch.save is not one of"):
        check_stored_config(deep, "ckpt_path=x")
    del current["_target_"]
    for _ in range(5000):  # deeper than Python's recursion limit
        current["n"] = current = {}
    with pytest.raises(ConfigError, match=r"^ckpt_path=x: its run config nests deeper than 32 levels"):
        check_stored_config(deep, "ckpt_path=x")
    check_stored_config({"_target_": "dcgan.models.TransposedGenerator", "nz": 100}, "ckpt_path=x")  # allowed


@pytest.mark.parametrize("script", ["generate.py", "evaluate.py", "explore.py"])
def test_command_lines_refuse_a_hostile_checkpoint_in_one_line(script, run_dir, tmp_path):
    if script == "explore.py":
        importlib.util.find_spec("gradio") or pytest.skip("the explore extra is not installed")
    scene = Scene(tmp_path)
    path = hostile_file(run_dir, "ckpt", "model.generator", "builtins.open", scene, tmp_path)
    proc = run_script(script, f"ckpt_path={path}", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == one_error_line(proc), proc.stderr[-2000:]
    assert "model.generator._target_=builtins.open is not one of this kit's classes" in proc.stderr
    assert not scene.harmed()
