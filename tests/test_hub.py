"""The hub on its own: every command's rules, its replies and who receives what.

The hub never awaits, so these tests drive a ``Hub[str]`` with plain strings as
connection handles and an explicit ``now``; commands go in through ``parse_command`` (so a
test reads like the protocol) and the effects that come out are flattened into what each
connection would receive (:class:`Delivery`). No sockets, no Trio, no sleeps.

Covers: the greeting; commands before registration; NICK (registration, tokens, invalid
and reserved nicks, case-insensitive uniqueness, twenty racing registrations, renames and
who hears about them); JOIN and CREATE (the reply block, case variants, re-JOIN, channel
limits, the channel-creation quota); MSG to channels and nicks; PART; LIST and its paging;
NAMES; TOPIC; HISTORY paging (default and clamped counts, BEFORE/AFTER walks, ring
overflow and the gap flag, ids from another boot, deleted messages); DELETE (authorship
follows the session, not the nick); QUIT; disconnect (detached sessions, resume TTL, the
max_detached bound, idempotence); RESUME (rejoin lines, token rotation, ``last=``, taking
over a still-open ghost connection); shutdown; HELP; PING and PONG. Every refusal is
checked to reach the sender only. A randomised test checks that, whatever clients do,
effects reach only open connections and channel member lists stay consistent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flackd import __version__
from flackd.codec import events as e
from flackd.codec.grammar import VERBS, parse_command
from flackd.codec.ids import IdGenerator, format_timestamp
from flackd.codec.lines import format_event
from flackd.hub import Broadcast, Close, Effect, Hub, Reply, hash_token
from flackd.limits import Limits

BOOT = 1795507200000
OTHER_BOOT = 1700000000000
NOW = 1000.0
TS = format_timestamp(NOW)
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")


# ---------------------------------------------------------------------------- helpers


def make_hub(limits: Limits | None = None) -> Hub[str]:
    return Hub(limits or Limits(), IdGenerator(boot=BOOT))


def send(hub: Hub[str], conn: str, line: str, now: float = NOW) -> list[Effect[str]]:
    """One client line, parsed as the server parses it, handled by the hub."""
    verb, command = parse_command(line)
    return hub.handle(conn, verb, command, now)


@dataclass
class Delivery:
    """What each connection would receive from a list of effects, in effect order."""

    events: dict[str, list[e.Event]] = field(default_factory=dict)
    closed: dict[str, e.Bye] = field(default_factory=dict)

    def to(self, conn: str) -> list[e.Event]:
        return self.events.get(conn, [])

    def lines(self, conn: str) -> list[str]:
        return lines(self.to(conn))

    @property
    def receivers(self) -> set[str]:
        return set(self.events)


def deliver(effects: Sequence[Effect[str]]) -> Delivery:
    out = Delivery()
    for effect in effects:
        if isinstance(effect, Reply):
            out.events.setdefault(effect.conn, []).extend(effect.events)
        elif isinstance(effect, Broadcast):
            for conn in effect.conns:
                out.events.setdefault(conn, []).append(effect.event)
        else:
            assert isinstance(effect, Close)
            assert effect.conn not in out.closed, "closed twice"
            out.closed[effect.conn] = effect.bye
    return out


def lines(events: Sequence[e.Event]) -> list[str]:
    """Events as the wire text the client would read."""
    return [format_event(event) for event in events]


def say(hub: Hub[str], conn: str, line: str, now: float = NOW) -> Delivery:
    return deliver(send(hub, conn, line, now))


def connect(hub: Hub[str], conn: str, now: float = NOW) -> Delivery:
    return deliver(hub.connect(conn, now))


def register(hub: Hub[str], conn: str, nick: str, now: float = NOW) -> str:
    """Connect and take ``nick``; return the resume token."""
    connect(hub, conn, now)
    d = say(hub, conn, f"NICK {nick}", now)
    assert d.receivers == {conn}
    (ok,) = d.to(conn)
    assert isinstance(ok, e.Ok), ok
    token = ok.param("token")
    assert token is not None
    return token


def user(hub: Hub[str], conn: str, nick: str, *channels: str, now: float = NOW) -> str:
    """Connect, register and join ``channels``; return the resume token."""
    token = register(hub, conn, nick, now)
    for channel in channels:
        d = say(hub, conn, f"JOIN {channel}", now)
        ok = d.to(conn)[0]
        assert isinstance(ok, e.Ok), ok
    return token


def refused(d: Delivery, conn: str, code: str, command: str) -> e.Error:
    """Assert that ``d`` is exactly one ERR line, to ``conn`` only; return it."""
    assert d.closed == {}
    assert d.receivers == {conn}, d.events
    (error,) = d.to(conn)
    assert isinstance(error, e.Error), error
    assert (error.code, error.command) == (code, command), error
    return error


def post(hub: Hub[str], conn: str, target: str, text: str, now: float = NOW) -> e.Message:
    """Send a MSG; return the echo the sender got."""
    d = say(hub, conn, f"MSG {target} {text}", now)
    (echo,) = d.to(conn)
    assert isinstance(echo, e.Message), echo
    return echo


def history_block(events: Sequence[e.Event], channel: str) -> tuple[list[e.Message], e.BlockEnd]:
    """Split a HISTORY block into its messages and its END line (checking its shape)."""
    start, *body, end = events
    assert start == e.BlockStart("HISTORY", (channel, str(len(body))))
    assert isinstance(end, e.BlockEnd)
    assert end.kind == "HISTORY"
    assert end.params[0] == channel
    messages = [m for m in body if isinstance(m, e.Message)]
    assert messages == body
    return messages, end


def history(hub: Hub[str], conn: str, args: str) -> tuple[list[e.Message], e.BlockEnd]:
    """Send ``HISTORY <args>``; return the messages and the END line."""
    d = say(hub, conn, f"HISTORY {args}")
    assert d.receivers == {conn}
    return history_block(d.to(conn), args.split(" ")[0])


def texts(messages: Sequence[e.Message]) -> list[str]:
    return [m.text for m in messages]


def flags(end: e.BlockEnd) -> tuple[bool, bool]:
    """(more, gap) of an END HISTORY line."""
    assert end.params[1] in ("more=yes", "more=no")
    assert end.params[2] in ("gap=yes", "gap=no")
    return end.flag("more"), end.flag("gap")


def join_block(
    channel: str,
    members: Sequence[str],
    verb: str = "JOIN",
    topic: str = "* * :",
) -> list[str]:
    """The reply to JOIN/CREATE for a channel with no history."""
    n = len(members)
    return [
        f"OK {verb} {channel} {n} :joined {channel} ({n} member{'' if n == 1 else 's'})",
        f"TOPIC {channel} {topic}",
        f"NAMES {channel} {n}",
        *[f"MEMBER {m}" for m in members],
        f"END NAMES {channel}",
        f"HISTORY {channel} 0",
        f"END HISTORY {channel} more=no gap=no",
    ]


# ---------------------------------------------------------------------------- connecting


def test_connect_greets_with_the_limits() -> None:
    hub = make_hub(Limits(max_line_bytes=300, history=42, history_page=10, join_replay=5))
    d = connect(hub, "c1")
    assert d.receivers == {"c1"}
    (hello,) = d.to("c1")
    assert isinstance(hello, e.Hello)
    assert (hello.server, hello.version) == ("flackd", __version__)
    assert (hello.max_line, hello.history) == (300, 42)
    assert "NICK" in hello.text
    assert hub.connection_count == 1
    assert not hub.is_registered("c1")


def test_default_greeting_line() -> None:
    d = connect(make_hub(), "c1")
    assert d.lines("c1")[0].startswith(
        f"HELLO flackd {__version__} maxline=512 history=100 protocol=1.3 :"
    )


@pytest.mark.parametrize(
    ("line", "verb"),
    [
        ("JOIN #c", "JOIN"),
        ("CREATE #new", "CREATE"),
        ("PART #c", "PART"),
        ("MSG #c hello", "MSG"),
        ("MSG alice hello", "MSG"),
        ("LIST", "LIST"),
        ("NAMES #c", "NAMES"),
        ("WHO #c", "NAMES"),
        ("TOPIC #c", "TOPIC"),
        ("TOPIC #c new topic", "TOPIC"),
        ("HISTORY #c", "HISTORY"),
        (f"DELETE {BOOT}-1", "DELETE"),
    ],
)
def test_commands_before_registration_are_refused(line: str, verb: str) -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    post(hub, "a", "#c", "hi")
    connect(hub, "x")
    error = refused(say(hub, "x", line), "x", "NOT_REGISTERED", verb)
    assert "NICK" in error.text
    assert "RESUME" in error.text
    assert not hub.is_registered("x")
    # nothing happened: the channel, its topic and history are as they were
    channel = hub.channel("#c")
    assert channel is not None
    assert list(channel.members) == ["alice"]
    assert channel.topic == ""
    assert len(channel.history) == 1


def test_ping_help_and_quit_work_before_registration() -> None:
    hub = make_hub()
    connect(hub, "x")
    assert say(hub, "x", "PING abc").lines("x") == ["PONG abc"]
    help_ = say(hub, "x", "HELP")
    assert help_.receivers == {"x"}
    assert help_.lines("x")[0].startswith("HELP * ")
    assert send(hub, "x", "PONG 1") == []
    assert not hub.is_registered("x")
    d = say(hub, "x", "QUIT bye now")
    assert d.events == {}
    assert d.closed == {"x": e.Bye("QUIT", (), "bye")}
    assert hub.connection_count == 0
    assert hub.disconnect("x", "connection closed", NOW) == []


def test_registration_completes_inside_nick() -> None:
    hub = make_hub()
    connect(hub, "c1")
    assert not hub.is_registered("c1")
    send(hub, "c1", "NICK alice")
    assert hub.is_registered("c1")
    # the very next line already counts as registered
    assert say(hub, "c1", "JOIN #c").lines("c1")[0].startswith("OK JOIN #c 1")


# ---------------------------------------------------------------------------- NICK


def test_nick_registers_with_a_token() -> None:
    hub = make_hub()
    connect(hub, "c1")
    d = say(hub, "c1", "NICK alice")
    assert d.receivers == {"c1"}
    assert d.closed == {}
    (ok,) = d.to("c1")
    assert isinstance(ok, e.Ok)
    assert ok.command == "NICK"
    assert ok.params[0] == "alice"
    token = ok.param("token")
    assert token is not None
    assert TOKEN.fullmatch(token)
    assert ok.params == ("alice", f"token={token}")
    assert "RESUME" in ok.text
    session = hub.session("ALICE")
    assert session is not None
    assert session.nick == "alice"
    assert session.conn == "c1"


def test_tokens_differ_between_sessions() -> None:
    hub = make_hub()
    tokens = {register(hub, f"c{i}", f"user{i}") for i in range(10)}
    assert len(tokens) == 10
    assert all(TOKEN.fullmatch(t) for t in tokens)


def test_nick_keeps_the_case_it_was_typed_in() -> None:
    hub = make_hub()
    register(hub, "c1", "Bob_2")
    session = hub.session("bob_2")
    assert session is not None
    assert session.nick == "Bob_2"


@pytest.mark.parametrize("nick", ["a", "Z", "Bob_2", "night-owl", "a" * 16, "flackbot", "x-_9"])
def test_valid_nicks(nick: str) -> None:
    hub = make_hub()
    connect(hub, "c1")
    (ok,) = say(hub, "c1", f"NICK {nick}").to("c1")
    assert isinstance(ok, e.Ok)
    assert ok.params[0] == nick


@pytest.mark.parametrize(
    "nick",
    [
        "9lives",
        "-dash",
        "_under",
        "a" * 17,
        "al.ice",
        "al!ce",
        "#alice",
        "ålice",
        "bob\tsmith",
        "server",
        "System",
        "FLACK",
        "flackd",
    ],
)
def test_invalid_or_reserved_nick(nick: str) -> None:
    hub = make_hub()
    connect(hub, "c1")
    error = refused(say(hub, "c1", f"NICK {nick}"), "c1", "INVALID_NICK", "NICK")
    assert "reserved" in error.text
    assert not hub.is_registered("c1")
    assert hub.session(nick) is None


@pytest.mark.parametrize("taken", ["alice", "ALICE", "Alice", "aLiCe"])
def test_nick_in_use_ignores_case(taken: str) -> None:
    hub = make_hub()
    register(hub, "c1", "alice")
    connect(hub, "c2")
    error = refused(say(hub, "c2", f"NICK {taken}"), "c2", "NICK_IN_USE", "NICK")
    assert error.params == ("alice",)
    assert error.text == "alice is taken; pick another nick"
    assert not hub.is_registered("c2")


def test_twenty_racing_nicks_exactly_one_wins() -> None:
    hub = make_hub()
    conns = [f"c{i}" for i in range(20)]
    for conn in conns:
        connect(hub, conn)
    outcomes = [say(hub, conn, "NICK x").to(conn) for conn in conns]
    winners = [conn for conn, evs in zip(conns, outcomes, strict=True) if isinstance(evs[0], e.Ok)]
    assert winners == ["c0"]
    for conn, evs in zip(conns[1:], outcomes[1:], strict=True):
        (error,) = evs
        assert isinstance(error, e.Error)
        assert error.code == "NICK_IN_USE"
        assert not hub.is_registered(conn)
    assert [c for c in conns if hub.is_registered(c)] == ["c0"]


def test_rename_is_heard_once_by_everyone_sharing_a_channel() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#one", "#two", "#three")
    user(hub, "b", "bob", "#one", "#two", "#three")  # shares three channels
    user(hub, "c", "carol", "#two")
    user(hub, "s", "stranger", "#elsewhere")
    register(hub, "n", "loner")
    d = say(hub, "a", "NICK alicia")
    assert d.closed == {}
    assert d.receivers == {"a", "b", "c"}
    for conn in ("a", "b", "c"):
        assert d.lines(conn) == ["NICK alice alicia"]


def test_rename_without_channels_tells_only_yourself() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    d = say(hub, "a", "NICK alicia")
    assert d.receivers == {"a"}
    assert d.lines("a") == ["NICK alice alicia"]


def test_rename_updates_names_and_frees_the_old_nick() -> None:
    hub = make_hub()
    token = user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    say(hub, "a", "NICK zed")
    assert say(hub, "b", "NAMES #c").lines("b") == [
        "NAMES #c 2",
        "MEMBER bob",
        "MEMBER zed role=op",
        "END NAMES #c",
    ]
    assert hub.session("alice") is None
    # the old nick is free at once
    register(hub, "c", "alice")
    # the renamed session keeps its channel, its token and its messages
    echo = post(hub, "a", "#c", "still here")
    assert echo.author == "zed"
    assert say(hub, "c", "MSG zed hi").lines("a")[0].endswith(" alice :hi")
    session = hub.session("zed")
    assert session is not None
    assert session.token_hash == hash_token(token)


def test_rename_to_a_case_variant_of_your_own_nick() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    d = say(hub, "a", "NICK ALICE")
    assert d.receivers == {"a", "b"}
    assert d.lines("b") == ["NICK alice ALICE"]
    session = hub.session("alice")
    assert session is not None
    assert session.nick == "ALICE"
    assert post(hub, "a", "#c", "hi").author == "ALICE"
    assert say(hub, "b", "NAMES #c").lines("b")[1] == "MEMBER ALICE role=op"


def test_rename_to_a_taken_nick_is_refused_to_the_sender_only() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    error = refused(say(hub, "a", "NICK Bob"), "a", "NICK_IN_USE", "NICK")
    assert error.params == ("bob",)
    session = hub.session("alice")
    assert session is not None
    assert session.nick == "alice"


def test_rename_to_an_invalid_nick_is_refused() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    refused(say(hub, "a", "NICK flackd"), "a", "INVALID_NICK", "NICK")
    refused(say(hub, "a", "NICK 1abc"), "a", "INVALID_NICK", "NICK")
    assert hub.session("alice") is not None


# ---------------------------------------------------------------------------- JOIN / CREATE


def test_join_creates_the_channel() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    d = say(hub, "a", "JOIN #general")
    assert d.receivers == {"a"}
    assert d.lines("a") == join_block("#general", ["alice role=op"])
    assert hub.channel("#GENERAL") is not None


def test_join_of_an_existing_channel_tells_the_others() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#general")
    user(hub, "c", "carol", "#general")
    register(hub, "s", "stranger")
    register(hub, "b", "bob")
    d = say(hub, "b", "JOIN #general")
    assert d.receivers == {"a", "b", "c"}
    assert d.lines("a") == ["JOIN #general bob"]
    assert d.lines("c") == ["JOIN #general bob"]
    # the joiner gets the block and not its own JOIN line
    assert d.lines("b") == join_block("#general", ["alice role=op", "bob", "carol"])


def test_names_in_the_join_block_are_sorted_ignoring_case() -> None:
    hub = make_hub()
    user(hub, "1", "carol", "#c")
    user(hub, "2", "Bob", "#c")
    user(hub, "3", "dave", "#c")
    register(hub, "4", "Alice")
    assert say(hub, "4", "JOIN #c").lines("4") == join_block(
        "#c", ["Alice", "Bob", "carol role=op", "dave"]
    )


def test_join_replays_the_last_messages() -> None:
    hub = make_hub(Limits(history=10, history_page=5, join_replay=3))
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", f"m{i}") for i in range(5)]
    register(hub, "b", "bob")
    events = say(hub, "b", "JOIN #c").to("b")
    assert lines(events[:5]) == [
        "OK JOIN #c 2 :joined #c (2 members)",
        "TOPIC #c * * :",
        "NAMES #c 2",
        "MEMBER alice role=op",
        "MEMBER bob",
    ]
    assert lines(events[5:6]) == ["END NAMES #c"]
    messages, end = history_block(events[6:], "#c")
    assert messages == sent[-3:]
    assert flags(end) == (True, False)


def test_join_replay_more_no_when_everything_fits() -> None:
    hub = make_hub(Limits(history=10, history_page=5, join_replay=3))
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", f"m{i}") for i in range(3)]
    register(hub, "b", "bob")
    messages, end = history_block(say(hub, "b", "JOIN #c").to("b")[6:], "#c")
    assert messages == sent
    assert flags(end) == (False, False)


@pytest.mark.parametrize("typed", ["#General", "#GENERAL", "#general"])
def test_join_of_a_case_variant_joins_the_existing_channel(typed: str) -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#general")
    register(hub, "b", "bob")
    d = say(hub, "b", f"JOIN {typed}")
    assert d.lines("b") == join_block("#general", ["alice role=op", "bob"])
    assert d.lines("a") == ["JOIN #general bob"]
    assert say(hub, "b", "LIST").lines("b") == [
        "LIST 1",
        "CHANNEL #general 2 :",
        "END LIST more=no",
    ]


def test_rejoin_resends_the_block_and_tells_no_one() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    d = say(hub, "b", "JOIN #C")
    assert d.receivers == {"b"}
    assert d.lines("b") == join_block("#c", ["alice role=op", "bob"])
    channel = hub.channel("#c")
    assert channel is not None
    assert len(channel.members) == 2


@pytest.mark.parametrize(
    "name", ["general", "#", "##", "#bad.name", "#" + "x" * 33, "#über", "#a!b", "&c"]
)
@pytest.mark.parametrize("verb", ["JOIN", "CREATE"])
def test_invalid_channel_name(verb: str, name: str) -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#ok")
    register(hub, "b", "bob")
    refused(say(hub, "b", f"{verb} {name}"), "b", "INVALID_CHANNEL", verb)
    assert say(hub, "b", "LIST").lines("b")[0] == "LIST 1"


def test_longest_channel_name_is_valid() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    name = "#" + "x" * 32
    assert say(hub, "a", f"JOIN {name}").lines("a")[0].startswith(f"OK JOIN {name} 1 ")


@pytest.mark.parametrize("verb", ["JOIN", "CREATE"])
def test_too_many_joins(verb: str) -> None:
    hub = make_hub(Limits(max_joins=2))
    user(hub, "o", "owner", "#existing")
    user(hub, "a", "alice", "#a", "#b")
    refused(say(hub, "a", f"{verb} #new"), "a", "TOO_MANY_CHANNELS", verb)
    assert hub.channel("#new") is None
    refused(say(hub, "a", "JOIN #existing"), "a", "TOO_MANY_CHANNELS", "JOIN")
    # re-joining a channel you are in is not one more
    assert say(hub, "a", "JOIN #a").lines("a")[0].startswith("OK JOIN #a ")
    # after a PART there is room again
    say(hub, "a", "PART #a")
    d = say(hub, "a", "JOIN #existing")
    assert d.lines("a")[0].startswith("OK JOIN #existing 2 ")
    assert d.lines("o") == ["JOIN #existing alice"]


@pytest.mark.parametrize("verb", ["JOIN", "CREATE"])
def test_too_many_channels_on_the_server(verb: str) -> None:
    hub = make_hub(Limits(max_channels=2))
    user(hub, "a", "alice", "#a", "#b")
    register(hub, "b", "bob")
    refused(say(hub, "b", f"{verb} #c"), "b", "TOO_MANY_CHANNELS", verb)
    assert hub.channel("#c") is None
    # joining an existing one still works
    assert say(hub, "b", "JOIN #B").lines("b")[0].startswith("OK JOIN #b 2 ")


@pytest.mark.parametrize("verb", ["JOIN", "CREATE"])
def test_channel_creation_quota(verb: str) -> None:
    hub = make_hub(Limits(channel_creates=3))
    user(hub, "o", "owner", "#existing")
    user(hub, "a", "alice", "#a", "#b", "#c")  # three creations at NOW
    error = refused(say(hub, "a", f"{verb} #d", NOW + 20), "a", "RATE_LIMITED", verb)
    assert error.params == ("retry=40",)
    assert "JOIN an existing channel" in error.text
    assert hub.channel("#d") is None
    # joining an existing channel is not a creation
    assert say(hub, "a", "JOIN #existing", NOW + 20).lines("a")[0].startswith("OK JOIN ")
    # a refused attempt does not count; the window is 60 s from each creation
    error = refused(say(hub, "a", f"{verb} #d", NOW + 59.5), "a", "RATE_LIMITED", verb)
    assert error.params == ("retry=1",)
    assert say(hub, "a", f"{verb} #d", NOW + 60).lines("a")[0].startswith(f"OK {verb} #d 1 ")


def test_channel_creation_quota_slides() -> None:
    hub = make_hub(Limits(channel_creates=3))
    register(hub, "a", "alice")
    for i, name in enumerate(("#a", "#b", "#c")):
        say(hub, "a", f"JOIN {name}", NOW + 10 * i)
    error = refused(say(hub, "a", "JOIN #d", NOW + 30), "a", "RATE_LIMITED", "JOIN")
    assert error.params == ("retry=30",)
    say(hub, "a", "JOIN #d", NOW + 60)  # #a's creation has left the window
    error = refused(say(hub, "a", "JOIN #e", NOW + 60), "a", "RATE_LIMITED", "JOIN")
    assert error.params == ("retry=10",)


def test_channel_creation_quota_is_per_session() -> None:
    hub = make_hub(Limits(channel_creates=1))
    user(hub, "a", "alice", "#a")
    refused(say(hub, "a", "JOIN #b"), "a", "RATE_LIMITED", "JOIN")
    # another user has a quota of their own
    user(hub, "b", "bob", "#b")
    # a rename keeps the session and so its quota
    say(hub, "a", "NICK alicia")
    refused(say(hub, "a", "JOIN #c"), "a", "RATE_LIMITED", "JOIN")


@pytest.mark.parametrize("typed", ["#planning", "#Planning", "#PLANNING"])
def test_create_of_an_existing_channel(typed: str) -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#planning")
    register(hub, "b", "bob")
    error = refused(say(hub, "b", f"CREATE {typed}"), "b", "CHANNEL_EXISTS", "CREATE")
    assert error.params == ("#planning",)
    assert "JOIN #planning" in error.text
    # a member is refused too
    refused(say(hub, "a", f"CREATE {typed}"), "a", "CHANNEL_EXISTS", "CREATE")
    channel = hub.channel("#planning")
    assert channel is not None
    assert list(channel.members) == ["alice"]


def test_create_of_a_new_channel_is_like_join() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    d = say(hub, "a", "CREATE #Planning")
    assert d.receivers == {"a"}
    assert d.lines("a") == join_block("#Planning", ["alice role=op"], verb="CREATE")
    register(hub, "b", "bob")
    d = say(hub, "b", "JOIN #planning")
    assert d.lines("a") == ["JOIN #Planning bob"]
    assert d.lines("b")[0] == "OK JOIN #Planning 2 :joined #Planning (2 members)"


# ---------------------------------------------------------------------------- MSG


def test_channel_message_reaches_every_member_identically() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    user(hub, "k", "carol", "#c", "#other")
    user(hub, "s", "stranger", "#other")
    d = say(hub, "a", "MSG #C hello: anyone  here? ")
    assert d.receivers == {"a", "b", "k"}
    expected = e.Message("#c", f"{BOOT}-1", TS, "alice", "hello: anyone  here? ")
    for conn in ("a", "b", "k"):
        assert d.to(conn) == [expected]
    assert d.lines("b") == [f"MSG #c {BOOT}-1 {TS} alice :hello: anyone  here? "]


def test_message_time_is_the_time_of_acceptance() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    echo = post(hub, "a", "#c", "later", now=1795507260.5)
    assert echo.time == "2026-11-24T08:01:00.500Z"  # BOOT is 2026-11-24T08:00:00Z


def test_ids_strictly_increase_across_channels_and_private_messages() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#a", "#b")
    user(hub, "b", "bob", "#a")
    ids = [
        post(hub, "a", "#a", "1").id,
        post(hub, "a", "#b", "2").id,
        post(hub, "a", "bob", "3").id,
        post(hub, "b", "#a", "4").id,
        post(hub, "a", "#a", "5").id,
    ]
    assert ids == [f"{BOOT}-{n}" for n in range(1, 6)]


def test_refused_messages_take_no_id() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#a")
    user(hub, "b", "bob")
    say(hub, "b", "MSG #a nope")
    say(hub, "b", "MSG #nowhere nope")
    say(hub, "b", "MSG nobody nope")
    assert post(hub, "a", "#a", "first").id == f"{BOOT}-1"


def test_message_to_a_channel_you_are_not_in() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    register(hub, "b", "bob")
    error = refused(say(hub, "b", "MSG #C hi"), "b", "NOT_IN_CHANNEL", "MSG")
    assert error.params == ("#c",)
    assert error.text == "you are not in #c; JOIN #c first"
    channel = hub.channel("#c")
    assert channel is not None
    assert len(channel.history) == 0


def test_message_to_a_missing_channel() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    error = refused(say(hub, "a", "MSG #nowhere hi"), "a", "NO_SUCH_CHANNEL", "MSG")
    assert error.params == ("#nowhere",)
    assert hub.channel("#nowhere") is None


def test_message_to_an_invalid_channel_name() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    refused(say(hub, "a", "MSG #no.way hi"), "a", "INVALID_CHANNEL", "MSG")


def test_private_message_reaches_both_ends_only() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    user(hub, "k", "carol", "#c")
    d = say(hub, "a", "MSG BOB psst, it's alice")
    assert d.receivers == {"a", "b"}
    expected = e.Message("bob", f"{BOOT}-1", TS, "alice", "psst, it's alice")
    assert d.to("a") == [expected]
    assert d.to("b") == [expected]


def test_private_message_to_yourself_arrives_once() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    d = say(hub, "a", "MSG Alice note to self")
    assert d.receivers == {"a"}
    assert d.to("a") == [e.Message("alice", f"{BOOT}-1", TS, "alice", "note to self")]


@pytest.mark.parametrize("target", ["carol", "9lives", "server", "x" * 20])
def test_private_message_to_an_unknown_nick(target: str) -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    refused(say(hub, "a", f"MSG {target} hello"), "a", "NO_SUCH_NICK", "MSG")


def test_private_message_names_the_missing_nick() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    error = refused(say(hub, "a", "MSG carol hi"), "a", "NO_SUCH_NICK", "MSG")
    assert error.params == ("carol",)


def test_private_message_to_a_detached_nick_waits_for_them() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    hub.disconnect("b", "connection closed", NOW)
    d = say(hub, "a", "MSG bob are you there")
    assert d.receivers == {"a"}  # accepted: the echo, and it waits in the conversation
    (echo,) = d.to("a")
    assert isinstance(echo, e.Message)
    assert (echo.target, echo.author) == ("bob", "alice")


def test_private_message_to_someone_who_quit() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    register(hub, "b", "bob")
    say(hub, "b", "QUIT")
    refused(say(hub, "a", "MSG bob hi"), "a", "NO_SUCH_NICK", "MSG")


def test_private_messages_are_not_kept_in_history() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    post(hub, "a", "bob", "secret")
    messages, _ = history(hub, "b", "#c")
    assert messages == []


# ---------------------------------------------------------------------------- PART


def test_part_is_heard_by_every_member_including_the_parter() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c", "#other")
    user(hub, "s", "stranger", "#other")
    d = say(hub, "b", "PART #C see you tomorrow")
    assert d.receivers == {"a", "b"}
    assert d.lines("a") == ["PART #c bob :see you tomorrow"]
    assert d.lines("b") == ["PART #c bob :see you tomorrow"]


def test_part_without_reason() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    assert say(hub, "a", "PART #c").lines("a") == ["PART #c alice :"]


def test_after_part_you_are_out() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    say(hub, "b", "PART #c")
    refused(say(hub, "b", "MSG #c hi"), "b", "NOT_IN_CHANNEL", "MSG")
    d = say(hub, "a", "MSG #c only me")
    assert d.receivers == {"a"}
    assert say(hub, "a", "NAMES #c").lines("a") == [
        "NAMES #c 1",
        "MEMBER alice role=op",
        "END NAMES #c",
    ]
    error = refused(say(hub, "b", "PART #c"), "b", "NOT_IN_CHANNEL", "PART")
    assert error.params == ("#c",)


def test_part_of_a_missing_channel() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    error = refused(say(hub, "a", "PART #nowhere"), "a", "NO_SUCH_CHANNEL", "PART")
    assert error.params == ("#nowhere",)


def test_channel_outlives_its_last_member() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    post(hub, "a", "#c", "remember me")
    say(hub, "a", "PART #c")
    assert say(hub, "a", "LIST").lines("a") == ["LIST 1", "CHANNEL #c 0 :", "END LIST more=no"]
    messages, _ = history(hub, "a", "#c")
    assert texts(messages) == ["remember me"]


# ---------------------------------------------------------------------------- LIST / NAMES


def test_list_when_empty() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    d = say(hub, "a", "LIST")
    assert d.receivers == {"a"}
    assert d.lines("a") == ["LIST 0", "END LIST more=no"]


def test_list_is_sorted_with_counts_and_topics() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#random", "#dev", "#Alpha")
    user(hub, "b", "bob", "#random")
    say(hub, "a", "TOPIC #random anything goes")
    say(hub, "a", "PART #dev")
    d = say(hub, "b", "LIST")
    assert d.receivers == {"b"}
    assert d.lines("b") == [
        "LIST 3",
        "CHANNEL #Alpha 1 :",
        "CHANNEL #dev 0 :",
        "CHANNEL #random 2 :anything goes",
        "END LIST more=no",
    ]


def paged_list_hub(names: Sequence[str], list_max: int) -> Hub[str]:
    hub = make_hub(Limits(list_max=list_max))
    user(hub, "a", "alice", *names)
    register(hub, "b", "bob")
    return hub


def test_list_pages_with_after() -> None:
    hub = paged_list_hub(["#e", "#C", "#a", "#d", "#b"], list_max=2)
    assert say(hub, "b", "LIST").lines("b") == [
        "LIST 2",
        "CHANNEL #a 1 :",
        "CHANNEL #b 1 :",
        "END LIST more=yes",
    ]
    assert say(hub, "b", "LIST AFTER #b").lines("b") == [
        "LIST 2",
        "CHANNEL #C 1 :",
        "CHANNEL #d 1 :",
        "END LIST more=yes",
    ]
    assert say(hub, "b", "list after #D").lines("b") == [
        "LIST 1",
        "CHANNEL #e 1 :",
        "END LIST more=no",
    ]
    assert say(hub, "b", "LIST AFTER #e").lines("b") == ["LIST 0", "END LIST more=no"]
    # the cursor need not exist
    assert say(hub, "b", "LIST AFTER #bb").lines("b")[1:3] == ["CHANNEL #C 1 :", "CHANNEL #d 1 :"]
    assert say(hub, "b", "LIST AFTER #0").lines("b")[1] == "CHANNEL #a 1 :"


def test_list_with_exactly_list_max_channels_says_more_no() -> None:
    hub = paged_list_hub(["#a", "#b"], list_max=2)
    assert say(hub, "b", "LIST").lines("b")[-1] == "END LIST more=no"


@pytest.mark.parametrize("page", [1, 2, 3, 7, 8])
def test_walk_the_channel_list(page: int) -> None:
    names = ["#Alpha", "#beta", "#a-b", "#a_b", "#aB", "#z9", "#0day"]
    hub = paged_list_hub(names, list_max=page)
    seen: list[str] = []
    line = "LIST"
    while True:
        start, *body, end = say(hub, "b", line).to("b")
        assert start == e.BlockStart("LIST", (str(len(body)),))
        assert len(body) <= page
        entries = [x.channel for x in body if isinstance(x, e.ChannelEntry)]
        assert len(entries) == len(body)
        seen += entries
        assert isinstance(end, e.BlockEnd)
        if not end.flag("more"):
            break
        line = f"LIST AFTER {entries[-1]}"
    assert seen == sorted(names, key=str.lower)


def test_list_after_an_invalid_channel_name() -> None:
    hub = paged_list_hub(["#a"], list_max=5)
    refused(say(hub, "b", "LIST AFTER nope"), "b", "INVALID_CHANNEL", "LIST")


def test_names_for_a_non_member_and_the_who_alias() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "Bob", "#c")
    register(hub, "s", "stranger")
    expected = ["NAMES #c 2", "MEMBER alice role=op", "MEMBER Bob", "END NAMES #c"]
    for line in ("NAMES #c", "WHO #C"):
        d = say(hub, "s", line)
        assert d.receivers == {"s"}
        assert d.lines("s") == expected


def test_names_of_a_missing_or_invalid_channel() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    error = refused(say(hub, "a", "NAMES #nope"), "a", "NO_SUCH_CHANNEL", "NAMES")
    assert error.params == ("#nope",)
    refused(say(hub, "a", "NAMES nope"), "a", "INVALID_CHANNEL", "NAMES")


# ---------------------------------------------------------------------------- TOPIC


def test_topic_query_without_a_topic() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    d = say(hub, "a", "TOPIC #c")
    assert d.receivers == {"a"}
    assert d.to("a") == [e.Topic("#c", "*", "*", "")]
    assert d.lines("a") == ["TOPIC #c * * :"]


def test_topic_set_is_heard_by_every_member() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    register(hub, "s", "stranger")
    later = NOW + 60
    d = say(hub, "a", "TOPIC #C release planning: Thursday", later)
    assert d.receivers == {"a", "b"}
    expected = e.Topic("#c", "alice", format_timestamp(later), "release planning: Thursday")
    assert d.to("a") == [expected]
    assert d.to("b") == [expected]
    # a non-member may read it
    assert say(hub, "s", "TOPIC #c").to("s") == [expected]
    # and JOIN shows it
    register(hub, "j", "joiner")
    assert say(hub, "j", "JOIN #c").to("j")[1] == expected


def test_topic_set_by_a_non_member_is_refused() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    register(hub, "b", "bob")
    error = refused(say(hub, "b", "TOPIC #c mine now"), "b", "NOT_IN_CHANNEL", "TOPIC")
    assert error.params == ("#c",)
    assert say(hub, "b", "TOPIC #c").lines("b") == ["TOPIC #c * * :"]


def test_topic_can_be_replaced_by_another_member() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    say(hub, "a", "TOPIC #c first")
    d = say(hub, "b", "TOPIC #c second", NOW + 1)
    assert d.to("a") == [e.Topic("#c", "bob", format_timestamp(NOW + 1), "second")]


def test_topic_of_a_missing_channel() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    refused(say(hub, "a", "TOPIC #nope"), "a", "NO_SUCH_CHANNEL", "TOPIC")
    refused(say(hub, "a", "TOPIC #nope some text"), "a", "NO_SUCH_CHANNEL", "TOPIC")


# ---------------------------------------------------------------------------- HISTORY


def small_history_hub() -> Hub[str]:
    return make_hub(Limits(history=10, history_page=4, join_replay=2))


def test_history_default_count_is_the_page_size() -> None:
    hub = small_history_hub()
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", f"m{i}") for i in range(7)]
    messages, end = history(hub, "a", "#c")
    assert messages == sent[-4:]
    assert flags(end) == (True, False)


def test_history_count_is_clamped_to_the_ring() -> None:
    hub = small_history_hub()
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", f"m{i}") for i in range(12)]
    messages, end = history(hub, "a", "#c 10000")
    assert messages == sent[-10:]
    assert flags(end) == (False, False)
    messages, end = history(hub, "a", f"#c AFTER {BOOT}-0 10000")
    assert messages == sent[-10:]
    assert flags(end) == (False, True)


@pytest.mark.parametrize(("count", "more"), [(1, True), (2, True), (3, False), (50, False)])
def test_history_with_a_count(count: int, more: bool) -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", t) for t in ("one", "two", "three")]
    messages, end = history(hub, "a", f"#c {count}")
    assert messages == sent[-count:]
    assert flags(end) == (more, False)


def test_history_of_an_empty_channel() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    d = say(hub, "a", "HISTORY #C")
    assert d.lines("a") == ["HISTORY #c 0", "END HISTORY #c more=no gap=no"]


def test_history_is_oldest_first_and_the_same_lines_as_live() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    live: list[e.Event] = []
    for i, (conn, text) in enumerate([("a", "one"), ("b", "two"), ("a", "three")]):
        live += say(hub, conn, f"MSG #c {text}", NOW + i).to("b")
    messages, _ = history(hub, "b", "#c")
    assert messages == live
    assert texts(messages) == ["one", "two", "three"]
    assert [m.author for m in messages] == ["alice", "bob", "alice"]


def test_history_in_the_protocol_example() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#general")
    one, two, three = (post(hub, "a", "#general", t) for t in ("one", "two", "three"))
    assert history(hub, "a", "#general 2") == (
        [two, three],
        e.BlockEnd("HISTORY", ("#general", "more=yes", "gap=no")),
    )
    assert history(hub, "a", f"#general BEFORE {two.id}")[0] == [one]
    messages, end = history(hub, "a", f"#general AFTER {one.id} 1")
    assert (messages, flags(end)) == ([two], (True, False))
    messages, end = history(hub, "a", f"#general AFTER {three.id}")
    assert (messages, flags(end)) == ([], (False, False))


@pytest.mark.parametrize("page", [1, 2, 3, 4, 7, 11, 12])
def test_walk_the_channel_with_after(page: int) -> None:
    hub = make_hub(Limits(history=20, history_page=5, join_replay=5))
    user(hub, "a", "alice", "#c", "#other")
    sent: list[e.Message] = []
    for i in range(11):
        sent.append(post(hub, "a", "#c", f"m{i}"))
        post(hub, "a", "#other", f"noise {i}")  # ids in #c are not consecutive
    seen: list[e.Message] = []
    cursor = f"{BOOT}-0"
    while True:
        messages, end = history(hub, "a", f"#c AFTER {cursor} {page}")
        more, gap = flags(end)
        assert not gap
        assert len(messages) <= page
        seen += messages
        if not more:
            break
        assert len(messages) == page
        cursor = messages[-1].id
    assert seen == sent


@pytest.mark.parametrize("page", [1, 2, 3, 4, 7, 11, 12])
def test_walk_the_channel_with_before(page: int) -> None:
    hub = make_hub(Limits(history=20, history_page=5, join_replay=5))
    user(hub, "a", "alice", "#c", "#other")
    sent: list[e.Message] = []
    for i in range(11):
        post(hub, "a", "#other", f"noise {i}")
        sent.append(post(hub, "a", "#c", f"m{i}"))
    messages, end = history(hub, "a", f"#c {page}")
    seen = messages
    while flags(end)[0]:
        messages, end = history(hub, "a", f"#c BEFORE {seen[0].id} {page}")
        assert 0 < len(messages) <= page
        assert flags(end)[1] is False
        seen = messages + seen
    assert seen == sent


def overflowed_hub() -> tuple[Hub[str], list[e.Message]]:
    """history=5, twelve messages sent: the ring holds the last five (ids 8..12)."""
    hub = make_hub(Limits(history=5, history_page=5, join_replay=5))
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", f"m{i}") for i in range(1, 13)]
    return hub, sent


@pytest.mark.parametrize(
    ("cursor", "expected", "gap"),
    [
        (0, [8, 9, 10, 11, 12], True),
        (1, [8, 9, 10, 11, 12], True),
        (3, [8, 9, 10, 11, 12], True),
        (6, [8, 9, 10, 11, 12], True),  # missed 7
        (7, [8, 9, 10, 11, 12], False),  # 7 was the newest dropped: nothing missed
        (8, [9, 10, 11, 12], False),
        (11, [12], False),
        (12, [], False),
    ],
)
def test_after_once_the_ring_overflowed(cursor: int, expected: list[int], gap: bool) -> None:
    hub, sent = overflowed_hub()
    messages, end = history(hub, "a", f"#c AFTER {BOOT}-{cursor}")
    assert messages == [sent[n - 1] for n in expected]
    assert flags(end) == (False, gap)


def test_after_overflow_pages_with_gap_only_on_the_first_page() -> None:
    hub, sent = overflowed_hub()
    messages, end = history(hub, "a", f"#c AFTER {sent[0].id} 2")
    assert texts(messages) == ["m8", "m9"]
    assert flags(end) == (True, True)
    messages, end = history(hub, "a", f"#c AFTER {messages[-1].id} 2")
    assert texts(messages) == ["m10", "m11"]
    assert flags(end) == (True, False)


def test_history_after_overflow_shows_only_what_is_held() -> None:
    hub, sent = overflowed_hub()
    messages, end = history(hub, "a", "#c")
    assert messages == sent[-5:]
    assert flags(end) == (False, False)
    messages, end = history(hub, "a", f"#c BEFORE {sent[8].id}")
    assert messages == sent[7:8]
    assert flags(end) == (False, False)
    messages, end = history(hub, "a", f"#c BEFORE {sent[2].id}")
    assert messages == []


def test_after_an_id_from_another_boot() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", t) for t in ("one", "two", "three")]
    messages, end = history(hub, "a", f"#c AFTER {OTHER_BOOT}-42")
    assert messages == sent
    assert flags(end) == (False, True)
    # a count: the oldest held, then page on normally
    messages, end = history(hub, "a", f"#c AFTER {OTHER_BOOT}-2 2")
    assert messages == sent[:2]
    assert flags(end) == (True, True)
    # same sequence number as a real message, other boot: still "from before a restart"
    messages, end = history(hub, "a", f"#c AFTER {BOOT + 1}-1")
    assert messages == sent
    assert flags(end) == (False, True)


def test_after_an_id_from_another_boot_on_an_overflowed_ring() -> None:
    hub, sent = overflowed_hub()
    messages, end = history(hub, "a", f"#c AFTER {OTHER_BOOT}-99 3")
    assert messages == sent[7:10]
    assert flags(end) == (True, True)


def test_before_an_id_from_another_boot_is_empty() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    for t in ("one", "two"):
        post(hub, "a", "#c", t)
    messages, end = history(hub, "a", f"#c BEFORE {OTHER_BOOT}-42")
    assert messages == []
    assert flags(end) == (False, False)
    messages, _ = history(hub, "a", f"#c BEFORE {BOOT + 1}-100")
    assert messages == []


def test_history_of_a_missing_channel() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    for args in ("#nope", f"#nope AFTER {BOOT}-1", f"#nope BEFORE {BOOT}-1 5"):
        error = refused(say(hub, "a", f"HISTORY {args}"), "a", "NO_SUCH_CHANNEL", "HISTORY")
        assert error.params == ("#nope",)
    # Without a #, HISTORY names a conversation: of someone who exists.
    refused(say(hub, "a", "HISTORY nope"), "a", "NO_SUCH_NICK", "HISTORY")


def test_non_member_may_read_history() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    sent = [post(hub, "a", "#c", t) for t in ("one", "two")]
    register(hub, "s", "stranger")
    messages, end = history(hub, "s", "#c")
    assert messages == sent
    assert flags(end) == (False, False)


def test_deleted_messages_are_absent_and_cause_no_gap() -> None:
    hub = make_hub(Limits(history=4, history_page=4, join_replay=4))
    user(hub, "a", "alice", "#c")
    m1, m2, m3, m4 = (post(hub, "a", "#c", f"m{i}") for i in range(1, 5))
    say(hub, "a", f"DELETE {m2.id}")
    say(hub, "a", f"DELETE {m3.id}")
    messages, end = history(hub, "a", "#c")
    assert messages == [m1, m4]
    assert flags(end) == (False, False)
    for cursor in (m1, m2, m3):
        messages, end = history(hub, "a", f"#c AFTER {cursor.id}")
        assert messages == [m4], cursor
        assert flags(end) == (False, False)
    messages, _ = history(hub, "a", f"#c BEFORE {m3.id}")
    assert messages == [m1]
    # the deletions freed room: two more messages drop nothing
    m5, m6 = (post(hub, "a", "#c", f"m{i}") for i in (5, 6))
    messages, end = history(hub, "a", f"#c AFTER {m1.id}")
    assert messages == [m4, m5, m6]
    assert flags(end) == (False, False)
    # one more drops m1: a cursor before it now has a gap, one on it does not
    m7 = post(hub, "a", "#c", "m7")
    messages, end = history(hub, "a", f"#c AFTER {BOOT}-0")
    assert (messages, flags(end)) == ([m4, m5, m6, m7], (False, True))
    messages, end = history(hub, "a", f"#c AFTER {m1.id}")
    assert (messages, flags(end)) == ([m4, m5, m6, m7], (False, False))


# ---------------------------------------------------------------------------- DELETE


def test_author_deletes_and_every_member_hears() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c", "#other")
    user(hub, "s", "stranger", "#other")
    oops = post(hub, "a", "#c", "oops")
    keep = post(hub, "b", "#c", "keep")
    d = say(hub, "a", f"DELETE {oops.id}")
    assert d.receivers == {"a", "b"}
    for conn in ("a", "b"):
        assert d.to(conn) == [e.Deleted("#c", oops.id, "alice")]
    assert d.lines("a") == [f"DELETED #c {oops.id} alice"]
    messages, _ = history(hub, "b", "#c")
    assert messages == [keep]


def test_author_who_parted_still_gets_deleted() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    oops = post(hub, "a", "#c", "oops")
    say(hub, "a", "PART #c")
    d = say(hub, "a", f"DELETE {oops.id}")
    assert d.receivers == {"a", "b"}
    assert d.to("a") == d.to("b") == [e.Deleted("#c", oops.id, "alice")]


def test_non_author_may_not_delete() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    oops = post(hub, "a", "#c", "oops")
    error = refused(say(hub, "b", f"DELETE {oops.id}"), "b", "NOT_AUTHOR", "DELETE")
    assert error.params == (oops.id,)
    assert "alice" in error.text
    messages, _ = history(hub, "b", "#c")
    assert messages == [oops]


@pytest.mark.parametrize("case", ["unknown", "other boot", "evicted", "deleted"])
def test_delete_of_a_message_not_in_history(case: str) -> None:
    hub = make_hub(Limits(history=3, history_page=3, join_replay=3))
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    first = post(hub, "a", "#c", "first")
    target = {
        "unknown": f"{BOOT}-999",
        "other boot": f"{OTHER_BOOT}-{first.id.split('-')[1]}",
        "evicted": first.id,
        "deleted": first.id,
    }[case]
    if case == "evicted":
        for i in range(3):
            post(hub, "a", "#c", f"push {i}")
    if case == "deleted":
        say(hub, "a", f"DELETE {first.id}")
    error = refused(say(hub, "a", f"DELETE {target}"), "a", "NO_SUCH_MESSAGE", "DELETE")
    assert error.params == (target,)


def test_author_can_delete_after_renaming() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    oops = post(hub, "a", "#c", "oops")
    say(hub, "a", "NICK alicia")
    d = say(hub, "a", f"DELETE {oops.id}")
    assert d.to("b") == [e.Deleted("#c", oops.id, "alicia")]


def test_a_new_session_with_the_same_nick_is_not_the_author() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    oops = post(hub, "a", "#c", "oops")
    say(hub, "a", "QUIT")
    user(hub, "a2", "alice", "#c")
    refused(say(hub, "a2", f"DELETE {oops.id}"), "a2", "NOT_AUTHOR", "DELETE")


def test_someone_taking_a_renamed_authors_old_nick_is_not_the_author() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    oops = post(hub, "a", "#c", "oops")
    say(hub, "a", "NICK alicia")
    user(hub, "m", "alice", "#c")
    refused(say(hub, "m", f"DELETE {oops.id}"), "m", "NOT_AUTHOR", "DELETE")


def test_a_resumed_session_is_still_the_author() -> None:
    hub = make_hub()
    token = user(hub, "a", "alice", "#c")
    oops = post(hub, "a", "#c", "oops")
    hub.disconnect("a", "connection closed", NOW)
    connect(hub, "a2")
    say(hub, "a2", f"RESUME {token}")
    d = say(hub, "a2", f"DELETE {oops.id}")
    assert d.to("a2") == [e.Deleted("#c", oops.id, "alice")]


# ---------------------------------------------------------------------------- QUIT


def test_quit_closes_and_tells_co_members_once() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#one", "#two")
    user(hub, "b", "bob", "#one", "#two", "#three")
    user(hub, "c", "carol", "#three")
    user(hub, "s", "stranger", "#four")
    d = say(hub, "b", "QUIT see you tomorrow")
    assert d.closed == {"b": e.Bye("QUIT", (), "bye")}
    assert d.receivers == {"a", "c"}
    assert d.lines("a") == ["QUIT bob :see you tomorrow"]
    assert d.lines("c") == ["QUIT bob :see you tomorrow"]
    assert not hub.is_registered("b")


def test_quit_without_reason_says_quit() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    assert say(hub, "b", "QUIT").lines("a") == ["QUIT bob :quit"]


def test_quit_close_comes_after_the_notice() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    effects = send(hub, "b", "QUIT")
    assert isinstance(effects[-1], Close)
    assert effects[-1].conn == "b"


def test_quit_ends_the_session() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    token = user(hub, "b", "bob", "#c")
    say(hub, "b", "QUIT")
    assert hub.session("bob") is None
    assert say(hub, "a", "NAMES #c").lines("a") == [
        "NAMES #c 1",
        "MEMBER alice role=op",
        "END NAMES #c",
    ]
    assert say(hub, "a", "MSG #c hi").receivers == {"a"}
    # the token no longer works
    connect(hub, "b2")
    refused(say(hub, "b2", f"RESUME {token}"), "b2", "UNKNOWN_TOKEN", "RESUME")
    # the nick is free at once, as a new session that is in no channel
    register(hub, "b3", "BOB")
    refused(say(hub, "b3", "MSG #c back"), "b3", "NOT_IN_CHANNEL", "MSG")
    # the server's disconnect after QUIT says nothing more
    assert hub.disconnect("b", "connection closed", NOW) == []


# ---------------------------------------------------------------------------- disconnect


def test_disconnect_tells_co_members_once_and_keeps_the_nick() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#one", "#two")
    user(hub, "b", "bob", "#one", "#two")
    user(hub, "s", "stranger", "#three")
    d = deliver(hub.disconnect("b", "connection reset", NOW))
    assert d.closed == {}
    assert d.receivers == {"a"}
    assert d.lines("a") == ["QUIT bob :connection reset"]
    assert not hub.is_registered("b")
    assert say(hub, "a", "NAMES #one").lines("a") == [
        "NAMES #one 1",
        "MEMBER alice role=op",
        "END NAMES #one",
    ]
    # the nick is held for the dropped session
    connect(hub, "x")
    error = refused(say(hub, "x", "NICK Bob", NOW + 10), "x", "NICK_IN_USE", "NICK")
    assert error.params == ("bob",)
    assert "RESUME" in error.text
    held = re.search(r"for up to (\d+) s more", error.text)
    assert held is not None
    assert 590 <= int(held[1]) <= 591  # 590 s of the 600 s ttl are left
    # a registered user cannot rename to it either
    refused(say(hub, "a", "NICK bob"), "a", "NICK_IN_USE", "NICK")


@pytest.mark.parametrize("check", ["nick", "token"])
def test_detached_session_is_forgotten_after_resume_ttl(check: str) -> None:
    hub = make_hub(Limits(resume_ttl=60.0))
    user(hub, "a", "alice", "#c")
    token = user(hub, "b", "bob", "#c")
    hub.disconnect("b", "connection closed", NOW)
    connect(hub, "x")
    if check == "nick":
        refused(say(hub, "x", "NICK bob", NOW + 59), "x", "NICK_IN_USE", "NICK")
        (ok,) = say(hub, "x", "NICK bob", NOW + 61).to("x")
        assert isinstance(ok, e.Ok)
        assert ok.param("token") != token
        # the new bob is a new session: not in the old one's channels
        refused(say(hub, "x", "MSG #c hi", NOW + 61), "x", "NOT_IN_CHANNEL", "MSG")
    else:
        refused(say(hub, "x", f"RESUME {token}", NOW + 61), "x", "UNKNOWN_TOKEN", "RESUME")
        register(hub, "y", "bob", NOW + 61)


def test_detached_session_is_resumable_within_the_ttl() -> None:
    hub = make_hub(Limits(resume_ttl=60.0))
    token = user(hub, "b", "bob", "#c")
    hub.disconnect("b", "connection closed", NOW)
    connect(hub, "x")
    (*_, ok) = say(hub, "x", f"RESUME {token}", NOW + 59).to("x")
    assert isinstance(ok, e.Ok)
    assert ok.command == "RESUME"


def test_max_detached_forgets_the_oldest() -> None:
    hub = make_hub(Limits(max_detached=2))
    tokens = {nick: user(hub, nick, nick, "#c") for nick in ("ann", "ben", "cat")}
    user(hub, "watcher", "watcher", "#c")
    for i, nick in enumerate(("ann", "ben", "cat")):
        hub.disconnect(nick, "connection closed", NOW + i)
    now = NOW + 5
    connect(hub, "x")
    refused(say(hub, "x", f"RESUME {tokens['ann']}", now), "x", "UNKNOWN_TOKEN", "RESUME")
    register(hub, "ann2", "ann", now)
    connect(hub, "y")
    refused(say(hub, "y", "NICK ben", now), "y", "NICK_IN_USE", "NICK")
    refused(say(hub, "y", "NICK cat", now), "y", "NICK_IN_USE", "NICK")
    for nick in ("ben", "cat"):
        connect(hub, f"{nick}2")
        d = say(hub, f"{nick}2", f"RESUME {tokens[nick]}", now)
        ok = d.to(f"{nick}2")[-1]
        assert isinstance(ok, e.Ok)
        assert ok.params[0] == nick


def test_disconnect_is_idempotent_and_ignores_unknown_connections() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    assert deliver(hub.disconnect("b", "connection closed", NOW)).receivers == {"a"}
    assert hub.disconnect("b", "connection closed", NOW) == []
    assert hub.disconnect("never-seen", "connection closed", NOW) == []
    connect(hub, "anon")
    assert hub.connection_count == 2
    assert hub.disconnect("anon", "connection closed", NOW) == []
    assert hub.connection_count == 1


def test_disconnect_of_a_user_in_no_channel_is_silent() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    user(hub, "b", "bob", "#c")
    assert hub.disconnect("a", "connection closed", NOW) == []
    assert hub.session("alice") is not None


def test_disconnect_with_an_equal_but_distinct_handle() -> None:
    # Connections are "opaque, hashable handles": equal handles are the same connection.
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    handle = "bob-conn"
    same = "".join(["bob", "-conn"])  # built at run time: equal to handle, not identical
    assert same == handle
    assert same is not handle
    user(hub, handle, "bob", "#c")
    d = deliver(hub.disconnect(same, "connection closed", NOW))
    assert d.lines("a") == ["QUIT bob :connection closed"]
    session = hub.session("bob")
    assert session is not None
    assert session.conn is None  # detached, resumable, expiring


# ---------------------------------------------------------------------------- RESUME


def test_resume_after_a_disconnect() -> None:
    hub = make_hub()
    token = user(hub, "a1", "alice", "#a", "#b")
    user(hub, "b", "bob", "#a")
    user(hub, "c", "carol", "#b")
    user(hub, "s", "stranger", "#s")
    hub.disconnect("a1", "connection closed", NOW)
    connect(hub, "a2")
    d = say(hub, "a2", f"RESUME {token}", NOW + 5)
    assert d.closed == {}
    assert d.receivers == {"a2", "b", "c"}
    *joins, ok = d.to("a2")
    assert lines(joins) == ["JOIN #a alice", "JOIN #b alice", "UNREAD 0", "END UNREAD"]
    assert isinstance(ok, e.Ok)
    assert ok.command == "RESUME"
    new_token = ok.param("token")
    assert new_token is not None
    assert TOKEN.fullmatch(new_token)
    assert new_token != token
    assert ok.params == ("alice", f"token={new_token}", "last=#b")
    assert "2 channel(s)" in ok.text
    assert d.lines("b") == ["JOIN #a alice"]
    assert d.lines("c") == ["JOIN #b alice"]
    assert hub.is_registered("a2")
    # back in the channels: messages reach the new connection
    assert say(hub, "b", "MSG #a welcome back").receivers == {"a2", "b"}
    assert say(hub, "b", "NAMES #a").lines("b")[1:3] == ["MEMBER alice role=op", "MEMBER bob"]


def test_resume_rotates_the_token() -> None:
    hub = make_hub()
    old = user(hub, "a1", "alice", "#c")
    hub.disconnect("a1", "connection closed", NOW)
    connect(hub, "a2")
    ok = say(hub, "a2", f"RESUME {old}").to("a2")[-1]
    assert isinstance(ok, e.Ok)
    new = ok.param("token")
    assert new is not None
    connect(hub, "x")
    refused(say(hub, "x", f"RESUME {old}"), "x", "UNKNOWN_TOKEN", "RESUME")
    hub.disconnect("a2", "connection closed", NOW)
    connect(hub, "a3")
    ok = say(hub, "a3", f"RESUME {new}").to("a3")[-1]
    assert isinstance(ok, e.Ok)
    assert ok.params[0] == "alice"


def test_resume_of_a_renamed_session() -> None:
    hub = make_hub()
    token = user(hub, "a1", "alice", "#c")
    say(hub, "a1", "NICK alicia")
    hub.disconnect("a1", "connection closed", NOW)
    connect(hub, "a2")
    d = say(hub, "a2", f"RESUME {token}")
    *joins, ok = d.to("a2")
    assert lines(joins) == ["JOIN #c alicia", "UNREAD 0", "END UNREAD"]
    assert isinstance(ok, e.Ok)
    assert ok.params[0] == "alicia"


@pytest.mark.parametrize(
    ("commands", "last"),
    [
        ([], "*"),
        (["JOIN #a"], "#a"),
        (["JOIN #a", "JOIN #b"], "#b"),
        (["JOIN #a", "JOIN #b", "MSG #a hi"], "#a"),
        (["JOIN #a", "JOIN #b", "JOIN #a"], "#a"),
        (["JOIN #a", "JOIN #b", "MSG #b hi", "MSG bob hi"], "#b"),
        (["JOIN #a", "PART #a"], "*"),
        (["JOIN #a", "JOIN #b", "PART #a"], "#b"),
        (["JOIN #a", "JOIN #b", "PART #b"], "#a"),
        (["JOIN #A"], "#a"),  # shown with the channel's own name
    ],
)
def test_resume_last_channel(commands: list[str], last: str) -> None:
    hub = make_hub()
    user(hub, "o", "bob", "#a")  # #a exists, so "JOIN #A" joins it
    token = register(hub, "a1", "alice")
    for line in commands:
        say(hub, "a1", line)
    hub.disconnect("a1", "connection closed", NOW)
    connect(hub, "a2")
    ok = say(hub, "a2", f"RESUME {token}").to("a2")[-1]
    assert isinstance(ok, e.Ok)
    assert ok.param("last") == last


def test_resume_last_moves_to_a_remaining_channel_after_parting_the_last() -> None:
    hub = make_hub()
    token = user(hub, "a1", "alice", "#a", "#b", "#c")
    say(hub, "a1", "PART #c")
    hub.disconnect("a1", "connection closed", NOW)
    connect(hub, "a2")
    ok = say(hub, "a2", f"RESUME {token}").to("a2")[-1]
    assert isinstance(ok, e.Ok)
    assert ok.param("last") in ("#a", "#b")


def test_resume_last_after_part_is_the_most_recently_used_remaining_channel() -> None:
    # protocol.md: RESUME gives back "the channel you were last in (the last one you
    # joined or wrote to)". After JOIN #a, JOIN #b, JOIN #c, PART #c, that is #b.
    hub = make_hub()
    token = user(hub, "a1", "alice", "#a", "#b", "#c")
    say(hub, "a1", "PART #c")
    hub.disconnect("a1", "connection closed", NOW)
    connect(hub, "a2")
    ok = say(hub, "a2", f"RESUME {token}").to("a2")[-1]
    assert isinstance(ok, e.Ok)
    assert ok.param("last") == "#b"


def test_resume_takes_over_a_ghost_connection_silently() -> None:
    hub = make_hub()
    token = user(hub, "ghost", "alice", "#c")
    user(hub, "b", "bob", "#c")
    connect(hub, "new")
    d = say(hub, "new", f"RESUME {token}")
    assert set(d.closed) == {"ghost"}
    assert d.closed["ghost"].code == "RESUMED"
    assert d.receivers == {"new"}  # no JOIN/QUIT noise for bob, nothing for the ghost
    *joins, ok = d.to("new")
    assert lines(joins) == ["JOIN #c alice", "UNREAD 0", "END UNREAD"]
    assert isinstance(ok, e.Ok)
    assert ok.params[0] == "alice"
    assert ok.param("token") != token
    assert ok.param("last") == "#c"
    assert not hub.is_registered("ghost")
    assert hub.is_registered("new")
    # subsequent channel messages go to the new connection, not the ghost
    d = say(hub, "b", "MSG #c still there?")
    assert d.receivers == {"b", "new"}
    assert say(hub, "b", "NAMES #c").lines("b") == [
        "NAMES #c 2",
        "MEMBER alice role=op",
        "MEMBER bob",
        "END NAMES #c",
    ]
    # the server's later disconnect of the ghost changes nothing
    assert hub.disconnect("ghost", "connection closed", NOW) == []
    assert say(hub, "b", "MSG #c and now?").receivers == {"b", "new"}
    assert hub.is_registered("new")


def test_resume_on_a_registered_connection() -> None:
    hub = make_hub()
    token = register(hub, "a", "alice")
    register(hub, "b", "bob")
    error = refused(say(hub, "a", f"RESUME {token}"), "a", "ALREADY_REGISTERED", "RESUME")
    assert "alice" in error.text
    refused(say(hub, "b", f"RESUME {token}"), "b", "ALREADY_REGISTERED", "RESUME")
    # the refused RESUME did not rotate or spend the token
    connect(hub, "c")
    ok = say(hub, "c", f"RESUME {token}").to("c")[-1]
    assert isinstance(ok, e.Ok)


@pytest.mark.parametrize("token", ["nonsense", "A" * 22, "x"])
def test_resume_with_an_unknown_token(token: str) -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    connect(hub, "x")
    error = refused(say(hub, "x", f"RESUME {token}"), "x", "UNKNOWN_TOKEN", "RESUME")
    assert "NICK" in error.text
    assert not hub.is_registered("x")


# ---------------------------------------------------------------------------- shutdown


def test_shutdown_closes_every_connection() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    register(hub, "b", "bob")
    connect(hub, "anon")
    register(hub, "gone", "gone")
    say(hub, "gone", "QUIT")
    user(hub, "dropped", "dropped", "#c")
    hub.disconnect("dropped", "connection closed", NOW)
    effects = hub.shutdown(NOW)
    assert all(isinstance(effect, Close) for effect in effects)
    d = deliver(effects)
    assert d.events == {}
    assert set(d.closed) == {"a", "b", "anon"}
    for bye in d.closed.values():
        assert bye.code == "SHUTDOWN"
        assert bye.params == ("retry=5",)
    assert format_event(d.closed["anon"]).startswith("BYE SHUTDOWN retry=5 :")


# ---------------------------------------------------------------------------- HELP / PING


def test_help_lists_every_verb() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    d = say(hub, "a", "HELP")
    assert d.receivers == {"a"}
    start, *body, end = d.to("a")
    assert start == e.BlockStart("HELP", ("*", str(len(body))))
    assert end == e.BlockEnd("HELP", ("*",))
    assert all(isinstance(line, e.Info) for line in body)
    infos = [line.text for line in body if isinstance(line, e.Info)]
    verbs = sorted({row.name for row in VERBS.values()})
    for verb in verbs:
        assert sum(1 for text in infos if text.split(" ")[0] == verb) == 1, verb
    # one line per verb, plus one general note
    assert len(infos) == len(verbs) + 1


@pytest.mark.parametrize("line", ["HELP msg", "HELP /msg", "help MSG", "/help /Msg"])
def test_help_on_msg(line: str) -> None:
    hub = make_hub()
    connect(hub, "x")
    d = say(hub, "x", line)
    assert d.lines("x") == [
        "HELP MSG 4",
        "INFO :usage: MSG <#channel|nick> <text>",
        "INFO :send a message to a channel you are in, or privately to a nick",
        "INFO :example: MSG #general hello everyone",
        "INFO :needs a nick first (NICK or RESUME)",
        "END HELP MSG",
    ]


def test_help_on_an_alias_and_on_a_verb_that_needs_no_nick() -> None:
    hub = make_hub()
    connect(hub, "x")
    who = say(hub, "x", "HELP who").lines("x")
    assert who[0] == "HELP NAMES 5"
    assert "INFO :also: WHO" in who
    ping = say(hub, "x", "HELP ping").lines("x")
    assert ping[0] == "HELP PING 3"
    assert not any("needs a nick" in line for line in ping)


def test_help_on_an_unknown_command() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    error = refused(say(hub, "a", "HELP nosuch"), "a", "UNKNOWN_COMMAND", "HELP")
    assert "NOSUCH" in error.text


@pytest.mark.parametrize(("line", "reply"), [("PING tok", "PONG tok"), ("ping", "PONG")])
def test_ping(line: str, reply: str) -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    d = say(hub, "a", line)
    assert d.receivers == {"a"}
    assert d.lines("a") == [reply]


def test_pong_has_no_effects() -> None:
    hub = make_hub()
    register(hub, "a", "alice")
    assert send(hub, "a", "PONG 42") == []
    assert send(hub, "a", "PONG") == []


# ---------------------------------------------------------------------------- consistency

_NICKS = ("ann", "ANN", "ben", "cat")
_CHANNELS = ("#x", "#X", "#y", "#z")
_LINES = (
    *(f"NICK {n}" for n in _NICKS),
    "RESUME {token}",
    *(f"JOIN {c}" for c in _CHANNELS),
    "CREATE #y",
    "PART #x",
    "PART #y",
    "MSG #x hi",
    "MSG #y hi",
    "MSG ben hi",
    "DELETE {id}",
    "HISTORY #x AFTER {id} 2",
    "TOPIC #y t",
    "QUIT",
    "<drop>",
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(_LINES), st.sampled_from([0.0, 1.0, 40.0])),
        max_size=60,
    )
)
def test_random_sessions_keep_the_hub_consistent(steps: list[tuple[int, str, float]]) -> None:
    """Whatever clients do, effects go only to open connections, no broadcast names a
    connection twice, and every channel member is a live, registered, findable session."""
    hub = make_hub(Limits(history=3, history_page=2, join_replay=2, resume_ttl=60.0,
                          max_detached=2, max_joins=2, max_channels=3))  # fmt: skip
    now = NOW
    # One handle object per slot, reused for every call (the server's handles are objects
    # compared by identity; see test_disconnect_with_an_equal_but_distinct_handle).
    handles = [f"s{i}g0" for i in range(4)]
    generation = [0, 0, 0, 0]
    open_conns: set[str] = set()
    token, msgid = "none", f"{BOOT}-1"

    def slot(i: int) -> str:
        return handles[i]

    for i in range(4):
        connect(hub, slot(i))
        open_conns.add(slot(i))
    for i, line, dt in steps:
        now += dt
        conn = slot(i)
        if line == "<drop>":
            effects = hub.disconnect(conn, "connection closed", now)
            open_conns.discard(conn)
        else:
            effects = send(hub, conn, line.format(token=token, id=msgid), now)
        for effect in effects:
            if isinstance(effect, Broadcast):
                assert len(set(effect.conns)) == len(effect.conns), effect
        d = deliver(effects)
        assert d.receivers <= open_conns, (line, d.events)
        assert set(d.closed) <= open_conns, (line, d.closed)
        for events in d.events.values():
            for event in events:
                if isinstance(event, e.Ok) and event.param("token"):
                    token = event.param("token") or token
                if isinstance(event, e.Message):
                    msgid = event.id
        for closed in d.closed:  # the server disconnects what the hub closed
            open_conns.discard(closed)
            assert hub.disconnect(closed, "closed", now) == []
        for j in range(4):  # a slot whose connection ended gets a fresh one
            if slot(j) not in open_conns:
                generation[j] += 1
                handles[j] = f"s{j}g{generation[j]}"
                connect(hub, slot(j), now)
                open_conns.add(slot(j))
        for name in _CHANNELS:
            channel = hub.channel(name)
            if channel is None:
                continue
            for member in channel.members.values():
                assert member.conn in open_conns
                assert hub.is_registered(member.conn)
                assert hub.session(member.nick) is member
                assert channel in member.channels.values()


def test_a_full_server_reclaims_the_channel_empty_the_longest() -> None:
    hub: Hub[str] = Hub(Limits(max_channels=2, resume_ttl=60.0), IdGenerator(boot=1))

    def run(line: str, now: float) -> list[str]:
        verb, command = parse_command(line)
        return [
            format_event(ev)
            for eff in hub.handle("c1", verb, command, now)
            for ev in (eff.events if isinstance(eff, Reply) else [eff.event])  # type: ignore[union-attr]
        ]

    hub.connect("c1", 0.0)
    run("NICK maker", 0.0)
    run("JOIN #a", 0.0)
    run("JOIN #b", 1.0)
    run("PART #a", 2.0)
    run("PART #b", 3.0)
    assert run("JOIN #c", 30.0)[0].startswith("ERR TOO_MANY_CHANNELS JOIN")  # not idle long
    assert run("JOIN #c", 62.0)[0].startswith("OK JOIN #c 1")  # #a was empty since 2.0
    listing = run("LIST", 62.0)
    assert [line.split(" ")[1] for line in listing if line.startswith("CHANNEL")] == ["#b", "#c"]


def test_a_notice_is_a_message_of_the_notice_kind() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    d = say(hub, "a", "NOTICE #c build 7 passed")
    assert d.receivers == {"a", "b"}
    (line,) = d.lines("b")
    assert line.startswith("MSG #c ")
    assert line.endswith(" alice kind=notice :build 7 passed")
    d = say(hub, "b", "NOTICE alice deploy done")
    assert d.lines("a")[0].endswith(" bob kind=notice :deploy done")
    messages, _ = history(hub, "b", "#c")
    assert [m.notice for m in messages] == [True]
    refused(say(hub, "b", "NOTICE #nowhere hi"), "b", "NO_SUCH_CHANNEL", "NOTICE")
