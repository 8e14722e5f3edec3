"""Real IRC clients chat with a Flack user through the installed flackd's IRC port.

weechat-headless (3.8 on Debian 12) and irssi (1.4.3, in tmux) each connect without TLS,
autojoin #general, say something a netcat-style Flack user in #general reads, and show
what that user says in the channel and privately. irssi also shows the channel's recent
history on joining. The helpers and how they wait are in tests/irc_clients.py; a test is
skipped only when its program is not installed (scripts: ``apt-get install
weechat-headless weechat-plugins irssi tmux``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.irc_clients import (
    IRSSI,
    TMUX,
    WEECHAT,
    flack_user,
    flackd_with_irc,
    irssi,
    weechat,
    weechat_fifo_plugin,
)
from tests.process import FlackdProcess

pytestmark = pytest.mark.subprocess

needs_weechat = pytest.mark.skipif(
    WEECHAT is None or weechat_fifo_plugin() is None,
    reason="weechat-headless or its fifo plugin is missing "
    "(apt-get install weechat-headless weechat-plugins)",
)
needs_irssi = pytest.mark.skipif(
    IRSSI is None or TMUX is None, reason="irssi or tmux is missing (apt-get install irssi tmux)"
)


def assert_no_server_errors(flackd: FlackdProcess) -> None:
    bad = [line for line in flackd.log if " ERROR " in line or "Traceback" in line]
    assert not bad, "\n".join(flackd.log)


@needs_weechat
async def test_weechat_chats_with_a_flack_user(tmp_path: Path) -> None:
    async with flackd_with_irc() as flackd:
        alice = await flack_user(flackd, "alice", "#general")
        async with weechat(tmp_path / "weechat", flackd.irc_port, "wee1", "#general") as wee:
            await alice.recv_until("JOIN #general wee1")
            await wee.wait_line("#general", "wee1", "has joined #general")  # its buffer is open
            await wee.run("#general", "hello from weechat")
            said = (await alice.recv_until("MSG #general"))[-1]
            assert said.endswith(" wee1 :hello from weechat"), said

            await alice.send("MSG #general hello weechat", "MSG wee1 just between us")
            line = await wee.wait_line("#general", "hello weechat")
            # alice made #general: its operator, and weechat shows her as one.
            assert line.split("\t")[1:] == ["@alice", "hello weechat"], line
            line = await wee.wait_line("alice", "just between us")  # its private buffer
            assert line.split("\t")[1:] == ["alice", "just between us"], line
        assert_no_server_errors(flackd)


@needs_irssi
async def test_irssi_chats_with_a_flack_user(tmp_path: Path) -> None:
    async with flackd_with_irc() as flackd:
        alice = await flack_user(flackd, "alice", "#general")
        async with irssi(tmp_path / "irssi", flackd.irc_port, "irs1", "#general") as irc:
            await alice.recv_until("JOIN #general irs1")
            # irssi calls a join synced once its MODE, WHO and ban-list queries are answered.
            await irc.wait_line("#general", "Join to #general was synced")
            await irc.command("/msg #general hello from irssi")
            said = (await alice.recv_until("MSG #general"))[-1]
            assert said.endswith(" irs1 :hello from irssi"), said

            await alice.send("MSG #general hello irssi", "MSG irs1 just between us")
            line = await irc.wait_line("#general", "hello irssi")
            assert re.search(r"<@alice> hello irssi$", line), line  # its operator
            line = await irc.wait_line("alice", "just between us")  # its query window
            assert re.search(r"<alice> just between us$", line), line

            # irssi's bogus "JOIN :" before registration (its test for CAP support) is
            # answered with 451, and registration goes on.
            await irc.open_rawlog()
            answer = await irc.wait_raw(">> ", " 451 ")
            assert answer == ">> :flackd.local 451 * :You have not registered", answer
            sent = irc.rawlog.read_text("utf-8", "replace").splitlines()
            assert "<< JOIN :" in sent[: sent.index(answer)], sent
        assert_no_server_errors(flackd)


@needs_irssi
async def test_irssi_shows_what_was_said_before_it_joined(tmp_path: Path) -> None:
    async with flackd_with_irc() as flackd:
        alice = await flack_user(flackd, "alice", "#general")
        await alice.send("MSG #general said before irssi came")
        echo = (await alice.recv_until("MSG #general"))[-1]  # stored, with its id and time
        stored_time = echo.split()[3]
        async with irssi(tmp_path / "irssi", flackd.irc_port, "irs2", "#general") as irc:
            line = await irc.wait_line("#general", "said before irssi came")
            assert re.search(r"<@alice> said before irssi came$", line), line
            # irssi negotiated server-time: the replayed line carries its stored time as a
            # tag, not as a "[YYYY-MM-DD HH:MMZ]" prefix in the text.
            await irc.open_rawlog()
            raw = await irc.wait_raw("PRIVMSG #general :said before irssi came")
            expected = (
                f">> @time={stored_time} :alice!alice@flack PRIVMSG #general "
                ":said before irssi came"
            )
            assert raw == expected, raw
        assert_no_server_errors(flackd)
