"""Typed client commands: what a client may send, as frozen dataclasses.

Owns: the command types. Parsing them from text lives in ``grammar``. Must not import
anything outside the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass

from flackd.codec.frozen import quick_init

__all__ = [
    "Action",
    "Command",
    "Create",
    "Ctcp",
    "Delete",
    "Edit",
    "Help",
    "History",
    "Invite",
    "Invites",
    "Join",
    "Kick",
    "Kill",
    "ListChannels",
    "Mark",
    "Mode",
    "Msg",
    "Names",
    "Nick",
    "Notice",
    "Oper",
    "Part",
    "Pass",
    "Ping",
    "Pong",
    "Quit",
    "Resume",
    "Topic",
    "Unread",
    "Wallops",
]


@dataclass(frozen=True, slots=True)
class Nick:
    """``NICK <nick>``: register, or change nick once registered."""

    nick: str


@dataclass(frozen=True, slots=True)
class Pass:
    """``PASS <password>``: the server's password, before NICK or RESUME, on a server
    that has one (``--password-file``). The rest of the line is the password."""

    password: str

    def __repr__(self) -> str:  # a password never reaches a log through a repr
        return "Pass(password=<hidden>)"


@dataclass(frozen=True, slots=True)
class Resume:
    """``RESUME <token>``: come back as the session the token belongs to."""

    token: str


@dataclass(frozen=True, slots=True)
class Join:
    """``JOIN <#channel> [key]``: join, creating the channel if it does not exist (the key
    of a channel that has one, ``+k``)."""

    channel: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class Create:
    """``CREATE <#channel>``: create a new channel and join it; refused if it exists."""

    channel: str


@dataclass(frozen=True, slots=True)
class Part:
    """``PART <#channel> [reason]``."""

    channel: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Invite:
    """``INVITE <nick> <#channel>``: ask someone to join a channel you are in."""

    nick: str
    channel: str


@dataclass(frozen=True, slots=True)
class Invites:
    """``INVITE`` with no parameters: the channels you have a pending invitation to."""


@dataclass(frozen=True, slots=True)
class Ctcp:
    """``CTCP <#channel|nick> <VERB> [text]``: a client-to-client query (IRC's CTCP, such
    as ``VERSION`` or ``PING``), relayed and not kept. ``verb`` is upper case."""

    target: str
    verb: str
    text: str = ""


@dataclass(frozen=True, slots=True)
class Mode:
    """``MODE <#channel> [changes [param...]]``: show a channel's modes, list its bans
    (``MODE #c +b``), or change them (``MODE #c +o bob``, operators only). The words are
    read by ``flackd.codec.modes.parse_changes``. ``MODE <own nick> [changes]``: show or
    change one's user modes (``flackd.codec.usermodes``)."""

    channel: str
    words: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Kick:
    """``KICK <#channel> <nick> [reason]``: an operator puts a member out of a channel."""

    channel: str
    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Oper:
    """``OPER <name> <password>``: become a server operator (user mode ``+o``) with the
    credentials the server's administrator configured."""

    name: str
    password: str


@dataclass(frozen=True, slots=True)
class Kill:
    """``KILL <nick> [reason]``: a server operator ends someone's session."""

    nick: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Wallops:
    """``WALLOPS <text>``: a server operator's message to everyone with user mode ``+w``."""

    text: str


@quick_init
@dataclass(frozen=True, slots=True)
class Msg:
    """``MSG <#channel|nick> <text>``."""

    target: str
    text: str


@dataclass(frozen=True, slots=True)
class ListChannels:
    """``LIST [AFTER <#channel>]``: channels in name order, a page at a time."""

    after: str | None = None


@dataclass(frozen=True, slots=True)
class Names:
    """``NAMES <#channel>`` (alias ``WHO``)."""

    channel: str


@dataclass(frozen=True, slots=True)
class Topic:
    """``TOPIC <#channel> [text]``: show the topic, or set it when text is given."""

    channel: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    """``ACTION <#channel|nick> <text>`` (alias ``ME``): a message of the action kind
    (``/me waves``)."""

    target: str
    text: str


@dataclass(frozen=True, slots=True)
class Notice:
    """``NOTICE <#channel|nick> <text>``: a message of the notice kind, which programs
    (bots) must not answer automatically."""

    target: str
    text: str


@dataclass(frozen=True, slots=True)
class History:
    """``HISTORY <#channel|nick> [BEFORE <id>|AFTER <id>] [count]``: a channel's history,
    or that of your conversation with a nick.

    At most one of ``before``/``after`` is set; ``count`` None means the server default.
    """

    target: str
    before: str | None = None
    after: str | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class Delete:
    """``DELETE <message-id> [reason]``: delete one of your own messages (channel or
    direct), or as a channel's operator any message in it."""

    id: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Edit:
    """``EDIT <message-id> <text>``: change the text of one of your own messages."""

    id: str
    text: str


@dataclass(frozen=True, slots=True)
class Mark:
    """``MARK <#channel|nick> <message-id>``: you have read up to that message."""

    target: str
    id: str


@dataclass(frozen=True, slots=True)
class Unread:
    """``UNREAD [ALL]``: every conversation with unread messages, with mention counts
    (``ALL``: every channel one is in and every conversation one has, unread or not)."""

    every: bool = False


@dataclass(frozen=True, slots=True)
class Ping:
    """``PING [token]``: the server answers ``PONG [token]``."""

    token: str | None = None


@dataclass(frozen=True, slots=True)
class Pong:
    """``PONG <token>``: the answer to a server ``PING``."""

    token: str | None = None


@dataclass(frozen=True, slots=True)
class Quit:
    """``QUIT [reason]``: end the session (the resume token stops working)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Help:
    """``HELP [command]``."""

    topic: str | None = None


Command = (
    Nick
    | Pass
    | Resume
    | Join
    | Create
    | Part
    | Invite
    | Invites
    | Ctcp
    | Mode
    | Kick
    | Oper
    | Kill
    | Wallops
    | Msg
    | Action
    | Notice
    | Edit
    | Mark
    | Unread
    | ListChannels
    | Names
    | Topic
    | History
    | Delete
    | Ping
    | Pong
    | Quit
    | Help
)
