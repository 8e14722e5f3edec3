"""Typed server lines: everything flackd sends, as frozen dataclasses.

Owns: the server line types and their mapping to the wire shape
``VERB param... [:text]``. Formatting and parsing text lives in ``grammar``. Must not
import anything outside the standard library.

Each class has ``VERB`` (the first word on the wire) and ``wire()``, which returns the
space-free parameters and the optional free text that follows `` :``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from flackd.codec.frozen import quick_init

__all__ = [
    "BanEntry",
    "BlockEnd",
    "BlockStart",
    "Bye",
    "ChannelEntry",
    "Ctcp",
    "Deleted",
    "Edited",
    "Error",
    "Event",
    "ExceptEntry",
    "Hello",
    "Info",
    "InvexEntry",
    "Joined",
    "Kicked",
    "Member",
    "Message",
    "ModeChanged",
    "NickChanged",
    "Note",
    "Ok",
    "Parted",
    "Ping",
    "Pong",
    "Quit",
    "Topic",
    "UnreadCount",
    "Wallops",
]

#: The protocol version flackd speaks (HELLO's ``protocol=``). Version 1 lines stay valid:
#: 1.1, 1.2 and 1.3 only add verbs, and ``key=value`` flags that older parsers skip.
PROTOCOL_VERSION = "1.3"

Wire = tuple[tuple[str, ...], str | None]


@dataclass(frozen=True, slots=True)
class Hello:
    """``HELLO flackd <version> maxline=<n> history=<n> protocol=<v> [password=required]
    :text``: first line on connect. A version-1 server sends no ``protocol=`` (read as
    ``"1"``)."""

    VERB: ClassVar[str] = "HELLO"
    server: str
    version: str
    max_line: int
    history: int
    text: str
    protocol: str = PROTOCOL_VERSION
    #: The server has a password (``password=required``): PASS before NICK or RESUME.
    password: bool = False

    def wire(self) -> Wire:
        params = (self.server, self.version, f"maxline={self.max_line}", f"history={self.history}")
        if self.password:
            return (*params, f"protocol={self.protocol}", "password=required"), self.text
        return (*params, f"protocol={self.protocol}"), self.text


@dataclass(frozen=True, slots=True)
class Ok:
    """``OK <COMMAND> [param...] :text``: a command succeeded."""

    VERB: ClassVar[str] = "OK"
    command: str
    params: tuple[str, ...] = ()
    text: str = ""

    def wire(self) -> Wire:
        return (self.command, *self.params), self.text

    def param(self, key: str) -> str | None:
        """The value of a ``key=value`` parameter, if present."""
        prefix = key + "="
        for p in self.params:
            if p.startswith(prefix):
                return p[len(prefix) :]
        return None


@dataclass(frozen=True, slots=True)
class Error:
    """``ERR <CODE> <COMMAND> [context...] :text``: a command was refused."""

    VERB: ClassVar[str] = "ERR"
    code: str
    command: str
    params: tuple[str, ...] = ()
    text: str = ""

    def wire(self) -> Wire:
        return (self.code, self.command, *self.params), self.text


@dataclass(frozen=True, slots=True)
class Note:
    """``NOTE <CODE> [param...] :text``: information for the client, never a reply."""

    VERB: ClassVar[str] = "NOTE"
    code: str
    params: tuple[str, ...] = ()
    text: str = ""

    def wire(self) -> Wire:
        return (self.code, *self.params), self.text


@dataclass(frozen=True, slots=True)
class Bye:
    """``BYE <CODE> [param...] :text``: the last line before the server closes."""

    VERB: ClassVar[str] = "BYE"
    code: str
    params: tuple[str, ...] = ()
    text: str = ""

    def wire(self) -> Wire:
        return (self.code, *self.params), self.text


@quick_init
@dataclass(frozen=True, slots=True)
class Message:
    """``MSG <target> <id> <time> <author> :text``: a chat message, live or from history.

    ``target`` is the channel, or for a private message the nick it was sent to.
    """

    VERB: ClassVar[str] = "MSG"
    target: str
    id: str
    time: str
    author: str
    text: str
    #: A ``/me`` action (``ACTION``): on the wire the flag ``kind=action``.
    action: bool = False
    #: When the text was last edited (``EDIT``), or None: on the wire ``edited=<time>``.
    edited: str | None = None
    #: A notice (``NOTICE``), which programs must not answer: on the wire ``kind=notice``.
    notice: bool = False

    def wire(self) -> Wire:
        params: tuple[str, ...] = (self.target, self.id, self.time, self.author)
        if self.action:
            params += ("kind=action",)
        elif self.notice:
            params += ("kind=notice",)
        if self.edited is not None:
            params += (f"edited={self.edited}",)
        return params, self.text


@dataclass(frozen=True, slots=True)
class Joined:
    """``JOIN <#channel> <nick>``: someone joined a channel you are in."""

    VERB: ClassVar[str] = "JOIN"
    channel: str
    nick: str

    def wire(self) -> Wire:
        return (self.channel, self.nick), None


