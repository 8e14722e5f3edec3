"""ChannelHistory on its own: the bounded ring, eviction, find/delete, and paging.

Covers ``append`` (what falls off and ``last_dropped_seq``), ``find`` and ``delete``,
``latest`` / ``before`` / ``after`` at every boundary (empty ring, counts larger than the
ring, cursors before the first and after the last entry, cursors on and between deleted
entries), the ``more`` flag, and the ``gap`` flag (exact: set only for a cursor older than
the newest entry the ring dropped for lack of room; deletions never cause it). A
model-based test checks every paging call against a plain list.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flackd.codec.events import Message
from flackd.history import ChannelHistory, Entry, Page

BOOT = 1795507200000


def message(seq: int) -> Message:
    return Message("#c", f"{BOOT}-{seq}", "2026-11-24T09:20:03.123Z", "alice", f"text {seq}")


def entry(seq: int, author_sid: int = 1) -> Entry:
    return Entry(seq, message(seq), author_sid)


def ring(size: int, seqs: list[int]) -> ChannelHistory:
    history = ChannelHistory(size)
    for seq in seqs:
        history.append(entry(seq))
    return history


def seqs(page: Page) -> list[int]:
    """The sequence numbers of a page's messages (parsed back from their ids)."""
    return [int(m.id.split("-")[1]) for m in page.messages]


# ---------------------------------------------------------------------------- append


def test_new_ring_is_empty_and_has_dropped_nothing() -> None:
    history = ChannelHistory(3)
    assert len(history) == 0
    assert history.size == 3
    assert history.last_dropped_seq == 0


def test_append_below_capacity_drops_nothing() -> None:
    history = ChannelHistory(3)
    assert history.append(entry(1)) is None
    assert history.append(entry(2)) is None
    assert history.append(entry(3)) is None
    assert len(history) == 3
    assert history.last_dropped_seq == 0


def test_append_at_capacity_returns_the_oldest_entry_and_records_its_seq() -> None:
    history = ring(3, [1, 2, 3])
    first = history.find(1)
    dropped = history.append(entry(4))
    assert dropped is first
    assert dropped is not None
    assert dropped.seq == 1
    assert history.last_dropped_seq == 1
    assert len(history) == 3
    assert seqs(history.latest(10)) == [2, 3, 4]

    dropped = history.append(entry(7))
    assert dropped is not None
    assert dropped.seq == 2
    assert history.last_dropped_seq == 2
    assert seqs(history.latest(10)) == [3, 4, 7]


def test_ring_of_one_keeps_only_the_newest() -> None:
    history = ChannelHistory(1)
    assert history.append(entry(5)) is None
    dropped = history.append(entry(9))
    assert dropped is not None
    assert dropped.seq == 5
    assert history.last_dropped_seq == 5
    assert seqs(history.latest(5)) == [9]


def test_dropped_entry_keeps_its_author() -> None:
    history = ChannelHistory(1)
    history.append(entry(1, author_sid=42))
    dropped = history.append(entry(2, author_sid=7))
    assert dropped is not None
    assert dropped.author_sid == 42


# ---------------------------------------------------------------------------- find / delete


def test_find_returns_the_stored_entry() -> None:
    history = ring(5, [2, 4, 6])
    found = history.find(4)
    assert found is not None
    assert found.seq == 4
    assert found.message == message(4)


@pytest.mark.parametrize("seq", [0, 1, 3, 5, 7, 100])
def test_find_of_an_absent_seq_is_none(seq: int) -> None:
    assert ring(5, [2, 4, 6]).find(seq) is None


def test_find_in_an_empty_ring_is_none() -> None:
    assert ChannelHistory(3).find(1) is None


def test_find_of_an_evicted_entry_is_none() -> None:
    history = ring(2, [1, 2, 3])
    assert history.find(1) is None
    assert history.find(2) is not None


def test_delete_removes_and_returns_the_entry() -> None:
    history = ring(5, [1, 2, 3])
    deleted = history.delete(2)
    assert deleted is not None
    assert deleted.seq == 2
    assert history.find(2) is None
    assert len(history) == 2
    assert seqs(history.latest(10)) == [1, 3]


def test_delete_twice_or_absent_or_empty_is_none() -> None:
    history = ring(5, [1, 2, 3])
    assert history.delete(2) is not None
    assert history.delete(2) is None
    assert history.delete(99) is None
    assert ChannelHistory(3).delete(1) is None
    assert seqs(history.latest(10)) == [1, 3]


def test_delete_does_not_count_as_dropped_and_frees_a_slot() -> None:
    history = ring(3, [1, 2, 3])
    history.delete(1)
    assert history.last_dropped_seq == 0
    assert history.append(entry(4)) is None  # room again: nothing falls off
    assert history.last_dropped_seq == 0
    assert seqs(history.latest(10)) == [2, 3, 4]


