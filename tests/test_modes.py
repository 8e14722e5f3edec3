"""Channel operators and modes in the hub: MODE, KICK, and what each mode refuses.

Drives a ``Hub[str]`` as tests/test_hub.py does (parsed lines in, deliveries out, no
sockets). Covers: the creator as operator and NAMES roles; MODE queries, ban lists and
changes (operators only, checked whole before anything applies, told once to every
member, no-ops answered with OK); +o/+v; +i with INVITE (operators only, used up by
joining); +k (the key shown to members only); +l; +m; +b (no joining, no writing, the
list bound); +t; +s (LIST, NAMES, HISTORY, TOPIC for members only); KICK; roles ending
with PART and QUIT and surviving a resume; a channel with nobody in it and no operator
starting over; operators deleting others' messages; the modes kept by a store; ban
exceptions (+e), invite exceptions (+I), no CTCP (+C) with the CTCP command, and INVITE
alone listing one's invitations.
"""

from __future__ import annotations

import pytest

from flackd.codec import events as e
from flackd.codec.errors import ProtocolError
from flackd.codec.grammar import parse_command
from flackd.codec.modes import mask_matches, normalise_mask, parse_changes
from flackd.hub import Hub
from flackd.limits import Limits
from flackd.store.memory import MemoryStore
from tests.test_hub import NOW, TS, connect, deliver, make_hub, refused, say, user


def trio_in(hub: Hub[str], channel: str = "#c") -> None:
    """alice (who creates ``channel``, so its operator), bob and carol in it."""
    user(hub, "a", "alice", channel)
    user(hub, "b", "bob", channel)
    user(hub, "c", "carol", channel)


def names(hub: Hub[str], conn: str, channel: str = "#c") -> list[str]:
    return say(hub, conn, f"NAMES {channel}").lines(conn)[1:-1]


def test_the_creator_is_operator_and_names_shows_roles() -> None:
    hub = make_hub()
    trio_in(hub)
    assert names(hub, "b") == ["MEMBER alice role=op", "MEMBER bob", "MEMBER carol"]
    d = say(hub, "a", "MODE #c +v bob")
    assert d.receivers == {"a", "b", "c"}
    assert d.lines("c") == ["MODE #c alice +v bob"]
    assert names(hub, "c")[1] == "MEMBER bob role=voice"


def test_mode_query_and_the_key_is_for_members_only() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "x", "xavier")
    assert say(hub, "x", "MODE #c").lines("x") == ["MODE #c * +n"]
    assert say(hub, "a", "MODE #c +kl sesame 5").lines("a") == ["MODE #c alice +kl sesame 5"]
    assert say(hub, "a", "MODE #c").lines("a") == ["MODE #c * +nkl sesame 5"]
    assert say(hub, "x", "MODE #c").lines("x") == ["MODE #c * +nkl * 5"]
    refused(say(hub, "x", "MODE #nope"), "x", "NO_SUCH_CHANNEL", "MODE")


def test_only_operators_change_modes() -> None:
    hub = make_hub()
    trio_in(hub)
    user(hub, "x", "xavier")
    refused(say(hub, "b", "MODE #c +i"), "b", "NOT_OPERATOR", "MODE")
    refused(say(hub, "x", "MODE #c +i"), "x", "NOT_IN_CHANNEL", "MODE")
    refused(say(hub, "b", "KICK #c carol"), "b", "NOT_OPERATOR", "KICK")
    assert say(hub, "a", "MODE #c +o bob").lines("c") == ["MODE #c alice +o bob"]
    # bob is an operator now, and can make carol one
    assert say(hub, "b", "MODE #c +o carol").lines("a") == ["MODE #c bob +o carol"]
    assert names(hub, "a") == ["MEMBER alice role=op", "MEMBER bob role=op", "MEMBER carol role=op"]
    assert say(hub, "c", "MODE #c -o alice").lines("b") == ["MODE #c carol -o alice"]
    refused(say(hub, "a", "MODE #c +i"), "a", "NOT_OPERATOR", "MODE")


