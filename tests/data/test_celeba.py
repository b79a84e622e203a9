"""CelebA in both layouts, its split, and the tutorial's centre crop."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate
from PIL import Image

from dcgan.data import ImageFiles
from tests.fixtures import make_celeba
from tests.helpers import dataset_overrides, model_batch
from tests.unchecked import UncheckedCelebA


@pytest.mark.parametrize("layout", ["torchvision", "tutorial", "plain"])
def test_celeba_layouts(compose_cfg, tmp_path, layout):
    make_celeba(tmp_path / "faces", n=12, layout=layout)
    cfg = compose_cfg(*dataset_overrides("celeba", tmp_path / "faces"), "dataset.batch_size=4")
    dm = instantiate(cfg.dataset)
    expected = UncheckedCelebA if layout == "torchvision" else ImageFiles
    assert type(dm.dataset) is expected and len(dm.dataset) == 12
    assert model_batch(dm).shape == (4, 3, 64, 64)


def test_celeba_split_needs_the_annotations(compose_cfg, tmp_path):
    make_celeba(tmp_path / "faces", n=12, layout="torchvision")
    cfg = compose_cfg(*dataset_overrides("celeba", tmp_path / "faces"), "dataset.source.dataset.split=train")
    assert len(instantiate(cfg.dataset).dataset) == 4  # list_eval_partition.txt: first third is train


def test_celeba_crop_is_the_centre_of_the_face(compose_cfg, tmp_path):
    # a portrait whose top and bottom bands differ: the square crop keeps only the middle
    folder = tmp_path / "faces" / "img_align_celeba"
    folder.mkdir(parents=True)
    pixels = np.full((218, 178, 3), 128, np.uint8)
    pixels[:10], pixels[-10:] = 0, 255  # outside the centre 178x178 square, which the crop keeps
    for i in range(2):
        Image.fromarray(pixels).save(folder / f"{i:06d}.png")
    cfg = compose_cfg(*dataset_overrides("celeba", tmp_path / "faces"))
    image = instantiate(cfg.dataset).dataset[0][0]
    assert image.shape == (3, 64, 64) and (image.int() - 128).abs().max() <= 1


def test_a_split_of_the_plain_layout_reads_every_image_with_a_warning(compose_cfg, tmp_path):
    from tests.helpers import LogRecords

    make_celeba(tmp_path / "faces", n=12, layout="tutorial")
    cfg = compose_cfg(*dataset_overrides("celeba", tmp_path / "faces"), "dataset.source.dataset.split=train")
    with LogRecords("dcgan.data") as logs:
        assert len(instantiate(cfg.dataset).dataset) == 12
    assert any(
        "without list_eval_partition.txt: reading all its images, not the train split" in m for m in logs.messages
    )
