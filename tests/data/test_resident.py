"""ResidentBatches: the epoch's order drawn on the images' device, resumable mid-epoch, split across ranks."""

from __future__ import annotations

import torch

from dcgan.data.resident import ResidentBatches

IMAGES = torch.arange(50, dtype=torch.uint8).view(50, 1, 1, 1).expand(50, 1, 2, 2).contiguous()


def ids(batch: torch.Tensor) -> list[int]:
    return batch[:, 0, 0, 0].tolist()


def test_an_epoch_is_a_permutation_in_full_batches_and_the_next_epoch_another():
    loader = ResidentBatches(IMAGES, batch_size=8, seed=3)
    first, second = [ids(b) for b in loader], [ids(b) for b in loader]
    assert len(loader) == 6 and [len(b) for b in first] == [8] * 6  # 48 of 50: the last partial batch dropped
    seen = sum(first, [])
    assert len(set(seen)) == 48 and seen != sorted(seen)
    assert first != second and loader.state_dict() == {"seed": 3, "epoch": 2, "position": 0}
    assert [ids(b) for b in ResidentBatches(IMAGES, 8, seed=3)] == first  # the seed fixes the order
    assert loader.order(0).device == IMAGES.device


def test_a_state_saved_mid_epoch_resumes_the_same_order():
    straight = ResidentBatches(IMAGES, batch_size=4, seed=7)
    expected = [ids(b) for _ in range(2) for b in straight]
    interrupted = ResidentBatches(IMAGES, batch_size=4, seed=7)
    taken = []
    for batch in interrupted:
        taken.append(ids(batch))
        if len(taken) == 5:
            break
    resumed = ResidentBatches(IMAGES, batch_size=4, seed=0)
    resumed.load_state_dict(interrupted.state_dict())  # {"seed": 7, "epoch": 0, "position": 5}
    taken += [ids(b) for b in resumed] + [ids(b) for b in resumed]
    assert taken == expected


def test_ranks_take_disjoint_parts_of_one_order():
    ranks = [ResidentBatches(IMAGES, batch_size=5, seed=1, rank=r, world_size=3) for r in range(3)]
    parts = [sum((ids(b) for b in loader), []) for loader in ranks]
    assert all(len(part) == 15 for part in parts) and len(set(sum(parts, []))) == 45


def test_labels_travel_with_their_images_and_resume_alike():
    labels = torch.arange(50) * 10  # image i has label 10 * i
    interrupted = ResidentBatches(IMAGES, batch_size=4, seed=7, labels=labels)
    taken = []
    for images, batch_labels in interrupted:
        assert batch_labels.dtype == torch.int64 and batch_labels.tolist() == [10 * i for i in ids(images)]
        taken.append(ids(images))
        if len(taken) == 3:
            break
    resumed = ResidentBatches(IMAGES, batch_size=4, seed=0, labels=labels)
    resumed.load_state_dict(interrupted.state_dict())
    rest = [(ids(images), batch_labels.tolist()) for images, batch_labels in resumed]
    assert all(lab == [10 * i for i in im] for im, lab in rest)
    assert taken + [im for im, _ in rest] == [ids(b) for b in ResidentBatches(IMAGES, batch_size=4, seed=7)]
