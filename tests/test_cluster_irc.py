"""The cluster mode: IRC clients on nodes sharing a Redis.

The IRC translator (flackd/irc/inbound.py) reads the hub synchronously right after it
yields a Run (``self.registered()`` after NICK/RESUME, ``set_identity`` only if
registered, the 451 check of the next line). With ``--data-dir`` the hub has changed by
then (the committer runs the command at once and holds only its replies); with
``--redis`` the command is only on its way to the log, so each of these reads sees the
state before it. Each of these once passed on a single node and failed on a cluster node.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from tests.ircsupport import IrcClient
from tests.redissupport import redis_server, start_node
from tests.support import WAIT, LineClient


async def _until(check: Callable[[], bool]) -> None:
    with trio.fail_after(WAIT):
        while not check():
            await trio.sleep(0.01)


async def test_irc_resume_with_the_token_as_password_works_on_a_cluster_node(
    tmp_path: Path,
) -> None:
    """``_try_register``: ``yield RESUME``, then ``if not self.registered(): yield
    Disconnect("that password is not a resume token...")``. On a cluster node the RESUME
    is still on its way to the log, so the client is always disconnected; worse, the
    Close is queued behind the RESUME, which does run: the session is moved to this
    connection (the old one gets BYE RESUMED) and then dropped with it."""
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        bob = await LineClient.connect(a.port, "bob")
        token = await bob.register("bob")
        await bob.join("#den")
        await bob.aclose()  # dropped, not QUIT: resumable
        await _until(
            lambda: (
                (s := b.server.hub.session("bob")) is not None  # type: ignore[attr-defined]
                and s.conn is None
            )
        )
        back = await IrcClient.connect(b.irc_port, "back")
        await back.send(f"PASS {token}", "NICK whatever", "USER b 0 * :B")
        welcome = await back.expect("001")
        assert welcome.params[0] == "bob"
        await back.sync()  # still connected (an EOF fails here, after the ERROR line)
        nursery.cancel_scope.cancel()


async def test_irc_user_fields_are_kept_on_a_cluster_node(tmp_path: Path) -> None:
    """``_try_register``: ``yield NICK``, then ``if self.registered(): set_identity(...)``:
    never true on a cluster node at that moment, so USER's fields are never kept (WHOIS,
    WHO, extended-join show the nick instead of ``~user`` and the real name)."""
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        ext = await IrcClient.connect(a.irc_port, "ext")
        await ext.register("ext", caps="extended-join")
        await ext.send("JOIN #x")
        own = await ext.expect("JOIN")
        assert own.params == ("#x", "*", "ext tester")  # its own, from USER
        nursery.cancel_scope.cancel()


async def test_irc_lines_sent_with_the_registration_are_carried_out(tmp_path: Path) -> None:
    """A client (a bot, ``printf ... | nc``) that sends NICK, USER and JOIN at once: on one
    node the JOIN is carried out; on a cluster node the translator answers it 451 (the
    NICK is not in the hub yet), although Flack's wire queues it behind the NICK."""
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        bot = await IrcClient.connect(a.irc_port, "bot")
        await bot.send("NICK bot", "USER bot 0 * :a bot", "JOIN #pipe")
        await bot.expect("001")
        got = await bot.sync()
        commands = [m.command for m in got]
        assert "451" not in commands, bot.seen
        assert "JOIN" in commands, bot.seen
        nursery.cancel_scope.cancel()