def test_a_change_list_is_checked_whole_before_any_of_it_applies() -> None:
    hub = make_hub()
    trio_in(hub)
    user(hub, "x", "xavier")
    refused(say(hub, "a", "MODE #c +io nobody"), "a", "NO_SUCH_NICK", "MODE")
    refused(say(hub, "a", "MODE #c +im+o xavier"), "a", "NOT_A_MEMBER", "MODE")
    assert say(hub, "a", "MODE #c").lines("a") == ["MODE #c * +n"]
    err = refused(say(hub, "a", "MODE #c +iX"), "a", "UNKNOWN_MODE", "MODE")
    assert err.params == ("X",)
    refused(say(hub, "a", "MODE #c +k"), "a", "NEED_MORE_PARAMS", "MODE")
    refused(say(hub, "a", "MODE #c +k a,b"), "a", "INVALID_PARAMS", "MODE")
    refused(say(hub, "a", "MODE #c +k :colon"), "a", "INVALID_PARAMS", "MODE")
    for bad in ("0", "-1", "many", "99999999"):
        refused(say(hub, "a", f"MODE #c +l {bad}"), "a", "INVALID_PARAMS", "MODE")
    refused(say(hub, "a", "MODE #c +imnstvo bob bob"), "a", "INVALID_PARAMS", "MODE")  # 7 > 6
    refused(say(hub, "a", "MODE #c +i extra"), "a", "INVALID_PARAMS", "MODE")
    assert say(hub, "a", "MODE #c").lines("a") == ["MODE #c * +n"]


def test_a_change_that_changes_nothing_is_answered_and_told_to_nobody() -> None:
    hub = make_hub()
    trio_in(hub)
    say(hub, "a", "MODE #c +i")
    d = say(hub, "a", "MODE #c +in-l")
    assert d.receivers == {"a"}
    (ok,) = d.to("a")
    assert isinstance(ok, e.Ok)
    assert ok.command == "MODE"
    # what did change is told, and only that
    assert say(hub, "a", "MODE #c +im").lines("b") == ["MODE #c alice +m"]


def test_invite_only_needs_an_operators_invitation_used_up_by_joining() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    user(hub, "c", "carol")
    say(hub, "a", "MODE #c +i")
    err = refused(say(hub, "c", "JOIN #c"), "c", "INVITE_ONLY", "JOIN")
    assert err.params == ("#c",)
    refused(say(hub, "b", "INVITE carol #c"), "b", "NOT_OPERATOR", "INVITE")
    d = say(hub, "a", "INVITE carol #c")
    assert d.lines("a")[0].startswith("OK INVITE carol #c")
    assert d.lines("c")[0].startswith("NOTE INVITED #c alice")
    assert say(hub, "c", "JOIN #c").lines("c")[0].startswith("OK JOIN #c 3")
    say(hub, "c", "PART #c")
    refused(say(hub, "c", "JOIN #c"), "c", "INVITE_ONLY", "JOIN")  # used up


def test_an_invitation_opens_a_key_and_a_limit_but_not_a_ban() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob")
    user(hub, "c", "carol")
    say(hub, "a", "MODE #c +kl sesame 1")
    refused(say(hub, "b", "JOIN #c"), "b", "BAD_KEY", "JOIN")
    refused(say(hub, "b", "JOIN #c wrong"), "b", "BAD_KEY", "JOIN")
    refused(say(hub, "b", "JOIN #c sesame"), "b", "CHANNEL_FULL", "JOIN")
    say(hub, "a", "INVITE bob #c")
    assert say(hub, "b", "JOIN #c").lines("b")[0].startswith("OK JOIN #c 2")
    say(hub, "a", "MODE #c -l+b carol")
    say(hub, "a", "INVITE carol #c")
    refused(say(hub, "c", "JOIN #c sesame"), "c", "BANNED", "JOIN")


def test_moderated_and_voice() -> None:
    hub = make_hub()
    trio_in(hub)
    say(hub, "a", "MODE #c +m")
    refused(say(hub, "b", "MSG #c hello"), "b", "CANNOT_SEND", "MSG")
    refused(say(hub, "b", "ACTION #c waves"), "b", "CANNOT_SEND", "ACTION")
    assert say(hub, "a", "MSG #c ops speak").receivers == {"a", "b", "c"}
    say(hub, "a", "MODE #c +v bob")
    assert say(hub, "b", "MSG #c now I may").receivers == {"a", "b", "c"}
    refused(say(hub, "c", "MSG #c me too?"), "c", "CANNOT_SEND", "MSG")
    say(hub, "a", "MODE #c -m")
    assert say(hub, "c", "MSG #c finally").receivers == {"a", "b", "c"}


