"""TokenBucket: flood-control arithmetic on a clock passed in (no sleeping, no real time).

Covers: a full bucket lets ``burst`` lines through without waiting; after that the wait is
the deficit divided by the rate; refilling over time, capped at ``burst``; waiting exactly
the returned time brings the bucket back to zero; cost 0 (PING, PONG, QUIT) never waits
and spends nothing; a clock that goes backwards adds no tokens; ``full`` says when the
bucket is back at its burst.
"""

from __future__ import annotations

import pytest

from flackd.ratelimit import TokenBucket


def drain(bucket: TokenBucket, now: float) -> None:
    """Spend the whole bucket at ``now``; each charge must have been free."""
    for _ in range(int(bucket.burst)):
        assert bucket.charge(1, now) == 0.0


def test_parameters_are_stored_as_floats() -> None:
    bucket = TokenBucket(10, 2, now=0.0)
    assert bucket.burst == 10.0
    assert bucket.rate == 2.0
    assert isinstance(bucket.burst, float)
    assert isinstance(bucket.rate, float)


@pytest.mark.parametrize(("burst", "rate"), [(1, 1.0), (10, 2.0), (3, 0.5), (50, 100.0)])
def test_burst_lines_are_free_then_wait_is_deficit_over_rate(burst: int, rate: float) -> None:
    bucket = TokenBucket(burst, rate, now=100.0)
    for _ in range(burst):
        assert bucket.charge(1, 100.0) == 0.0
    for deficit in range(1, 6):
        assert bucket.charge(1, 100.0) == pytest.approx(deficit / rate)


def test_expensive_commands_count_their_cost() -> None:
    bucket = TokenBucket(10, 2.0, now=0.0)
    assert bucket.charge(3, 0.0) == 0.0  # 7 left
    assert bucket.charge(3, 0.0) == 0.0  # 4 left
    assert bucket.charge(3, 0.0) == 0.0  # 1 left
    assert bucket.charge(3, 0.0) == pytest.approx(1.0)  # -2: 2 tokens / 2 per s


def test_a_charge_may_overdraw_by_one_command() -> None:
    # A command is never refused: even one bigger than the bucket is carried out.
    bucket = TokenBucket(2, 4.0, now=0.0)
    assert bucket.charge(10, 0.0) == pytest.approx(8 / 4.0)


def test_refill_over_time() -> None:
    bucket = TokenBucket(10, 2.0, now=0.0)
    drain(bucket, 0.0)
    assert bucket.charge(1, 0.0) == pytest.approx(0.5)  # -1
    # 1.5 s later: -1 + 3 = 2 tokens
    assert bucket.charge(1, 1.5) == 0.0
    assert bucket.charge(1, 1.5) == 0.0
    assert bucket.charge(1, 1.5) == pytest.approx(0.5)


def test_waiting_the_returned_time_brings_the_bucket_back_to_zero() -> None:
    bucket = TokenBucket(4, 2.0, now=0.0)
    drain(bucket, 0.0)
    now = 0.0
    for _ in range(5):
        wait = bucket.charge(1, now)
        assert wait == pytest.approx(0.5)
        now += wait  # the reader sleeps exactly that long; the next line is paced the same


def test_refill_caps_at_burst() -> None:
    bucket = TokenBucket(5, 2.0, now=0.0)
    drain(bucket, 0.0)
    # an hour of idleness refills to 5, not 7200
    drain(bucket, 3600.0)
    assert bucket.charge(1, 3600.0) == pytest.approx(0.5)


def test_a_new_bucket_is_full_and_does_not_exceed_burst() -> None:
    bucket = TokenBucket(3, 1.0, now=0.0)
    drain(bucket, 1000.0)  # much later, still only 3
    assert bucket.charge(1, 1000.0) == pytest.approx(1.0)


@pytest.mark.parametrize("cost", [0, 0.0, -1])
def test_free_commands_never_wait_and_spend_nothing(cost: float) -> None:
    bucket = TokenBucket(2, 1.0, now=0.0)
    for _ in range(100):
        assert bucket.charge(cost, 0.0) == 0.0
    drain(bucket, 0.0)  # the bucket is still full
    assert bucket.charge(1, 0.0) == pytest.approx(1.0)
    assert bucket.charge(1, 0.0) == pytest.approx(2.0)
    # overdrawn bucket: a free command still does not wait
    assert bucket.charge(cost, 0.0) == 0.0
    assert bucket.charge(1, 0.0) == pytest.approx(3.0)


def test_time_going_backwards_adds_no_tokens() -> None:
    bucket = TokenBucket(4, 1.0, now=10.0)
    drain(bucket, 10.0)
    assert bucket.charge(1, 5.0) == pytest.approx(1.0)  # earlier clock: no refill
    assert bucket.charge(1, 0.0) == pytest.approx(2.0)
    # and going back does not move the refill stamp back either: at 11 only 1 s refilled
    assert bucket.charge(1, 11.0) == pytest.approx(2.0)  # -2 + 1 - 1


def test_same_instant_adds_no_tokens() -> None:
    bucket = TokenBucket(1, 1.0, now=7.0)
    assert bucket.charge(1, 7.0) == 0.0
    assert bucket.charge(1, 7.0) == pytest.approx(1.0)


def test_fractional_refill() -> None:
    bucket = TokenBucket(1, 0.5, now=0.0)
    assert bucket.charge(1, 0.0) == 0.0
    assert bucket.charge(1, 1.0) == pytest.approx(1.0)  # 0 + 0.5 - 1 = -0.5 -> 1 s
    assert bucket.charge(1, 2.0) == pytest.approx(2.0)  # -0.5 + 0.5 - 1 = -1 -> 2 s


def test_full() -> None:
    bucket = TokenBucket(2, 1.0, now=0.0)
    assert bucket.full(0.0)
    assert bucket.charge(1, 0.0) == 0.0
    assert not bucket.full(0.0)
    assert not bucket.full(0.5)
    assert bucket.full(1.0)
    assert bucket.full(100.0)  # stays full, capped


def test_full_after_overdraw() -> None:
    bucket = TokenBucket(2, 1.0, now=0.0)
    assert bucket.charge(3, 0.0) == pytest.approx(1.0)  # -1
    assert not bucket.full(2.9)
    assert bucket.full(3.0)


def test_full_is_not_fooled_by_a_clock_going_backwards() -> None:
    bucket = TokenBucket(1, 1.0, now=10.0)
    bucket.charge(1, 10.0)
    assert not bucket.full(0.0)
    assert not bucket.full(10.5)
    assert bucket.full(11.0)
