"""The DataModule: native channels and size, uint8 loader batches, float [-1, 1] model batches, batch sizes."""

from __future__ import annotations

import pickle
import shutil
from types import SimpleNamespace

import pytest
import torch
from hydra.utils import instantiate

from dcgan.cli.train import train
from dcgan.data import to_unit_range
from tests.conftest import FAST
from tests.fixtures import make_class_folder, make_image_folder
from tests.helpers import (
    DATASETS,
    ROOT,
    LogRecords,
    config_error,
    dataset_overrides,
    folder,
    nearest,
    one_error_line,
    run_script,
)

NATIVE = {"celeba": (64, 3), "fashion_mnist": (32, 1), "mnist": (32, 1), "emnist": (32, 1)}


@pytest.mark.parametrize("name", DATASETS)
def test_every_dataset_gives_model_batches(compose_cfg, fixture_root, name):
    cfg = compose_cfg(*dataset_overrides(name, fixture_root))
    size, channels = NATIVE.get(name, (32, 3))
    assert (cfg.dataset.image_size, cfg.dataset.channels) == (size, channels)
    dm = instantiate(cfg.dataset)
    dm.setup("fit")
    raw = next(iter(dm.train_dataloader())).images
    assert raw.dtype == torch.uint8 and raw.shape == (16, channels, size, size)
    batch = dm.on_after_batch_transfer(dm.on_before_batch_transfer(raw, 0), 0)
    assert batch.dtype == torch.float32 and batch.shape == (16, channels, size, size)
    assert batch.min() >= -1 and batch.max() <= 1
    assert batch.min() < -0.5 and batch.max() > 0.5  # the fixtures' random pixels span the range
    assert torch.allclose(batch, raw.float() / 127.5 - 1, atol=1e-6)


def test_torchvision_datasets_keep_their_pixels(compose_cfg, fixture_root):
    # at the native 32x32 the pipeline must not change a pixel: orientation and channel order preserved
    cfg = compose_cfg(*dataset_overrides("cifar10", fixture_root))
    dm = instantiate(cfg.dataset)
    entry = pickle.loads((fixture_root / "cifar-10-batches-py" / "data_batch_1").read_bytes(), encoding="latin1")
    reference = torch.from_numpy(entry["data"][0].reshape(3, 32, 32))
    assert torch.equal(dm.dataset[0][0], reference)


def test_dataset_smaller_than_a_batch_trains_on_smaller_batches(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=5)
    cfg = compose_cfg(
        *folder(tmp_path / "images"), "dataset.batch_size=16", "trainer.max_steps=6", "trainer.max_epochs=5"
    )
    with LogRecords("dcgan.data") as logs:
        train(cfg)
    assert any("batches of 5 instead of dataset.batch_size=16" in m for m in logs.messages)
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 6 and ckpt["epoch"] >= 2  # one batch of 5 per epoch, never an empty epoch


def test_batch_size_fits_each_ddp_process(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=10)
    dm = instantiate(compose_cfg(*folder(tmp_path / "images"), "dataset.batch_size=8").dataset)
    dm.setup("fit")
    strategy = SimpleNamespace(root_device=torch.device("cpu"), broadcast=lambda value, src: value)
    dm.trainer = SimpleNamespace(world_size=4, global_rank=1, strategy=strategy)
    batches = [batch.images for batch in dm.train_dataloader()]  # each of 4 processes gets ceil(10/4), as
    assert [len(b) for b in batches] == [3]  # DistributedSampler pads the order


def test_a_single_image_is_a_clear_error(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "images", n=1)
    message = str(config_error(lambda: instantiate(compose_cfg(*folder(tmp_path / "images")).dataset)))
    assert "has 1 image(s): a GAN needs 2 or more" in message


SHARED = ROOT.parent / "shared" / "data"


REAL = {
    "fashion_mnist": ([f"paths.data_dir={SHARED}"], 60_000, (1, 32, 32)),
    "celeba": ([f"dataset.root={SHARED / 'celeba-10k'}"], 10_000, (3, 64, 64)),
}


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"the real datasets are not in {SHARED} (the kit's machines have them)")
@pytest.mark.parametrize("name", sorted(REAL))
def test_trains_on_the_real_data(compose_cfg, tmp_path, name):
    overrides, count, shape = REAL[name]
    cfg = compose_cfg(f"dataset={name}", *overrides, "trainer.max_steps=4", f"dataset.cache_dir={tmp_path}/cache")
    assert len(instantiate(cfg.dataset).dataset) == count
    metrics = train(cfg)
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 4
    assert ckpt["hyper_parameters"]["dataset"]["image_size"] == shape[-1]


def test_channels_other_than_gray_or_rgb_are_refused(compose_cfg):
    message = str(config_error(lambda: instantiate(compose_cfg("dataset.channels=2").dataset)))
    assert "dataset.channels=2 is invalid: use 1 (gray) or 3 (RGB)" in message


LABELLED = {  # dataset -> (overrides beyond dataset_overrides, its class names)
    "fashion_mnist": ([], ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                           "Bag", "Ankle boot"]),
    "mnist": ([], [f"{i} - {w}" for i, w in enumerate("zero one two three four five six seven eight nine".split())]),
    "emnist": ([], None),  # the 47 classes of the balanced split
    "svhn": ([], [str(i) for i in range(10)]),
    "cifar10": ([], [f"class{i}" for i in range(10)]),  # the fixture's batches.meta
    "class_folder": (["dataset=image_folder", "dataset.root=ROOT/classes", "dataset.channels=1"],
                     ["cat", "dog", "fox"]),
}  # fmt: skip