def test_bans_keep_out_and_silence_and_are_listed() -> None:
    hub = make_hub(Limits(channel_list_max=2))
    trio_in(hub)
    assert say(hub, "a", "MODE #c +b bo*").lines("b") == ["MODE #c alice +b bo*!*@*"]
    refused(say(hub, "b", "MSG #c hi"), "b", "CANNOT_SEND", "MSG")
    assert say(hub, "c", "MSG #c hi").receivers == {"a", "b", "c"}
    say(hub, "b", "PART #c")
    refused(say(hub, "b", "JOIN #c"), "b", "BANNED", "JOIN")
    say(hub, "a", "MODE #c +b *!*@elsewhere")
    refused(say(hub, "a", "MODE #c +b third"), "a", "LIST_FULL", "MODE")
    listing = say(hub, "c", "MODE #c +b").lines("c")
    assert listing == [
        "BANS #c 2",
        f"BAN bo*!*@* alice {TS}",
        f"BAN *!*@elsewhere alice {TS}",
        "END BANS #c",
    ]
    assert say(hub, "a", "MODE #c -b BO*!*@*").lines("a") == ["MODE #c alice -b BO*!*@*"]
    assert say(hub, "b", "JOIN #c").lines("b")[0].startswith("OK JOIN #c")


def test_topic_lock() -> None:
    hub = make_hub()
    trio_in(hub)
    assert say(hub, "b", "TOPIC #c anyone may").receivers == {"a", "b", "c"}
    say(hub, "a", "MODE #c +t")
    refused(say(hub, "b", "TOPIC #c not now"), "b", "NOT_OPERATOR", "TOPIC")
    assert say(hub, "b", "TOPIC #c").lines("b")[0].endswith(":anyone may")
    assert say(hub, "a", "TOPIC #c ops may").receivers == {"a", "b", "c"}


def test_a_secret_channel_shows_itself_to_members_only() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#hidden", "#open")
    user(hub, "x", "xavier")
    say(hub, "a", "MSG #hidden psst")
    say(hub, "a", "MODE #hidden +s")
    assert [ln.split()[1] for ln in say(hub, "x", "LIST").lines("x")[1:-1]] == ["#open"]
    assert len(say(hub, "a", "LIST").lines("a")) == 4
    refused(say(hub, "x", "NAMES #hidden"), "x", "NOT_IN_CHANNEL", "NAMES")
    refused(say(hub, "x", "HISTORY #hidden"), "x", "NOT_IN_CHANNEL", "HISTORY")
    refused(say(hub, "x", "TOPIC #hidden"), "x", "NOT_IN_CHANNEL", "TOPIC")
    refused(say(hub, "x", "MODE #hidden"), "x", "NOT_IN_CHANNEL", "MODE")
    assert say(hub, "a", "HISTORY #hidden").lines("a")[0] == "HISTORY #hidden 1"
    # it can still be joined (secret is not invite only)
    assert say(hub, "x", "JOIN #hidden").lines("x")[0].startswith("OK JOIN #hidden 2")


def test_kick() -> None:
    hub = make_hub()
    trio_in(hub)
    user(hub, "x", "xavier")
    d = say(hub, "a", "KICK #c bob stop that")
    assert d.receivers == {"a", "b", "c"}
    assert d.lines("b") == ["KICK #c bob alice :stop that"]
    refused(say(hub, "b", "MSG #c let me in"), "b", "NOT_IN_CHANNEL", "MSG")
    assert names(hub, "a") == ["MEMBER alice role=op", "MEMBER carol"]
    refused(say(hub, "a", "KICK #c xavier"), "a", "NOT_A_MEMBER", "KICK")
    refused(say(hub, "a", "KICK #c nobody"), "a", "NO_SUCH_NICK", "KICK")
    refused(say(hub, "x", "KICK #c carol"), "x", "NOT_IN_CHANNEL", "KICK")
    assert say(hub, "b", "JOIN #c").lines("b")[0].startswith("OK JOIN #c 3")  # not a ban


