"""Channel modes as words: the mode letters, parsing a change list, ban masks, keys.

Owns: the mode table (which letters exist, which take a parameter), parsing the words of
``MODE <#channel> <changes> [param...]`` into :class:`Change` values, formatting applied
changes back into words, the rules for channel keys and limits, and the masks of the three
mask lists (bans, ban exceptions, invite exceptions: normalising ``bob`` to ``bob!*@*``,
matching ``nick!user@host`` with ``*`` and ``?``). What the modes
mean (who may set them, what they refuse) is the hub's (:mod:`flackd.hub.modes`). Must not
import anything outside the standard library.

The letters are IRC's, because both wires use them and IRC users know them:

======  =========================  ==================================================
letter  parameter                  meaning
======  =========================  ==================================================
``b``   a mask (none: list them)   who may not join or write (``nick!user@host``)
``e``   a mask (none: list them)   ban exception: a ban does not apply to whoever matches
``I``   a mask (none: list them)   invite exception: whoever matches joins past ``+i``
``C``   -                          no CTCP: CTCP queries to the channel are refused
``i``   -                          invite only: JOIN needs an INVITE from an operator
``k``   the key (``-k``: any)      JOIN needs the key
``l``   the limit (``-l``: none)   JOIN is refused at that many members
``m``   -                          moderated: only operators and voiced members write
``n``   -                          only members write (a new channel has it)
``o``   a member's nick            channel operator
``s``   -                          secret: not in LIST; members, history and topic only
                                   for members
``t``   -                          only operators set the topic
``v``   a member's nick            voice: may write when the channel is moderated
======  =========================  ==================================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FLAG_MODES",
    "KEY_MAX_CHARS",
    "LIMIT_MAX",
    "LIST_MODES",
    "MASK_MAX_CHARS",
    "MAX_CHANGES",
    "MEMBER_MODES",
    "USER_HOST",
    "Change",
    "ModeError",
    "format_changes",
    "hostmask",
    "is_valid_key",
    "mask_matches",
    "normalise_mask",
    "parse_changes",
]

#: Modes that are on or off, with no parameter, in the order they are shown.
FLAG_MODES: Final = "Cimnst"
#: Modes given to a member, by nick.
MEMBER_MODES: Final = "ov"
#: Mask lists: bans, ban exceptions, invite exceptions (each at most ``channel_list_max``).
LIST_MODES: Final = "beI"
#: Every letter flackd knows.
KNOWN: Final = "CIbeiklmnostv"
KEY_MAX_CHARS: Final = 32
LIMIT_MAX: Final = 1_000_000
MASK_MAX_CHARS: Final = 100
#: The host part of every user as masks (and IRC clients) see them: Flack shows no address.
USER_HOST: Final = "flack"
#: Most changes one MODE carries (IRC's ISUPPORT ``MODES``); more get INVALID_PARAMS.
MAX_CHANGES: Final = 6

_KEY: Final = re.compile(rf"[!-~]{{1,{KEY_MAX_CHARS}}}")  # printable ASCII, no space


class ModeError(ValueError):
    """A change list that cannot be read. ``code`` is the protocol's error code
    (``UNKNOWN_MODE`` with the letter in ``param``, or ``INVALID_PARAMS``)."""

    def __init__(self, code: str, text: str, param: str = "") -> None:
        super().__init__(text)
        self.code = code
        self.param = param


@dataclass(frozen=True, slots=True)
class Change:
    """One mode change: ``+o bob`` is ``Change(True, "o", "bob")``. A ``b``, ``e`` or ``I``
    change with no parameter asks for that list."""

    on: bool
    letter: str
    param: str | None = None

    def words(self) -> tuple[str, str | None]:
        return ("+" if self.on else "-") + self.letter, self.param


def _takes_param(letter: str, on: bool) -> bool:
    if letter in "ov" or letter in LIST_MODES:
        return True
    if letter == "k":
        return True  # "-k" takes one too (IRC clients send the key, or "*"); see below
    if letter == "l":
        return on
    return False


def parse_changes(words: list[str]) -> list[Change]:
    """The changes of ``+ik-l secret`` style words: the first word is the change string,
    the rest its parameters, taken in order by the letters that need one.

    A ``b``, ``e`` or ``I`` with no parameter left is a query of that list (``MODE #c b``
    lists bans, as IRC clients send it); a ``-k`` with none removes the key
    whatever it is. Raises :class:`ModeError` for an unknown letter, a letter that needs a
    parameter without one, or parameters left over.
    """
    if not words:
        return []
    spec, params = words[0], list(words[1:])
    on = True
    changes: list[Change] = []
    if spec[:1] not in "+-":
        spec = "+" + spec  # "MODE #c b" lists bans, as IRC clients send it
    for char in spec:
        if char in "+-":
            on = char == "+"
            continue
        if char not in KNOWN:
            raise ModeError("UNKNOWN_MODE", f"{char} is not a channel mode flackd knows", char)
        param: str | None = None
        if _takes_param(char, on):
            if params:
                param = params.pop(0)
            elif char not in LIST_MODES and not (char == "k" and not on):
                raise ModeError("NEED_MORE_PARAMS", f"{'+' if on else '-'}{char} needs a parameter")
        changes.append(Change(on, char, param))
    if params:
        raise ModeError("INVALID_PARAMS", "more parameters than the modes take")
    return changes


def format_changes(changes: list[Change]) -> list[str]:
    """``[Change(True,"o","bob"), Change(True,"v","eve")]`` -> ``["+ov", "bob", "eve"]``."""
    spec = ""
    sign = ""
    params: list[str] = []
    for change in changes:
        want = "+" if change.on else "-"
        if want != sign:
            spec += want
            sign = want
        spec += change.letter
        if change.param is not None:
            params.append(change.param)
    return [spec, *params] if spec else []


def is_valid_key(key: str) -> bool:
    """A key is 1-32 printable ASCII characters, with no space and no comma (a JOIN of
    several channels separates their keys with commas), not starting with ``:`` (on a
    server line, `` :`` starts the free text)."""
    return _KEY.fullmatch(key) is not None and "," not in key and not key.startswith(":")


def normalise_mask(mask: str) -> str | None:
    """``bob`` -> ``bob!*@*``, ``bob!x`` -> ``bob!x@*``, ``*@host`` -> ``*!*@host``; None
    for a mask that is not printable ASCII without spaces, longer than 100, or starting
    with ``:``."""
    if not mask or len(mask) > MASK_MAX_CHARS or not all("!" <= ch <= "~" for ch in mask):
        return None
    if mask.startswith(":"):
        return None
    if "!" not in mask:
        if "@" in mask:
            mask = "*!" + mask
        else:
            mask += "!*@*"
    if "@" not in mask:
        mask += "@*"
    nick, _, rest = mask.partition("!")
    user, _, host = rest.partition("@")
    if not nick or not user or not host:
        return None
    return f"{nick}!{user}@{host}"


def hostmask(nick: str) -> str:
    """``nick!nick@flack``: how a user is shown on IRC and what a ban mask is matched
    against."""
    return f"{nick}!{nick}@{USER_HOST}"


def mask_matches(mask: str, hostmask: str) -> bool:
    """Whether ``hostmask`` (``nick!user@host``) matches ``mask`` (``*`` any run of
    characters, ``?`` one), ignoring ASCII case."""
    pattern = "".join(
        ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in mask.lower()
    )
    return re.fullmatch(pattern, hostmask.lower(), re.DOTALL) is not None
