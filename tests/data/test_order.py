"""EpochOrder: a shuffle per epoch from the seed, resumable at any batch, split across ranks."""

from __future__ import annotations

from dcgan.data.order import EpochOrder


def passes(order: EpochOrder, n: int) -> list[list[list[int]]]:
    """``n`` passes over ``order`` as training takes them (``next_batch`` advanced batch by batch)."""
    taken = []
    for _ in range(n):
        epoch = []
        for batch in order:
            epoch.append(batch)
            order.next_batch += 1
        taken.append(epoch)
    return taken


def test_each_epoch_is_another_permutation_in_full_batches():
    first, second = passes(EpochOrder(50, batch_size=8, seed=3), 2)
    assert len(EpochOrder(50, 8, 3)) == 6 and [len(b) for b in first] == [8] * 6  # 48 of 50: a partial batch dropped
    seen = sum(first, [])
    assert len(set(seen)) == 48 and seen != sorted(seen) and first != second
    assert passes(EpochOrder(50, 8, seed=3), 2) == [first, second]  # the seed fixes the order
    assert passes(EpochOrder(50, 8, seed=4), 1)[0] != first


def test_a_pass_starts_at_next_batch_whatever_came_before():
    straight = sum(passes(EpochOrder(50, batch_size=4, seed=7), 3), [])
    for stop in (5, 12, 17):  # mid-epoch, at an epoch's end, mid-epoch of the second
        resumed = EpochOrder(50, batch_size=4, seed=7)
        resumed.next_batch = stop
        assert resumed.position() == divmod(stop, 12)
        assert sum(passes(resumed, 3), [])[: len(straight) - stop] == straight[stop:]


def test_an_abandoned_pass_does_not_move_the_order():
    order = EpochOrder(50, batch_size=4, seed=7)
    first = next(iter(order))  # a loader's workers fetch ahead; only next_batch says what training took
    assert next(iter(order)) == first


def test_ranks_take_disjoint_parts_of_one_order():
    ranks = [EpochOrder(50, batch_size=5, seed=1, rank=r, world_size=3) for r in range(3)]
    parts = [sum(passes(order, 1)[0], []) for order in ranks]
    assert all(len(part) == 15 for part in parts) and len(set(sum(parts, []))) == 45


def test_a_set_smaller_than_the_ranks_batch_still_gives_every_rank_a_batch():
    ranks = [EpochOrder(10, batch_size=3, seed=0, rank=r, world_size=4) for r in range(4)]  # 3 each, padded
    assert [len(passes(order, 1)[0]) for order in ranks] == [1, 1, 1, 1]


def test_without_shuffle_every_epoch_is_in_index_order():  # Lightning's overfit_batches
    first, second = passes(EpochOrder(10, batch_size=4, seed=3, shuffle=False), 2)
    assert first == second == [[0, 1, 2, 3], [4, 5, 6, 7]]