def test_roles_end_with_part_and_quit_and_survive_a_resume() -> None:
    hub = make_hub()
    token = user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    say(hub, "a", "MODE #c +o bob")
    say(hub, "b", "PART #c")
    say(hub, "b", "JOIN #c")
    assert names(hub, "a") == ["MEMBER alice role=op", "MEMBER bob"]
    deliver(hub.disconnect("a", "gone", NOW))
    connect(hub, "a2")
    say(hub, "a2", f"RESUME {token}")
    assert names(hub, "b")[0] == "MEMBER alice role=op"
    say(hub, "a2", "QUIT")
    assert names(hub, "b") == ["MEMBER bob"]
    refused(say(hub, "b", "MODE #c +i"), "b", "NOT_OPERATOR", "MODE")


def test_an_empty_channel_with_no_operator_left_starts_over() -> None:
    hub = make_hub()
    token = user(hub, "a", "alice", "#c")
    say(hub, "a", "MODE #c +ik sesame")
    deliver(hub.disconnect("a", "gone", NOW))
    user(hub, "c", "carol")
    # alice can still come back: her channel keeps its modes
    refused(say(hub, "c", "JOIN #c"), "c", "INVITE_ONLY", "JOIN")
    connect(hub, "a2")
    say(hub, "a2", f"RESUME {token}")
    say(hub, "a2", "QUIT")
    # nobody in it and no operator: the next to join runs it, on a new channel's modes
    assert say(hub, "c", "JOIN #c").lines("c")[3] == "MEMBER carol role=op"
    assert say(hub, "c", "MODE #c").lines("c") == ["MODE #c * +n"]


def test_operators_delete_any_message_of_their_channel() -> None:
    hub = make_hub()
    trio_in(hub)
    msg = say(hub, "b", "MSG #c spam").to("b")[0]
    assert isinstance(msg, e.Message)
    refused(say(hub, "c", f"DELETE {msg.id}"), "c", "NOT_AUTHOR", "DELETE")
    d = say(hub, "a", f"DELETE {msg.id}")
    assert d.lines("c") == [f"DELETED #c {msg.id} alice"]


def test_modes_survive_a_restart_through_the_store() -> None:
    store = MemoryStore(1795507200000)
    hub: Hub[str] = Hub(Limits(), snapshot=store.load(), now=NOW)
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob", "#c")
    say(hub, "a", "MODE #c +imtvk bob sesame")
    say(hub, "a", "MODE #c +b spam*")
    say(hub, "a", "MODE #c +CeI spam1 dave")
    say(hub, "a", "INVITE bob #c")  # bob is in: refused, nothing stored
    user(hub, "c", "carol")
    say(hub, "a", "INVITE carol #c")
    changes = hub.take_changes()
    assert changes is not None
    store.commit(changes)
    again: Hub[str] = Hub(Limits(), snapshot=store.load(), now=NOW + 1)
    channel = again.channel("#c")
    assert channel is not None
    assert (channel.flags, channel.passkey, channel.limit) == ("Cimnt", "sesame", None)
    assert [mask for mask, _, _ in channel.bans] == ["spam*!*@*"]
    assert channel.excepts == [("spam1!*@*", "alice", TS)]
    assert channel.invexes == [("dave!*@*", "alice", TS)]
    alice, bob, carol = (again.session(n) for n in ("alice", "bob", "carol"))
    assert alice is not None
    assert bob is not None
    assert carol is not None
    assert channel.ops == {alice.sid}
    assert channel.voiced == {bob.sid}
    assert list(channel.invited) == [carol.sid]
    assert channel.gated


@pytest.mark.parametrize(
    ("mask", "normal", "matches"),
    [
        ("bob", "bob!*@*", True),
        ("b?b!*", "b?b!*@*", True),
        ("*@flack", "*!*@flack", True),
        ("BOB!BOB@FLACK", "BOB!BOB@FLACK", True),
        ("bo", "bo!*@*", False),
        ("*!alice@*", "*!alice@*", False),
    ],
)
def test_masks(mask: str, normal: str, matches: bool) -> None:
    assert normalise_mask(mask) == normal
    assert mask_matches(normal, "bob!bob@flack") is matches


