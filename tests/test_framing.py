"""framing.LineBuffer: line endings, empty lines, chunking, and the byte limit.

Covers LF and CRLF endings (one CR stripped, a lone CR is content), empty lines, the same
result whatever the chunking (including UTF-8 split across feeds), the exact limit with the
terminator counted, and over-long input, terminated or not, including a long unterminated
flood that must never be buffered beyond ``max_line_bytes - 1``.
"""

from __future__ import annotations

import itertools

import pytest

from flackd.codec import CRLF, OVERLONG, LineBuffer, Overlong

Item = bytes | Overlong

#: A stream that exercises every rule at once with a small limit (max 16: content <= 15).
MIXED_STREAM = (
    b"one\n"
    b"two\r\n"
    b"\n\r\n"
    b"lone\rcr\n"
    b"double\r\r\n"
    b"caf\xc3\xa9 \xf0\x9f\x98\x80\n"
    + b"x" * 40
    + b"\n"
    + b"after\n"
    + b"y" * 15
    + b"\n"
    + b"z" * 16
    + b"\n"
    + b"w" * 14
    + b"\r\n"
    + b"v" * 15
    + b"\r\n"
    + b"tail-unterminated"
)
MIXED_MAX = 16
MIXED_EXPECTED: list[Item] = [
    b"one",
    b"two",
    b"lone\rcr",
    b"double\r",
    "café 😀".encode(),
    OVERLONG,
    b"after",
    b"y" * 15,
    OVERLONG,
    b"w" * 14,
    OVERLONG,
    OVERLONG,  # the unterminated tail passes the limit too
]


