"""ResidentBatches: the batches an EpochOrder names, one indexing op each, on the images' device."""

from __future__ import annotations

import torch

from dcgan.data.order import EpochOrder
from dcgan.data.resident import ResidentBatches

IMAGES = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1).expand(50, 1, 2, 2).contiguous()


def test_batches_are_the_images_the_order_names():
    order = EpochOrder(len(IMAGES), batch_size=8, seed=3, device=IMAGES.device)
    order.next_batch = 2
    loader = ResidentBatches(IMAGES, order)
    batches = list(loader)
    assert len(loader) == 6 and len(batches) == 4  # from next_batch to the end of the epoch
    expected = order.indices(0)[16:]
    assert torch.equal(torch.cat(batches)[:, 0, 0, 0], expected.to(torch.uint8))
    assert batches[0].device == IMAGES.device and batches[0].shape == (8, 1, 2, 2)


def test_labels_travel_with_their_images():
    labels = torch.arange(50) * 10  # image i has label 10 * i
    order = EpochOrder(len(IMAGES), batch_size=4, seed=7, device=IMAGES.device)
    order.next_batch = 3
    batches = list(ResidentBatches(IMAGES, order, labels))
    assert len(batches) == len(order) - 3
    for images, batch_labels in batches:
        assert batch_labels.dtype == torch.int64
        assert batch_labels.tolist() == [10 * i for i in images[:, 0, 0, 0].tolist()]