@pytest.mark.parametrize("bad", ["", "a b", "x" * 101, "!@", "caf\u00e9", ":x"])
def test_bad_masks(bad: str) -> None:
    assert normalise_mask(bad) is None


def test_parse_changes_takes_parameters_in_order() -> None:
    changes = parse_changes(["+ok-lv+b", "bob", "eve", "mask"])
    assert [(c.on, c.letter, c.param) for c in changes] == [
        (True, "o", "bob"),
        (True, "k", "eve"),
        (False, "l", None),
        (False, "v", "mask"),
        (True, "b", None),
    ]
    changes = parse_changes(["+eCI-e", "x"])
    assert [(c.on, c.letter, c.param) for c in changes] == [
        (True, "e", "x"),
        (True, "C", None),
        (True, "I", None),
        (False, "e", None),
    ]


def test_without_n_anyone_may_write_and_gets_the_echo() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "x", "xavier")
    refused(say(hub, "x", "MSG #c from outside"), "x", "NOT_IN_CHANNEL", "MSG")
    assert say(hub, "a", "MODE #c -n").lines("a") == ["MODE #c alice -n"]
    d = say(hub, "x", "MSG #c from outside")
    assert d.receivers == {"a", "x"}
    assert d.lines("a")[0].endswith("xavier :from outside")
    say(hub, "a", "MODE #c +m")
    refused(say(hub, "x", "MSG #c again"), "x", "CANNOT_SEND", "MSG")


def test_a_deletion_carries_its_reason() -> None:
    hub = make_hub()
    trio_in(hub)
    msg = say(hub, "b", "MSG #c spam").to("b")[0]
    assert isinstance(msg, e.Message)
    assert say(hub, "a", f"DELETE {msg.id} off topic").lines("b") == [
        f"DELETED #c {msg.id} alice :off topic"
    ]


def test_a_ban_exception_lets_in_and_lets_speak() -> None:
    hub = make_hub(Limits(channel_list_max=2))
    trio_in(hub)
    say(hub, "a", "MODE #c +b *ar*")  # carol
    refused(say(hub, "c", "MSG #c hi"), "c", "CANNOT_SEND", "MSG")
    d = say(hub, "a", "MODE #c +e car*")
    assert d.lines("b") == ["MODE #c alice +e car*!*@*"]
    assert say(hub, "c", "MSG #c hi").receivers == {"a", "b", "c"}
    say(hub, "c", "PART #c")
    assert say(hub, "c", "JOIN #c").lines("c")[0].startswith("OK JOIN #c 3")
    user(hub, "m", "mary")  # banned (*ar*), not excepted
    refused(say(hub, "m", "JOIN #c"), "m", "BANNED", "JOIN")
    refused(say(hub, "b", "MODE #c +e bad"), "b", "NOT_OPERATOR", "MODE")
    # the lists are bounded each on its own: two bans do not fill the exceptions
    say(hub, "a", "MODE #c +b x")
    say(hub, "a", "MODE #c +e y")
    err = refused(say(hub, "a", "MODE #c +e z"), "a", "LIST_FULL", "MODE")
    assert err.params == ("#c", "e", "z!*@*")
    refused(say(hub, "a", "MODE #c +e :x"), "a", "INVALID_PARAMS", "MODE")
    assert say(hub, "b", "MODE #c +e").lines("b") == [
        "EXCEPTS #c 2",
        f"EXCEPT car*!*@* alice {TS}",
        f"EXCEPT y!*@* alice {TS}",
        "END EXCEPTS #c",
    ]
    assert say(hub, "a", "MODE #c -e CAR*").lines("c") == ["MODE #c alice -e CAR*!*@*"]
    refused(say(hub, "c", "MSG #c hi"), "c", "CANNOT_SEND", "MSG")