def test_delete_first_and_last() -> None:
    history = ring(5, [1, 2, 3, 4])
    assert history.delete(1) is not None
    assert history.delete(4) is not None
    assert seqs(history.latest(10)) == [2, 3]
    assert history.find(2) is not None
    assert history.find(3) is not None


# ---------------------------------------------------------------------------- latest


@pytest.mark.parametrize("count", [1, 5, 100])
def test_latest_of_empty_ring(count: int) -> None:
    assert ChannelHistory(5).latest(count) == Page([], more=False)


@pytest.mark.parametrize(
    ("count", "expected", "more"),
    [
        (1, [5], True),
        (2, [4, 5], True),
        (4, [2, 3, 4, 5], True),
        (5, [1, 2, 3, 4, 5], False),
        (6, [1, 2, 3, 4, 5], False),
        (1000, [1, 2, 3, 4, 5], False),
    ],
)
def test_latest_is_the_newest_oldest_first(count: int, expected: list[int], more: bool) -> None:
    page = ring(10, [1, 2, 3, 4, 5]).latest(count)
    assert seqs(page) == expected
    assert page.more is more
    assert page.gap is False


def test_latest_after_eviction_does_not_claim_more() -> None:
    # Evicted messages are gone: "more" means "more that HISTORY can still give you".
    page = ring(3, [1, 2, 3, 4, 5]).latest(3)
    assert seqs(page) == [3, 4, 5]
    assert page.more is False


def test_latest_skips_deleted() -> None:
    history = ring(10, [1, 2, 3, 4, 5])
    history.delete(5)
    history.delete(3)
    page = history.latest(2)
    assert seqs(page) == [2, 4]
    assert page.more is True


# ---------------------------------------------------------------------------- before


@pytest.mark.parametrize("cursor", [0, 1, 50])
def test_before_on_empty_ring(cursor: int) -> None:
    assert ChannelHistory(5).before(cursor, 10) == Page([], more=False)


@pytest.mark.parametrize(
    ("cursor", "count", "expected", "more"),
    [
        (10, 2, [], False),  # cursor is the first entry
        (5, 2, [], False),  # cursor before the first entry
        (0, 2, [], False),
        (11, 2, [10], False),  # between entries
        (20, 2, [12, 13], True),  # between entries: 20 is not stored
        (12, 5, [10, 11], False),
        (30, 2, [12, 13], True),  # the last entry is excluded
        (31, 2, [13, 30], True),  # after the last entry
        (1000, 2, [13, 30], True),
        (1000, 6, [10, 11, 12, 13, 30], False),  # count larger than the ring
        (1000, 5, [10, 11, 12, 13, 30], False),
        (1000, 4, [11, 12, 13, 30], True),
    ],
)
def test_before(cursor: int, count: int, expected: list[int], more: bool) -> None:
    page = ring(10, [10, 11, 12, 13, 30]).before(cursor, count)
    assert seqs(page) == expected
    assert page.more is more
    assert page.gap is False


def test_before_a_deleted_entry_and_between_deleted_entries() -> None:
    history = ring(10, [1, 2, 3, 4, 5, 6])
    history.delete(3)
    history.delete(4)
    assert seqs(history.before(4, 10)) == [1, 2]  # cursor is itself deleted
    assert seqs(history.before(3, 10)) == [1, 2]
    assert seqs(history.before(5, 10)) == [1, 2]
    page = history.before(5, 1)
    assert seqs(page) == [2]
    assert page.more is True


def test_before_an_evicted_cursor_is_empty() -> None:
    history = ring(3, [1, 2, 3, 4, 5])  # holds 3, 4, 5
    assert history.before(2, 10) == Page([], more=False)
    assert seqs(history.before(4, 10)) == [3]


def test_before_never_reports_a_gap() -> None:
    history = ring(2, [1, 2, 3, 4])
    assert history.before(1, 10).gap is False
    assert history.before(100, 10).gap is False


# ---------------------------------------------------------------------------- after


@pytest.mark.parametrize("cursor", [0, 1, 50])
def test_after_on_empty_ring(cursor: int) -> None:
    assert ChannelHistory(5).after(cursor, 10) == Page([], more=False, gap=False)


@pytest.mark.parametrize(
    ("cursor", "count", "expected", "more"),
    [
        (0, 2, [10, 11], True),  # cursor before the first entry
        (9, 2, [10, 11], True),
        (0, 5, [10, 11, 12, 13, 30], False),
        (0, 100, [10, 11, 12, 13, 30], False),  # count larger than the ring
        (10, 2, [11, 12], True),  # the cursor itself is excluded
        (11, 3, [12, 13, 30], False),
        (20, 5, [30], False),  # between entries
        (13, 1, [30], False),
        (30, 5, [], False),  # cursor is the last entry
        (31, 5, [], False),  # after the last entry
        (10**9, 5, [], False),
    ],
)
def test_after(cursor: int, count: int, expected: list[int], more: bool) -> None:
    page = ring(10, [10, 11, 12, 13, 30]).after(cursor, count)
    assert seqs(page) == expected
    assert page.more is more
    assert page.gap is False