@dataclass(frozen=True, slots=True)
class Parted:
    """``PART <#channel> <nick> :reason``: someone left a channel you are in."""

    VERB: ClassVar[str] = "PART"
    channel: str
    nick: str
    reason: str = ""

    def wire(self) -> Wire:
        return (self.channel, self.nick), self.reason


@dataclass(frozen=True, slots=True)
class Quit:
    """``QUIT <nick> :reason``: someone who shared a channel with you disconnected."""

    VERB: ClassVar[str] = "QUIT"
    nick: str
    reason: str = ""

    def wire(self) -> Wire:
        return (self.nick,), self.reason


@dataclass(frozen=True, slots=True)
class NickChanged:
    """``NICK <old> <new>``: someone who shares a channel with you changed nick."""

    VERB: ClassVar[str] = "NICK"
    old: str
    new: str

    def wire(self) -> Wire:
        return (self.old, self.new), None


@dataclass(frozen=True, slots=True)
class Topic:
    """``TOPIC <#channel> <setter> <time> :text``; setter and time are ``*`` when unset."""

    VERB: ClassVar[str] = "TOPIC"
    channel: str
    setter: str
    time: str
    text: str

    def wire(self) -> Wire:
        return (self.channel, self.setter, self.time), self.text


@dataclass(frozen=True, slots=True)
class Deleted:
    """``DELETED <#channel> <id> <nick> [:reason]``: ``nick`` (its author, or an operator
    of its channel) deleted a message, saying why if they did."""

    VERB: ClassVar[str] = "DELETED"
    channel: str
    id: str
    nick: str
    reason: str = ""

    def wire(self) -> Wire:
        return (self.channel, self.id, self.nick), self.reason or None


@dataclass(frozen=True, slots=True)
class Edited:
    """``EDITED <target> <id> <time> <editor> :text``: a message's new text; ``time`` is
    when it was edited; ``target`` is the message's own target (a channel, or for a direct
    message the nick it was sent to)."""

    VERB: ClassVar[str] = "EDITED"
    target: str
    id: str
    time: str
    editor: str
    text: str

    def wire(self) -> Wire:
        return (self.target, self.id, self.time, self.editor), self.text


@dataclass(frozen=True, slots=True)
class UnreadCount:
    """``COUNT <target> unread=<n> mentions=<n> newest=<id>``: one body line of an
    ``UNREAD`` block: a conversation (a channel, or a nick) with unread messages."""

    VERB: ClassVar[str] = "COUNT"
    target: str
    unread: int
    mentions: int
    newest: str

    def wire(self) -> Wire:
        params = (f"unread={self.unread}", f"mentions={self.mentions}", f"newest={self.newest}")
        return (self.target, *params), None


@dataclass(frozen=True, slots=True)
class BlockStart:
    """A block header: ``LIST <n>``, ``NAMES <#c> <n>``, ``HISTORY <#c> <n>``,
    ``HELP <topic> <n>``. The last parameter is always the number of body lines."""

    kind: str
    params: tuple[str, ...]

    @property
    def VERB(self) -> str:  # mirrors the ClassVar of the other lines
        return self.kind

    @property
    def count(self) -> int:
        return int(self.params[-1])

    def wire(self) -> Wire:
        return self.params, None


@dataclass(frozen=True, slots=True)
class ChannelEntry:
    """``CHANNEL <#channel> <members> :topic``: one body line of a LIST block."""

    VERB: ClassVar[str] = "CHANNEL"
    channel: str
    members: int
    topic: str

    def wire(self) -> Wire:
        return (self.channel, str(self.members)), self.topic


@dataclass(frozen=True, slots=True)
class Member:
    """``MEMBER <nick> [role=op|voice] [bot=yes] [oper=yes]``: one body line of a NAMES
    block; ``role`` is the member's channel role (``op``: operator, ``voice``: voiced), ""
    for none; ``bot``: the member is a bot (user mode ``+B``); ``oper``: a server operator
    (``+o``)."""

    VERB: ClassVar[str] = "MEMBER"
    nick: str
    role: str = ""
    bot: bool = False
    oper: bool = False

    def wire(self) -> Wire:
        params: tuple[str, ...] = (self.nick,)
        if self.role:
            params += (f"role={self.role}",)
        if self.bot:
            params += ("bot=yes",)
        if self.oper:
            params += ("oper=yes",)
        return params, None


