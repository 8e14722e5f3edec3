"""IRC's numerics for one client: the welcome burst, ISUPPORT, the replies flackd builds
itself, and Flack's errors as numerics or standard replies.

Owns: :class:`Numerics` (the base of :class:`flackd.irc.outbound.Renderer`: the client's
nick as numerics address it, the server's name and version, what the client negotiated),
the numeric replies flackd sends (those of channel modes, 324/329 and 367/368, are
:mod:`flackd.irc.modes`'), the table from Flack error codes to IRC ones, ISUPPORT, how a
user is shown (``nick!nick@flack``) and a member's status prefixes (``@`` operator, ``+``
voice: :func:`status`). Imports only the standard library, ``flackd.codec`` (events, name
rules, the mode table), ``flackd.limits`` and ``flackd.irc.wire``.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Final

from flackd.codec import events as e
from flackd.codec.modes import (
    FLAG_MODES,
    KEY_MAX_CHARS,
    LIST_MODES,
    MAX_CHANGES,
    USER_HOST,
    hostmask,
)
from flackd.codec.text import CHANNEL_MAX_CHARS, NICK_MAX_CHARS, neutralise
from flackd.codec.usermodes import BOT_MODE, OPER_MODE
from flackd.irc.wire import format_message
from flackd.limits import Limits
from flackd.views import UserView

__all__ = [
    "CHANNEL_MODES",
    "DEFAULT_IRC_INFO",
    "DEFAULT_IRC_NAME",
    "KICK_TARGETS",
    "NAMES_PER_LINE",
    "USER_HOST",
    "WHOX_FIELDS",
    "ChannelState",
    "Numerics",
    "error_line",
    "irc_isupport",
    "prefix",
    "status",
    "unix_time",
    "user_flags",
    "word",
]

#: The fields of a WHOX reply (354), in the order they are always sent.
WHOX_FIELDS: Final = "tcuihsnfdlaor"

#: The server name IRC clients see (001, the source of numerics): ``--irc-name``.
DEFAULT_IRC_NAME: Final = "flackd.local"
#: What IRC clients are told the server is (WHOIS's 312, LINKS' 364): ``--irc-info``.
DEFAULT_IRC_INFO: Final = "Flack"

#: A channel's modes and roles as the client may see them, read from the hub's views:
#: (flags, a subset of ``Cimnst``; when it was made, seconds since the epoch; each member's
#: nick -> its member modes, ``"o"``, ``"v"``, ``"ov"`` or ``""``).
ChannelState = tuple[str, float, dict[str, str]]

#: Member modes and their prefixes, highest first (ISUPPORT ``PREFIX=(ov)@+``).
_PREFIXES: Final = (("o", "@"), ("v", "+"))
#: The channel modes flackd knows, as 004 and ISUPPORT ``CHANMODES`` list them: b e I
#: lists, k a parameter always, l a parameter when set, the flags none.
CHANNEL_MODES: Final = "CIbeiklmnostv"
#: Most nicks one IRC KICK names (ISUPPORT ``TARGMAX=KICK:4``): one Flack KICK each.
KICK_TARGETS: Final = 4

#: The user modes 004 lists: Flack's (flackd.codec.usermodes) and i, which everyone has.
USER_MODES_004: Final = "Biow"

#: Names per 353 line at most (its bytes stay far under 512 with 16-character nicks).
NAMES_PER_LINE: Final = 20

#: Flack error codes as IRC numerics, by the Flack command they answer (``*``: any).
_NUMERIC_ERRORS: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("NICK_IN_USE", "*"): ("433", "Nickname is already in use"),
    ("INVALID_NICK", "*"): ("432", "Erroneous nickname"),
    ("NO_SUCH_NICK", "*"): ("401", "No such nick/channel"),
    ("NO_SUCH_CHANNEL", "*"): ("403", "No such channel"),
    ("INVALID_CHANNEL", "*"): ("403", "No such channel"),
    ("NOT_IN_CHANNEL", "MSG"): ("404", "Cannot send to channel"),
    ("NOT_IN_CHANNEL", "ACTION"): ("404", "Cannot send to channel"),
    ("NOT_IN_CHANNEL", "CTCP"): ("404", "Cannot send to channel"),
    ("NOT_IN_CHANNEL", "*"): ("442", "You're not on that channel"),
    ("ALREADY_IN_CHANNEL", "*"): ("443", "is already on channel"),
    ("NOT_OPERATOR", "*"): ("482", "You're not channel operator"),
    ("NOT_A_MEMBER", "*"): ("441", "They aren't on that channel"),
    ("UNKNOWN_MODE", "*"): ("472", "is unknown mode char to me"),
    ("INVITE_ONLY", "*"): ("473", "Cannot join channel (+i)"),
    ("BAD_KEY", "*"): ("475", "Cannot join channel (+k)"),
    ("CHANNEL_FULL", "*"): ("471", "Cannot join channel (+l)"),
    ("BANNED", "*"): ("474", "Cannot join channel (+b)"),
    ("CANNOT_SEND", "*"): ("404", "Cannot send to channel"),
    ("LIST_FULL", "*"): ("478", "Channel list is full"),
    ("TOO_MANY_CHANNELS", "*"): ("405", "You have joined too many channels"),
    ("NOT_REGISTERED", "*"): ("451", "You have not registered"),
    ("UNKNOWN_TOKEN", "*"): ("464", "Password incorrect"),
    ("PASSWORD_REQUIRED", "*"): ("464", "Password required"),
    ("LINE_TOO_LONG", "*"): ("417", "Input line was too long"),
    ("NOT_SERVER_OPERATOR", "*"): ("481", "Permission Denied- You're not an IRC operator"),
    ("UNKNOWN_OPER", "*"): ("491", "No O-lines for your host"),
    ("BAD_PASSWORD", "*"): ("464", "Password incorrect"),
    ("USERS_DONT_MATCH", "*"): ("502", "Can't change mode for other users"),
}
#: Flack errors of the commands behind IRCv3's (REDACT) as standard replies:
#: (Flack code, Flack command) -> (IRC command, FAIL code).
_FAILS: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("NOT_AUTHOR", "DELETE"): ("REDACT", "REDACT_FORBIDDEN"),
    ("NO_SUCH_MESSAGE", "DELETE"): ("REDACT", "UNKNOWN_MSGID"),
    ("MESSAGE_DELETED", "DELETE"): ("REDACT", "UNKNOWN_MSGID"),
    ("INVALID_PARAMS", "DELETE"): ("REDACT", "UNKNOWN_MSGID"),
}
#: Flack command names as the IRC commands that lead to them (for 461 and 421 texts).
_IRC_COMMAND: Final = {"MSG": "PRIVMSG", "ACTION": "PRIVMSG", "CTCP": "PRIVMSG", "LIST": "LIST"}


class Numerics:
    """The numerics of one client (see the module docstring)."""

    __slots__ = (
        "caps",
        "info",
        "isupport",
        "nick",
        "resume_by",
        "server",
        "stats",
        "version",
        "wanted",
    )

    def __init__(
        self,
        server: str,
        version: str,
        isupport: Sequence[str],
        stats: Callable[[], tuple[int, int, int, int]],
        info: str = DEFAULT_IRC_INFO,
    ) -> None:
        self.server = server
        #: What the server is, in a few words (312, 364).
        self.info = info
        self.version = version
        self.isupport = tuple(isupport)
        #: (users, channels, most users at once, server operators) for LUSERS.
        self.stats = stats
        #: The nick the client asked for when it resumed a session by its token (PASS):
        #: the session's own nick may differ, and the client is told with a NICK line.
        self.wanted: str | None = None
        #: The client's nick as numerics address it ("*" until it is registered).
        self.nick = "*"
        #: The capabilities the client negotiated.
        self.caps: set[str] = set()
        #: How a client gives its resume token back (the welcome notice says so): as the
        #: server password, unless the server has a password of its own (then SASL).
        self.resume_by = "give it as the server password (PASS)"

    def numeric(self, code: str, *params: str) -> bytes:
        """``:<server> <code> <nick> <params...>``; what a client sent and is quoted back
        (a refused nick, a channel name) is made terminal-safe like everything else, and a
        middle parameter one word (a client can send ``JOIN :#a b``)."""
        *middle, last = params or ("",)
        words = [word(p) for p in middle] if middle else []
        return format_message(code, (self.nick, *words, neutralise(last)), source=self.server)

    def fail(self, command: str, code: str, *context_and_text: str) -> bytes:
        """An IRCv3 standard reply from the server: ``FAIL <command> <code> <context...>
        :text`` (the context, quoted from the client, made one word each)."""
        *context, text = context_and_text
        return format_message(
            "FAIL", (command, code, *map(word, context), neutralise(text)), source=self.server
        )

    def server_notice(self, text: str) -> bytes:
        return format_message("NOTICE", (self.nick, neutralise(text)), source=self.server)

    def welcome(self) -> bytes:
        """001-005 and LUSERS: what a client waits for after NICK/USER (the MOTD's 422
        follows the resume token's NOTICE)."""
        isupport = self.isupport
        lines = [
            self.numeric("001", f"Welcome to the Flack IRC network, {self.nick}"),
            self.numeric("002", f"Your host is {self.server}, running version {self.version}"),
            self.numeric("003", "This server speaks Flack and IRC into one chat"),
            self.numeric(
                "004", self.server, self.version, USER_MODES_004, CHANNEL_MODES, "Ibeklov"
            ),
        ]
        for start in range(0, len(isupport), 12):
            chunk = isupport[start : start + 12]
            lines.append(self.numeric("005", *chunk, "are supported by this server"))
        lines.append(self.lusers())
        return b"".join(lines)

    def lusers(self) -> bytes:
        """251-255, 265 and 266: users now (registered connections, every wire), the server
        operators among them, the most there were since the server started, and channels."""
        users, channels, peak, operators = self.stats()
        now, most = str(users), str(peak)
        return b"".join(
            [
                self.numeric("251", f"There are {users} users and 0 invisible on 1 servers"),
                self.numeric("252", str(operators), "operator(s) online"),
                self.numeric("254", str(channels), "channels formed"),
                self.numeric("255", f"I have {users} clients and 0 servers"),
                self.numeric("265", now, most, f"Current local users {users}, max {peak}"),
                self.numeric("266", now, most, f"Current global users {users}, max {peak}"),
            ]
        )

    def topic(self, channel: str, text: str, setter: str, when: str) -> bytes:
        """332 and 333 for a channel with a topic; nothing for one without."""
        if not text:
            return b""
        return self.numeric("332", channel, neutralise(text)) + self.numeric(
            "333", channel, setter, str(unix_time(when))
        )

    def who_line(self, channel: str, user: UserView, modes: str = "") -> bytes:
        """One 352 line: H or G (away) and the member's status prefixes in ``channel``
        (its member ``modes``), the USER fields of an IRC user (a Flack user's nick
        stands in for them), and the one host Flack shows."""
        flag = ("G" if user.away else "H") + user_flags(user.modes) + status(modes, self.caps)
        return self.numeric(
            "352",
            channel,
            user.username,
            USER_HOST,
            self.server,
            user.nick,
            flag,
            f"0 {user.realname}",
        )

    def whox_line(
        self, channel: str, user: UserView, fields: str, token: str, modes: str = ""
    ) -> bytes:
        """One 354 line (IRCv3 WHOX): the fields asked for, always in the order
        ``tcuihsnfdlaor``: the query's token, the channel, the username, an IP address
        (hidden: Flack shows none), the host, the server, the nick, H or G, the hop count,
        the idle seconds and the account (0: Flack has no IRC idle time or accounts), the
        op level (n/a) and the real name; the flags carry the status prefixes of the
        member ``modes``."""
        values = {
            "t": token or "0",
            "c": channel,
            "u": user.username,
            "i": "255.255.255.255",
            "h": USER_HOST,
            "s": self.server,
            "n": user.nick,
            "f": ("G" if user.away else "H") + user_flags(user.modes) + status(modes, self.caps),
            "d": "0",
            "l": "0",
            "a": "0",
            "o": "n/a",
            "r": user.realname,
        }
        params = [values[field] for field in WHOX_FIELDS if field in fields]
        return self.numeric("354", *params) if params else b""

    def names(
        self, channel: str, members: Iterable[tuple[str, str]], secret: bool, end: bool = True
    ) -> bytes:
        """353s and (with ``end``) 366: ``members`` are (nick, member modes); a secret
        channel's symbol is ``@``, any other's ``=``."""
        full = "userhost-in-names" in self.caps
        caps = self.caps
        nicks = [status(modes, caps) + (prefix(n) if full else n) for n, modes in members]
        symbol = "@" if secret else "="
        lines = [
            self.numeric("353", symbol, channel, " ".join(nicks[i : i + NAMES_PER_LINE]))
            for i in range(0, len(nicks), NAMES_PER_LINE)
        ]
        if end:
            lines.append(self.numeric("366", channel, "End of /NAMES list"))
        return b"".join(lines)

    def registered(self, ok: e.Ok) -> bytes:
        self.nick = ok.params[0]
        token = next((p[6:] for p in ok.params if p.startswith("token=")), "")
        lines = [self.welcome()]
        wanted, self.wanted = self.wanted, None
        if wanted is not None and wanted != self.nick:
            lines.append(format_message("NICK", (self.nick,), source=prefix(wanted)))
        lines.append(
            self.server_notice(
                f"Your Flack resume token is {token} (it changes each time you use it). Keep "
                f"it secret; {self.resume_by} to come back as "
                f"{self.nick}, with your channels, from any IRC or Flack client."
            )
        )
        lines.append(self.numeric("422", "MOTD File is missing"))
        return b"".join(lines)

    def error(self, error: e.Error) -> bytes:
        if error.command == "NOTICE" and error.code not in ("STORAGE_FAILED", "STORAGE_UNKNOWN"):
            return b""  # a NOTICE never gets an error back (RFC 2812)
        fail = _FAILS.get((error.code, error.command))
        if fail is not None:
            irc_command, code = fail
            return self.fail(irc_command, code, *error.params[:1], error.text)
        known = _NUMERIC_ERRORS.get((error.code, error.command)) or _NUMERIC_ERRORS.get(
            (error.code, "*")
        )
        if known is not None:
            code, text = known
            if code == "451":
                return format_message(code, ("*", text), source=self.server)
            if code in ("417", "464", "481", "491", "502"):
                return self.numeric(code, text)
            if code in ("443", "441", "478"):  # <nick|channel> <channel|letter>
                return self.numeric(code, *error.params[:2], text)
            target = error.params[0] if error.params else "*"
            return self.numeric(code, target, text)
        if error.code == "INVALID_PARAMS" and error.command == "MODE" and len(error.params) == 3:
            # ERR_INVALIDMODEPARAM: <channel> <letter> <value or *>
            return self.numeric("696", *error.params, f"Invalid mode parameter: {error.text}")
        if error.code == "NEED_MORE_PARAMS":
            return self.numeric(
                "461", _IRC_COMMAND.get(error.command, error.command), "Not enough parameters"
            )
        return self.server_notice(f"{error.code} {error.command}: {error.text}")


def irc_isupport(limits: Limits, network: str) -> list[str]:
    """The ISUPPORT (005) tokens: what Flack's names and limits really are."""
    return [
        "CASEMAPPING=ascii",
        "CHANTYPES=#",
        f"CHANNELLEN={CHANNEL_MAX_CHARS + 1}",
        f"NICKLEN={NICK_MAX_CHARS}",
        f"TOPICLEN={limits.max_line_bytes}",
        "PREFIX=(ov)@+",
        f"CHANMODES={LIST_MODES},k,l,{FLAG_MODES}",
        "EXCEPTS=e",
        "INVEX=I",
        f"MODES={MAX_CHANGES}",
        f"KEYLEN={KEY_MAX_CHARS}",
        "MAXLIST=" + ",".join(f"{x}:{limits.channel_list_max}" for x in LIST_MODES),
        f"CHANLIMIT=#:{limits.max_joins}",
        f"NETWORK={network}",
        "UTF8ONLY",
        f"TARGMAX=JOIN:,PART:,PRIVMSG:,NOTICE:,NAMES:,KICK:{KICK_TARGETS}",
        "AWAYLEN=200",
        "USERLEN=11",
        f"CHATHISTORY={limits.history}",
        "CLIENTTAGDENY=*",
        "WHOX",
        f"MONITOR={limits.irc_monitor}",
        "MSGREFTYPES=msgid,timestamp",
        "ELIST=CMNTU",  # LIST's conditions: flackd.irc.elist
        f"BOT={BOT_MODE}",
    ]


def word(text: str) -> str:
    """``text`` fit to be a middle parameter: terminal-safe, no spaces, no leading ':',
    not empty (``*``)."""
    cleaned = neutralise(text).replace(" ", "").lstrip(":")
    return cleaned or "*"


def error_line(text: str) -> bytes:
    """``ERROR :<text>``: an IRC connection's last line (a refusal at the door, a close)."""
    return format_message("ERROR", (f"Closing link: {neutralise(text)}",))


def user_flags(modes: str) -> str:
    """What WHO's flags say of a user's modes after H or G: ``*`` a server operator,
    ``B`` a bot (IRCv3 bot mode)."""
    return ("*" if OPER_MODE in modes else "") + (BOT_MODE if BOT_MODE in modes else "")


def status(modes: str, caps: set[str]) -> str:
    """The status prefixes of a member with these member ``modes`` (``"ov"``): the
    highest (``@``), or all of them highest first (``@+``) to a client with
    ``multi-prefix``."""
    found = "".join(mark for letter, mark in _PREFIXES if letter in modes)
    return found if "multi-prefix" in caps else found[:1]


def prefix(nick: str) -> str:
    """How a user is shown: ``nick!nick@flack`` (Flack does not show addresses; the same
    form ban masks are matched against)."""
    return hostmask(nick)


def unix_time(iso: str) -> int:
    """Seconds since the epoch of a Flack time (``2026-12-03T02:51:22.123Z``); 0 if none."""
    try:
        return calendar.timegm(time.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        return 0
