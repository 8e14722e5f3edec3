"""IRC's HELP and HELPOP, and LINKS: what the IRC front end says about itself.

Owns: one short help text per IRC command the front end answers (:data:`HELP_TEXTS`:
IRC's syntax, not Flack's: a Flack client's ``HELP`` is answered by the hub from Flack's
verb table, :mod:`flackd.hub.blocks`), the 704/705/706 and 524 replies built from them,
and ``LINKS`` (364/365: the one server; a cluster of flackd nodes presents itself as one
server, as its users share one chat). Imports only the standard library,
``flackd.codec.modes`` (mask matching) and ``flackd.irc``: never trio, never the hub.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Final

from flackd.codec.modes import mask_matches

if TYPE_CHECKING:
    from flackd.irc.inbound import IrcClient

__all__ = ["HELP_TEXTS", "INFO_QUERIES", "help_lines"]

#: Each IRC command flackd answers: its syntax, then what it does (docs/irc.md says more).
HELP_TEXTS: Final[dict[str, tuple[str, ...]]] = {
    "AUTHENTICATE": ("AUTHENTICATE PLAIN", "SASL PLAIN: your nick and resume token."),
    "AWAY": ("AWAY [:message]", "Mark yourself away (301, WHO's G); alone: back."),
    "CAP": ("CAP LS [302] | REQ :caps | LIST | END", "Negotiate IRCv3 capabilities."),
    "CHATHISTORY": (
        "CHATHISTORY LATEST|BEFORE|AFTER|AROUND|BETWEEN|TARGETS <target> <ref> <n>",
        "Messages kept by the server; a ref is msgid=, timestamp= or *.",
    ),
    "HELP": ("HELP [command]", "The commands, or one of them."),
    "HELPOP": ("HELPOP [command]", "The same as HELP."),
    "INFO": ("INFO", "About this server and its software (371, 374)."),
    "INVITE": (
        "INVITE [<nick> <#channel>]",
        "Let a user in past +i, +k and +l once; alone: yours.",
    ),
    "ISON": ("ISON <nick> [nick...]", "Which of these nicks are online (303)."),
    "JOIN": (
        "JOIN <#channel>[,#channel] [key,key]",
        "Join (or create) channels; JOIN 0 parts all.",
    ),
    "KICK": ("KICK <#channel> <nick>[,nick] [:reason]", "Remove members (operators only)."),
    "KILL": ("KILL <nick> [:reason]", "End a user's session (server operators only)."),
    "LINKS": ("LINKS [mask]", "The servers of this network: one."),
    "LIST": (
        "LIST [#chan|mask|!mask|<n|>n|C<m|C>m|T<m|T>m][,...]",
        "Channels: names or masks (! excludes), users fewer or more than n,",
        "made (C) or topic set (T) less or more than m minutes ago.",
    ),
    "LUSERS": ("LUSERS", "How many users and channels there are."),
    "MARKREAD": (
        "MARKREAD <target> [timestamp=<time>]",
        "Your read marker there; with a time, move it to the last message then.",
    ),
    "MODE": ("MODE <#channel> [+|-modes [params]] | MODE <nick>", "Channel modes: imnstklbov."),
    "MONITOR": ("MONITOR +|- <nicks> | C | L | S", "Be told when nicks come online or go."),
    "MOTD": ("MOTD", "The message of the day (there is none)."),
    "NAMES": ("NAMES <#channel>[,#channel]", "A channel's members."),
    "NICK": ("NICK <nick>", "Choose or change your nick."),
    "NOTICE": ("NOTICE <target>[,target] :<text>", "A message never answered automatically."),
    "OPER": ("OPER <name> <password>", "Become a server operator (381, user mode +o)."),
    "PART": ("PART <#channel>[,#channel] [:reason]", "Leave channels."),
    "PASS": ("PASS <token>", "Before NICK/USER: resume your session by its token."),
    "PING": ("PING <token>", "The server answers PONG."),
    "PONG": ("PONG <token>", "Answer the server's PING."),
    "PRIVMSG": ("PRIVMSG <target>[,target] :<text>", "Send a message to channels or nicks."),
    "QUIT": ("QUIT [:reason]", "Disconnect."),
    "REDACT": ("REDACT <target> <msgid> [:reason]", "Delete a message (yours, or as operator)."),
    "SETNAME": ("SETNAME :<real name>", "Change your real name."),
    "TIME": ("TIME", "The server's time."),
    "TOPIC": ("TOPIC <#channel> [:topic]", "Show or set a channel's topic."),
    "USER": ("USER <username> 0 * :<real name>", "Register (with NICK)."),
    "USERHOST": ("USERHOST <nick> [nick...]", "Nicks with their user and host."),
    "VERSION": ("VERSION", "The server's version."),
    "WALLOPS": ("WALLOPS :text", "To every user with mode +w (server operators only)."),
    "WHO": ("WHO <#channel|mask> [%fields[,token]]", "Users in a channel or matching a mask."),
    "WHOIS": ("WHOIS <nick>", "Who a user is and where."),
    "WHOWAS": ("WHOWAS <nick> [count]", "Who had a nick before."),
}

#: The lines of ``HELP`` alone: what it is, then the commands, several per line.
_PER_LINE: Final = 8


def help_lines(topic: str | None) -> tuple[str, tuple[str, ...]] | None:
    """(subject, lines) of ``HELP [topic]``; None for a topic with no help."""
    if topic is None:
        names = sorted(HELP_TEXTS)
        rows = [" ".join(names[i : i + _PER_LINE]) for i in range(0, len(names), _PER_LINE)]
        intro = ("flackd's IRC commands (HELP <command> for one):",)
        return "*", (*intro, *rows, "docs/irc.md has the whole mapping onto Flack.")
    subject = topic.upper()
    text = HELP_TEXTS.get(subject)
    return None if text is None else (subject, text)


def help_command(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``HELP [topic]`` and ``HELPOP [topic]``: 704, 705s and 706, or 524."""
    out = client.out
    topic = params[0] if params and params[0] else None
    found = help_lines(topic)
    if found is None:
        assert topic is not None
        yield out.numeric("524", topic, "No help available on this topic")
        return
    subject, lines = found
    first, *rest = lines
    replies = [out.numeric("704", subject, first)]
    replies += [out.numeric("705", subject, line) for line in rest]
    replies.append(out.numeric("706", subject, "End of /HELP"))
    yield b"".join(replies)


def links(client: IrcClient, params: Sequence[str]) -> Iterator[bytes]:
    """``LINKS [[server] mask]``: this server (hop count 0), if it matches the mask, then
    365. Several flackd nodes over one Redis are one IRC server to their users."""
    out = client.out
    mask = params[-1] if params else "*"
    lines = []
    if mask_matches(mask, out.server):
        lines.append(out.numeric("364", out.server, out.server, f"0 {out.info}"))
    lines.append(out.numeric("365", mask, "End of /LINKS list"))
    yield b"".join(lines)


INFO_QUERIES: Final[dict[str, Callable[[IrcClient, Sequence[str]], Iterator[bytes]]]] = {
    "HELP": help_command,
    "HELPOP": help_command,
    "LINKS": links,
}
