"""Property tests (hypothesis) of the codec: framing, decoding, parsing, encoding.

Covers: LineBuffer never raises, agrees with a simple reference model whatever the
chunking, and never yields or holds more than ``max - 1`` bytes; decode_line only ever
returns a str or raises InvalidUtf8/BadCharacter; parse_command only ever returns or raises
ProtocolError, whose reply encodes cleanly; encode_event always emits exactly one clean,
valid UTF-8, CRLF-terminated line whatever text is in any field; and format_event and
parse_event round-trip events whose parameters are wire-safe words.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flackd.codec import (
    OVERLONG,
    VERBS,
    BadCharacter,
    InvalidUtf8,
    LineBuffer,
    Overlong,
    ProtocolError,
    Verb,
    decode_line,
    encode_event,
    events,
    format_event,
    neutralise,
    parse_command,
    parse_event,
)
from tests.test_grammar import assert_clean_wire
from tests.test_text import REFUSED_BYTES

e = events

PROPERTY = settings(max_examples=200, deadline=None)

Item = bytes | Overlong


# -------------------------------------------------------------------------- framing


@dataclass
class Model:
    """What a LineBuffer must have produced after being fed ``data`` in any chunks."""

    items: list[Item]
    pending: int
    discarding: bool
    discarded_bytes: int


def reference(data: bytes, max_bytes: int) -> Model:
    """An obviously-correct (quadratic, unbounded) framing of ``data``."""
    limit = max_bytes - 1
    *terminated, tail = data.split(b"\n")
    items: list[Item] = []
    discarded = 0
    for line in terminated:
        if len(line) > limit:
            items.append(OVERLONG)
            discarded += len(line) + 1
            continue
        if line.endswith(b"\r"):
            line = line[:-1]
        if line:
            items.append(line)
    if len(tail) > limit:  # an unterminated line past the limit is reported at once
        items.append(OVERLONG)
        return Model(items, 0, True, discarded + len(tail))
    return Model(items, len(tail), False, discarded)


#: Bytes biased towards what matters to framing: LF, CR, multi-byte UTF-8, plain text.
stream_pieces = st.sampled_from(
    [b"\n", b"\r", b"\r\n", b"a", b"bc", b"\xc3\xa9", b"\xf0\x9f\x98\x80", b"\x00", b" "]
)
streams = st.one_of(
    st.binary(max_size=600),
    st.lists(stream_pieces, max_size=200).map(b"".join),
    st.lists(st.one_of(stream_pieces, st.binary(max_size=40)), max_size=40).map(b"".join),
)


@st.composite
def chunked(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """A byte stream and the same bytes cut at arbitrary points."""
    data = draw(streams)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=30)))
    bounds = [0, *cuts, len(data)]
    return data, [data[a:b] for a, b in itertools.pairwise(bounds)]


@PROPERTY
@given(stream=chunked(), max_bytes=st.integers(3, 64))
def test_line_buffer_matches_the_reference_however_chunked(
    stream: tuple[bytes, list[bytes]], max_bytes: int
) -> None:
    data, chunks = stream
    buffer = LineBuffer(max_bytes)
    items: list[Item] = []
    for chunk in chunks:
        for item in buffer.feed(chunk):
            if item is not OVERLONG:
                assert isinstance(item, bytes)
                assert b"\n" not in item
                assert item
                assert len(item) <= max_bytes - 1
            items.append(item)
        assert 0 <= buffer.pending <= max_bytes - 1
    expected = reference(data, max_bytes)
    assert items == expected.items
    assert buffer.pending == expected.pending
    assert buffer.discarding == expected.discarding
    assert buffer.discarded_bytes == expected.discarded_bytes


@PROPERTY
@given(stream=chunked(), max_bytes=st.integers(3, 600))
def test_line_buffer_whole_equals_chunked(
    stream: tuple[bytes, list[bytes]], max_bytes: int
) -> None:
    data, chunks = stream
    whole = LineBuffer(max_bytes)
    whole_items = whole.feed(bytearray(data))
    pieces = LineBuffer(max_bytes)
    piece_items: list[Item] = []
    for chunk in chunks:
        piece_items += pieces.feed(chunk)
    assert piece_items == whole_items
    assert (pieces.pending, pieces.discarding, pieces.discarded_bytes) == (
        whole.pending,
        whole.discarding,
        whole.discarded_bytes,
    )


# ------------------------------------------------------------------------- decoding


def decode_outcome(raw: bytes) -> str | InvalidUtf8 | BadCharacter:
    """decode_line's result or its documented exception; anything else propagates."""
    try:
        return decode_line(raw)
    except (InvalidUtf8, BadCharacter) as exc:
        return exc


@PROPERTY
@given(raw=st.one_of(st.binary(max_size=600), st.text(max_size=200).map(str.encode)))
def test_decode_line_returns_str_or_raises_its_own_errors(raw: bytes) -> None:
    outcome = decode_outcome(raw)
    refused = [raw.index(b) for b in REFUSED_BYTES if b in raw]
    if isinstance(outcome, BadCharacter):
        assert outcome.byte in REFUSED_BYTES
        assert raw.index(outcome.byte) == min(refused)  # the first refused byte
    elif isinstance(outcome, InvalidUtf8):
        assert refused == []
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    else:
        assert refused == []
        assert outcome.encode("utf-8") == raw


# -------------------------------------------------------------------------- parsing

