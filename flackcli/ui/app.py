"""The full-screen application: layout, key bindings and style, and nothing else.

Owns: the prompt-toolkit ``Application`` (channel list, messages, member list, status bar,
input line), the keys (Alt+1..9, Ctrl+N/P, PgUp/PgDn, Tab completion, Alt+Enter newline,
Ctrl+C/Ctrl+Q), the paste guard, editing a sent message (``/edit``: its text in the input
line, Enter saves, Esc cancels), and the style sheet. It holds no networking: input
becomes an action (``ui.input.parse``) handed to ``submit``, a callable the runner provides;
the screen is drawn from the view model (``ui.view.View``). Imports prompt_toolkit,
``flackd.codec`` and flackcli's ``ui`` modules; never trio or asyncio directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prompt_toolkit.application import Application
from prompt_toolkit.application.current import get_app
from prompt_toolkit.buffer import Buffer as InputBuffer
from prompt_toolkit.data_structures import Point
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition, has_focus
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.keys import Keys
from prompt_toolkit.layout import (
    BufferControl,
    ConditionalContainer,
    Dimension,
    FormattedTextControl,
    HSplit,
    Layout,
    UIContent,
    UIControl,
    VSplit,
    Window,
)
from prompt_toolkit.styles import Style

from flackcli.ui import input as ui
from flackcli.ui.view import View, panes_for_width, truncate_cells

__all__ = ["STYLE", "ChatApp", "build"]

CHANNELS_WIDTH = 22
MEMBERS_WIDTH = 18

STYLE = Style.from_dict(
    {
        "time": "#808080",
        "nick.self": "bold",
        "separator": "#585858",
        "text.mention": "bold",
        "text.deleted": "italic #808080",
        "text.action": "italic",
        "edited": "#808080",
        "mention-margin": "bg:#d75f00",
        "system": "#808080",
        "error": "#ff5f5f",
        "gap": "#d7af00",
        "day": "#5f87af",
        "read-marker": "#d75f5f",
        "divider": "#444444",
        "status": "reverse",
        "status.live": "reverse #5faf5f",
        "status.offline": "reverse #d7af00",
        "status.prompt": "reverse bold #ffaf00",
        "channel.current": "reverse",
        "channel.unread": "bold",
        "channel.mention": "bold #ff8700",
        "prompt": "bold",
    }
)


class MessagesControl(UIControl):
    """The message pane: rows come from the view, sized to the window, newest last."""

    def __init__(self, view: View) -> None:
        self.view = view

    def create_content(self, width: int, height: int) -> UIContent:
        rows = self.view.render_lines(None, width, height)
        padded: list[StyleAndTextTuples] = [[] for _ in range(max(0, height - len(rows)))]
        padded += [list(row) for row in rows]
        return UIContent(
            get_line=lambda i: padded[i] if i < len(padded) else [],
            line_count=len(padded),
            cursor_position=Point(0, max(0, len(padded) - 1)),
            show_cursor=False,
        )

    def is_focusable(self) -> bool:
        return False


class ChatApp:
    """The application and the little state the keys need (paste guard, Tab cycling)."""

    def __init__(self, view: View, submit: Callable[[ui.Action], None]) -> None:
        self.view = view
        self.submit = submit
        self.max_line = ui.DEFAULT_MAX_LINE
        self.pending: ui.SendMessages | None = None  # a paste waiting for confirmation
        self.editing: str | None = None  # the id of the message being edited (/edit)
        self._edit_original = ""
        self._completions: list[str] = []
        self._completion_index = 0
        self._completed_from = ""
        self._inserted = ""
        self._completing = False
        self._quit_armed = False
        self.input = InputBuffer(multiline=True, name="input")
        self.input.on_text_changed += self._text_changed
        self.application: Application[Any] = Application(
            layout=self._layout(),
            key_bindings=self._keys(),
            style=STYLE,
            full_screen=True,
            mouse_support=False,
            refresh_interval=1.0,  # the reconnect countdown ticks
        )

    # -- layout -------------------------------------------------------------------------

    def _layout(self) -> Layout:
        def width() -> int:
            return get_app().output.get_size().columns

        show_channels = Condition(lambda: panes_for_width(width())[0])
        show_members = Condition(lambda: panes_for_width(width())[1])
        divider = Window(width=1, char="│", style="class:divider")
        body = VSplit(
            [
                ConditionalContainer(
                    Window(FormattedTextControl(self._channel_rows), width=CHANNELS_WIDTH),
                    filter=show_channels,
                ),
                ConditionalContainer(divider, filter=show_channels),
                Window(MessagesControl(self.view), wrap_lines=False),
                ConditionalContainer(
                    Window(width=1, char="│", style="class:divider"), filter=show_members
                ),
                ConditionalContainer(
                    Window(FormattedTextControl(self._member_rows), width=MEMBERS_WIDTH),
                    filter=show_members,
                ),
            ]
        )
        status = Window(FormattedTextControl(self._status_line), height=1, style="class:status")
        prompt = Window(
            FormattedTextControl(self._prompt),
            dont_extend_width=True,
            dont_extend_height=True,
            style="class:prompt",
        )
        entry = Window(
            BufferControl(self.input), height=Dimension(min=1, max=5, preferred=1), wrap_lines=True
        )
        return Layout(HSplit([body, status, VSplit([prompt, entry])]), focused_element=entry)

    def _channel_rows(self) -> StyleAndTextTuples:
        out: StyleAndTextTuples = []
        for row in self.view.channel_list():
            label = f"{row.number:>2} {row.name}"
            badge = ""
            if row.mentions:
                badge = f" @{row.mentions}"
            elif row.unread:
                badge = f" {row.unread}"
            text = truncate_cells(label, CHANNELS_WIDTH - len(badge) - 1) + badge
            style = (
                "class:channel.current"
                if row.is_current
                else "class:channel.mention"
                if row.mentions
                else "class:channel.unread"
                if row.unread
                else ""
            )
            out.append((style, text.ljust(CHANNELS_WIDTH) + "\n"))
        return out

    def _member_rows(self) -> StyleAndTextTuples:
        members = self.view.members()
        out: StyleAndTextTuples = [("class:system", f" {len(members)} members\n")]
        out += [("", " " + truncate_cells(nick, MEMBERS_WIDTH - 1) + "\n") for nick in members]
        return out

    def _status_line(self) -> StyleAndTextTuples:
        if self.editing is not None:
            return [("class:status.prompt", " Editing your message:  Enter save · Esc cancel ")]
        if self.pending is not None:
            n = len(self.pending.texts)
            return [
                (
                    "class:status.prompt",
                    f" Paste {n} lines into {self.pending.target} as {n} messages?  "
                    "Enter send · Esc cancel ",
                )
            ]
        status = self.view.status()
        state_style = "class:status.live" if status.state == "live" else "class:status.offline"
        parts: StyleAndTextTuples = [
            (state_style, f" {status.connection} "),
            ("class:status", f" [{status.nick}] {status.buffer}"),
        ]
        if status.topic:
            parts.append(("class:status", f" — {status.topic}"))
        if status.activity:
            parts.append(("class:status", f"  Act: {status.activity}"))
        if status.more:
            parts.append(("class:status", f"  -- {status.more} more below --"))
        return parts

    def _prompt(self) -> StyleAndTextTuples:
        editing = "edit: " if self.editing is not None else ""
        return [("class:prompt", f"[{self.view.current.name}] {editing}")]

    # -- keys ---------------------------------------------------------------------------

    def _keys(self) -> KeyBindings:
        kb = KeyBindings()
        focused = has_focus(self.input)
        guard = Condition(lambda: self.pending is not None)

        @kb.add("enter", filter=focused & ~guard)
        def _send(event: KeyPressEvent) -> None:
            """Send the message, or run the /command."""
            self.accept()

        @kb.add("enter", filter=guard)
        def _confirm(event: KeyPressEvent) -> None:
            """Send the pasted lines that the paste guard is asking about."""
            pending, self.pending = self.pending, None
            if pending is not None:
                self.submit(pending)

        @kb.add("escape", filter=guard, eager=True)
        def _cancel(event: KeyPressEvent) -> None:
            """Drop the pasted lines the guard is asking about (nothing is sent)."""
            self.pending = None
            self.view.note("paste cancelled: nothing was sent")

        @kb.add("escape", filter=Condition(lambda: self.editing is not None), eager=True)
        def _cancel_edit(event: KeyPressEvent) -> None:
            """Leave /edit: the message keeps its text."""
            self.cancel_edit()

        @kb.add("escape", "enter", filter=focused)
        def _newline(event: KeyPressEvent) -> None:
            """Alt+Enter: a new line in the input (each line goes out as its own message)."""
            self.input.insert_text("\n")

        for digit in "123456789":

            @kb.add("escape", digit)
            def _select(event: KeyPressEvent, number: int = int(digit)) -> None:
                """Alt+1..9: show buffer 1..9."""
                self.view.select(number)

        @kb.add("escape", "0")
        def _select_tenth(event: KeyPressEvent) -> None:
            """Alt+0: show buffer 10."""
            self.view.select(10)

        @kb.add("c-n")
        @kb.add("escape", "right")
        def _next(event: KeyPressEvent) -> None:
            """Next buffer."""
            self.view.next()

        @kb.add("c-p")
        @kb.add("escape", "left")
        def _prev(event: KeyPressEvent) -> None:
            """Previous buffer."""
            self.view.prev()

        @kb.add("escape", "a")
        def _active(event: KeyPressEvent) -> None:
            """Alt+A: next buffer with activity (mentions and private messages first)."""
            self.view.next_active()

        @kb.add("pageup")
        def _page_up(event: KeyPressEvent) -> None:
            """Scroll up a page."""
            self.view.page_up()

        @kb.add("pagedown")
        def _page_down(event: KeyPressEvent) -> None:
            """Scroll down a page."""
            self.view.page_down()

        @kb.add("escape", "home")
        def _top(event: KeyPressEvent) -> None:
            """Scroll to the oldest line."""
            self.view.scroll_top()

        @kb.add("escape", "end")
        def _bottom(event: KeyPressEvent) -> None:
            """Scroll to the newest line."""
            self.view.scroll_bottom()

        @kb.add("tab", filter=focused)
        def _complete(event: KeyPressEvent) -> None:
            """Complete a nick (last speaker first), a #channel or a /command."""
            self.complete()

        @kb.add("c-c")
        def _clear_or_quit(event: KeyPressEvent) -> None:
            """Clear the input; on an empty input, press twice to quit."""
            if self.input.text:
                self.input.reset()
                self._quit_armed = False
            elif self._quit_armed:
                self.quit()
            else:
                self._quit_armed = True
                self.view.note("press Ctrl+C again (or Ctrl+Q) to quit")

        @kb.add("c-q")
        def _quit(event: KeyPressEvent) -> None:
            """Quit (the session stays resumable: the next start comes back to it)."""
            self.quit()

        @kb.add(Keys.BracketedPaste)
        def _paste(event: KeyPressEvent) -> None:
            """A paste: insert it; more than one message then asks before sending."""
            text = event.data.replace("\r\n", "\n").replace("\r", "\n")
            self.input.insert_text(text)

        return kb

    # -- actions ------------------------------------------------------------------------

    def accept(self) -> None:
        """Turn the input into an action; multi-message input waits for confirmation."""
        text = self.input.text
        if self.editing is not None:
            self._save_edit(text)
            return
        if not text.strip():
            return
        head = text.lstrip().split(" ", 1)[0]  # an /oper's password is not kept in history:
        self.input.reset(append_to_history=head[:1] != "/" or ui.lookup(head) != ui.lookup("oper"))
        self._quit_armed = False
        action = ui.parse(text, self.view.current.name, self.max_line, protocol=self.view.protocol)
        if isinstance(action, ui.SendMessages) and ui.needs_confirmation(action.texts):
            self.pending = action  # the paste guard: the status bar asks first
            return
        if isinstance(action, ui.StartEdit):
            self.start_edit(action)
            return
        self.submit(action)

    def start_edit(self, action: ui.StartEdit) -> None:
        """``/edit``: the message's text goes into the input line, to be changed."""
        line = self.view.own_message(action.target, action.msg_id)
        if line is None or line.id is None:
            where = f" in {action.target}" if action.target else ""
            which = f"message {action.msg_id}" if action.msg_id else f"message{where}"
            self.view.note(f"you have no {which} to edit", error=True)
            return
        self.editing, self._edit_original = line.id, line.text
        self.input.document = Document(line.text)  # the cursor at the end

    def _save_edit(self, text: str) -> None:
        msg_id, self.editing = self.editing, None
        self.input.reset()
        if msg_id is None or text.strip() == self._edit_original.strip():
            return  # nothing changed: nothing to send
        self.submit(ui.parse_edit(text, msg_id, self.max_line))

    def cancel_edit(self) -> None:
        """Esc while editing: the input is cleared and nothing is sent."""
        self.editing = None
        self.input.reset()
        self.view.note("edit cancelled: the message is unchanged")

    def complete(self) -> None:
        """Tab: replace the word before the cursor with the next completion."""
        before = self.input.document.text_before_cursor
        self._completing = True
        try:
            if self._completions and before == self._completed_from:
                self.input.delete_before_cursor(len(self._inserted))
                self._completion_index = (self._completion_index + 1) % len(self._completions)
            else:
                self._completions = ui.complete(
                    before,
                    self.view.recent_speakers(),
                    self.view.channel_names(),
                    me=self.view.my_nick,
                )
                self._completion_index = 0
                if not self._completions:
                    return
                self.input.delete_before_cursor(len(ui.current_word(before)))
            self._inserted = self._completions[self._completion_index]
            self.input.insert_text(self._inserted)
            self._completed_from = self.input.document.text_before_cursor
        finally:
            self._completing = False

    def _text_changed(self, _buffer: InputBuffer) -> None:
        if not self._completing:
            self._completions = []
            self._completed_from = ""

    def quit(self) -> None:
        """Leave: tell the network side, then end the application."""
        self.submit(ui.Quit(None))
        future = self.application.future
        if future is not None and not future.done():
            self.application.exit()


def build(view: View, submit: Callable[[ui.Action], None]) -> Application[Any]:
    """The application for ``view``; user actions go to ``submit``."""
    return ChatApp(view, submit).application
