"""Several flackd nodes sharing one chat through a real Redis, in process, over real TCP.

Each test starts its own ``redis-server`` (by PID, on a free loopback port) and two or
three in-process nodes (:mod:`tests.redissupport`). What is checked: every command of the
protocol across nodes, the nick race across nodes, RESUME moving a session to another
node, one order for every member on every node under concurrent senders, identical state
on every node (the hub images compared), a new node starting from a snapshot, and what
clients see when Redis is unreachable, hung, or restarted with or without its data.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import trio
import trustme

from flackcli.notices import Gap, Registered
from flackcli.supervisor import Memory
from flackd.codec import events as e
from flackd.hub import image as hub_image
from flackd.server import Server
from tests.ircsupport import IrcClient
from tests.process import free_port
from tests.redissupport import CLUSTER_LIMITS, Node, redis_server, start_node
from tests.support import LineClient
from tests.test_supervisor import is_live, supervised
from tests.websupport import WebClient


def _image(server: Server) -> dict[str, object]:
    replica = server.replica
    assert replica is not None
    return hub_image.dump(server.hub, replica._key_of)  # type: ignore[arg-type]


async def _settled(*nodes: Node) -> None:
    """Every node has run as much of the log as the furthest one has."""
    replicas = [node.server.replica for node in nodes]
    target = max(r.applied for r in replicas if r is not None)
    for replica in replicas:
        assert replica is not None
        await replica.wait_applied(target)


def _block(lines: list[str], header: str) -> list[str]:
    """The lines of the reply block that starts with ``header`` (live lines before it are
    left out)."""
    start = max(i for i, line in enumerate(lines) if line.startswith(header + " "))
    return lines[start:]


async def test_operators_and_modes_across_two_nodes(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        alice = await a.client("alice", "#ops")
        bob = await b.client("bob")
        await bob.join("#ops")
        assert await alice.recv() == "JOIN #ops bob"
        # set on A, in force on B: invite only, and bob (on B) voiced
        await alice.send("MODE #ops +iv bob")
        change = await alice.recv()
        assert change == "MODE #ops alice +iv bob"
        assert await bob.recv() == change
        carol = await b.client("carol")
        await carol.send("JOIN #ops")
        assert (await carol.recv()).startswith("ERR INVITE_ONLY JOIN #ops ")
        await alice.send("INVITE carol #ops")
        assert (await alice.recv()).startswith("OK INVITE carol #ops")
        assert (await carol.recv()).startswith("NOTE INVITED #ops alice")
        joined = await carol.join("#ops")
        assert joined[3:6] == ["MEMBER alice role=op", "MEMBER bob role=voice", "MEMBER carol"]
        # a kick from A takes carol (on B) out on every node
        await alice.send("KICK #ops carol enough")
        kick = "KICK #ops carol alice :enough"
        assert [await alice.recv(), await alice.recv()] == ["JOIN #ops carol", kick]
        assert await carol.recv() == kick
        # +I on A lets carol (on B) past +i; a CTCP from B reaches A; +C refuses it
        await alice.send("MODE #ops +IC carol")
        assert await alice.recv() == "MODE #ops alice +IC carol!*@*"
        assert (await bob.recv_until("MODE"))[-1] == "MODE #ops alice +IC carol!*@*"
        await carol.join("#ops")
        assert await alice.recv() == "JOIN #ops carol"
        await carol.send("CTCP #ops PING 1")
        assert (await carol.recv()).startswith("ERR CANNOT_SEND CTCP #ops ")
        await alice.send("MODE #ops -C")
        assert await carol.recv() == "MODE #ops alice -C"
        await carol.send("CTCP #ops PING 2")
        assert await alice.recv() == "MODE #ops alice -C"
        assert await alice.recv() == "CTCP #ops carol PING :2"
        await _settled(a, b)
        assert _image(a.server) == _image(b.server)
        nursery.cancel_scope.cancel()


async def test_every_command_across_two_nodes(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        alice = await a.client("alice", "#general")
        bob = await b.client("bob")
        joined = await bob.join("#general")
        assert "MEMBER alice role=op" in joined
        assert "MEMBER bob" in joined
        assert await alice.recv() == "JOIN #general bob"

        # The same nick is taken on every node.
        carol = await LineClient.connect(b.port, "carol")
        await carol.send("NICK Alice")
        assert (await carol.recv()).startswith("ERR NICK_IN_USE NICK")

        # A message: the same line (id, time) for the sender on A and the member on B.
        await alice.send("MSG #general hi bob")
        echo = await alice.recv()
        assert echo.startswith("MSG #general ")
        assert echo.endswith(" alice :hi bob")
        assert await bob.recv() == echo
        msgid = echo.split()[2]

        # Topic, /me, edit and delete, set on one node, seen on the other.
        await bob.send("TOPIC #general release day")
        topic = await bob.recv()
        assert topic.startswith("TOPIC #general bob ")
        assert await alice.recv() == topic
        await bob.send("ACTION #general waves")
        action = await bob.recv()
        assert "kind=action" in action
        assert await alice.recv() == action
        await alice.send(f"EDIT {msgid} hi bob!")
        edited = await alice.recv()
        assert edited.startswith(f"EDITED #general {msgid} ")
        assert await bob.recv() == edited
        await alice.send(f"DELETE {msgid}")
        deleted = await alice.recv()
        assert deleted == f"DELETED #general {msgid} alice"
        assert await bob.recv() == deleted

        # HISTORY, NAMES and LIST answer the same on both nodes.
        await alice.send("HISTORY #general", "NAMES #general", "LIST")
        await bob.send("HISTORY #general", "NAMES #general", "LIST")
        here = await alice.recv_until("END LIST")
        there = await bob.recv_until("END LIST")
        assert here == there
        assert "MEMBER alice role=op" in here
        assert any(line.startswith("CHANNEL #general 2 ") for line in here)

        # Direct messages, with their history on both sides and the read markers.
        await bob.send("MSG alice psst")
        dm = await bob.recv()
        assert dm.startswith("MSG alice ")
        assert dm.endswith(" bob :psst")
        assert await alice.recv() == dm
        await alice.send("UNREAD")
        unread = await alice.recv_until("END UNREAD")
        assert any(line.startswith("COUNT bob unread=1 ") for line in unread), unread
        await alice.send(f"MARK bob {dm.split()[2]}", "HISTORY bob")
        assert (await alice.recv()).startswith("OK MARK")
        assert (await alice.recv_until("END HISTORY"))[1] == dm

        # INVITE reaches the other node; PART and QUIT are seen there.
        await alice.send("CREATE #side")
        await alice.recv_until("END HISTORY")
        await alice.send("INVITE bob #side")
        assert (await alice.recv()).startswith("OK INVITE bob #side")
        assert (await bob.recv()).startswith("NOTE INVITED #side alice")
        await alice.send("PART #general later")
        assert await alice.recv() == "PART #general alice :later"
        assert await bob.recv() == "PART #general alice :later"
        await alice.send("JOIN #general")
        await alice.recv_until("END HISTORY")
        assert await bob.recv() == "JOIN #general alice"
        await alice.send("QUIT gone home")
        assert await bob.recv() == "QUIT alice :gone home"
        await bob.send("NAMES #general")
        assert "MEMBER alice" not in await bob.recv_until("END NAMES")

        await _settled(a, b)
        assert _image(a.server) == _image(b.server)
        nursery.cancel_scope.cancel()


async def test_twenty_nodes_worth_of_nick_race_has_one_winner(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        nodes = [await start_node(nursery, redis, name) for name in ("a", "b", "c")]
        clients = [await LineClient.connect(nodes[i % 3].port, f"c{i}") for i in range(20)]
        answers: list[str] = []

        async def claim(client: LineClient) -> None:
            await client.send("NICK racer")
            answers.append(await client.recv())

        async with trio.open_nursery() as racers:
            for client in clients:
                racers.start_soon(claim, client)
        assert sum(a.startswith("OK NICK racer") for a in answers) == 1, answers
        assert sum(a.startswith("ERR NICK_IN_USE") for a in answers) == 19, answers
        nursery.cancel_scope.cancel()


async def test_resume_on_another_node_moves_the_session(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        dave = await LineClient.connect(a.port, "dave")
        token = await dave.register("dave")
        await dave.join("#ops")
        erin = await b.client("erin", "#ops")
        assert await dave.recv() == "JOIN #ops erin"
        await dave.send("MSG #ops before the move")
        first = await dave.recv()
        assert await erin.recv() == first

        moved = await LineClient.connect(b.port, "dave-on-b")
        await moved.send(f"RESUME {token}")
        lines = await moved.recv_until("OK RESUME")
        assert "JOIN #ops dave" in lines
        assert lines[-1].startswith("OK RESUME dave token=")
        assert (await dave.expect_eof())[-1].startswith("BYE RESUMED")
        await moved.send(f"HISTORY #ops AFTER {first.split()[2]}")
        assert await moved.recv_until("END HISTORY") == [
            "HISTORY #ops 0",
            "END HISTORY #ops more=no gap=no",
        ]
        await moved.send("MSG #ops back, on b")
        echo = await moved.recv()
        assert echo.endswith(" dave :back, on b")
        assert await erin.recv() == echo
        await erin.expect_quiet()  # nobody saw dave leave or come back
        nursery.cancel_scope.cancel()


async def test_one_order_for_every_member_on_every_node(tmp_path: Path) -> None:
    per_sender = 40
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        nodes = [await start_node(nursery, redis, name) for name in ("a", "b", "c")]
        watchers = [await node.client(f"w{i}", "#c") for i, node in enumerate(nodes)]
        senders = [await nodes[i % 3].client(f"s{i}", "#c") for i in range(6)]
        for i, watcher in enumerate(watchers):  # every node has run every JOIN
            for name in [f"w{j}" for j in range(i + 1, 3)] + [f"s{j}" for j in range(6)]:
                assert await watcher.recv() == f"JOIN #c {name}"

        async def send(i: int, client: LineClient) -> None:
            await client.send(*(f"MSG #c s{i} {n}" for n in range(per_sender)))

        async with trio.open_nursery() as burst:
            for i, sender in enumerate(senders):
                burst.start_soon(send, i, sender)
        total = per_sender * len(senders)
        seen: list[list[str]] = []
        for watcher in watchers:
            lines = [line for line in await _collect(watcher, total) if line.startswith("MSG")]
            seen.append(lines)
        assert seen[0] == seen[1] == seen[2]
        texts = [line.split(" :", 1)[1] for line in seen[0]]
        for i in range(len(senders)):  # each sender's own order is kept
            assert [t for t in texts if t.startswith(f"s{i} ")] == [
                f"s{i} {n}" for n in range(per_sender)
            ]
        await watchers[2].send("HISTORY #c 100")
        history = await watchers[2].recv_until("END HISTORY")
        assert history[1:-1] == seen[0][-100:]
        nursery.cancel_scope.cancel()


async def _collect(client: LineClient, count: int) -> list[str]:
    lines: list[str] = []
    while sum(line.startswith("MSG ") for line in lines) < count:
        lines.append(await client.recv())
    return lines


async def test_a_new_node_starts_from_a_snapshot_with_the_same_state(tmp_path: Path) -> None:
    limits = dataclasses.replace(CLUSTER_LIMITS, redis_snapshot_every=5)
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a", limits)
        b = await start_node(nursery, redis, "b", limits)
        alice = await a.client("alice", "#one", "#two")
        _bob = await b.client("bob", "#two")  # kept open: a member on b
        held = await LineClient.connect(b.port, "held")
        token = await held.register("ghost")
        await alice.send(
            *(f"MSG #two note {n}" for n in range(30)), "MSG bob hello", "TOPIC #one t"
        )
        await alice.recv_until("TOPIC #one alice")
        assert a.server.replica is not None
        await a.server.replica.snapshot()
        await alice.send("MSG #two after the snapshot")
        last = (await alice.recv()).split()[2]

        c = await start_node(nursery, redis, "c", limits)
        assert c.server.replica is not None
        assert c.server.replica.started_from > 0
        carol = await c.client("carol", "#two")
        await carol.send("HISTORY #two 3", "NAMES #two", "TOPIC #one")
        lines = await carol.recv_until("TOPIC #one")
        assert lines[3].split()[2] == last
        assert "MEMBER alice role=op" in lines
        assert "MEMBER bob" in lines
        assert lines[-1].startswith("TOPIC #one alice ")
        assert lines[-1].endswith(":t")
        # A session of b, known to c from the snapshot, resumes on c.
        ghost = await LineClient.connect(c.port, "ghost")
        await ghost.send(f"RESUME {token}")
        assert (await ghost.recv_until("OK RESUME"))[-1].startswith("OK RESUME ghost ")
        assert (await held.expect_eof())[-1].startswith("BYE RESUMED")
        await _settled(a, b, c)
        assert _image(a.server) == _image(b.server) == _image(c.server)
        nursery.cancel_scope.cancel()


async def test_redis_unreachable_refuses_changes_and_a_lost_redis_is_a_restart(
    tmp_path: Path,
) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        alice = await LineClient.connect(a.port, "alice")
        token = await alice.register("alice")
        await alice.join("#general")
        await alice.send("MSG #general stored")
        stored = await alice.recv()
        await redis.kill()

        await alice.send("MSG #general not stored")
        refused = await alice.recv()
        assert re.match(r"ERR STORAGE_(FAILED|UNKNOWN) MSG retry=\d+ :", refused), refused
        await alice.send("JOIN #other")
        assert (await alice.recv()).startswith("ERR STORAGE_FAILED JOIN retry=")
        await alice.send("HISTORY #general")  # reads go on, from the node's copy
        assert (await alice.recv_until("END HISTORY"))[1:-1] == [stored]

        # Redis comes back without its data: the node starts again, as after a restart.
        async with trio.open_nursery() as again:
            await redis.start(again)
            lines = await alice.expect_eof()
            assert lines[-1].startswith("BYE SHUTDOWN retry=1 ")
            assert a.server.replica is not None
            await a.server.replica.wait_ready()
            again.cancel_scope.cancel()
        back = await LineClient.connect(a.port, "alice-again")
        await back.send(f"RESUME {token}")
        answer = await back.recv()
        assert answer.startswith("ERR UNKNOWN_TOKEN RESUME"), answer
        await back.register("alice")
        await back.send("JOIN #general")
        assert "HISTORY #general 0" in await back.recv_until("END HISTORY")
        nursery.cancel_scope.cancel()


async def test_hung_redis_gives_an_unknown_outcome_and_never_stores_twice(
    tmp_path: Path,
) -> None:
    # A lease longer than the pause: only the write's outcome is in doubt here.
    limits = dataclasses.replace(CLUSTER_LIMITS, redis_lease=60.0)
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a", limits)
        b = await start_node(nursery, redis, "b", limits)
        alice = await a.client("alice", "#general")
        bob = await b.client("bob", "#general")
        assert await alice.recv() == "JOIN #general bob"  # run on its node too
        redis.pause()
        await alice.send("MSG #general in doubt")
        unknown = await alice.recv()
        assert unknown.startswith("ERR STORAGE_UNKNOWN MSG retry="), unknown
        redis.resume()
        # Redis ran the write after all (once, though it was sent more than once): the
        # echo comes late, and everyone has it exactly once.
        echo = await alice.recv()
        assert echo.endswith(" alice :in doubt")
        assert await bob.recv() == echo
        await bob.send("HISTORY #general")
        history = _block(await bob.recv_until("END HISTORY"), "HISTORY #general")
        assert [line for line in history if line.endswith(":in doubt")] == [echo]
        nursery.cancel_scope.cancel()


async def test_redis_crash_with_its_data_kept_loses_nothing_acknowledged(
    tmp_path: Path,
) -> None:
    aof = ("--save", "", "--appendonly", "yes", "--appendfsync", "always")
    async with redis_server(tmp_path, *aof) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        alice = await a.client("alice", "#general")
        bob = await b.client("bob", "#general")
        assert await alice.recv() == "JOIN #general bob"  # run on its node too
        await alice.send(*(f"MSG #general before {n}" for n in range(20)))
        acked = [await alice.recv() for _ in range(20)]
        await redis.kill()
        # A newcomer whose first command the store refuses: once it is back, the other
        # node must still learn of this connection from its next command.
        dan = await LineClient.connect(a.port, "dan")
        await dan.send("NICK dan")
        assert (await dan.recv()).startswith("ERR STORAGE_")
        async with trio.open_nursery() as again:
            await redis.start(again)
            # The same epoch: the nodes go on where they were; their clients stay.
            for attempt in range(100):
                await alice.send(f"MSG #general after {attempt}")
                line = await alice.recv()
                if line.startswith("MSG "):
                    break
                assert line.startswith("ERR STORAGE_"), line
                await trio.sleep(0.1)  # the retry= delay a client would wait
            else:
                raise AssertionError("the node never wrote again")
            live = await bob.recv_until(line)  # b has run it too
            assert [x for x in live if x.startswith("MSG ")] == [*acked, line]
            await bob.send("HISTORY #general 100")
            history = _block(await bob.recv_until("END HISTORY"), "HISTORY #general")
            for acknowledged in [*acked, line]:
                assert history.count(acknowledged) == 1, (acknowledged, history)
            for _attempt in range(100):
                await dan.send("NICK dan")
                answer = await dan.recv()
                if answer.startswith("OK NICK dan"):
                    break
                assert answer.startswith("ERR STORAGE_"), answer
                await trio.sleep(0.1)  # the retry= delay a client would wait
            await dan.join("#general")
            assert (await bob.recv_until("JOIN #general dan"))[-1] == "JOIN #general dan"
            again.cancel_scope.cancel()
        nursery.cancel_scope.cancel()


async def test_graceful_shutdown_of_one_node_drops_its_users_at_once(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        stop_a = trio.Event()
        a = await start_node(nursery, redis, "a", shutdown=stop_a)
        b = await start_node(nursery, redis, "b")
        alice = await a.client("alice", "#general")
        bob = await b.client("bob", "#general")
        assert await alice.recv() == "JOIN #general bob"  # run on its node too
        stop_a.set()
        assert (await alice.expect_eof())[-1].startswith("BYE SHUTDOWN")
        assert await bob.recv() == "QUIT alice :server shutting down"
        nursery.cancel_scope.cancel()


async def test_a_killed_node_is_declared_dead_and_its_users_resume_elsewhere(
    tmp_path: Path,
) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a: Node = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        alice = await LineClient.connect(a.port, "alice")
        token = await alice.register("alice")
        await alice.join("#general")
        bob = await b.client("bob", "#general")
        assert await alice.recv() == "JOIN #general bob"  # run on its node too
        a.kill()
        # Within the lease (1 s here), b declares a dead and alice is dropped.
        assert (await bob.recv()).startswith("QUIT alice :node a.")
        back = await LineClient.connect(b.port, "alice-on-b")
        await back.send(f"RESUME {token}")
        assert (await back.recv_until("OK RESUME"))[-1].startswith("OK RESUME alice ")
        assert await bob.recv() == "JOIN #general alice"
        nursery.cancel_scope.cancel()


async def test_irc_and_web_clients_on_different_nodes_share_the_chat(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        irc = await IrcClient.connect(a.irc_port, "irc")
        welcome = await irc.register("ircuser")
        assert welcome[0].command == "001"
        await irc.send("JOIN #mixed")
        await irc.expect("366")
        web = await WebClient.open(b.web_port, "web")
        await web.register("webuser")
        joined = await web.join("#mixed")
        assert "MEMBER ircuser role=op" in joined
        assert str((await irc.expect("JOIN")).source).startswith("webuser!")
        await irc.send("PRIVMSG #mixed :hello from irc")
        msg = await web.recv()
        assert msg.startswith("MSG #mixed ")
        assert msg.endswith(" ircuser :hello from irc")
        await web.send("MSG #mixed hello from the web")
        assert (await web.recv()).endswith(" webuser :hello from the web")
        heard = await irc.expect("PRIVMSG")
        assert str(heard.source).startswith("webuser!")
        assert list(heard.params) == ["#mixed", "hello from the web"]
        # A nick an IRC user holds on a is taken on b too (433 for IRC, NICK_IN_USE here).
        await web.send("NICK ircuser")
        assert (await web.recv()).startswith("ERR NICK_IN_USE NICK")
        nursery.cancel_scope.cancel()


async def test_redis_back_from_an_older_copy_starts_the_log_again(tmp_path: Path) -> None:
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        alice = await LineClient.connect(a.port, "alice")
        token = await alice.register("alice")
        await alice.join("#general")
        await alice.send("MSG #general saved")
        saved = (await alice.recv()).split()[2]
        await redis.save()  # an RDB copy of the log as it is now ...
        await alice.send("MSG #general after the copy")
        after = (await alice.recv()).split()[2]
        await redis.kill()
        async with trio.open_nursery() as again:
            await redis.start(again)  # ... which is what Redis comes back with
            lines = await alice.expect_eof()
            assert lines[-1].startswith("BYE SHUTDOWN retry=1 ")
            assert a.server.replica is not None
            await a.server.replica.wait_ready()
            again.cancel_scope.cancel()
        back = await LineClient.connect(a.port, "alice-again")
        await back.send(f"RESUME {token}")
        assert (await back.recv()).startswith("ERR UNKNOWN_TOKEN RESUME")
        await back.register("alice")
        await back.join("#general")
        await back.send("MSG #general new")
        new = (await back.recv()).split()[2]
        # A new epoch: no id is used twice.
        assert new.split("-")[0] != after.split("-")[0] == saved.split("-")[0]
        nursery.cancel_scope.cancel()


async def test_the_log_in_redis_is_trimmed_behind_each_snapshot(tmp_path: Path) -> None:
    limits = dataclasses.replace(CLUSTER_LIMITS, redis_snapshot_every=50)
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a", limits)
        alice = await a.client("alice", "#general")
        for start in range(0, 1000, 100):
            await alice.send(*(f"MSG #general n{n}" for n in range(start, start + 100)))
            for _ in range(100):
                await alice.recv()
        assert a.server.replica is not None
        await a.server.replica.snapshot()
        length, snap = await redis.log_length(), await redis.snapshot_seq()
        # The snapshot covers everything; the log keeps about 50 entries behind it (Redis
        # trims whole stream nodes of 100 entries, so up to ~150 more).
        assert snap >= 1000
        assert 50 <= length <= 250
        nursery.cancel_scope.cancel()


async def test_flackcli_comes_back_on_another_node_with_nothing_missing(tmp_path: Path) -> None:
    """The issue's "done when": a flackcli user's node is killed; flackcli (given both
    nodes' addresses) resumes on the other and catches up, with no gap and no duplicate."""
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        bob = await b.client("bob", "#c")
        memory = Memory("alice", channels=["#c"])
        h = await supervised(nursery, a.port, memory, fallbacks=[("127.0.0.1", b.port)])
        await h.wait_for(is_live)
        assert await bob.recv() == "JOIN #c alice"
        await bob.send("MSG #c one")
        await h.wait_for(lambda i: isinstance(i, e.Message) and i.text == "one")
        a.kill()
        await bob.send("MSG #c while alice is away", "MSG #c two")
        await h.wait_for(is_live, count=2)
        await bob.send("MSG #c three")
        await h.wait_for(lambda i: isinstance(i, e.Message) and i.text == "three")
        assert h.texts() == ["one", "while alice is away", "two", "three"]
        assert not [i for i in h.items if isinstance(i, Gap)]
        assert [r.resumed for r in h.items if isinstance(r, Registered)] == [False, True]
        assert (h.supervisor.host, h.supervisor.port) == ("127.0.0.1", b.port)
        h.supervisor.stop()
        nursery.cancel_scope.cancel()


async def test_nodes_talk_to_redis_over_tls(tmp_path: Path) -> None:
    """``rediss://``: nothing between the nodes and Redis travels in clear."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "redis.pem"))
    port = free_port()
    flags = ("--port", "0", "--tls-port", str(port), "--tls-cert-file", str(tmp_path / "redis.pem"),
             "--tls-key-file", str(tmp_path / "redis.pem"), "--tls-auth-clients", "no",
             "--save", "", "--appendonly", "no")  # fmt: skip
    async with redis_server(tmp_path, *flags) as redis, trio.open_nursery() as nursery:
        redis.url = f"rediss://127.0.0.1:{port}/0?ssl_ca_certs={tmp_path / 'ca.pem'}"
        a = await start_node(nursery, redis, "a")
        b = await start_node(nursery, redis, "b")
        alice = await a.client("alice", "#secure")
        bob = await b.client("bob", "#secure")
        assert await alice.recv() == "JOIN #secure bob"
        await alice.send("MSG #secure over tls")
        echo = await alice.recv()
        assert await bob.recv() == echo
        nursery.cancel_scope.cancel()
