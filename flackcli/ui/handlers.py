"""The slash commands' handlers: one input's arguments to a typed :data:`Action`.

Owns: :data:`HANDLERS` (each command's handler, by its canonical name in
:mod:`flackcli.ui.slash`; a handler takes the arguments, the current buffer and the
server's line limit), the checks each makes before anything is sent (channel and nick
names, the channel operators' modes with ``flackd.codec.modes``, lengths against the line
limit: a typo is a local error, not a round trip), and turning text into messages
(:func:`say`, :func:`say_here`). :mod:`flackcli.ui.input` parses an input and calls them;
the server operators' commands are :mod:`flackcli.ui.opers`'.

Must not import anything but the standard library, ``flackd.codec``, and
:mod:`flackcli.ui.intents`, :mod:`flackcli.ui.slash`, :mod:`flackcli.ui.paste` and
:mod:`flackcli.ui.opers`: never trio, never prompt_toolkit.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from flackcli.ui.intents import (
    DEFAULT_MAX_LINE,
    Action,
    ClearBuffer,
    CloseBuffer,
    Connect,
    DeleteLast,
    LoadOlder,
    LocalError,
    MarkRead,
    Nothing,
    OpenBuffer,
    Quit,
    Raw,
    Reconnect,
    Reply,
    SendCommand,
    SendMessages,
    SetLogging,
    ShowHelp,
    StartEdit,
)
from flackcli.ui.paste import (
    max_text_bytes,
    split_paste,
)
from flackcli.ui.slash import (
    lookup,
)
from flackd.codec import commands as c
from flackd.codec.grammar import MAX_COUNT, format_command
from flackd.codec.ids import parse_id
from flackd.codec.modes import is_valid_key
from flackd.codec.text import fold, is_channel, is_valid_channel, is_valid_nick

__all__ = [
    "GENERAL",
    "Handler",
    "bad_channel",
    "bad_nick",
    "channel_of",
    "say",
    "say_here",
    "send",
    "split_words",
    "usage",
]


def _target(buffer: str | None) -> str | None:
    """Where plain text goes from ``buffer``: a channel, a nick, or nowhere."""
    if buffer is None:
        return None
    if is_channel(buffer):
        return buffer if is_valid_channel(buffer) else None
    return buffer if is_valid_nick(buffer) else None


def channel_of(buffer: str | None) -> str | None:
    return buffer if buffer is not None and is_valid_channel(buffer) else None


def usage(name: str, why: str = "") -> LocalError:
    cmd = lookup(name)
    assert cmd is not None
    prefix = f"{why}; " if why else ""
    return LocalError(f"{prefix}usage: {cmd.syntax} ({cmd.summary})")


def bad_channel(name: str) -> LocalError:
    return LocalError(
        f"{name} is not a channel name: # and then 1-32 ASCII letters, digits, _ or -"
    )


def bad_nick(name: str) -> LocalError:
    return LocalError(
        f"{name} is not a nick: 1-16 ASCII letters, digits, _ or -, starting with a letter"
        " (server, system, flack and flackd are reserved)"
    )


def send(command: c.Command, max_line: int, focus: str | None = None) -> Action:
    line = format_command(command)
    if len(line.encode("utf-8")) + 2 > max_line:
        return LocalError(f"too long: a line may be at most {max_line} bytes")
    return SendCommand(command, focus)


def say(
    target: str, text: str, max_line: int = DEFAULT_MAX_LINE, focus: str | None = None
) -> Action:
    """Send ``text`` to ``target`` as one message, or several when it has several lines
    or is too long for one (split by :func:`split_paste`)."""
    pieces = split_paste(text, max_text_bytes(target, max_line))
    if not pieces:
        return Nothing()
    if len(pieces) == 1:
        return SendCommand(c.Msg(target, pieces[0]), focus)
    return SendMessages(target, tuple(pieces), focus)


def say_here(buffer: str | None, text: str, max_line: int) -> Action:
    target = _target(buffer)
    if target is None:
        return LocalError("this buffer has no one to talk to: /join #channel, or /msg nick text")
    return say(target, text, max_line)


Handler = Callable[[str, str | None, int], Action]


def split_words(args: str) -> list[str]:
    return args.split()


def _join(args: str, buffer: str | None, max_line: int) -> Action:
    words = split_words(args)
    if not 1 <= len(words) <= 2:
        return usage("join", "too many parameters" if words else "")
    name = words[0] if words[0].startswith("#") else "#" + words[0]
    if not is_valid_channel(name):
        return bad_channel(words[0])
    key = words[1] if len(words) == 2 else None
    if key is not None and key.startswith("#"):
        return usage("join", "one channel at a time (a key cannot start with # here)")
    if key is not None and not is_valid_key(key):
        return usage("join", "a key is 1-32 printable ASCII characters, no spaces or commas")
    return send(c.Join(name, key), max_line, focus=name)


def _part(args: str, buffer: str | None, max_line: int) -> Action:
    first, _, rest = args.partition(" ")
    if first.startswith("#"):
        if not is_valid_channel(first):
            return bad_channel(first)
        return send(c.Part(first, rest.strip(" ")), max_line)
    target = _target(buffer)
    if target is None:
        return usage("part", "this is not a channel")
    if not is_channel(target):
        return CloseBuffer(target)
    return send(c.Part(target, args), max_line)


def _msg(args: str, buffer: str | None, max_line: int) -> Action:
    target, _, text = args.partition(" ")
    text = text.lstrip(" ")
    if not target or not text.strip():
        return usage("msg")
    if is_channel(target):
        if not is_valid_channel(target):
            return bad_channel(target)
        return say(target, text, max_line)
    if not is_valid_nick(target):
        return bad_nick(target)
    return say(target, text, max_line, focus=target)


def _query(args: str, buffer: str | None, max_line: int) -> Action:
    nick, _, text = args.partition(" ")
    if not nick:
        return usage("query")
    if not is_valid_nick(nick):
        return bad_nick(nick)
    if text.strip():
        return say(nick, text.lstrip(" "), max_line, focus=nick)
    return OpenBuffer(nick)


def _reply(args: str, buffer: str | None, max_line: int) -> Action:
    if not args.strip():
        return usage("reply")
    return Reply(args)


def _me(args: str, buffer: str | None, max_line: int) -> Action:
    if not args.strip():
        return usage("me")
    target = _target(buffer)
    if target is None:
        return LocalError("this buffer has no one to talk to: /join #channel, or /msg nick text")
    return send(c.Action(target, args), max_line)


def _nick(args: str, buffer: str | None, max_line: int) -> Action:
    words = split_words(args)
    if len(words) != 1:
        return usage("nick", "too many parameters" if words else "")
    if not is_valid_nick(words[0]):
        return bad_nick(words[0])
    return send(c.Nick(words[0]), max_line)


def _list(args: str, buffer: str | None, max_line: int) -> Action:
    if args:
        return usage("list", "/list takes no parameters")
    return send(c.ListChannels(), max_line)


def _names(args: str, buffer: str | None, max_line: int) -> Action:
    words = split_words(args)
    if len(words) > 1:
        return usage("names", "too many parameters")
    channel = words[0] if words else channel_of(buffer)
    if channel is None:
        return usage("names", "this is not a channel")
    if not is_valid_channel(channel):
        return bad_channel(channel)
    return send(c.Names(channel), max_line)


def _topic(args: str, buffer: str | None, max_line: int) -> Action:
    first, _, rest = args.partition(" ")
    if first and is_valid_channel(first):
        channel, text = first, rest.strip(" ")
    else:
        here = channel_of(buffer)
        if here is None:
            return usage("topic", "this is not a channel")
        channel, text = here, args
    return send(c.Topic(channel, text or None), max_line)


def _invite(args: str, buffer: str | None, max_line: int) -> Action:
    words = split_words(args)
    if not words:  # the channels you are invited to
        return send(c.Invites(), max_line)
    if len(words) > 2:
        return usage("invite", "give a nick, and a channel if this is not one")
    channel = words[1] if len(words) == 2 else channel_of(buffer)
    if channel is None:
        return usage("invite", "this is not a channel")
    if not is_valid_channel(channel):
        return bad_channel(channel)
    return send(c.Invite(words[0], channel), max_line)


def _history(args: str, buffer: str | None, max_line: int) -> Action:
    channel = _target(buffer)
    if channel is None:
        return usage("history", "only channels and private conversations keep history")
    words = split_words(args)
    if not words:
        return LoadOlder(channel)
    if len(words) > 1:
        return usage("history", "too many parameters")
    word = words[0]
    if not (word.isascii() and word.isdigit() and len(word) <= 6 and 1 <= int(word) <= MAX_COUNT):
        return usage("history", f"n must be a number from 1 to {MAX_COUNT}")
    return LoadOlder(channel, int(word))


def _delete(args: str, buffer: str | None, max_line: int) -> Action:
    first, _, rest = args.partition(" ")
    if first and parse_id(first) is not None:
        return send(c.Delete(first, rest.strip(" ")), max_line)
    channel = _target(buffer)
    if channel is None:
        return usage("delete", "this buffer has no messages of yours")
    return DeleteLast(channel, args)


def _edit(args: str, buffer: str | None, max_line: int) -> Action:
    words = split_words(args)
    if len(words) > 1:
        return usage("edit", "too many parameters")
    if words and parse_id(words[0]) is None:
        return usage("edit", f"{words[0]} is not a message id (like 1795507200000-42)")
    target = _target(buffer)
    if target is None and not words:
        return usage("edit", "this buffer has no messages of yours")
    return StartEdit(target, words[0] if words else None)


def _read(args: str, buffer: str | None, max_line: int) -> Action:
    if not args:
        return MarkRead()
    if fold(args) == "-all":
        return MarkRead(all_buffers=True)
    return usage("read")


def _clear(args: str, buffer: str | None, max_line: int) -> Action:
    return usage("clear", "/clear takes no parameters") if args else ClearBuffer()


def _reconnect(args: str, buffer: str | None, max_line: int) -> Action:
    return usage("reconnect", "/reconnect takes no parameters") if args else Reconnect()


_SERVER: Final = re.compile(r"(?:[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?")


def _connect(args: str, buffer: str | None, max_line: int) -> Action:
    words = split_words(args)
    if len(words) != 1:
        return usage("connect", "too many parameters" if words else "")
    match = _SERVER.fullmatch(words[0])
    if match is None or (match[1] is not None and not 1 <= int(match[1]) <= 65535):
        return usage("connect", f"{words[0]} is not host or host:port")
    return Connect(words[0])


def _raw(args: str, buffer: str | None, max_line: int) -> Action:
    if not args:
        return usage("raw")
    if len(args.encode("utf-8")) + 2 > max_line:
        return LocalError(f"too long: a line may be at most {max_line} bytes")
    return Raw(args)


def _log(args: str, buffer: str | None, max_line: int) -> Action:
    word = fold(args)
    if word in ("on", "off"):
        return SetLogging(word == "on")
    return usage("log")


def _help(args: str, buffer: str | None, max_line: int) -> Action:
    words = split_words(args)
    if not words:
        return ShowHelp()
    if len(words) > 1:
        return usage("help", "too many parameters")
    cmd = lookup(words[0])
    if cmd is None:
        return LocalError(f"no command /{words[0].removeprefix('/')}; /help lists them")
    return ShowHelp(cmd.name)


def _quit(args: str, buffer: str | None, max_line: int) -> Action:
    if len(format_command(c.Quit(args)).encode("utf-8")) + 2 > max_line:
        return LocalError(f"too long: a line may be at most {max_line} bytes")
    return Quit(args or None)


#: The handlers of the commands everyone has, by canonical name.
GENERAL: Final[dict[str, Handler]] = {
    "join": _join,
    "part": _part,
    "msg": _msg,
    "query": _query,
    "reply": _reply,
    "me": _me,
    "nick": _nick,
    "list": _list,
    "names": _names,
    "topic": _topic,
    "invite": _invite,
    "history": _history,
    "delete": _delete,
    "edit": _edit,
    "read": _read,
    "clear": _clear,
    "reconnect": _reconnect,
    "connect": _connect,
    "raw": _raw,
    "log": _log,
    "help": _help,
    "quit": _quit,
}