#: Characters decode_line can produce: no C0 but TAB, no DEL, no surrogates.
line_chars = st.characters(codec="utf-8", exclude_characters="".join(chr(b) for b in REFUSED_BYTES))
words = st.one_of(
    st.text(line_chars, max_size=12),
    st.sampled_from(["#c", "#general", "alice", "1-2", "1795507200000-41", "BEFORE", "AFTER"]),
    st.integers(-5, 20_000).map(str),
    st.sampled_from([":", "/", " ", "  ", "\t", "١٢", "\u2028"]),
)
verb_words = st.sampled_from(sorted(VERBS)).flatmap(
    lambda verb: st.sampled_from([verb, verb.lower(), "/" + verb, " " + verb.capitalize()])
)
client_lines = st.one_of(
    st.text(line_chars, max_size=120),
    st.builds(
        lambda verb, args: " ".join([verb, *args]),
        verb_words,
        st.lists(words, max_size=6),
    ),
)


def parse_outcome(line: str) -> Verb | ProtocolError:
    """The verb row parse_command found, or its ProtocolError; anything else propagates."""
    try:
        return parse_command(line)[0]
    except ProtocolError as err:
        return err


@PROPERTY
@given(line=client_lines)
def test_parse_command_returns_or_raises_protocol_error(line: str) -> None:
    outcome = parse_outcome(line)
    if isinstance(outcome, ProtocolError):
        assert outcome.reply.code in ("UNKNOWN_COMMAND", "NEED_MORE_PARAMS", "INVALID_PARAMS")
        assert_clean_wire(encode_event(outcome.reply))
    else:
        assert outcome is VERBS[outcome.name]


@PROPERTY
@given(raw=st.binary(max_size=511))
def test_any_framed_line_decodes_and_parses_without_surprises(raw: bytes) -> None:
    for item in LineBuffer(512).feed(raw + b"\n"):
        assert isinstance(item, bytes)
        text = decode_outcome(item)
        if isinstance(text, str):
            outcome = parse_outcome(text)
            if isinstance(outcome, ProtocolError):
                assert_clean_wire(encode_event(outcome.reply))


# ------------------------------------------------------------------------- encoding

any_text = st.text(max_size=40)  # all of Unicode except surrogates
any_params = st.lists(any_text, max_size=4).map(tuple)
any_int = st.integers(-(10**6), 10**12)

any_event: st.SearchStrategy[e.Event] = st.one_of(
    st.builds(e.Hello, any_text, any_text, any_int, any_int, any_text),
    st.builds(e.Ok, any_text, any_params, any_text),
    st.builds(e.Error, any_text, any_text, any_params, any_text),
    st.builds(e.Note, any_text, any_params, any_text),
    st.builds(e.Bye, any_text, any_params, any_text),
    st.builds(e.Message, any_text, any_text, any_text, any_text, any_text),
    st.builds(e.Joined, any_text, any_text),
    st.builds(e.Parted, any_text, any_text, any_text),
    st.builds(e.Quit, any_text, any_text),
    st.builds(e.NickChanged, any_text, any_text),
    st.builds(e.Topic, any_text, any_text, any_text, any_text),
    st.builds(e.Deleted, any_text, any_text, any_text),
    st.builds(e.BlockStart, any_text, any_params),
    st.builds(e.ChannelEntry, any_text, any_int, any_text),
    st.builds(e.Member, any_text),
    st.builds(e.Info, any_text),
    st.builds(e.BlockEnd, any_text, any_params),
    st.builds(e.Ping, st.none() | any_text),
    st.builds(e.Pong, st.none() | any_text),
)


@PROPERTY
@given(event=any_event)
def test_encode_event_is_one_clean_line(event: e.Event) -> None:
    data = encode_event(event)
    body = assert_clean_wire(data)  # valid UTF-8, one LF, ends in CRLF, nothing unsafe
    assert data.endswith(b"\r\n")
    assert not data.endswith(b"\r\r\n")
    assert body == format_event(event)
    assert neutralise(body) == body


# --------------------------------------------------------------------- round trips

#: Parameters as the server makes them: non-empty, no space, not starting with ':'.
param = st.text(
    st.characters(codec="utf-8", exclude_characters=" ", exclude_categories=("Cc", "Zl", "Zp")),
    min_size=1,
    max_size=12,
).filter(lambda p: not p.startswith(":") and neutralise(p) == p)
params = st.lists(param, max_size=4).map(tuple)
#: Free text: anything that neutralise leaves alone (so the round trip can be exact).
free_text = st.text(max_size=40).map(neutralise)
count = st.integers(0, 10**6)

wire_safe_event: st.SearchStrategy[e.Event] = st.one_of(
    st.builds(e.Hello, param, param, count, count, free_text),
    st.builds(e.Ok, param, params, free_text),
    st.builds(e.Error, param, param, params, free_text),
    st.builds(e.Note, param, params, free_text),
    st.builds(e.Bye, param, params, free_text),
    st.builds(e.Message, param, param, param, param, free_text),
    st.builds(e.Joined, param, param),
    st.builds(e.Parted, param, param, free_text),
    st.builds(e.Quit, param, free_text),
    st.builds(e.NickChanged, param, param),
    st.builds(e.Topic, param, param, param, free_text),
    st.builds(e.Deleted, param, param, param),
    st.builds(
        e.BlockStart,
        st.sampled_from(["LIST", "NAMES", "HISTORY", "HELP"]),
        st.builds(lambda ps, n: (*ps, str(n)), params, count),
    ),
    st.builds(e.ChannelEntry, param, count, free_text),
    st.builds(e.Member, param),
    st.builds(e.Info, free_text),
    st.builds(e.BlockEnd, param, params),
    st.builds(e.Ping, st.none() | param),
    st.builds(e.Pong, st.none() | param),
)


@PROPERTY
@given(event=wire_safe_event)
def test_format_and_parse_event_round_trip(event: e.Event) -> None:
    line = format_event(event)
    assert parse_event(line) == event
    assert parse_event(encode_event(event)[:-2].decode("utf-8")) == event
