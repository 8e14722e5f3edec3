"""The view model of the full-screen client: what flackcli shows, as data.

The view model is split by concern into pure modules (``ui.cells``: widths, wrapping,
colours; ``ui.buffers``: buffers and lines; ``ui.reading``: unread, mentions, the read
marker; ``ui.render``: rows of fragments and scrolling geometry; ``ui.buffer_list``;
``ui.model``: lines into buffers, scrolling), composed here into :class:`View`, the one
class the rest of flackcli uses, which re-exports the names they use.

Owns: applying server lines (``flackd.codec.events``) and client notices
(``flackcli.notices``) to the buffers: messages (dedupe by id), our own joins and the sync
state of a channel until it is caught up, member lists, topics (including a topic that
arrives before its buffer), nick changes, parts, kicks and quits, deletions (by an
operator, with a reason), channel modes and members' roles (protocol 1.2), one's user
modes, OPER and KILL answers and WALLOPS (1.3), where the gap line goes, edits and unread
counts (1.1), error lines, the connection state and the retry countdown, a session the
server forgot; and the data of the status and title bars.

Must not import anything but the standard library, ``flackd.codec``, ``flackcli.notices``
and the ``ui`` view modules above: never trio, never prompt_toolkit, nothing else from
flackd. It is data in, data out, so it is tested with plain pytest (time and time zone are
injected).

Defence in depth: every string shown passes :func:`flackd.codec.text.neutralise` (and TAB
becomes a space) when it enters the model and again when it is rendered, so no terminal
control sequence, C1 control or bidi override ever reaches the screen, whatever the server
sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Final, Unpack

import flackcli.ui.reading as reading
from flackcli.notices import (
    CaughtUp,
    ConnectionState,
    Count,
    Gap,
    Members,
    Notice,
    Registered,
    SendFailed,
    SessionLost,
    UnreadCounts,
)
from flackcli.ui.buffers import (
    DELETED_TEXT,
    GAP_TEXT,
    SERVER,
    SESSION_LOST_TEXT,
    Buffer,
    BufferKind,
    ChannelRow,
    Line,
    LineKind,
    Status,
    drop_member,
    gap_position,
    remember_id,
    rename_member,
    set_members,
    set_role,
)
from flackcli.ui.cells import (
    PALETTE,
    Fragment,
    Row,
    ansi256_hex,
    cells,
    char_cells,
    clean,
    djb2,
    nick_colour,
    nick_colour_index,
    nick_style,
    panes_for_width,
    truncate_cells,
    wrap_cells,
)
from flackcli.ui.model import BufferModel, ModelOptions
from flackd.codec import events as ev
from flackd.codec.modes import ModeError, parse_changes
from flackd.codec.text import fold, is_channel

__all__ = [
    "GAP_TEXT",
    "PALETTE",
    "SERVER",
    "SESSION_LOST_TEXT",
    "Buffer",
    "BufferKind",
    "ChannelRow",
    "Fragment",
    "Line",
    "LineKind",
    "Row",
    "Status",
    "View",
    "ansi256_hex",
    "cells",
    "char_cells",
    "djb2",
    "nick_colour",
    "nick_colour_index",
    "nick_style",
    "panes_for_width",
    "truncate_cells",
    "wrap_cells",
]

_MAX_SPEAKERS: Final = 50
_MAX_ORPHAN_TOPICS: Final = 50


class View(BufferModel):
    """The state of the full-screen client. Feed it with :meth:`apply`; read it with
    :meth:`render_lines`, :meth:`channel_list`, :meth:`status`, :meth:`members`.

    ``tz`` is the zone times are shown in (None: the system's local zone); ``now`` returns
    an aware datetime (for system lines, the read marker and the retry countdown).
    """

    def __init__(self, my_nick: str, **options: Unpack[ModelOptions]) -> None:
        super().__init__(my_nick, **options)
        self.connection = ConnectionState("connecting")
        self._retry_at: datetime | None = None
        self.last_private_from: str | None = None  # for /reply
        self.protocol = "1.3"  # the server's (HELLO protocol=); "1" has no EDIT, ACTION, MARK
        self._orphan_topics: dict[str, ev.Topic] = {}  # TOPIC before its buffer opened

    # -- applying events and notices --------------------------------------------------

    def apply(self, item: ev.Event | Notice) -> None:
        """Update the model with one server line or client notice."""
        match item:
            case ev.Message():
                self._on_message(item)
            case ev.Joined(channel, nick):
                self._on_joined(channel, nick)
            case ev.Parted(channel, nick, reason):
                self._on_parted(channel, nick, reason)
            case ev.Quit(nick, reason):
                self._on_quit(nick, reason)
            case ev.NickChanged(old, new):
                self._on_nick(old, new)
            case ev.Topic(channel):
                if fold(channel) in self._buffers:
                    self._on_topic(item)
                else:  # a join reply sends the topic before the member list
                    self._orphan_topics[fold(channel)] = item
                    while len(self._orphan_topics) > _MAX_ORPHAN_TOPICS:
                        del self._orphan_topics[next(iter(self._orphan_topics))]
            case ev.Deleted(target, msg_id, nick, reason):
                self._on_deleted(self.conversation_of(target, nick), msg_id, nick, reason)
            case ev.Edited(target, msg_id, _time, editor, text):
                self._edit(self.conversation_of(target, editor), msg_id, text)
            case ev.ModeChanged(channel, nick, changes):
                self._on_mode(channel, nick, changes)
            case ev.Kicked(channel, nick, by, reason):
                self._on_kicked(channel, nick, by, reason)
            case UnreadCounts(counts):
                self._on_unread(counts)
            case ev.Ok(command, params) if command in ("JOIN", "CREATE") and params:
                self._own_join(params[0])
            case ev.Error(code, command, _params, text) if command != "MARK":
                self._error_line(command, code, text)
            case ev.Note(code, _params, text):
                self._system(self._buffers[SERVER], text or code)
            case ev.Bye(code, _params, text):
                self._system(self._buffers[SERVER], f"the server closed the connection: "
                             f"{text or code} ({code})")  # fmt: skip
            case ev.Hello(server, version):
                self.protocol = item.protocol
                self._system(self._buffers[SERVER], f"connected to {server} {version}")
            case ev.ChannelEntry(channel, count, topic):
                shown = f"{channel} ({count})" + (f" {topic}" if topic else "")
                self._system(self.current, shown)
            case ev.Info(text) | ev.Ok("OPER" | "KILL", _, text):
                self._system(self.current, text)
            case ev.Wallops(nick, text):
                self._system(self.current, f"-{nick}/wallops- {text}")
            case Members(channel, nicks, roles):
                buf = self._ensure(channel, joining=True)
                set_members(buf, [fold(n) for n in nicks], [clean(n) for n in nicks], roles)
            case Gap(channel, after_id):
                self._on_gap(channel, after_id)
            case CaughtUp(channel):
                if (buf_or_none := self.buffer(channel)) is not None:
                    buf_or_none.syncing, buf_or_none.sync_anchor = False, None
            case ConnectionState():
                self._on_connection(item)
            case SessionLost(nick, _channels):
                self._on_session_lost(nick)
            case Registered(nick, resumed, _last, wanted):
                self._set_my_nick(nick)
                how = "resumed the session as" if resumed else "registered as"
                taken = f" ({wanted} is taken)" if wanted else ""
                self._system(self._buffers[SERVER], f"{how} {nick}{taken}")
            case SendFailed(command, code, text):
                self._error_line(command, code, text)
            case _:
                pass  # Ok, Ping, Pong, blocks, Member lines: nothing to show

    def _opened(self, buf: Buffer) -> None:
        """A topic line that arrived before its buffer opened is applied now."""
        topic = self._orphan_topics.pop(buf.key, None)
        if topic is not None:
            self._on_topic(topic)

    def _own_join(self, channel: str) -> None:
        buf = self._ensure(channel, joining=True)
        if not buf.syncing:
            buf.syncing = True
            buf.sync_anchor = buf.lines[-1] if buf.lines else None

    def _on_message(self, msg: ev.Message) -> None:
        buf = self._ensure(self.conversation_of(msg.target, msg.author))
        if buf.kind == "dm" and fold(msg.author) == buf.key:
            self.last_private_from = clean(msg.author)
        if msg.id in buf.ids:
            return
        remember_id(buf, msg.id, self.max_ids)
        line = self._message_line(msg, buf)
        if not line.own:
            key = fold(msg.author)
            buf.speakers = [line.nick, *(n for n in buf.speakers if fold(n) != key)]
            del buf.speakers[_MAX_SPEAKERS:]
        self._add(buf, line)
        if buf.pending_read_id == msg.id:
            self._read_up_to(buf, msg.id)

    def _error_line(self, command: str, code: str, text: str) -> None:
        shown = text or code
        if command and command != "*":
            shown = f"{command}: {shown}"
        self._add(self.current, Line("error", clean(shown), time=self._local_now()))

    def _on_joined(self, channel: str, nick: str) -> None:
        if fold(nick) == fold(self.my_nick):
            self._own_join(channel)  # RESUME tells us our channels this way
            return
        buf = self._ensure(channel)
        buf.members[fold(nick)] = clean(nick)
        self._system(buf, f"{nick} joined {buf.name}")

    def _on_parted(self, channel: str, nick: str, reason: str) -> None:
        buf = self.buffer(channel)
        why = f" ({reason})" if reason else ""
        if fold(nick) == fold(self.my_nick):
            name = buf.name if buf is not None else channel
            if buf is not None:
                self.close(buf.key)
            self._system(self._buffers[SERVER], f"you left {name}{why}")
            return
        if buf is None:
            return
        drop_member(buf, fold(nick))
        self._system(buf, f"{nick} left {buf.name}{why}")

    def _on_kicked(self, channel: str, nick: str, by: str, reason: str) -> None:
        """Someone was put out; me: the channel is left, as by my part, and said loudly."""
        buf = self.buffer(channel)
        name, why = buf.name if buf is not None else channel, f" ({reason})" if reason else ""
        if fold(nick) == fold(self.my_nick):
            if buf is not None:
                self.close(buf.key)
            for shown in {SERVER, self._current}:  # said where I look, and in the server buffer
                self.note(f"you were kicked from {name} by {by}{why}", shown, error=True)
        elif buf is not None:
            drop_member(buf, fold(nick))
            self._system(buf, f"{by} kicked {nick}{why}")

    def _on_mode(self, channel: str, nick: str, changes: tuple[str, ...]) -> None:
        """``nick`` changed the modes (roles follow ``+o/-v``...); ``*``: /mode's answer."""
        buf, words = self.buffer(channel) if is_channel(channel) else None, " ".join(changes)
        if nick == "*" or not is_channel(channel):
            said = "modes" if nick == "*" else "mode change"
            self._system(self.current, f"{said} of {buf.name if buf else channel}: {words}")
        elif buf is not None:
            with suppress(ModeError):  # a line we cannot read is still shown as it came
                for change in parse_changes(list(changes)):
                    if change.letter in "ov" and change.param is not None:
                        set_role(buf, fold(change.param), change.letter, change.on)
            self._system(buf, f"{nick} sets mode {words}")

    def _on_quit(self, nick: str, reason: str) -> None:
        key = fold(nick)
        why = f" ({reason})" if reason else ""
        for buf in self.buffers:
            if (buf.kind == "channel" and drop_member(buf, key)) or (
                buf.kind == "dm" and buf.key == key
            ):
                self._system(buf, f"{nick} quit{why}")

    def _on_nick(self, old: str, new: str) -> None:
        old_key, new_key = fold(old), fold(new)
        if old_key == fold(self.my_nick):
            self._set_my_nick(new)
            for buf in self.buffers:
                if buf.kind == "channel":
                    rename_member(buf, old_key, new_key, clean(new))
            self._system(self.current, f"you are now known as {new}")
            return
        for buf in self.buffers:
            if buf.kind == "channel" and rename_member(buf, old_key, new_key, clean(new)):
                self._system(buf, f"{old} is now known as {new}")
        dm = self._buffers.get(old_key)
        if dm is not None and dm.kind == "dm":
            self._system(dm, f"{old} is now known as {new}")
            if new_key == old_key or new_key not in self._buffers:
                self._rekey(dm, new)

    def _on_topic(self, topic: ev.Topic) -> None:
        buf = self._ensure(topic.channel)
        text = clean(topic.text)
        changed = text != buf.topic
        known, buf.topic_known = buf.topic_known, True
        buf.topic = text
        buf.topic_setter = clean(topic.setter) if topic.setter != "*" else ""
        if not known or (buf.syncing and not changed):
            return  # part of a (re)join reply: shown in the title, not as a line
        if changed and topic.setter != "*":
            self._system(buf, f"{topic.setter} changed the topic to: {text}")
        elif topic.setter == "*":  # the answer to /topic: shown where it was asked
            self._system(self.current, f"{buf.name} has no topic")
        else:
            self._system(self.current, f"topic of {buf.name}: {text} (set by {topic.setter})")

    def _on_deleted(self, channel: str, msg_id: str, by: str, reason: str) -> None:
        buf = self.buffer(channel)
        if buf is None:
            return
        for line in reversed(buf.lines):
            if line.id == msg_id and line.kind == "message":
                line.deleted = True
                line.mention = False
                who = f" by {by}" if fold(by) != fold(line.nick) else ""  # an operator
                why = f": {reason}" if reason else ""
                line.text = clean(f"(message deleted{who}{why})") if who or why else DELETED_TEXT
                line._cache = None
                break
        reading.uncount(buf, msg_id)

    def _on_gap(self, channel: str, after_id: str | None) -> None:
        buf = self._ensure(channel)
        at = gap_position(buf, after_id)
        if at is not None:
            self._add(buf, Line("gap", GAP_TEXT), at=at if at < len(buf.lines) else None)

    def _on_connection(self, state: ConnectionState) -> None:
        previous = self.connection.state
        self.connection = state
        self._retry_at = None
        if state.retry_in is not None:
            self._retry_at = self.now() + timedelta(seconds=state.retry_in)
        if state.state == "live":
            return
        dms = self.protocol != "1"  # protocol 1.1: private conversations catch up too
        for buf in self.buffers:  # every channel re-joins and catches up on reconnect
            if (buf.kind == "channel" or (dms and buf.kind == "dm")) and not buf.syncing:
                buf.syncing = True
                buf.sync_anchor = buf.lines[-1] if buf.lines else None
        if state.state in ("offline", "stopped") and previous not in ("offline", "stopped"):
            why = f": {state.reason}" if state.reason else ""
            self._system(self._buffers[SERVER], f"disconnected{why}")

    def _on_unread(self, counts: Iterable[Count]) -> None:
        """The server's counts replace ours (a conversation not listed has nothing
        unread); a conversation with unread messages gets its buffer at once."""
        listed = {fold(count.target): count for count in counts}
        for count in listed.values():
            self._ensure(count.target)
        for buf in self.buffers:
            got = listed.get(buf.key)
            if buf.kind != "server" and not self._visible_at_bottom(buf):
                reading.server_counts(buf, *(got[1:] if got else (0, 0, None)))

    def _on_session_lost(self, nick: str) -> None:
        """Said where the user looks: the server buffer, every channel (each re-joins and
        may show a gap line) and the current buffer."""
        text = SESSION_LOST_TEXT.format(nick=nick)
        shown = [b for b in self.buffers if b.kind != "dm" or b.key == self._current]
        for buf in shown:
            self._system(buf, text)

    # -- status -----------------------------------------------------------------------

    def connection_text(self) -> str:
        """``live``, ``connecting…``, ``⟳ reconnecting in 8s (try 4)``, ..."""
        st = self.connection
        if st.state == "live":
            return "live"
        if st.state in ("connecting", "registering"):
            return f"{st.state}…"
        if st.state == "stopped":
            return f"stopped: {st.reason}" if st.reason else "stopped"
        if self._retry_at is not None:
            left = (self._retry_at - self.now()).total_seconds()
            secs = max(0, math.ceil(round(left, 3)))
            when = f"in {secs}s" if secs > 0 else "now"
            attempt = f" (try {st.attempt})" if st.attempt else ""
            return f"⟳ reconnecting {when}{attempt}"
        return f"offline: {st.reason}" if st.reason else "offline"

    def status(self) -> Status:
        buf = self.current
        return Status(
            connection=clean(self.connection_text()),
            state=self.connection.state,
            nick=clean(self.my_nick),
            buffer=buf.name,
            topic=buf.topic,
            members=len(buf.members) if buf.kind == "channel" else 0,
            activity=self.activity(),
            more=buf.scroll,
        )
