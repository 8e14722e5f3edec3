"""Server operators and user modes in the hub: OPER, KILL, WALLOPS, ``MODE <own nick>``,
the credentials they are checked against, and their state kept by every store.

Plain functions over a ``Hub[str]`` (as tests/test_hub.py), the in-memory and SQLite
stores and the hub image: no sockets. The wires are tests/test_opers_wire.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flackd.codec import events as e
from flackd.codec.usermodes import UserModeError, format_user_changes, parse_user_changes
from flackd.hub import Hub
from flackd.hub import image as hub_image
from flackd.hub.credentials import (
    hash_password,
    is_valid_hash,
    parse_opers,
    verify_password,
)
from flackd.hub.opers import OPER_OK
from flackd.limits import Limits
from flackd.store.sqlite import SqliteStore
from tests.test_hub import NOW, connect, deliver, refused, say, user
from tests.test_hub_store import Durable

#: Cheap hashes for tests (the format allows any power of two; flackd makes 2**14).
FAST = 1 << 10
ADMIN = hash_password("sesame-oper", n=FAST)


def make_hub() -> Hub[str]:
    return Hub(Limits(), opers={"admin": ADMIN})


def oper_up(hub: Hub[str], conn: str) -> None:
    d = say(hub, conn, "OPER admin sesame-oper")
    assert [type(x) for x in d.to(conn)] == [e.ModeChanged, e.Ok]


# ------------------------------------------------------------------------ credentials


def test_a_hash_checks_its_password_and_nothing_else() -> None:
    encoded = hash_password("correct-horse", n=FAST)
    assert encoded.startswith(f"scrypt${FAST}$8$1$")
    assert "correct-horse" not in encoded
    assert verify_password("correct-horse", encoded)
    assert not verify_password("correct-hors", encoded)
    assert not verify_password("", encoded)
    assert hash_password("correct-horse", n=FAST) != encoded  # a new salt each time


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "correct-horse",
        "scrypt$1024$8$1$c2FsdA==",  # a field short
        "bcrypt$1024$8$1$c2FsdA==$" + "A" * 44,
        "scrypt$1000$8$1$c2FsdA==$" + "A" * 44,  # n not a power of two
        "scrypt$4194304$8$1$c2FsdA==$" + "A" * 44,  # n too large: seconds a check
        "scrypt$1024$8$1$not base64$" + "A" * 44,
        "scrypt$1024$x$1$c2FsdA==$" + "A" * 44,
        "scrypt$1024$8$1$c2FsdA==$QUJD",  # a key of 3 bytes
    ],
)
def test_what_is_not_a_hash_is_refused_and_never_matches(bad: str) -> None:
    assert not is_valid_hash(bad)
    assert not verify_password("anything", bad)


def test_oper_entries_are_parsed_and_bad_ones_say_why() -> None:
    assert parse_opers([f"admin:{ADMIN}", f"ops.team-2:{ADMIN}"]) == {
        "admin": ADMIN,
        "ops.team-2": ADMIN,
    }
    for entry, why in [
        ("admin", "give NAME:HASH"),
        (f"bad name:{ADMIN}", "give NAME:HASH"),
        ("admin:sesame-oper", "not a hash flackd makes"),
    ]:
        with pytest.raises(ValueError, match=why):
            parse_opers([entry])
    with pytest.raises(ValueError, match="given twice"):
        parse_opers([f"admin:{ADMIN}", f"admin:{ADMIN}"])


def test_user_mode_words() -> None:
    assert parse_user_changes(["+Bw-o"]) == [(True, "B"), (True, "w"), (False, "o")]
    assert parse_user_changes(["+w", "-B"]) == [(True, "w"), (False, "B")]
    assert format_user_changes([(True, "B"), (True, "w"), (False, "o")]) == "+Bw-o"
    with pytest.raises(UserModeError) as info:
        parse_user_changes(["+wx"])
    assert (info.value.code, info.value.param) == ("UNKNOWN_MODE", "x")
    with pytest.raises(UserModeError, match="starts with"):
        parse_user_changes(["w"])
    with pytest.raises(UserModeError, match="at most"):
        parse_user_changes(["+w-w+w-w+w-w+w-w+w"])


# ------------------------------------------------------------------------ OPER


def test_oper_with_the_right_password_gives_plus_o_once() -> None:
    hub = make_hub()
    user(hub, "a", "alice")
    d = say(hub, "a", "OPER admin sesame-oper")
    assert d.receivers == {"a"}
    assert d.lines("a") == [
        "MODE alice alice +o",
        "OK OPER admin :you are a server operator now (admin): KILL and WALLOPS; "
        "MODE alice -o ends it",
    ]
    again = say(hub, "a", "OPER admin sesame-oper")
    assert [type(x) for x in again.to("a")] == [e.Ok]  # already +o: no MODE line
    assert say(hub, "a", "MODE alice").lines("a") == ["MODE alice * +o"]


def test_oper_refusals_name_the_reason_and_change_nothing() -> None:
    hub = make_hub()
    user(hub, "a", "alice")
    error = refused(say(hub, "a", "OPER root sesame-oper"), "a", "UNKNOWN_OPER", "OPER")
    assert error.params == ("root",)
    refused(say(hub, "a", "OPER admin Sesame-oper"), "a", "BAD_PASSWORD", "OPER")
    assert say(hub, "a", "MODE alice").lines("a") == ["MODE alice * +"]
    # a hub with no operators configured knows no name
    bare: Hub[str] = Hub(Limits())
    user(bare, "a", "alice")
    refused(say(bare, "a", "OPER admin sesame-oper"), "a", "UNKNOWN_OPER", "OPER")


def test_check_oper_is_the_verdict_a_replica_logs() -> None:
    hub = make_hub()
    assert hub.check_oper("admin", "sesame-oper") == OPER_OK
    assert hub.check_oper("admin", "nope") == "BAD_PASSWORD"
    assert hub.check_oper("root", "sesame-oper") == "UNKNOWN_OPER"
    user(hub, "a", "alice")
    refused(
        deliver(hub.oper_checked("a", "admin", "BAD_PASSWORD", NOW)), "a", "BAD_PASSWORD", "OPER"
    )
    assert deliver(hub.oper_checked("a", "admin", OPER_OK, NOW)).lines("a")[0] == (
        "MODE alice alice +o"
    )
    connect(hub, "x")
    refused(deliver(hub.oper_checked("x", "admin", OPER_OK, NOW)), "x", "NOT_REGISTERED", "OPER")
    assert hub.oper_checked("gone", "admin", OPER_OK, NOW) == []


# ------------------------------------------------------------------------ user modes


def test_own_user_modes_are_shown_and_changed_to_oneself_only() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#dev")
    user(hub, "b", "bob", "#dev")
    d = say(hub, "a", "MODE alice +B")
    assert d.receivers == {"a"}
    assert d.lines("a") == ["MODE alice alice +B"]
    assert say(hub, "a", "MODE ALICE +w+B").lines("a") == ["MODE alice alice +w"]
    assert say(hub, "a", "MODE alice").lines("a") == ["MODE alice * +Bw"]
    nothing = say(hub, "a", "MODE alice +o")  # only OPER gives +o
    assert nothing.lines("a") == ["OK MODE alice :nothing changed: your user modes are +Bw"]
    assert say(hub, "a", "MODE alice -w -B").lines("a") == ["MODE alice alice -wB"]


def test_user_mode_refusals() -> None:
    hub = make_hub()
    user(hub, "a", "alice")
    user(hub, "b", "bob")
    error = refused(say(hub, "a", "MODE bob +B"), "a", "USERS_DONT_MATCH", "MODE")
    assert error.params == ("bob",)
    refused(say(hub, "a", "MODE bob"), "a", "USERS_DONT_MATCH", "MODE")
    refused(say(hub, "a", "MODE nobody"), "a", "NO_SUCH_NICK", "MODE")
    error = refused(say(hub, "a", "MODE alice +x"), "a", "UNKNOWN_MODE", "MODE")
    assert error.params == ("x",)
    refused(say(hub, "a", "MODE alice w"), "a", "INVALID_PARAMS", "MODE")
    assert say(hub, "b", "MODE bob").lines("b") == ["MODE bob * +"]  # alice changed nothing


def test_names_shows_bots_and_server_operators() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#dev")
    user(hub, "b", "robot", "#dev")
    say(hub, "b", "MODE robot +B")
    oper_up(hub, "a")
    assert say(hub, "b", "NAMES #dev").lines("b") == [
        "NAMES #dev 2",
        "MEMBER alice role=op oper=yes",
        "MEMBER robot bot=yes",
        "END NAMES #dev",
    ]
    info = hub.user_info("robot")
    assert info is not None
    assert info.modes == "B"


def test_minus_o_ends_being_an_operator() -> None:
    hub = make_hub()
    user(hub, "a", "alice")
    user(hub, "b", "bob")
    oper_up(hub, "a")
    assert say(hub, "a", "MODE alice -o").lines("a") == ["MODE alice alice -o"]
    refused(say(hub, "a", "KILL bob"), "a", "NOT_SERVER_OPERATOR", "KILL")
    refused(say(hub, "a", "WALLOPS hi"), "a", "NOT_SERVER_OPERATOR", "WALLOPS")


# ------------------------------------------------------------------------ KILL


def test_kill_ends_a_connected_session_for_good() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#dev")
    token = user(hub, "b", "bob", "#dev", "#ops")
    user(hub, "c", "carol", "#ops")
    refused(say(hub, "b", "KILL alice"), "b", "NOT_SERVER_OPERATOR", "KILL")
    oper_up(hub, "a")
    d = say(hub, "a", "KILL bob spamming")
    quit_line = "QUIT bob :Killed (alice (spamming))"
    assert d.lines("a") == [quit_line, "OK KILL bob :bob's session has ended"]
    assert d.lines("c") == [quit_line]
    assert d.closed == {"b": e.Bye("KILLED", ("alice",), "Killed (alice (spamming))")}
    assert "b" not in d.receivers  # its BYE is its last line
    assert hub.user_info("bob") is None
    assert not hub.is_registered("b")
    assert say(hub, "b", "MSG #dev still here?").receivers == set()  # let go of
    # the token is dead and the nick is free
    connect(hub, "b2")
    refused(say(hub, "b2", f"RESUME {token}"), "b2", "UNKNOWN_TOKEN", "RESUME")
    user(hub, "b3", "bob")
    refused(say(hub, "a", "KILL nobody"), "a", "NO_SUCH_NICK", "KILL")


def test_kill_of_a_dropped_session_and_of_oneself() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#dev")
    token = user(hub, "b", "bob", "#dev")
    hub.disconnect("b", "connection closed", NOW)
    oper_up(hub, "a")
    d = say(hub, "a", "KILL bob")
    assert d.lines("a") == ["OK KILL bob :bob's session has ended"]  # nobody left to tell
    assert d.closed == {}
    connect(hub, "b2")
    refused(say(hub, "b2", f"RESUME {token}"), "b2", "UNKNOWN_TOKEN", "RESUME")
    user(hub, "c", "carol", "#dev")
    mine = say(hub, "a", "KILL alice enough")
    assert mine.lines("c") == ["QUIT alice :Killed (alice (enough))"]
    assert set(mine.closed) == {"a"}
    assert "a" not in mine.receivers


# ------------------------------------------------------------------------ WALLOPS


def test_wallops_reaches_plus_w_users_and_the_sender_only() -> None:
    hub = make_hub()
    user(hub, "a", "alice")
    user(hub, "b", "bob")
    user(hub, "c", "carol")
    user(hub, "d", "dave")
    say(hub, "c", "MODE carol +w")
    say(hub, "d", "MODE dave +w")
    hub.disconnect("d", "connection closed", NOW)  # +w, but not connected
    refused(say(hub, "b", "WALLOPS hi"), "b", "NOT_SERVER_OPERATOR", "WALLOPS")
    oper_up(hub, "a")
    d = say(hub, "a", "WALLOPS restart at 18:00")
    assert d.receivers == {"a", "c"}
    assert d.lines("a") == d.lines("c") == ["WALLOPS alice :restart at 18:00"]


# ------------------------------------------------------------------------ sessions, stores


def test_a_resumed_operator_is_still_one() -> None:
    hub = make_hub()
    token = user(hub, "a", "alice")
    user(hub, "b", "bob")
    oper_up(hub, "a")
    say(hub, "a", "MODE alice +B")
    hub.disconnect("a", "connection reset", NOW)
    connect(hub, "a2")
    assert isinstance(say(hub, "a2", f"RESUME {token}").to("a2")[-1], e.Ok)
    assert say(hub, "a2", "MODE alice").lines("a2") == ["MODE alice * +Bo"]
    assert say(hub, "a2", "KILL bob").closed.keys() == {"b"}


def test_user_modes_survive_a_restart_with_a_store() -> None:
    durable = Durable()
    durable.hub.opers = {"admin": ADMIN}
    token = durable.register("a", "alice", "#dev")
    durable.register("b", "robot")
    durable.say("a", "OPER admin sesame-oper")
    durable.say("b", "MODE robot +Bw")
    rows = {row.nick: row.modes for row in durable.store.load().sessions}
    assert rows == {"alice": "o", "robot": "Bw"}
    durable.restart()
    durable.hub.opers = {"admin": ADMIN}
    durable.connect("a2")
    assert isinstance(durable.say("a2", f"RESUME {token}").to("a2")[-1], e.Ok)
    assert durable.say("a2", "MODE alice").lines("a2") == ["MODE alice * +o"]
    assert durable.say("a2", "WALLOPS back").lines("a2") == ["WALLOPS alice :back"]
    durable.say("a2", "MODE alice -o")
    assert {row.nick: row.modes for row in durable.store.load().sessions}["alice"] == ""


def test_the_sqlite_store_keeps_user_modes(tmp_path: Path) -> None:
    store = SqliteStore.open(tmp_path)
    hub: Hub[str] = Hub(Limits(), snapshot=store.load(), now=NOW, opers={"admin": ADMIN})
    user(hub, "a", "alice")
    user(hub, "b", "robot")
    oper_up(hub, "a")
    say(hub, "b", "MODE robot +B")
    changes = hub.take_changes()
    assert changes is not None
    store.commit(changes)
    store.close()
    again = SqliteStore.open(tmp_path)
    assert {row.nick: row.modes for row in again.load().sessions} == {"alice": "o", "robot": "B"}
    restarted: Hub[str] = Hub(Limits(), snapshot=again.load(), now=NOW + 1)
    robot = restarted.user_info("robot")
    assert robot is not None
    assert robot.modes == "B"
    again.close()


def test_the_hub_image_keeps_user_modes() -> None:
    hub = make_hub()
    user(hub, "a", "alice")
    user(hub, "b", "robot")
    oper_up(hub, "a")
    say(hub, "b", "MODE robot +Bw")
    image = hub_image.dump(hub, lambda conn: conn)
    copy: Hub[str] = Hub(Limits())
    hub_image.load(copy, image, lambda key: key)
    assert hub_image.dump(copy, lambda conn: conn) == image
    assert say(copy, "a", "MODE alice").lines("a") == ["MODE alice * +o"]
    assert say(copy, "b", "MODE robot").lines("b") == ["MODE robot * +Bw"]
