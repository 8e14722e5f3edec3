"""The full-screen application driven headless: prompt-toolkit's pipe input and a dummy
output (prompt-toolkit's documented way to test an application), asserting on the actions
it submits and on the view state. Keys are processed in order, so an action submitted after
some keys proves those keys were handled (a key barrier, not a sleep)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput

from flackcli.notices import ConnectionState, Members
from flackcli.ui import input as ui
from flackcli.ui.app import ChatApp
from flackcli.ui.view import View
from flackd.codec import commands as c
from flackd.codec import events as e


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as inp, create_app_session(input=inp, output=DummyOutput()):
        yield inp


def said(action: ui.Action) -> tuple[str, tuple[str, ...]]:
    """The target and texts of an action that sends messages (one or several)."""
    if isinstance(action, ui.SendCommand) and isinstance(action.command, c.Msg):
        return action.command.target, (action.command.text,)
    assert isinstance(action, ui.SendMessages), action
    return action.target, action.texts


def joined_view() -> View:
    view = View("alice")
    view.apply(ConnectionState("live"))
    for channel in ("#general", "#dev", "#random"):
        view.apply(Members(channel, ("alice", "bob")))
    view.select_name("#general")
    return view


def run(pipe: PipeInput, view: View, keys: list[str], until: int) -> list[ui.Action]:
    """Type ``keys`` into a fresh app; return its first ``until`` submitted actions."""
    submitted: list[ui.Action] = []

    async def main() -> None:
        done = asyncio.Event()

        def submit(action: ui.Action) -> None:
            submitted.append(action)
            if len(submitted) >= until:
                done.set()

        chat = ChatApp(view, submit)
        task = asyncio.ensure_future(chat.application.run_async())
        for key in keys:
            pipe.send_text(key)
        await asyncio.wait_for(done.wait(), timeout=10)
        future = chat.application.future
        if future is not None and not future.done():
            chat.application.exit()
        await task

    asyncio.run(main())
    return submitted


def test_plain_text_goes_to_the_current_channel(pipe: PipeInput) -> None:
    (action,) = run(pipe, joined_view(), ["hello there\r"], until=1)
    assert said(action) == ("#general", ("hello there",))


def test_slash_commands_become_actions(pipe: PipeInput) -> None:
    actions = run(pipe, joined_view(), ["/join #ops\r", "/topic new topic\r"], until=2)
    assert isinstance(actions[0], ui.SendCommand)
    assert actions[0].command == c.Join("#ops")
    assert isinstance(actions[1], ui.SendCommand)
    assert actions[1].command == c.Topic("#general", "new topic")


def test_alt_digit_and_ctrl_n_switch_buffers(pipe: PipeInput) -> None:
    view = joined_view()
    # Alt+2 shows buffer 2 (#dev), Ctrl+N the next one (#random); then a line proves it.
    (action,) = run(pipe, view, ["\x1b2", "\x0e", "where am i\r"], until=1)
    assert view.current.name == "#random"
    assert said(action) == ("#random", ("where am i",))


def test_a_multi_line_paste_asks_first_and_enter_sends_it(pipe: PipeInput) -> None:
    view = joined_view()
    paste = "\x1b[200~one\ntwo\nthree\x1b[201~"
    (action,) = run(pipe, view, [paste, "\r", "\r"], until=1)
    assert isinstance(action, ui.SendMessages)
    assert action.texts == ("one", "two", "three")


def test_escape_cancels_a_paste(pipe: PipeInput) -> None:
    view = joined_view()
    paste = "\x1b[200~one\ntwo\x1b[201~"
    actions = run(pipe, view, [paste, "\r", "\x1b", "after\r"], until=1)
    assert said(actions[0]) == ("#general", ("after",))  # the paste never went out


def test_alt_enter_makes_a_newline_and_one_message_per_line(pipe: PipeInput) -> None:
    (action,) = run(pipe, joined_view(), ["first", "\x1b\r", "second\r", "\r"], until=1)
    assert isinstance(action, ui.SendMessages)
    assert action.texts == ("first", "second")


def test_tab_completes_the_last_speaker(pipe: PipeInput) -> None:
    view = joined_view()
    view.apply(e.Message("#general", "1-1", "2026-11-24T09:00:00.000Z", "bob", "hi"))
    (action,) = run(pipe, view, ["b", "\t", "thanks\r"], until=1)
    assert said(action) == ("#general", ("bob: thanks",))


def test_ctrl_q_quits(pipe: PipeInput) -> None:
    (action,) = run(pipe, joined_view(), ["\x11"], until=1)
    assert action == ui.Quit(None)


# --- /edit ----------------------------------------------------------------------------------


def own_message_view() -> View:
    view = joined_view()
    view.apply(e.Message("#general", "1-5", "2026-11-24T09:00:00.000Z", "alice", "helo wrold"))
    view.apply(e.Message("#general", "1-6", "2026-11-24T09:00:01.000Z", "bob", "what?"))
    return view


def test_edit_puts_the_old_text_in_the_input_and_enter_sends_edit(pipe: PipeInput) -> None:
    # Backspace five times and retype: the rest of the old text was in the input.
    keys = ["/edit\r", "\x7f" * 5, "world\r"]
    (action,) = run(pipe, own_message_view(), keys, until=1)
    assert action == ui.SendCommand(c.Edit("1-5", "helo world"))


def test_edit_by_id_and_an_unchanged_text_sends_nothing(pipe: PipeInput) -> None:
    view = own_message_view()
    keys = ["/edit 1-5\r", "\r", "/edit\r", "!\r"]  # the first edit changes nothing
    (action,) = run(pipe, view, keys, until=1)
    assert action == ui.SendCommand(c.Edit("1-5", "helo wrold!"))


def test_escape_cancels_an_edit(pipe: PipeInput) -> None:
    view = own_message_view()
    (action,) = run(pipe, view, ["/edit\r", "\x1b", "after\r"], until=1)
    assert said(action) == ("#general", ("after",))  # no EDIT went out
    notes = [line.text for line in view.current.lines if line.kind == "system"]
    assert "edit cancelled: the message is unchanged" in notes


def test_edit_with_no_message_of_mine_is_a_local_error(pipe: PipeInput) -> None:
    view = joined_view()
    (action,) = run(pipe, view, ["/edit\r", "plain\r"], until=1)
    assert said(action) == ("#general", ("plain",))
    errors = [line.text for line in view.current.lines if line.kind == "error"]
    assert errors == ["you have no message in #general to edit"]


def test_me_and_edit_on_a_version_1_server_are_local_errors(pipe: PipeInput) -> None:
    view = own_message_view()
    view.apply(e.Hello("flackd", "0.1.0", 512, 100, "hi", "1"))
    actions = run(pipe, view, ["/me waves\r", "/edit\r"], until=2)
    assert actions == [ui.LocalError(ui.ME_UNSUPPORTED), ui.LocalError(ui.EDIT_UNSUPPORTED)]
    view.apply(e.Hello("flackd", "0.2.0", 512, 100, "hi", "1.1"))
    (action,) = run(pipe, view, ["/me waves\r"], until=1)
    assert action == ui.SendCommand(c.Action("#general", "waves"))


def test_an_oper_password_is_not_kept_in_the_input_history(pipe: PipeInput) -> None:
    submitted: list[ui.Action] = []
    chat = ChatApp(joined_view(), submitted.append)
    for text in ("/oper admin sesame-oper", "hello", "/OPER admin again", "//oper as text"):
        chat.input.text = text
        chat.accept()
    assert submitted[0] == ui.SendCommand(c.Oper("admin", "sesame-oper"))
    assert list(chat.input.history.get_strings()) == ["hello", "//oper as text"]
