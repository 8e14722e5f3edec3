"""Pure input handling for the full-screen client: one submitted input as an action.

Owns: turning one submitted input into a typed, frozen :data:`Action` (:func:`parse`):
plain text, ``//text`` and ``/command``, the table of every command's handler, and what
a server of an older protocol cannot do (``/me``, ``/edit`` and private history need 1.1;
the channel operators' commands, ``/join`` with a key and reasons for deleting 1.2; the
server operators' 1.3), refused locally. The handlers themselves, each checking its
arguments before anything is sent, are :mod:`flackcli.ui.handlers`' (everyone's
commands), :mod:`flackcli.ui.chanops`' (the channel operators') and
:mod:`flackcli.ui.opers`' (the server operators'). It re-exports, as the one module the
shell imports for input, the pieces it is built from: the actions
(:mod:`flackcli.ui.intents`), the slash-command table and completion
(:mod:`flackcli.ui.slash`), and cleaning and splitting text (:mod:`flackcli.ui.paste`).

Must not import anything but the standard library, ``flackd.codec``, ``flackcli.notices``
and those modules: never trio, never prompt_toolkit, nothing else from flackd. Nothing
here performs an action; the caller (``ui.app`` and its runner) carries actions out.

Buffers are named as in ``ui.view``: a ``#channel``, a nick for a private conversation, and
anything else (``server``, None) for the server buffer, where plain text has no target.
"""

from __future__ import annotations

from typing import Final

from flackcli.ui.chanops import CHANNEL_OPERATORS
from flackcli.ui.handlers import GENERAL, Handler, say, say_here, send
from flackcli.ui.intents import (
    DEFAULT_MAX_LINE,
    DM_HISTORY_UNSUPPORTED,
    EDIT_UNSUPPORTED,
    ME_UNSUPPORTED,
    OPERATORS_UNSUPPORTED,
    SERVER_OPERATORS_UNSUPPORTED,
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
    UserModes,
)
from flackcli.ui.opers import kill, needs_server_operators, oper, umode, wallops
from flackcli.ui.paste import (
    clean_text,
    max_text_bytes,
    needs_confirmation,
    split_paste,
)
from flackcli.ui.slash import (
    COMMAND_NAMES,
    SLASH_COMMANDS,
    SlashCommand,
    complete,
    current_word,
    help_lines,
    lookup,
)
from flackd.codec import commands as c
from flackd.codec.text import is_channel

__all__ = [
    "COMMAND_NAMES",
    "DEFAULT_MAX_LINE",
    "DM_HISTORY_UNSUPPORTED",
    "EDIT_UNSUPPORTED",
    "ME_UNSUPPORTED",
    "OPERATORS_UNSUPPORTED",
    "SERVER_OPERATORS_UNSUPPORTED",
    "SLASH_COMMANDS",
    "Action",
    "ClearBuffer",
    "CloseBuffer",
    "Connect",
    "DeleteLast",
    "LoadOlder",
    "LocalError",
    "MarkRead",
    "Nothing",
    "OpenBuffer",
    "Quit",
    "Raw",
    "Reconnect",
    "Reply",
    "SendCommand",
    "SendMessages",
    "SetLogging",
    "ShowHelp",
    "SlashCommand",
    "StartEdit",
    "UserModes",
    "clean_text",
    "complete",
    "current_word",
    "help_lines",
    "lookup",
    "max_text_bytes",
    "needs_confirmation",
    "parse",
    "parse_edit",
    "say",
    "split_paste",
]

# ---------------------------------------------------------------------------------------
# Parsing.


def parse(
    text: str,
    current_buffer: str | None,
    max_line: int = DEFAULT_MAX_LINE,
    *,
    protocol: str = "1.3",
) -> Action:
    """What to do with one submitted input in ``current_buffer``.

    Plain text is a message to the buffer (split into several when it has several lines
    or is too long); ``//text`` sends ``/text``; ``/command ...`` is a command, any letter
    case, aliases included. Input with several lines is always messages, never commands.
    ``max_line`` is the server's line limit (``HELLO ... maxline=``); ``protocol`` its
    version (``HELLO ... protocol=``): with "1", ``/me``, ``/edit`` and the history of
    private conversations are local errors; before "1.2", the operators' commands are;
    before "1.3", the server operators' commands and ``/umode`` are.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        return Nothing()
    if "\n" in text:
        return say_here(current_buffer, text, max_line)
    if text.startswith("//"):
        return say_here(current_buffer, text[1:], max_line)
    if not text.startswith("/"):
        return say_here(current_buffer, text, max_line)
    head, _, args = text[1:].partition(" ")
    args = clean_text(args.strip(" "))
    cmd = lookup(head)
    if cmd is None:
        shown = head[:32]
        return LocalError(
            f"unknown command /{shown}; /help lists them (//{shown} sends it as text)"
        )
    action = _HANDLERS[cmd.name](args, current_buffer, max_line)
    if protocol == "1":
        action = _version_1(action)
    if protocol in ("1", "1.1") and _needs_operators(action):
        return LocalError(OPERATORS_UNSUPPORTED.format(protocol=protocol))
    if protocol in ("1", "1.1", "1.2") and needs_server_operators(action):
        return LocalError(SERVER_OPERATORS_UNSUPPORTED.format(protocol=protocol))
    return action


def _needs_operators(action: Action) -> bool:
    """Whether ``action`` needs protocol 1.2 (modes, kicks, keys, reasons for deleting)."""
    match action:
        case SendCommand(c.Mode() | c.Kick()) | SendCommand(c.Join(_, str())):
            return True
        case SendCommand(c.Delete(_, reason)) | DeleteLast(_, reason) if reason:
            return True
    return False


def _version_1(action: Action) -> Action:
    """What a version-1 server cannot do becomes a local error."""
    match action:
        case SendCommand(c.Action()):
            return LocalError(ME_UNSUPPORTED)
        case StartEdit():
            return LocalError(EDIT_UNSUPPORTED)
        case LoadOlder(target) | DeleteLast(target) if not is_channel(target):
            return LocalError(DM_HISTORY_UNSUPPORTED)
    return action


def parse_edit(text: str, msg_id: str, max_line: int = DEFAULT_MAX_LINE) -> Action:
    """Enter while editing message ``msg_id``: ``EDIT <id> <text>`` (lines joined by
    spaces; the characters the server refuses replaced)."""
    new = clean_text(" ".join(text.replace("\r", "\n").split("\n")).strip(" "))
    if not new:
        return LocalError("an edit cannot be empty: /delete deletes a message")
    return send(c.Edit(msg_id, new), max_line)


#: Every slash command's handler, by its canonical name in :mod:`flackcli.ui.slash`.
_HANDLERS: Final[dict[str, Handler]] = {
    **GENERAL,
    **CHANNEL_OPERATORS,
    "oper": oper,
    "kill": kill,
    "wallops": wallops,
    "umode": umode,
}
