"""Carrying out what the user asked for: input actions against the supervisor and the view.

Owns: :func:`perform`, which runs on the Trio side (called by ``ui.runner``) and turns one
``ui.input`` action into supervisor calls and view updates, including showing the replies
of LIST, NAMES, TOPIC, HISTORY, the ban list (``MODE #c +b``) and /raw, and turning
refusals into error lines. Imports ``flackd.codec`` and flackcli modules; never
prompt_toolkit, never asyncio.
"""

from __future__ import annotations

from flackcli.client import ConnectionClosed, FlackError
from flackcli.notices import Members
from flackcli.supervisor import Supervisor
from flackcli.ui import input as ui
from flackcli.ui.view import View
from flackd.codec import commands as c
from flackd.codec import events as e
from flackd.codec import format_event

__all__ = ["perform"]

#: How a NAMES role is shown before a nick (as IRC clients show them).
_ROLE_PREFIX = {"op": "@", "voice": "+"}
#: A mask list's name and how to lift an entry, by mode letter (/mode +b, +e, +I).
_MASK_LISTS = {
    "b": ("ban(s)", "/unban <mask> lifts one"),
    "e": ("ban exception(s)", "/mode -e <mask> lifts one"),
    "I": ("invite exception(s)", "/mode -I <mask> lifts one"),
}


async def perform(action: ui.Action, supervisor: Supervisor, view: View) -> bool:
    """Carry out ``action``; return True when the user wants to leave."""
    try:
        return await _perform(action, supervisor, view)
    except FlackError as err:
        view.note(f"{err.code}: {err.error.text}", error=True)
    except ConnectionClosed:
        view.note("not connected; try again once the status bar says live", error=True)
    return False


async def _perform(action: ui.Action, supervisor: Supervisor, view: View) -> bool:
    match action:
        case ui.Nothing():
            pass
        case ui.Quit(reason):
            if reason and supervisor.live:
                await supervisor.send(c.Quit(reason))
            return True
        case ui.SendCommand(command, focus):
            if focus is not None:
                view.request_focus(focus)
            await _send(command, supervisor, view)
        case ui.SendMessages(target, texts, focus):
            if focus is not None:
                view.request_focus(focus)
            for text in texts:
                await supervisor.send(c.Msg(target, text))
        case ui.OpenBuffer(name):
            view.open(name, select=True)
            await supervisor.open_conversation(name)  # its history, from a 1.1 server
        case ui.CloseBuffer(name):
            view.close(name)
            supervisor.close_conversation(name)
        case ui.LocalError(text):
            view.note(text, error=True)
        case ui.ShowHelp(topic):
            view.note("\n".join(ui.help_lines(topic)))
        case ui.Reconnect():
            supervisor.reconnect_now()
        case ui.Connect(server):
            view.note(
                f"switching servers is not supported yet: restart with flackcli --server {server}",
                error=True,
            )
        case ui.ClearBuffer():
            view.clear()
        case ui.MarkRead(all_buffers):
            if all_buffers:
                view.mark_all_read()
            else:
                view.mark_read()
        case ui.UserModes(words):
            await supervisor.send(c.Mode(view.my_nick, words))
        case ui.SetLogging():
            view.note("logging to files is not available yet", error=True)
        case ui.LoadOlder(channel, count):
            oldest = view.oldest_id(channel)
            lines = await supervisor.call(c.History(channel, before=oldest, count=count))
            messages = [line for line in lines if isinstance(line, e.Message)]
            if view.insert_older(channel, messages) == 0:
                view.note(f"nothing older in {channel}")
        case ui.DeleteLast(channel, reason):
            msgid = view.last_own_id(channel)
            if msgid is None:
                view.note(f"you have no message in {channel} to delete", error=True)
            else:
                await supervisor.send(c.Delete(msgid, reason))
        case ui.Raw(line):
            for reply in await supervisor.call(line):
                view.note(format_event(reply))
        case ui.Reply(text):
            partner = view.last_private_from
            if partner is None:
                view.note("nobody has sent you a private message yet", error=True)
            else:
                view.request_focus(partner)
                await supervisor.send(c.Msg(partner, text))
    return False


async def _send(command: c.Command, supervisor: Supervisor, view: View) -> None:
    """Commands whose replies are shown, and everything else fire-and-forget."""
    match command:
        case c.ListChannels():
            lines = await supervisor.call(command)
            entries = [x for x in lines if isinstance(x, e.ChannelEntry)]
            view.note(f"{len(entries)} channel(s); /join #name to enter one")
            for entry in entries:
                topic = f"  {entry.topic}" if entry.topic else ""
                view.note(f"  {entry.channel} ({entry.members}){topic}")
        case c.Names(channel):
            lines = await supervisor.call(command)
            members = [x for x in lines if isinstance(x, e.Member)]
            view.apply(
                Members(channel, tuple(m.nick for m in members), tuple(m.role for m in members))
            )
            shown = ", ".join(_ROLE_PREFIX.get(m.role, "") + m.nick for m in members)
            view.note(f"{channel}: {len(members)} member(s): {shown}")
        case c.Mode(channel, words) if [w.lstrip("+") for w in words] in (["b"], ["e"], ["I"]):
            lines = await supervisor.call(command)  # a BANS block: the pump skips blocks
            letter = words[0].lstrip("+")
            masks = [x for x in lines if isinstance(x, e.MaskEntry)]
            what, lift = _MASK_LISTS[letter]
            view.note(f"{channel}: {len(masks)} {what}" + (f"; {lift}" if masks else ""))
            for listed in masks:
                view.note(f"  {listed.mask} (set by {listed.setter}, {listed.time})")
        case c.Invites():
            lines = await supervisor.call(command)
            invited = [x for x in lines if isinstance(x, e.ChannelEntry)]
            view.note(f"invited to {len(invited)} channel(s)" + ("; /join one" if invited else ""))
            for channel_entry in invited:
                view.note(f"  {channel_entry.channel}")
        case c.Topic(channel, None):
            for line in await supervisor.call(command):
                if isinstance(line, e.Topic):
                    view.apply(line)
                    shown = line.text or "(no topic)"
                    view.note(f"topic of {line.channel}: {shown}")
                    break
        case c.History(channel):
            lines = await supervisor.call(command)
            messages = [x for x in lines if isinstance(x, e.Message)]
            view.insert_older(channel, messages)
        case _:
            await supervisor.send(command)
