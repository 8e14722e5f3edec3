"""What the full-screen client's input asks for: the actions, as frozen data.

Owns: the :data:`Action` types (send a command or messages, open or close a buffer, a
local error, quit, reconnect, ...), which :func:`flackcli.ui.input.parse` returns and the
caller (``ui.actions``) carries out, and the texts of the refusals for older servers. Must
not import anything but the standard library and ``flackd.codec``: nothing here performs
an action.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from flackd.codec import commands as c

#: The protocol's default maximum input line, CRLF included (``HELLO ... maxline=512``).
DEFAULT_MAX_LINE: Final = 512

ME_UNSUPPORTED: Final = (
    "/me needs a newer server (this one speaks protocol 1, which has no actions); "
    "write it as a normal message"
)
EDIT_UNSUPPORTED: Final = (
    "/edit needs a newer server (this one speaks protocol 1, which cannot edit messages); "
    "/delete deletes your last message"
)
DM_HISTORY_UNSUPPORTED: Final = (
    "this server keeps no private messages (protocol 1): only channels have history"
)
OPERATORS_UNSUPPORTED: Final = (
    "this server has no channel operators or modes (it speaks protocol {protocol}; "
    "MODE and KICK came with 1.2)"
)
SERVER_OPERATORS_UNSUPPORTED: Final = (
    "this server has no server operators or user modes (it speaks protocol {protocol}; "
    "OPER, KILL, WALLOPS and /umode came with 1.3)"
)

# ---------------------------------------------------------------------------------------
# Actions: what the caller should do. Frozen, compared by value.


@dataclass(frozen=True, slots=True)
class SendCommand:
    """Send one protocol command. ``focus``: the buffer to show once it opens (the
    channel of a ``/join``, the nick of a ``/msg``)."""

    command: c.Command
    focus: str | None = None


@dataclass(frozen=True, slots=True)
class SendMessages:
    """Several messages to one target, in order (multi-line input, or text split to fit
    the line limit). The paste guard asks first: see :func:`needs_confirmation`."""

    target: str
    texts: tuple[str, ...]
    focus: str | None = None

    @property
    def commands(self) -> tuple[c.Msg, ...]:
        return tuple(c.Msg(self.target, text) for text in self.texts)


@dataclass(frozen=True, slots=True)
class OpenBuffer:
    """Open (and show) the private conversation with ``name``: ``/query nick``."""

    name: str


@dataclass(frozen=True, slots=True)
class CloseBuffer:
    """Close a private conversation buffer: ``/part`` or ``/close`` in it."""

    name: str


@dataclass(frozen=True, slots=True)
class LocalError:
    """Nothing to send: show ``text`` to the user (a usage error, an unknown command)."""

    text: str


@dataclass(frozen=True, slots=True)
class Quit:
    """``/quit [message]``: say goodbye and leave."""

    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Reconnect:
    """``/reconnect``: skip the rest of the backoff wait."""


@dataclass(frozen=True, slots=True)
class Connect:
    """``/connect host[:port]``: switch to another server."""

    server: str


@dataclass(frozen=True, slots=True)
class ClearBuffer:
    """``/clear``: clear the current buffer on screen (local only)."""


@dataclass(frozen=True, slots=True)
class ShowHelp:
    """``/help [command]``: ``topic`` is a canonical command name, or None for the list.
    :func:`help_lines` gives the text."""

    topic: str | None = None


@dataclass(frozen=True, slots=True)
class LoadOlder:
    """``/history [n]``: ``HISTORY <channel> BEFORE <oldest shown id> [n]`` (the caller
    knows the oldest id; ``count`` None means the server's default page)."""

    channel: str
    count: int | None = None


@dataclass(frozen=True, slots=True)
class DeleteLast:
    """``/delete [reason]``: ``DELETE <id> [reason]`` of my newest message in ``channel``
    (a channel, or a nick for a private conversation). ``/delete <id> [reason]`` is a
    :class:`SendCommand` instead (an operator deletes anyone's message in a channel)."""

    channel: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StartEdit:
    """``/edit [id]``: put the text of my message ``msg_id`` (None: my newest one in
    ``target``) into the input line; Enter then sends ``EDIT`` (:func:`parse_edit`)."""

    target: str | None
    msg_id: str | None = None


@dataclass(frozen=True, slots=True)
class Raw:
    """``/raw LINE``: send one protocol line as typed (debugging)."""

    line: str


@dataclass(frozen=True, slots=True)
class Reply:
    """``/reply text``: a private message to whoever last sent me one (the caller knows
    who; build the send with :func:`say`)."""

    text: str


@dataclass(frozen=True, slots=True)
class MarkRead:
    """``/read [-all]``: mark the current buffer (or every buffer) read."""

    all_buffers: bool = False


@dataclass(frozen=True, slots=True)
class SetLogging:
    """``/log on`` / ``/log off``: logging of the current buffer."""

    enabled: bool


@dataclass(frozen=True, slots=True)
class UserModes:
    """``/umode [+|-Bw]``: ``MODE <own nick> [changes]`` (the caller knows the nick)."""

    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Nothing:
    """Empty input: do nothing."""


Action = (
    SendCommand
    | SendMessages
    | OpenBuffer
    | CloseBuffer
    | LocalError
    | Quit
    | Reconnect
    | Connect
    | ClearBuffer
    | ShowHelp
    | LoadOlder
    | DeleteLast
    | StartEdit
    | Raw
    | Reply
    | MarkRead
    | SetLogging
    | UserModes
    | Nothing
)