@dataclass(frozen=True, slots=True)
class Wallops:
    """``WALLOPS <nick> :text``: a server operator's message to everyone with user mode
    ``+w`` (and back to its sender)."""

    VERB: ClassVar[str] = "WALLOPS"
    nick: str
    text: str

    def wire(self) -> Wire:
        return (self.nick,), self.text


@dataclass(frozen=True, slots=True)
class ModeChanged:
    """``MODE <#channel> <nick> <changes> [param...]``: ``nick`` changed the channel's
    modes (``MODE #c alice +o bob``); with ``nick`` ``*``, the answer to a query: the
    modes the channel has (``MODE #c * +ntk key``). With a nick in place of the channel,
    a user's own modes (``MODE alice alice +B``, ``MODE alice * +Bw``): only that user
    gets these lines."""

    VERB: ClassVar[str] = "MODE"
    channel: str
    nick: str
    changes: tuple[str, ...]

    def wire(self) -> Wire:
        return (self.channel, self.nick, *self.changes), None


@dataclass(frozen=True, slots=True)
class Kicked:
    """``KICK <#channel> <nick> <by> :reason``: an operator put someone out of a channel."""

    VERB: ClassVar[str] = "KICK"
    channel: str
    nick: str
    by: str
    reason: str = ""

    def wire(self) -> Wire:
        return (self.channel, self.nick, self.by), self.reason


@dataclass(frozen=True, slots=True)
class MaskEntry:
    """``<VERB> <mask> <setter> <time>``: one body line of a channel's mask list. Only its
    three kinds below are sent (and are events); each has its own type, so a renderer tells
    them apart, and code that takes any of them takes this one."""

    VERB: ClassVar[str]
    mask: str
    setter: str
    time: str

    def wire(self) -> Wire:
        return (self.mask, self.setter, self.time), None


@dataclass(frozen=True, slots=True)
class BanEntry(MaskEntry):
    """``BAN <mask> <setter> <time>``: one body line of a BANS block (``+b``)."""

    VERB: ClassVar[str] = "BAN"


@dataclass(frozen=True, slots=True)
class ExceptEntry(MaskEntry):
    """``EXCEPT <mask> <setter> <time>``: one body line of an EXCEPTS block (``+e``)."""

    VERB: ClassVar[str] = "EXCEPT"


@dataclass(frozen=True, slots=True)
class InvexEntry(MaskEntry):
    """``INVEX <mask> <setter> <time>``: one body line of an INVEXES block (``+I``)."""

    VERB: ClassVar[str] = "INVEX"


@dataclass(frozen=True, slots=True)
class Ctcp:
    """``CTCP <#channel|nick> <from> <VERB> :text``: a CTCP query relayed (not kept)."""

    VERB: ClassVar[str] = "CTCP"
    target: str
    sender: str
    verb: str
    text: str = ""

    def wire(self) -> Wire:
        return (self.target, self.sender, self.verb), self.text


@dataclass(frozen=True, slots=True)
class Info:
    """``INFO :text``: one body line of a HELP block."""

    VERB: ClassVar[str] = "INFO"
    text: str

    def wire(self) -> Wire:
        return (), self.text


@dataclass(frozen=True, slots=True)
class BlockEnd:
    """``END <kind> [param...]``: closes a block, e.g. ``END HISTORY #c more=no gap=no``."""

    VERB: ClassVar[str] = "END"
    kind: str
    params: tuple[str, ...] = ()

    def wire(self) -> Wire:
        return (self.kind, *self.params), None

    def flag(self, key: str) -> bool:
        """True when ``key=yes`` is among the parameters."""
        return f"{key}=yes" in self.params


@dataclass(frozen=True, slots=True)
class Ping:
    """``PING [token]``: the server checks that the client is alive; answer ``PONG``."""

    VERB: ClassVar[str] = "PING"
    token: str | None = None

    def wire(self) -> Wire:
        return ((self.token,) if self.token is not None else ()), None


@dataclass(frozen=True, slots=True)
class Pong:
    """``PONG [token]``: the answer to a client's ``PING``, token echoed verbatim."""

    VERB: ClassVar[str] = "PONG"
    token: str | None = None

    def wire(self) -> Wire:
        return ((self.token,) if self.token is not None else ()), None


Event = (
    Hello
    | Ok
    | Error
    | Note
    | Bye
    | Message
    | Joined
    | Parted
    | Quit
    | NickChanged
    | Topic
    | Deleted
    | Edited
    | UnreadCount
    | BlockStart
    | ChannelEntry
    | Member
    | ModeChanged
    | Wallops
    | Kicked
    | BanEntry
    | ExceptEntry
    | InvexEntry
    | Ctcp
    | Info
    | BlockEnd
    | Ping
    | Pong
)
