"""flackd.replica.entries: a command goes through the shared log's JSON and comes back
equal to what was sent (the same types, so the same equality and hash)."""

from __future__ import annotations

import json

import pytest

from flackd.codec import commands as c
from flackd.codec.grammar import parse_command
from flackd.replica.entries import decode_command, encode_command


@pytest.mark.parametrize(
    "line",
    [
        "MSG #dev hello there",
        "MODE #dev +ov-b alice bob *!*@spam",
        "MODE #dev",
        "JOIN #dev key",
        "NICK alice",
        "PART #dev see you",
        "TOPIC #dev a new topic",
        "HISTORY #dev AFTER 1-2 50",
        "KICK #dev bob enough",
    ],
)
def test_a_command_comes_back_from_the_log_as_it_was_sent(line: str) -> None:
    _, command = parse_command(line)
    back = decode_command(json.loads(json.dumps(encode_command(command))))
    assert back == command
    assert type(back) is type(command)
    hash(back)  # a frozen command stays hashable: no list inside


def test_mode_words_come_back_as_a_tuple() -> None:
    _, command = parse_command("MODE #dev +o alice")
    assert isinstance(command, c.Mode)
    back = decode_command(json.loads(json.dumps(encode_command(command))))
    assert isinstance(back, c.Mode)
    assert back.words == ("+o", "alice")