def test_an_invite_exception_lets_past_invite_only_and_nothing_else() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#c")
    user(hub, "b", "bob")
    user(hub, "x", "xavier")
    say(hub, "a", "MODE #c +i")
    refused(say(hub, "b", "JOIN #c"), "b", "INVITE_ONLY", "JOIN")
    assert say(hub, "a", "MODE #c +I bob").lines("a") == ["MODE #c alice +I bob!*@*"]
    assert say(hub, "b", "JOIN #c").lines("b")[0].startswith("OK JOIN #c 2")
    say(hub, "b", "PART #c")
    assert say(hub, "b", "JOIN #c").lines("b")[0].startswith("OK JOIN #c 2")  # every time
    say(hub, "b", "PART #c")
    refused(say(hub, "x", "JOIN #c"), "x", "INVITE_ONLY", "JOIN")
    say(hub, "a", "MODE #c +k sesame")
    refused(say(hub, "b", "JOIN #c"), "b", "BAD_KEY", "JOIN")  # not past the key
    say(hub, "a", "MODE #c -k+b * bob")
    refused(say(hub, "b", "JOIN #c"), "b", "BANNED", "JOIN")  # nor past a ban
    assert say(hub, "x", "MODE #c I").lines("x") == [
        "INVEXES #c 1",
        f"INVEX bob!*@* alice {TS}",
        "END INVEXES #c",
    ]
    # both lists in one query, each its block
    both = say(hub, "x", "MODE #c +bI").lines("x")
    assert [line.split()[0] for line in both] == ["BANS", "BAN", "END", "INVEXES", "INVEX", "END"]
    say(hub, "a", "MODE #c -bI bob bob")
    refused(say(hub, "b", "JOIN #c"), "b", "INVITE_ONLY", "JOIN")


def test_no_ctcp_refuses_ctcp_and_not_actions() -> None:
    hub = make_hub()
    trio_in(hub)
    user(hub, "x", "xavier")
    d = say(hub, "b", "CTCP #c ping 12345")
    assert d.receivers == {"a", "b", "c"}
    assert d.lines("c") == ["CTCP #c bob PING :12345"]
    assert say(hub, "b", "CTCP alice VERSION").lines("a") == ["CTCP alice bob VERSION :"]
    refused(say(hub, "x", "CTCP #c VERSION"), "x", "NOT_IN_CHANNEL", "CTCP")
    refused(say(hub, "b", "CTCP nobody VERSION"), "b", "NO_SUCH_NICK", "CTCP")
    with pytest.raises(ProtocolError, match="an action is ACTION") as bad:
        parse_command("CTCP #c ACTION waves")
    assert bad.value.reply.code == "INVALID_PARAMS"
    with pytest.raises(ProtocolError) as bad:
        parse_command("CTCP #c")
    assert bad.value.reply.code == "NEED_MORE_PARAMS"
    assert say(hub, "a", "MODE #c +C").lines("b") == ["MODE #c alice +C"]
    assert say(hub, "a", "MODE #c").lines("a") == ["MODE #c * +Cn"]
    err = refused(say(hub, "b", "CTCP #c PING 1"), "b", "CANNOT_SEND", "CTCP")
    assert err.params == ("#c",)
    assert "+C" in err.text
    refused(say(hub, "a", "CTCP #c PING 1"), "a", "CANNOT_SEND", "CTCP")  # operators too
    assert say(hub, "b", "ACTION #c waves").receivers == {"a", "b", "c"}
    assert say(hub, "b", "CTCP alice PING 2").receivers == {"a", "b"}  # not a channel's
    # CTCP is relayed, not kept
    history = say(hub, "a", "HISTORY #c").lines("a")
    assert [line for line in history if "PING" in line] == []


def test_invite_alone_lists_ones_pending_invitations() -> None:
    hub = make_hub()
    user(hub, "a", "alice", "#b", "#a", "#s")
    user(hub, "c", "carol")
    assert say(hub, "c", "INVITE").lines("c") == ["INVITES 0", "END INVITES"]
    say(hub, "a", "TOPIC #a about a")
    say(hub, "a", "MODE #s +s")
    for name in ("#b", "#a", "#s"):
        say(hub, "a", f"INVITE carol {name}")
    assert say(hub, "c", "INVITE").lines("c") == [
        "INVITES 3",
        "CHANNEL #a 1 :about a",
        "CHANNEL #b 1 :",
        "CHANNEL #s 0 :",  # secret: its members and topic are for members
        "END INVITES",
    ]
    say(hub, "c", "JOIN #a")  # uses that invitation up
    assert say(hub, "c", "INVITE").lines("c")[:2] == ["INVITES 2", "CHANNEL #b 1 :"]
    assert say(hub, "a", "INVITE").lines("a") == ["INVITES 0", "END INVITES"]
