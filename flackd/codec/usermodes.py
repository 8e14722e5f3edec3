"""User modes as words: the letters a user has, parsing ``+w-B``, formatting them back.

Owns: the user-mode table and :func:`parse_user_changes` (the words of ``MODE <own nick>
<changes>``), :func:`format_user_modes` (``+Bw``) and :func:`format_user_changes`. What
the modes mean and who may set them is the hub's (:mod:`flackd.hub.opers`); channel modes
are :mod:`flackd.codec.modes`'. Must not import anything outside the standard library.

The letters are IRC's (both wires use them):

======  ===============================================================================
letter  meaning
======  ===============================================================================
``B``   a bot (IRCv3 bot mode): others see it in NAMES and WHO, IRC clients get the
        ``bot`` tag on its messages; set and cleared by the user
``o``   a server operator: KILL and WALLOPS; given only by OPER, cleared by the user
``w``   gets WALLOPS; set and cleared by the user
======  ===============================================================================

IRC's ``i`` (invisible) is what every Flack user is: the IRC front end shows it and
accepts it, and Flack's wire does not name it.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BOT_MODE",
    "MAX_USER_CHANGES",
    "OPER_MODE",
    "USER_MODES",
    "WALLOPS_MODE",
    "UserModeError",
    "format_user_changes",
    "format_user_modes",
    "parse_user_changes",
]

#: Every user mode, in the order they are shown.
USER_MODES: Final = "Bow"
BOT_MODE: Final = "B"
OPER_MODE: Final = "o"
WALLOPS_MODE: Final = "w"
#: The most letters one MODE may change (more is INVALID_PARAMS).
MAX_USER_CHANGES: Final = 8


class UserModeError(ValueError):
    """Change words that cannot be read: ``code`` is ``UNKNOWN_MODE`` (the letter in
    ``param``) or ``INVALID_PARAMS``."""

    def __init__(self, code: str, text: str, param: str = "") -> None:
        super().__init__(text)
        self.code = code
        self.param = param


def parse_user_changes(words: list[str]) -> list[tuple[bool, str]]:
    """``["+w-B"]`` (or ``["+w", "-B"]``) as ``[(True, "w"), (False, "B")]``, in order.
    User modes take no parameters; a letter that is not a user mode is an error."""
    changes: list[tuple[bool, str]] = []
    for word in words:
        on: bool | None = None
        for ch in word:
            if ch in "+-":
                on = ch == "+"
            elif on is None:
                raise UserModeError("INVALID_PARAMS", "a change starts with + or -")
            elif ch not in USER_MODES:
                raise UserModeError("UNKNOWN_MODE", f"{ch} is not a user mode", ch)
            else:
                changes.append((on, ch))
    if len(changes) > MAX_USER_CHANGES:
        raise UserModeError("INVALID_PARAMS", f"at most {MAX_USER_CHANGES} changes")
    return changes


def format_user_modes(modes: str) -> str:
    """The modes a user has as ``+Bw`` (``+`` for none), in :data:`USER_MODES` order."""
    return "+" + "".join(letter for letter in USER_MODES if letter in modes)


def format_user_changes(changes: list[tuple[bool, str]]) -> str:
    """Applied changes as one word: ``+w-B``."""
    out: list[str] = []
    sign = ""
    for on, letter in changes:
        want = "+" if on else "-"
        if want != sign:
            out.append(want)
            sign = want
        out.append(letter)
    return "".join(out)
