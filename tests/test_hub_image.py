"""The hub's image (:mod:`flackd.hub.image`): a hub made from another's image is the same hub.

What several nodes rely on: two hubs, one made from the other's image, given the same
commands at the same times, give the same effects and stay identical. Checked on a hub
with everything the rules read (sessions live and dropped, channels with history,
deletions and edits, conversations, one side of one ended, markers, creation quotas,
empty channels), and with random command sequences (hypothesis).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flackd.codec.grammar import parse_command
from flackd.codec.lines import format_event
from flackd.hub import Broadcast, Effect, Hub, Reply, hash_token
from flackd.hub import image as hub_image
from flackd.limits import Limits

LIMITS = Limits(
    history=5,
    history_page=5,
    join_replay=3,
    dm_history=4,
    channel_creates=3,
    max_channels=6,
    whowas=3,
)
T0 = 1_000.0


def _minting(hub: Hub[str]) -> Hub[str]:
    """Tokens from a counter, the same on every copy (as a replica's come from its log)."""
    counter = itertools.count(1)

    def mint() -> tuple[str, str]:
        token = f"token-{next(counter)}"
        return token, hash_token(token)

    hub.mint = mint
    return hub


def _dump(hub: Hub[str]) -> dict[str, Any]:
    # Through JSON, as it travels between nodes.
    loaded: dict[str, Any] = json.loads(json.dumps(hub_image.dump(hub, lambda conn: conn)))
    return loaded


def _copy(hub: Hub[str]) -> Hub[str]:
    twin: Hub[str] = Hub(LIMITS)
    hub_image.load(twin, _dump(hub), lambda key: key)
    _minting(twin)
    _minting(hub)
    return twin


def _run(hub: Hub[str], conn: str, line: str, now: float) -> list[str]:
    verb, command = parse_command(line)
    return _flat(hub.handle(conn, verb, command, now))


def _flat(effects: list[Effect[str]]) -> list[str]:
    out = []
    for effect in effects:
        if isinstance(effect, Broadcast):
            out += [f"{c} < {format_event(effect.event)}" for c in effect.conns]
        elif isinstance(effect, Reply):
            out += [f"{effect.conn} < {format_event(ev)}" for ev in effect.events]
        else:
            out.append(f"{effect.conn} << {format_event(effect.bye)}")
    return out


def _busy_hub() -> Hub[str]:
    hub: Hub[str] = Hub(LIMITS)
    script = [
        ("a", "NICK alice"), ("b", "NICK bob"), ("c", "NICK carol"), ("d", "NICK dave"),
        ("a", "JOIN #one"), ("b", "JOIN #one"), ("a", "CREATE #two"), ("c", "JOIN #two"),
        ("a", "JOIN #three"), ("a", "PART #three bye"),
        *[("a", f"MSG #one hello {n}") for n in range(8)],
        ("b", "MSG #one from bob"), ("b", "ACTION #one waves"), ("a", "TOPIC #one t1"),
        ("a", "MSG bob psst"), ("b", "MSG alice hi"), ("c", "MSG dave to dave"),
        ("a", "MSG alice note to self"),
        ("a", "MODE #one +imtv-n bob"), ("a", "MODE #one +kl sesame 9"), ("a", "MODE #one +b x*"),
        ("a", "INVITE dave #one"), ("a", "MODE #two +o carol"),
        ("a", "MODE #one +eIC x1* carol"), ("a", "INVITE carol #two"),
    ]  # fmt: skip
    now = T0
    for conn in "abcd":
        hub.connect(conn, now)
    for conn, line in script:
        now += 1.0
        _run(hub, conn, line, now)
    first = hub.channel("#one")
    assert first is not None
    newest = first.history.latest(1).messages[0].id
    _run(hub, "b", f"DELETE {first.history.latest(2).messages[0].id}", now + 1)
    _run(hub, "a", f"EDIT {newest} edited", now + 2)
    _run(hub, "b", f"MARK #one {newest}", now + 3)
    hub.disconnect("c", "network", now + 4)  # carol: a dropped session, resumable
    _run(hub, "d", "QUIT done", now + 5)  # dave: ended; carol's conversation keeps him
    return hub


def test_a_copy_is_the_same_hub_and_stays_the_same() -> None:
    hub = _busy_hub()
    twin = _copy(hub)
    assert _dump(twin) == _dump(hub)
    later = [
        ("b", "HISTORY #one"), ("b", "UNREAD ALL"), ("a", "NAMES #one"), ("b", "LIST"),
        ("a", "HISTORY bob"), ("e", "NICK carol"), ("e", "NICK erin"), ("a", "JOIN #four"),
        ("a", "JOIN #five"), ("a", "CREATE #six"), ("b", "MSG carol are you there"),
        ("a", "MSG #one again"), ("b", "NICK bobby"), ("a", "PART #one"), ("e", "JOIN #one"),
        ("b", "MODE #one"), ("b", "MODE #one +b"), ("a", "JOIN #two"), ("a", "KICK #two carol"),
        ("b", "MODE #one +eI"), ("x", "NICK x1"), ("x", "JOIN #one"), ("b", "CTCP #one PING 1"),
        ("e", "INVITE"),
    ]  # fmt: skip
    now = T0 + 100
    for hub_ in (hub, twin):
        hub_.connect("e", now)
        hub_.connect("x", now)
    for conn, line in later:
        now += 7.0
        assert _run(twin, conn, line, now) == _run(hub, conn, line, now), line
    assert _dump(twin) == _dump(hub)


def test_resume_by_hash_on_a_copy() -> None:
    hub = _busy_hub()
    session = hub.session("carol")
    assert session is not None
    twin = _copy(hub)
    for hub_ in (hub, twin):
        hub_.connect("c2", T0 + 50)
        hub_.mint = lambda: ("new-token", "new-hash")
    assert _flat(twin.resume_hashed("c2", session.token_hash, T0 + 51)) == _flat(
        hub.resume_hashed("c2", session.token_hash, T0 + 51)
    )
    assert _dump(twin) == _dump(hub)
    back = twin.session("carol")
    assert back is not None
    assert back.token_hash == "new-hash"


def test_an_image_without_exception_lists_loads() -> None:
    """An image of a flackd before +e and +I (a channel's modes end at its invitations)."""
    hub = _busy_hub()
    busy = hub.channel("#one")
    assert busy is not None
    assert [m for m, _, _ in busy.excepts + busy.invexes] == ["x1*!*@*", "carol!*@*"]
    image = _dump(hub)
    for row in image["channels"]:
        row[-1] = row[-1][:8]
    twin: Hub[str] = Hub(LIMITS)
    hub_image.load(twin, image, lambda key: key)
    one = twin.channel("#one")
    assert one is not None
    assert (one.excepts, one.invexes, one.flags) == ([], [], "Cimt")
    assert [mask for mask, _, _ in one.bans] == ["x*!*@*"]


def test_an_image_of_another_version_is_refused() -> None:
    image = _dump(Hub(LIMITS))
    image["version"] = 99
    with pytest.raises(ValueError, match="version 99"):
        hub_image.load(Hub(LIMITS), image, lambda key: key)


LINES = st.sampled_from(
    [
        "NICK alice", "NICK bob", "NICK carol", "JOIN #a", "JOIN #b", "CREATE #c",
        "PART #a", "MSG #a hi", "MSG #b yo", "MSG alice hey", "MSG bob hey", "TOPIC #a x",
        "ACTION #a waves", "QUIT", "UNREAD ALL", "HISTORY #a", "NICK dave", "MODE #a +i",
        "MODE #a +o bob", "MODE #a -o alice", "KICK #a carol", "INVITE carol #a",
        "MODE #a +b c*", "MODE #a -b c*", "MODE #a +m", "MODE #a +v carol", "NOTICE #a ok",
        "MODE #a +e ca*", "MODE #a -e ca*", "MODE #a +I c*", "MODE #a +C", "CTCP #a PING 1",
        "INVITE",
    ]
)  # fmt: skip
STEPS = st.lists(
    st.tuples(st.sampled_from(["p", "q", "r"]), st.one_of(LINES, st.just("DROP"))),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(before=STEPS, after=STEPS)
def test_random_histories_copy_exactly(
    before: list[tuple[str, str]], after: list[tuple[str, str]]
) -> None:
    hub: Hub[str] = Hub(LIMITS)
    now = T0
    for conn in "pqr":
        hub.connect(conn, now)
    _play(hub, before, now)
    twin = _copy(hub)
    assert _dump(twin) == _dump(hub)
    got = _play(twin, after, now + 1000)
    assert got == _play(hub, after, now + 1000)
    assert _dump(twin) == _dump(hub)


def _play(hub: Hub[str], steps: list[tuple[str, str]], now: float) -> list[str]:
    out: list[str] = []
    for conn, line in steps:
        now += 3.0
        if line == "DROP":
            out += _flat(hub.disconnect(conn, "dropped", now))
            hub.connect(conn, now)
        else:
            out += _run(hub, conn, line, now)
    return out
