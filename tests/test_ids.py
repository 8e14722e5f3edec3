"""ids: the message id generator, id parsing and ordering, and the UTC timestamp format.

Covers IdGenerator sequencing, ``<boot>-<seq>`` formatting and parsing (and refusal of
anything else), MessageId ordering, format_timestamp against an independent datetime
computation (UTC, milliseconds truncated), and parse_timestamp.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from flackd.codec import IdGenerator, MessageId, format_timestamp, parse_id, parse_timestamp

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expected_timestamp(unix_seconds: float) -> str:
    """The wire timestamp computed with datetime instead of time.gmtime."""
    moment = datetime.fromtimestamp(unix_seconds, UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


# ------------------------------------------------------------------------ generator


def test_generator_starts_at_one_and_counts_up() -> None:
    gen = IdGenerator(boot=1795507200000)
    ids = [gen.issue() for _ in range(5)]
    assert ids == [(seq, f"1795507200000-{seq}") for seq in range(1, 6)]
    assert [parse_id(text) for _, text in ids] == [
        MessageId(1795507200000, seq) for seq in range(1, 6)
    ]
    assert gen.last_seq == 5


def test_a_restored_generator_goes_on_from_its_boot_and_sequence() -> None:
    gen = IdGenerator(boot=1795507200000)
    gen.boot, gen.last_seq = 42, 99  # as a restore sets them (flackd.hub.image)
    assert gen.issue() == (100, "42-100")


def test_generators_are_independent() -> None:
    first, second = IdGenerator(boot=1), IdGenerator(boot=2)
    assert first.issue() == (1, "1-1")
    assert first.issue() == (2, "1-2")
    assert second.issue() == (1, "2-1")


def test_generator_ids_are_increasing_and_unique() -> None:
    gen = IdGenerator(boot=7)
    ids = [parse_id(text) for _, text in (gen.issue() for _ in range(1000))]
    assert ids == sorted(i for i in ids if i is not None)
    assert len(set(ids)) == 1000


def test_default_boot_is_unix_milliseconds_now() -> None:
    before = time.time_ns() // 1_000_000
    gen = IdGenerator()
    after = time.time_ns() // 1_000_000
    assert before <= gen.boot <= after
    assert gen.issue() == (1, f"{gen.boot}-1")


def test_boot_zero_is_kept() -> None:
    assert IdGenerator(boot=0).issue() == (1, "0-1")


# ----------------------------------------------------------------------- ids as text


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("0-0", MessageId(0, 0)),
        ("1-1", MessageId(1, 1)),
        ("1795507200000-41", MessageId(1795507200000, 41)),
        ("9" * 20 + "-" + "9" * 20, MessageId(10**20 - 1, 10**20 - 1)),
    ],
)
def test_parse_id(text: str, parsed: MessageId) -> None:
    assert parse_id(text) == parsed
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-",
        "1-",
        "-1",
        "a-1",
        "1-a",
        "1-2-3",
        " 1-2",
        "1-2 ",
        "1 -2",
        "1- 2",
        "1-2\n",
        "1_2",
        "12",
        "+1-2",
        "1-+2",
        "-1-2",
        "0x1-2",
        "1.0-2",
        "１-２",  # fullwidth digits
        "١-٢",  # Arabic-Indic digits
        "1" * 21 + "-1",
        "1-" + "1" * 21,
        "*",
    ],
)
def test_parse_id_rejects_junk(text: str) -> None:
    assert parse_id(text) is None


@pytest.mark.parametrize("seq", [1, 2, 41, 10**6, 10**19])
def test_str_parse_round_trip(seq: int) -> None:
    msgid = MessageId(1795507200000, seq)
    assert parse_id(str(msgid)) == msgid


@pytest.mark.parametrize("text", ["1795507200000-001", "01795507200000-1", "00-0"])
def test_parse_id_accepts_only_canonical_spelling(text: str) -> None:
    parsed = parse_id(text)
    assert parsed is None or str(parsed) == text


def test_message_ids_are_frozen_and_hashable() -> None:
    msgid = MessageId(1, 2)
    with pytest.raises(AttributeError):
        msgid.seq = 3  # type: ignore[misc]
    assert {msgid: "x"}[MessageId(1, 2)] == "x"
    assert msgid != MessageId(2, 1)


def test_message_id_ordering() -> None:
    assert MessageId(1, 9) < MessageId(1, 10)  # numeric, not text, order
    assert MessageId(1, 999) < MessageId(2, 1)  # a later boot is later
    assert MessageId(5, 5) <= MessageId(5, 5)
    assert not MessageId(5, 5) < MessageId(5, 5)
    assert MessageId(3, 1) > MessageId(2, 10**9)
    unsorted = [MessageId(2, 1), MessageId(1, 10), MessageId(1, 2), MessageId(2, 0)]
    assert sorted(unsorted) == [MessageId(1, 2), MessageId(1, 10), MessageId(2, 0), MessageId(2, 1)]


# ------------------------------------------------------------------------ timestamps


@pytest.mark.parametrize(
    ("unix_seconds", "text"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (0.5, "1970-01-01T00:00:00.500Z"),
        (0.9996, "1970-01-01T00:00:00.999Z"),
        (59.0004, "1970-01-01T00:00:59.000Z"),
        (1795507203.1239, "2026-11-24T08:00:03.123Z"),
        (1795507203.9999, "2026-11-24T08:00:03.999Z"),
        (1795507203, "2026-11-24T08:00:03.000Z"),
        (951782400.25, "2000-02-29T00:00:00.250Z"),
        (1234567890.0987, "2009-02-13T23:31:30.098Z"),
        (4102444799.9994, "2099-12-31T23:59:59.999Z"),
    ],
)
def test_format_timestamp(unix_seconds: float, text: str) -> None:
    assert format_timestamp(unix_seconds) == text
    assert expected_timestamp(unix_seconds) == text  # the table agrees with datetime


def test_format_timestamp_matches_datetime_over_many_dates() -> None:
    for k in range(3000):
        millis = k * 1_370_000_123  # steps of about 16 days, up to about 2100
        unix_seconds = (millis + 0.5) / 1000  # half-way inside the millisecond
        text = format_timestamp(unix_seconds)
        assert text == expected_timestamp(unix_seconds), millis
        assert parse_timestamp(text) == EPOCH + timedelta(milliseconds=millis), millis


def test_format_timestamp_truncates_never_rounds() -> None:
    assert format_timestamp(1795507203.1236) == "2026-11-24T08:00:03.123Z"
    assert format_timestamp(1795507203.9996) == "2026-11-24T08:00:03.999Z"  # not :04.000


def test_format_timestamp_shape() -> None:
    text = format_timestamp(1795507203.1239)
    assert len(text) == 24
    assert text[4] == text[7] == "-"
    assert text[10] == "T"
    assert text[13] == text[16] == ":"
    assert text[19] == "."
    assert text.endswith("Z")
    assert text.isascii()


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("1970-01-01T00:00:00.000Z", datetime(1970, 1, 1, tzinfo=UTC)),
        (
            "2026-11-24T09:20:03.123Z",
            datetime(2026, 11, 24, 9, 20, 3, 123000, tzinfo=UTC),
        ),
        ("2000-02-29T23:59:59.999Z", datetime(2000, 2, 29, 23, 59, 59, 999000, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, moment: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == moment
    assert parsed is not None
    assert parsed.utcoffset() == timedelta(0)
    assert format_timestamp(moment.timestamp() + 0.0004) == text


@pytest.mark.parametrize("unix_seconds", [0.0, 1.5, 1795507203.1239, 4102444799.9994])
def test_timestamp_round_trip(unix_seconds: float) -> None:
    text = format_timestamp(unix_seconds)
    parsed = parse_timestamp(text)
    assert parsed is not None
    assert format_timestamp(parsed.timestamp() + 0.0004) == text
    assert timedelta(0) <= datetime.fromtimestamp(unix_seconds, UTC) - parsed
    assert datetime.fromtimestamp(unix_seconds, UTC) - parsed < timedelta(milliseconds=1)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "*",
        "junk",
        "2026-11-24T09:20:03Z",
        "2026-11-24T09:20:03.12Z",
        "2026-11-24T09:20:03.1234Z",
        "2026-11-24 09:20:03.123Z",
        "2026-11-24T09:20:03.123",
        "2026-11-24T09:20:03.123z",
        "2026-11-24T09:20:03.123+00:00",
        " 2026-11-24T08:00:03.123Z",
        "2026-11-24T09:20:03.123Z ",
        "2026-11-24T09:20:03.123Z\n",
        "26-11-24T09:20:03.123Z",
        "2026/11/24T09:20:03.123Z",
    ],
)
def test_parse_timestamp_rejects_junk(text: str) -> None:
    assert parse_timestamp(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "2026-13-01T00:00:00.000Z",
        "2026-00-10T00:00:00.000Z",
        "2026-02-30T00:00:00.000Z",
        "2026-11-24T24:00:00.000Z",
        "2026-11-24T09:60:00.000Z",
    ],
)
def test_parse_timestamp_out_of_range_is_none(text: str) -> None:
    assert parse_timestamp(text) is None


@pytest.mark.parametrize(
    "text",
    [
        "٢٠٢٦-١١-٢٤T٠٩:٢٠:٠٣.١٢٣Z",  # Arabic-Indic digits
        "２０２６-11-24T09:20:03.123Z",  # fullwidth digits in the year
    ],
)
def test_parse_timestamp_rejects_non_ascii_digits(text: str) -> None:
    assert parse_timestamp(text) is None