def labelled(compose_cfg, fixture_root, name, *overrides):
    extra, _ = LABELLED[name]
    base = dataset_overrides("image_folder" if name == "class_folder" else name, fixture_root)
    extra = [o.replace("ROOT", str(fixture_root)) for o in extra]
    return instantiate(compose_cfg(*base, *extra, "model.conditional=true", *overrides).dataset)


def items(dm) -> tuple[torch.Tensor, list[int]]:
    """Every image of the dataset as the model sees it ([-1, 1]) and its label, read item by item."""
    pairs = [dm.dataset[i] for i in range(len(dm.dataset))]
    return to_unit_range(torch.stack([image for image, _ in pairs])), [int(label) for _, label in pairs]


@pytest.mark.parametrize("cache", [False, True], ids=["loader", "cache"])
@pytest.mark.parametrize("name", LABELLED)
def test_labelled_datasets_give_each_image_its_label(compose_cfg, fixture_root, tmp_path, name, cache):
    dm = labelled(
        compose_cfg, fixture_root, name, f"dataset.cache={str(cache).lower()}", f"dataset.cache_dir={tmp_path}"
    )
    expected = LABELLED[name][1]
    assert dm.labels and dm.classes == (expected if expected is not None else dm.dataset.classes)
    assert len(dm.classes) == {"emnist": 47}.get(name, len(dm.classes))
    dm.setup("fit")
    references, truth = items(dm)
    assert len(set(truth)) > 1  # several classes, so a wrong pairing shows
    seen = 0
    for batch in dm.train_dataloader():
        images, labels = dm.on_after_batch_transfer(dm.on_before_batch_transfer(batch, 0), 0)
        assert images.dtype == torch.float32 and images.min() >= -1 and labels.dtype == torch.int64
        assert labels.shape == (len(images),) and 0 <= labels.min() and labels.max() < len(dm.classes)
        for image, label in zip(images, labels.tolist(), strict=True):
            index, difference = nearest(image, references)
            assert difference < 1e-6 and truth[index] == label
        seen += len(labels)
    assert seen >= len(truth) - 16  # a whole epoch (the last partial batch dropped)


def test_the_cache_keeps_the_labels_and_an_unlabelled_cache_is_rebuilt(compose_cfg, fixture_root, tmp_path):
    cache = [f"dataset.cache_dir={tmp_path}", "dataset.cache=true"]
    plain = instantiate(compose_cfg(*dataset_overrides("fashion_mnist", fixture_root), *cache).dataset)
    plain.setup("fit")
    (path,) = tmp_path.glob("*.pt")
    assert torch.load(path, weights_only=True)["labels"] is None  # an unconditional run's cache: images only
    with LogRecords("dcgan.data") as logs:
        dm = labelled(compose_cfg, fixture_root, "fashion_mnist", *cache)
        dm.setup("fit")
    assert any("holds no class labels: rebuilding it" in m for m in logs.messages)
    saved = torch.load(path, weights_only=True)
    targets = torch.as_tensor(dm.dataset.targets)
    assert torch.equal(saved["labels"], targets) and torch.equal(dm.train_set.labels, targets)
    assert torch.equal(saved["images"], plain.train_set.images)  # the same images, now with their labels
    images, labels = dm.real_batch(40, seed=0)
    assert images.shape == (40, 1, 32, 32) and labels.shape == (40,)


UNLABELLED = {
    "celeba": [],
    "array": [],
    "fake": [],
    "image_folder": [],  # files at the top and in a subfolder: no class per file
}


@pytest.mark.parametrize("name", UNLABELLED)
def test_datasets_without_labels_refuse_a_conditional_run(compose_cfg, fixture_root, name):
    cfg = compose_cfg(*dataset_overrides(name, fixture_root), "model.conditional=true")
    message = str(config_error(lambda: instantiate(cfg.dataset)))
    assert "model.conditional=true needs a labelled dataset" in message and "has no class labels" in message
    assert "image_folder with one subfolder per class" in message
    instantiate(compose_cfg(*dataset_overrides(name, fixture_root)).dataset)  # unconditional: fine


def test_a_folder_of_one_class_refuses_a_conditional_run(compose_cfg, tmp_path):
    make_class_folder(tmp_path / "one", classes=("cat",))
    cfg = compose_cfg(*folder(tmp_path / "one"), "model.conditional=true")
    assert "has a single class" in str(config_error(lambda: instantiate(cfg.dataset)))


def test_train_py_refuses_a_conditional_run_on_unlabelled_data(tmp_path, fixture_root):
    args = [
        *FAST,
        *dataset_overrides("celeba", fixture_root),
        "model.conditional=true",
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    proc = run_script("train.py", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert "model.conditional=true needs a labelled dataset, and CelebA" in one_error_line(proc)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_identity_names_the_images_not_their_folder(compose_cfg, tmp_path):
    make_image_folder(tmp_path / "a", n=6)
    shutil.copytree(tmp_path / "a", tmp_path / "moved")
    make_image_folder(tmp_path / "other", n=6, seed=1)
    a, moved, other = (
        instantiate(compose_cfg(*folder(tmp_path / x)).dataset).identity() for x in ("a", "moved", "other")
    )
    assert a["source"] != moved["source"] and {**a, "source": ""} == {**moved, "source": ""}
    assert a["images"] == other["images"] == 6 and a["digest"] != other["digest"]
