"""``in_batches``: long IN lists cut into slices, none lost or repeated."""

from __future__ import annotations

from ecgdesk.store.batches import IN_BATCH, in_batches


def test_every_value_comes_once_in_order_in_slices_of_at_most_the_batch() -> None:
    for n in (0, 1, IN_BATCH - 1, IN_BATCH, IN_BATCH + 1, 3 * IN_BATCH + 7):
        values = list(range(n))
        slices = list(in_batches(values))
        assert [v for part in slices for v in part] == values
        assert all(0 < len(part) <= IN_BATCH for part in slices)
        assert len(slices) == -(-n // IN_BATCH)
    assert list(in_batches("abcde", size=2)) == ["ab", "cd", "e"]