def feed_all(buffer: LineBuffer, chunks: list[bytes]) -> list[Item]:
    """Feed every chunk in order and collect everything the buffer yields."""
    out: list[Item] = []
    for chunk in chunks:
        out += buffer.feed(chunk)
    return out


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at the given (sorted) positions."""
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# ---------------------------------------------------------------------- line endings


def test_constants() -> None:
    assert CRLF == b"\r\n"
    assert OVERLONG is Overlong.OVERLONG


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"hello\n", [b"hello"]),
        (b"hello\r\n", [b"hello"]),
        (b"one\ntwo\r\nthree\n", [b"one", b"two", b"three"]),
        (b"a\r\r\n", [b"a\r"]),
        (b"a\r\r\r\n", [b"a\r\r"]),
        (b"a\rb\n", [b"a\rb"]),
        (b"\ra\n", [b"\ra"]),
        (b"a b\tc\n", [b"a b\tc"]),
    ],
)
def test_line_endings(data: bytes, expected: list[bytes]) -> None:
    assert LineBuffer().feed(data) == expected


@pytest.mark.parametrize(
    "separator",
    [b"\r", b"\x0b", b"\x0c", b"\xc2\x85", b"\xe2\x80\xa8", b"\xe2\x80\xa9", b"\x1c", b"\x00"],
    ids=["CR", "VT", "FF", "NEL", "LS", "PS", "FS", "NUL"],
)
def test_only_lf_ends_a_line(separator: bytes) -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"left" + separator + b"right") == []
    assert buffer.pending == 9 + len(separator)
    assert buffer.feed(b"\n") == [b"left" + separator + b"right"]
    assert buffer.pending == 0


def test_lone_cr_at_end_of_feed_waits_for_more() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"abc\r") == []
    assert buffer.pending == 4
    assert buffer.feed(b"def\n") == [b"abc\rdef"]


def test_cr_and_lf_in_separate_feeds_is_crlf() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"abc\r") == []
    assert buffer.feed(b"\n") == [b"abc"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\n", []),
        (b"\r\n", []),
        (b"\n\n\r\n\n", []),
        (b"a\n\nb\n", [b"a", b"b"]),
        (b"\r\na\r\n\r\n", [b"a"]),
        (b"\r\r\n", [b"\r"]),  # not empty: only one CR is stripped
    ],
)
def test_empty_lines_are_ignored(data: bytes, expected: list[bytes]) -> None:
    assert LineBuffer().feed(data) == expected


def test_unfinished_line_is_kept_until_lf() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"NICK al") == []
    assert buffer.pending == 7
    assert buffer.feed(b"ice\nJOIN") == [b"NICK alice"]
    assert buffer.pending == 4
    assert buffer.feed(b" #c\n") == [b"JOIN #c"]
    assert buffer.pending == 0


def test_lines_are_bytes() -> None:
    for item in LineBuffer().feed(b"a\nbb\r\n"):
        assert type(item) is bytes


def test_bytearray_input_is_accepted_and_not_aliased() -> None:
    buffer = LineBuffer()
    data = bytearray(b"first\nsec")
    assert buffer.feed(data) == [b"first"]
    data[:] = b"XXXXXXXXX"  # mutating the caller's buffer must not change what was kept
    lines = buffer.feed(bytearray(b"ond\n"))
    assert lines == [b"second"]
    assert type(lines[0]) is bytes


def test_empty_feed_yields_nothing() -> None:
    buffer = LineBuffer()
    assert buffer.feed(b"") == []
    assert buffer.feed(b"ab") == []
    assert buffer.feed(b"") == []
    assert buffer.pending == 2


# ------------------------------------------------------------------------- chunking


def test_mixed_stream_whole() -> None:
    buffer = LineBuffer(MIXED_MAX)
    assert buffer.feed(MIXED_STREAM) == MIXED_EXPECTED
    assert buffer.discarding


def test_mixed_stream_byte_by_byte() -> None:
    buffer = LineBuffer(MIXED_MAX)
    chunks = [MIXED_STREAM[i : i + 1] for i in range(len(MIXED_STREAM))]
    assert feed_all(buffer, chunks) == MIXED_EXPECTED
    assert buffer.discarding


def test_mixed_stream_split_at_every_point() -> None:
    whole = LineBuffer(MIXED_MAX)
    whole.feed(MIXED_STREAM)
    for cut in range(len(MIXED_STREAM) + 1):
        buffer = LineBuffer(MIXED_MAX)
        assert feed_all(buffer, split_at(MIXED_STREAM, [cut])) == MIXED_EXPECTED, cut
        assert buffer.discarded_bytes == whole.discarded_bytes, cut
        assert buffer.pending == whole.pending, cut
        assert buffer.discarding == whole.discarding, cut


def test_mixed_stream_split_at_every_pair_of_points() -> None:
    n = len(MIXED_STREAM)
    for first in range(0, n + 1, 3):
        for second in range(first, n + 1, 5):
            buffer = LineBuffer(MIXED_MAX)
            got = feed_all(buffer, split_at(MIXED_STREAM, [first, second]))
            assert got == MIXED_EXPECTED, (first, second)


@pytest.mark.parametrize("text", ["é", "日本", "😀", "a👩\u200d💻b", "ﬁ€𝄞"])
def test_utf8_split_across_feeds_stays_intact(text: str) -> None:
    raw = text.encode() + b"\r\n"
    for cut in range(len(raw) + 1):
        buffer = LineBuffer()
        lines = feed_all(buffer, [raw[:cut], raw[cut:]])
        assert lines == [text.encode()], cut
        line = lines[0]
        assert isinstance(line, bytes)
        assert line.decode("utf-8") == text


# --------------------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("content", "terminator", "overlong"),
    [
        (511, b"\n", False),
        (512, b"\n", True),
        (510, b"\r\n", False),
        (511, b"\r\n", True),
        (1, b"\n", False),
        (513, b"\n", True),
    ],
)
def test_limit_counts_the_terminator(content: int, terminator: bytes, overlong: bool) -> None:
    line = b"a" * content
    expected: list[Item] = [OVERLONG] if overlong else [line]
    whole = LineBuffer(512)
    assert whole.feed(line + terminator + b"next\n") == [*expected, b"next"]
    assert not whole.discarding
    assert whole.discarded_bytes == (content + len(terminator) if overlong else 0)
    # The same line byte by byte: the limit is the same whether or not the LF is in view.
    data = line + terminator + b"next\n"
    bytewise = LineBuffer(512)
    assert feed_all(bytewise, [data[i : i + 1] for i in range(len(data))]) == [*expected, b"next"]
    assert bytewise.discarded_bytes == whole.discarded_bytes


@pytest.mark.parametrize(
    ("max_bytes", "data", "expected"),
    [
        (3, b"ab\n", [b"ab"]),
        (3, b"abc\n", [OVERLONG]),
        (3, b"a\r\n", [b"a"]),
        (3, b"ab\r\n", [OVERLONG]),
        (3, b"\r\r\n", [b"\r"]),
        (64, b"x" * 63 + b"\n", [b"x" * 63]),
        (64, b"x" * 64 + b"\n", [OVERLONG]),
        (64, b"x" * 62 + b"\r\n", [b"x" * 62]),
        (64, b"x" * 63 + b"\r\n", [OVERLONG]),
    ],
)
def test_limit_with_other_maxima(max_bytes: int, data: bytes, expected: list[Item]) -> None:
    assert LineBuffer(max_bytes).feed(data) == expected


def test_default_limit_is_512() -> None:
    assert LineBuffer().feed(b"a" * 511 + b"\n") == [b"a" * 511]
    assert LineBuffer().feed(b"a" * 512 + b"\n") == [OVERLONG]


def test_unterminated_line_at_the_limit_is_held() -> None:
    buffer = LineBuffer(512)
    assert buffer.feed(b"a" * 511) == []
    assert buffer.pending == 511
    assert not buffer.discarding
    assert buffer.feed(b"\n") == [b"a" * 511]
    assert buffer.discarded_bytes == 0


def test_one_byte_past_the_limit_without_lf_is_overlong_at_once() -> None:
    buffer = LineBuffer(512)
    assert buffer.feed(b"a" * 511) == []
    assert buffer.feed(b"a") == [OVERLONG]
    assert buffer.pending == 0
    assert buffer.discarding
    assert buffer.discarded_bytes == 512


def test_terminated_overlong_line_is_one_item_and_next_line_parses() -> None:
    buffer = LineBuffer(512)
    assert buffer.feed(b"x" * 2000 + b"\r\nNICK alice\r\n") == [OVERLONG, b"NICK alice"]
    assert buffer.discarded_bytes == 2002
    assert not buffer.discarding
    assert buffer.pending == 0


def test_several_overlong_lines_each_reported_once() -> None:
    buffer = LineBuffer(8)
    data = b"123456789\nok\n" + b"abcdefghij\r\n" + b"\n" + b"k" * 30 + b"\nend\n"
    assert buffer.feed(data) == [OVERLONG, b"ok", OVERLONG, OVERLONG, b"end"]
    assert buffer.discarded_bytes == 10 + 12 + 31


def test_unterminated_flood_of_one_mebibyte() -> None:
    max_bytes = 512
    buffer = LineBuffer(max_bytes)
    chunk = b"A" * 4096
    items: list[Item] = []
    for _ in range(256):  # 1 MiB, no LF
        items += buffer.feed(chunk)
        assert buffer.pending <= max_bytes - 1
        assert buffer.discarding
    assert items == [OVERLONG]
    assert buffer.pending == 0
    assert buffer.discarded_bytes == 1024 * 1024
    # The LF ends the discarded line; whatever follows it is a fresh line.
    assert buffer.feed(b"still the long line\nNICK alice\n") == [b"NICK alice"]
    assert not buffer.discarding
    assert buffer.discarded_bytes == 1024 * 1024 + len(b"still the long line\n")


def test_unterminated_flood_byte_by_byte_never_exceeds_the_limit() -> None:
    max_bytes = 64
    buffer = LineBuffer(max_bytes)
    items: list[Item] = []
    for i in range(1, 1000):
        got = buffer.feed(b"B")
        items += got
        assert buffer.pending <= max_bytes - 1
        if i < max_bytes:
            assert got == []
            assert buffer.pending == i
            assert not buffer.discarding
        elif i == max_bytes:
            assert got == [OVERLONG]
            assert buffer.discarding
        else:
            assert got == []
            assert buffer.discarding
    assert items == [OVERLONG]
    assert buffer.discarded_bytes == 999
    assert buffer.pending == 0
    assert buffer.feed(b"\r") == []
    assert buffer.pending == 0  # still discarding: the CR is not kept
    assert buffer.discarded_bytes == 1000
    assert buffer.feed(b"\n") == []
    assert not buffer.discarding
    assert buffer.feed(b"ok\n") == [b"ok"]
    assert buffer.discarded_bytes == 1001


def test_unterminated_flood_of_64_mebibytes_is_bounded() -> None:
    max_bytes = 512
    buffer = LineBuffer(max_bytes)
    chunk = b"\xff" * (64 * 1024)
    overlongs = 0
    for _ in range(1024):  # 64 MiB, fed as 64 KiB reads
        for item in buffer.feed(chunk):
            assert item is OVERLONG
            overlongs += 1
        assert buffer.pending <= max_bytes - 1
        assert buffer.discarding
    assert overlongs == 1
    assert buffer.discarded_bytes == 64 * 1024 * 1024
    assert buffer.feed(b"\nafter\r\n") == [b"after"]
    assert not buffer.discarding


def test_flood_that_starts_inside_a_held_line() -> None:
    buffer = LineBuffer(16)
    assert buffer.feed(b"MSG #c hi") == []
    assert buffer.pending == 9
    assert buffer.feed(b"x" * 100) == [OVERLONG]
    assert buffer.pending == 0
    assert buffer.discarded_bytes == 109
    assert buffer.feed(b"yyy\nzz\n") == [b"zz"]
    assert buffer.discarded_bytes == 113


def test_discarding_ends_exactly_at_lf_in_same_feed() -> None:
    buffer = LineBuffer(16)
    assert buffer.feed(b"q" * 20) == [OVERLONG]
    assert buffer.feed(b"qq\na\nb") == [b"a"]
    assert buffer.pending == 1
    assert not buffer.discarding
    assert buffer.feed(b"\n") == [b"b"]


def test_lf_first_byte_after_overlong_gives_no_empty_line() -> None:
    buffer = LineBuffer(16)
    assert buffer.feed(b"q" * 17) == [OVERLONG]
    assert buffer.feed(b"\n") == []
    assert buffer.feed(b"\n") == []
    assert buffer.discarded_bytes == 18


def test_junk_bytes_counts_the_latest_overlong_line() -> None:
    buffer = LineBuffer(16)
    assert buffer.junk_bytes == 0
    assert buffer.feed(b"ok\n") == [b"ok"]
    assert buffer.junk_bytes == 0
    assert buffer.feed(b"a" * 20 + b"\r\n") == [OVERLONG]
    assert buffer.junk_bytes == 22
    assert buffer.feed(b"fine\n") == [b"fine"]
    assert buffer.junk_bytes == 22  # kept until the next over-long line
    assert buffer.feed(b"b" * 30) == [OVERLONG]
    assert buffer.junk_bytes == 30  # a new over-long line starts a new count
    assert buffer.feed(b"b" * 100) == []
    assert buffer.junk_bytes == 130  # grows while discarding
    assert buffer.feed(b"bb\nnext\n") == [b"next"]
    assert buffer.junk_bytes == 133  # the LF is counted
    assert buffer.discarded_bytes == 22 + 133


def test_junk_bytes_does_not_depend_on_chunking() -> None:
    data = b"x" * 50 + b"\n" + b"y" * 37 + b"\r\nz"
    whole = LineBuffer(16)
    assert whole.feed(data) == [OVERLONG, OVERLONG]
    assert whole.junk_bytes == 39
    for cut in range(len(data) + 1):
        buffer = LineBuffer(16)
        assert feed_all(buffer, split_at(data, [cut])) == [OVERLONG, OVERLONG], cut
        assert buffer.junk_bytes == 39, cut
    bytewise = LineBuffer(16)
    feed_all(bytewise, [data[i : i + 1] for i in range(len(data))])
    assert bytewise.junk_bytes == 39


@pytest.mark.parametrize("max_bytes", [-1, 0, 1, 2])
def test_tiny_max_is_refused(max_bytes: int) -> None:
    with pytest.raises(ValueError, match="at least 3"):
        LineBuffer(max_bytes)


def test_smallest_max_is_accepted() -> None:
    buffer = LineBuffer(3)
    assert buffer.feed(b"ab\nabc") == [b"ab", OVERLONG]
    assert buffer.pending == 0
    assert buffer.discarding
