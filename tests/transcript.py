"""Run the ```transcript blocks of protocol.md against a live server.

Block syntax (protocol.md, "Reading the examples"):

- ``name> text``: the client ``name`` sends ``text`` (connections open on first use and
  their HELLO greeting is checked and skipped);
- ``name< text``: the next line ``name`` receives must match ``text``;
- ``name> <close>``: the client closes its connection abruptly;
- ``name< <EOF>``: the server must close ``name``'s connection now;
- ``# ...``: a comment; ``# server password: <password>`` runs the block against a
  server with that password (``--password-file``).

Placeholders in expected lines: ``{ts}`` a timestamp, ``{id:x}`` a message id (bound to
``x`` on first use, compared afterwards), ``{token:x}`` / ``{token}`` a resume token,
``{n}`` a number, ``{...}`` any text. Bound ``{id:x}`` and ``{token:x}`` are substituted in
sent lines. After the last line, every open connection gets a PING barrier:
nothing unexpected may be pending.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from flackd.hub.credentials import hash_password
from tests.support import LineClient

PROTOCOL_MD: Final = Path(__file__).resolve().parent.parent / "protocol.md"

#: The server operator the transcripts' server has (protocol.md, "Reading the examples"):
#: ``admin`` with the password ``sesame-oper``, as ``--oper admin:<hash>`` gives it.
OPERS: Final = {"admin": hash_password("sesame-oper", salt=b"protocol.md oper")}
#: The same as a ``--oper`` flag of the flackd command.
OPER_FLAG: Final = ("--oper", f"admin:{OPERS['admin']}")

_BLOCK: Final = re.compile(r"^```transcript\n(.*?)^```", re.MULTILINE | re.DOTALL)
_PASSWORD_COMMENT: Final = "# server password:"
_STEP: Final = re.compile(r"^([a-z][a-z0-9_]*)([<>]) ?(.*)$")
_PLACEHOLDER: Final = re.compile(r"\{(ts|id:\w+|token:\w+|token|n|\.\.\.)\}")

_PATTERNS: Final = {
    "ts": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z",
    "id": r"\d+-\d+",
    "token": r"[A-Za-z0-9_-]{22}",
    "n": r"\d+",
    "...": r".*",
}


@dataclass
class Block:
    """One transcript block and where it starts in protocol.md."""

    line: int
    text: str

    @property
    def name(self) -> str:
        return f"protocol.md:{self.line}"

    @property
    def password(self) -> str | None:
        """The server's password the block needs (``# server password: ...``), if any."""
        for line in self.text.splitlines():
            if line.startswith(_PASSWORD_COMMENT):
                return line.removeprefix(_PASSWORD_COMMENT).strip()
        return None


def blocks(path: Path = PROTOCOL_MD) -> list[Block]:
    source = path.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(source):
        line = source.count("\n", 0, match.start()) + 2
        found.append(Block(line, match.group(1)))
    return found


def _matcher(expected: str, bound: dict[str, str]) -> re.Pattern[str]:
    parts: list[str] = []
    pos = 0
    names: set[str] = set()
    for m in _PLACEHOLDER.finditer(expected):
        parts.append(re.escape(expected[pos : m.start()]))
        key = m.group(1)
        kind, _, name = key.partition(":")
        if name and key in bound:
            parts.append(re.escape(bound[key]))
        elif name and key in names:
            parts.append(f"(?P={_group(key)})")
        elif name:
            names.add(key)
            parts.append(f"(?P<{_group(key)}>{_PATTERNS[kind]})")
        else:
            parts.append(_PATTERNS[kind])
        pos = m.end()
    parts.append(re.escape(expected[pos:]))
    return re.compile("".join(parts))


def _group(key: str) -> str:
    return key.replace(":", "__")


def _substitute(text: str, bound: dict[str, str]) -> str:
    def sub(m: re.Match[str]) -> str:
        key = m.group(1)
        if key not in bound:
            raise AssertionError(f"placeholder {{{key}}} used before it was bound")
        return bound[key]

    return _PLACEHOLDER.sub(sub, text)


async def run(block: Block, port: int) -> None:
    """Execute one block against the server on ``port``; raise AssertionError on mismatch."""
    clients: dict[str, LineClient] = {}
    closed: set[str] = set()
    bound: dict[str, str] = {}
    for offset, raw in enumerate(block.text.splitlines()):
        where = f"{block.name} + {offset}: {raw!r}"
        if not raw.strip() or raw.startswith("#"):
            continue
        step = _STEP.match(raw)
        if step is None:
            raise AssertionError(f"{where}: not a transcript line")
        who, direction, text = step.groups()
        if who not in clients:
            clients[who] = await LineClient.connect(port, who)
        client = clients[who]
        if direction == ">":
            if text == "<close>":
                await client.aclose()
                closed.add(who)
            else:
                await client.send(_substitute(text, bound))
            continue
        if text == "<EOF>":
            rest = await client.expect_eof()
            assert rest == [], f"{where}: expected EOF, got {rest}"
            closed.add(who)
            continue
        try:
            got = await client.recv()
        except EOFError:
            raise AssertionError(f"{where}: connection closed instead") from None
        match = _matcher(text, bound).fullmatch(got)
        if match is None:
            raise AssertionError(f"{where}:\n  expected {text}\n  received {got}")
        for key, value in match.groupdict().items():
            bound[key.replace("__", ":")] = value
    open_clients = {who: client for who, client in clients.items() if who not in closed}
    for who, client in open_clients.items():  # barrier everyone before anyone leaves
        pending = await client.barrier()
        assert pending == [], f"{block.name}: {who} received unexpected lines {pending}"
    for client in open_clients.values():
        await client.aclose()
