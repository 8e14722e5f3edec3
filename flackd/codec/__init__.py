"""The sans-IO Flack codec: framing, characters, ids, and the grammar of both directions.

Owns nothing stateful beyond :class:`LineBuffer`. Imports only the standard library, so
flackcli and bots can use it without pulling in the server. protocol.md is the contract
this package implements.
"""

from flackd.codec import commands, events
from flackd.codec.errors import ERROR_CODES, TEMPORARY_CODES, ProtocolError
from flackd.codec.framing import CRLF, OVERLONG, LineBuffer, Overlong
from flackd.codec.grammar import VERBS, Verb, format_command, parse_command, usage_error
from flackd.codec.ids import IdGenerator, MessageId, format_timestamp, parse_id, parse_timestamp
from flackd.codec.lines import encode_event, format_event, parse_event
from flackd.codec.text import (
    BadCharacter,
    InvalidUtf8,
    decode_line,
    fold,
    is_channel,
    is_valid_channel,
    is_valid_nick,
    neutralise,
)

__all__ = [
    "CRLF",
    "ERROR_CODES",
    "OVERLONG",
    "TEMPORARY_CODES",
    "VERBS",
    "BadCharacter",
    "IdGenerator",
    "InvalidUtf8",
    "LineBuffer",
    "MessageId",
    "Overlong",
    "ProtocolError",
    "Verb",
    "commands",
    "decode_line",
    "encode_event",
    "events",
    "fold",
    "format_command",
    "format_event",
    "format_timestamp",
    "is_channel",
    "is_valid_channel",
    "is_valid_nick",
    "neutralise",
    "parse_command",
    "parse_event",
    "parse_id",
    "parse_timestamp",
    "usage_error",
]
