"""The first-run questions: which server, and which nick.

Owns: asking a person who has no config, no remembered state and no flags for a server
(default: the local flackd) and a nick (default: from $USER), re-asking until the nick is
valid. Asked once: the answers are remembered in state.json like everything else. Imports
prompt_toolkit, ``flackd.codec`` and ``flackcli.address`` (the one address parser);
never trio or asyncio.
"""

from __future__ import annotations

from prompt_toolkit import PromptSession

from flackcli.address import Address, parse_address
from flackd.codec.text import NICK_MAX_CHARS, is_valid_nick

__all__ = ["ask"]


def ask(server: str, nick: str) -> tuple[Address, str]:
    """Ask for the server and the nick, offering ``server`` and ``nick``; return
    ``(address, nick)``. Raises EOFError or KeyboardInterrupt if the person leaves."""
    session: PromptSession[str] = PromptSession()
    print("flackcli, first run: where to connect, and what to be called.")
    print("(Both are remembered; change the nick any time with /nick.)")
    while True:
        answer = session.prompt("Server: ", default=server).strip() or server
        try:
            where = parse_address(answer)
            break
        except ValueError as exc:
            print(f"  {exc}")
    while True:
        answer = session.prompt("Nick: ", default=nick).strip()
        if is_valid_nick(answer):
            return where, answer
        print(
            f"  a nick is 1-{NICK_MAX_CHARS} ASCII letters, digits, _ or -, starting with a letter"
        )