def test_after_a_deleted_entry_and_between_deleted_entries() -> None:
    history = ring(10, [1, 2, 3, 4, 5, 6])
    history.delete(3)
    history.delete(4)
    assert seqs(history.after(3, 10)) == [5, 6]  # cursor is itself deleted
    assert seqs(history.after(2, 10)) == [5, 6]
    assert seqs(history.after(4, 10)) == [5, 6]
    page = history.after(2, 1)
    assert seqs(page) == [5]
    assert page.more is True


def test_after_walks_the_ring_without_gap_or_duplicate() -> None:
    history = ring(50, list(range(1, 24)))
    history.delete(7)
    seen: list[int] = []
    cursor = 0
    while True:
        page = history.after(cursor, 4)
        seen += seqs(page)
        if not page.more:
            break
        cursor = seqs(page)[-1]
    assert seen == [s for s in range(1, 24) if s != 7]


def test_before_walks_the_ring_without_gap_or_duplicate() -> None:
    history = ring(50, list(range(1, 24)))
    history.delete(20)
    page = history.latest(4)
    seen = seqs(page)
    while page.more:
        page = history.before(seen[0], 4)
        seen = seqs(page) + seen
    assert seen == [s for s in range(1, 24) if s != 20]


# ---------------------------------------------------------------------------- gap


@pytest.mark.parametrize("cursor", [0, 1, 2, 3, 99])
def test_no_gap_while_nothing_was_dropped(cursor: int) -> None:
    assert ring(5, [1, 2, 3]).after(cursor, 10).gap is False


@pytest.mark.parametrize(
    ("cursor", "gap", "expected"),
    [
        (0, True, [5, 6, 7]),  # missed 1..4
        (1, True, [5, 6, 7]),  # missed 2..4
        (3, True, [5, 6, 7]),  # missed 4
        (4, False, [5, 6, 7]),  # saw the newest dropped one: nothing missed
        (5, False, [6, 7]),
        (7, False, []),
        (8, False, []),
    ],
)
def test_gap_is_exact_after_eviction(cursor: int, gap: bool, expected: list[int]) -> None:
    history = ring(3, [1, 2, 3, 4, 5, 6, 7])
    assert history.last_dropped_seq == 4
    page = history.after(cursor, 10)
    assert page.gap is gap
    assert seqs(page) == expected


def test_deleted_messages_do_not_cause_a_gap() -> None:
    history = ring(3, [1, 2, 3])
    history.delete(2)
    history.delete(3)
    history.append(entry(4))
    history.append(entry(5))  # ring: 1, 4, 5 - nothing dropped
    page = history.after(1, 10)
    assert seqs(page) == [4, 5]
    assert page.gap is False
    assert history.after(0, 10).gap is False


def test_gap_with_sparse_sequence_numbers() -> None:
    # Sequence numbers are global across channels, so one channel's are sparse: a cursor
    # between the newest dropped seq and the oldest held one missed nothing here.
    history = ring(2, [10, 20, 30])  # dropped 10; holds 20, 30
    assert history.after(15, 10) == Page([message(20), message(30)], more=False, gap=False)
    assert history.after(9, 10).gap is True
    assert history.after(10, 10).gap is False


# ---------------------------------------------------------------------------- model


_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 3)),  # seq step
        st.tuples(st.just("delete"), st.integers(0, 40)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 6),
    ops=_OPS,
    cursor=st.integers(0, 90),
    count=st.integers(1, 8),
)
def test_paging_matches_a_list_model(
    size: int, ops: list[tuple[str, int]], cursor: int, count: int
) -> None:
    history = ChannelHistory(size)
    model: list[int] = []
    dropped = 0
    last = 0
    for op, arg in ops:
        if op == "append":
            last += arg
            result = history.append(entry(last))
            if len(model) >= size:
                dropped = model.pop(0)
                assert result is not None
                assert result.seq == dropped
            else:
                assert result is None
            model.append(last)
        else:
            result = history.delete(arg)
            if arg in model:
                model.remove(arg)
                assert result is not None
                assert result.seq == arg
            else:
                assert result is None
    assert len(history) == len(model)
    assert history.last_dropped_seq == dropped
    for seq in range(last + 2):
        assert (history.find(seq) is not None) == (seq in model)

    latest = history.latest(count)
    assert seqs(latest) == model[-count:]
    assert latest.more is (len(model) > count)

    older = [s for s in model if s < cursor]
    before = history.before(cursor, count)
    assert seqs(before) == older[-count:]
    assert before.more is (len(older) > count)

    newer = [s for s in model if s > cursor]
    after = history.after(cursor, count)
    assert seqs(after) == newer[:count]
    assert after.more is (len(newer) > count)
    assert after.gap is (cursor < dropped)
