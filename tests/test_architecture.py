"""The rules of docs/architecture.md, checked: who may import what, and that the spec
(protocol.md) names every error code and every limit the code has."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from flackd.codec import ERROR_CODES
from flackd.limits import limit_fields

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = (ROOT / "protocol.md").read_text(encoding="utf-8")

# module (or package prefix) -> allowed top-level imports beyond the standard library
RULES: dict[str, set[str]] = {
    "flackd.codec": {"flackd.codec"},
    "flackd.limits": {"flackd.codec"},
    "flackd.history": {"flackd.codec"},
    "flackd.ratelimit": set(),
    # The hub package (every flackd.hub.* module): the rules and their state, no I/O. Its
    # modules import one another; only core names the flackd package (its version, for HELLO).
    "flackd.hub": {
        "flackd.hub",
        "flackd.codec",
        "flackd.history",
        "flackd.limits",
        "flackd.store",
        "flackd.views",
    },
    "flackd.hub.core": {
        "flackd",
        "flackd.codec",
        "flackd.history",
        "flackd.limits",
        "flackd.store",
    },
    # The storage seam: the interface knows no database; each store knows only the interface.
    "flackd.store": set(),
    "flackd.store.memory": {"flackd.store"},
    "flackd.store.sqlite": {"flackd.store"},
    # The shared log of several nodes: its interface is plain; only the Redis store names
    # Redis (coredis), and it knows nothing else of flackd.
    "flackd.store.log": set(),
    "flackd.store.redis": {"flackd.store", "trio", "coredis"},
    "flackd.store.redis_scripts": set(),
    # This node's side of a shared chat: the hub and the log's interface, never Redis.
    "flackd.replica": {
        "trio",
        "flackd",
        "flackd.replica",
        "flackd.committer",
        "flackd.codec",
        "flackd.connection",
        "flackd.hub",
        "flackd.limits",
        "flackd.store.log",
    },
    "flackd.committer": {"trio", "flackd.codec", "flackd.hub", "flackd.store"},
    # A connection's I/O; the flusher that writes it names Connection only as a type
    # (under TYPE_CHECKING: flackd.connection imports it), and the stream transport (TLS,
    # WebSocket) is a connection of its own module.
    "flackd.connection": {"trio", "flackd.flusher", "flackd.fanout"},
    "flackd.flusher": {"trio", "flackd.connection"},
    # Fan-out into outboxes, and a channel's broadcasts held for company in a pass of the
    # poller: the flusher's type, and Connection only as a type (that module imports it).
    "flackd.fanout": {"trio", "flackd.flusher", "flackd.connection"},
    "flackd.stream_connection": {"trio", "flackd.connection"},
    # The IRC front end: a sans-IO codec and a translator; never trio, never the hub (it
    # reads hub state only through the Directory protocol the server hands it).
    "flackd.irc": {"flackd", "flackd.irc", "flackd.codec", "flackd.limits", "flackd.views"},
    # The plain types of the hub's views, shared by the hub and front ends.
    "flackd.views": {"flackd.codec"},
    "flackd.irc.wire": set(),
    # The web front end: HTTP (h11), the WebSocket (wsproto) and the page; never the hub,
    # the Flack codec or a store: a WebSocket is only a transport of Flack's lines. The
    # site (which request gets which answer) is sans I/O: not even trio.
    "flackd.web": {"flackd.web", "flackd.ratelimit", "trio", "h11", "wsproto"},
    "flackd.web.site": {"h11"},
    # The flackd command's flags (the server's defaults, one per limit): typer, never trio.
    "flackd.options": {"typer", "flackd.limits"},
    # TLS for every listener: the standard library's ssl and trio, nothing of the protocol.
    "flackd.tls": {"trio"},
    "flackcli": {"flackcli", "flackd.codec", "trio", "typer", "prompt_toolkit", "platformdirs"},
    # Coming back in on a connection: it awaits the client, never trio itself.
    "flackcli.registration": {"flackd.codec", "flackcli"},
    # The pure parts of the client: data in, data out, testable without sockets or a screen.
    "flackcli.notices": set(),
    "flackcli.address": set(),
    "flackcli.backoff": {"flackd.codec"},
    # The view model, split by concern (see flackcli/ui/view.py): each module may import
    # flackd.codec and only the view modules below it in VIEW_LAYERS; view alone also
    # takes flackcli.notices.
    "flackcli.ui.cells": {"flackd.codec"},
    "flackcli.ui.buffers": {"flackcli.ui.cells"},
    "flackcli.ui.reading": {"flackcli.ui.buffers"},
    "flackcli.ui.render": {"flackcli.ui.cells", "flackcli.ui.buffers"},
    "flackcli.ui.buffer_list": {
        "flackd.codec",
        "flackcli.ui.cells",
        "flackcli.ui.buffers",
        "flackcli.ui.reading",
    },
    "flackcli.ui.model": {
        "flackd.codec",
        "flackcli.ui.cells",
        "flackcli.ui.buffers",
        "flackcli.ui.reading",
        "flackcli.ui.render",
        "flackcli.ui.buffer_list",
    },
    "flackcli.ui.view": {
        "flackd.codec",
        "flackcli.notices",
        "flackcli.ui.cells",
        "flackcli.ui.buffers",
        "flackcli.ui.reading",
        "flackcli.ui.model",
    },
    "flackcli.ui.input": {
        "flackd.codec",
        "flackcli.notices",
        "flackcli.ui.intents",
        "flackcli.ui.slash",
        "flackcli.ui.paste",
        "flackcli.ui.opers",
        "flackcli.ui.handlers",
        "flackcli.ui.chanops",
    },
    "flackcli.ui.handlers": {
        "flackd.codec",
        "flackcli.ui.intents",
        "flackcli.ui.slash",
        "flackcli.ui.paste",
    },
    "flackcli.ui.chanops": {"flackd.codec", "flackcli.ui.intents", "flackcli.ui.handlers"},
    "flackcli.ui.opers": {"flackd.codec", "flackcli.ui.intents"},
    "flackcli.ui.intents": {"flackd.codec"},
    "flackcli.ui.slash": {"flackd.codec"},
    "flackcli.ui.paste": {"flackd.codec", "flackcli.ui.intents"},
    # When to send MARK: a pure decision, testable without a server or a screen.
    "flackcli.ui.marks": {"flackd.codec"},
    # The network side of the client never touches the screen.
    "flackcli.client": {"trio", "flackd.codec"},
    "flackcli.supervisor": {"trio", "flackd.codec", "flackcli"},
    # Catching up awaits the client's calls but never uses trio itself; what a session
    # remembers is plain data.
    "flackcli.catchup": {"flackd.codec", "flackcli"},
    "flackcli.memory": {"flackd.codec"},
    "flackcli.scripting": {"trio", "typer", "flackd.codec", "flackcli", "platformdirs"},
    "flackcli.script_tail": {"trio", "flackd.codec", "flackcli"},
    "flackcli.script_session": {"trio", "flackd.codec", "flackcli"},
    # What the script commands print: data in, text out, no trio.
    "flackcli.script_output": {"flackd.codec", "flackcli.notices"},
    "flackcli.pacing": {"trio"},
    "flackcli.files": {"flackcli", "flackd.codec", "platformdirs"},
    # Only the runner may bring asyncio and trio together.
    "flackcli.ui.app": {"prompt_toolkit", "flackd.codec", "flackcli"},
}

#: The pure view-model modules, lowest first: each imports only modules before it.
VIEW_LAYERS = (
    "flackcli.ui.cells",
    "flackcli.ui.buffers",
    "flackcli.ui.reading",
    "flackcli.ui.render",
    "flackcli.ui.buffer_list",
    "flackcli.ui.model",
    "flackcli.ui.view",
)
#: The most lines a view-model module may have (the split keeps each one readable).
VIEW_MODULE_MAX_LINES = 420

#: The one module where asyncio and Trio meet (Trio guest mode inside prompt-toolkit).
ASYNCIO_MEETS_TRIO = "flackcli.ui.runner"


def _imports(path: Path, *, members: bool = False) -> set[str]:
    """The modules ``path`` imports, anywhere in the file (under ``if TYPE_CHECKING:``
    too); with ``members``, also ``module.name`` for each ``from module import name``,
    which is a module itself when ``name`` is a submodule."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if members:
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _allowed(name: str, allowed: set[str]) -> bool:
    top = name.split(".")[0]
    if top in __import__("sys").stdlib_module_names:
        return True
    return any(name == a or name.startswith(a + ".") for a in allowed)


def _modules() -> list[tuple[str, Path]]:
    out = []
    for package in ("flackd", "flackcli"):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out.append((".".join(parts), path))
    return out


@pytest.mark.parametrize(("module", "path"), _modules(), ids=[m for m, _ in _modules()])
def test_import_rules(module: str, path: Path) -> None:
    rule = next((r for r in sorted(RULES, key=len, reverse=True)
                 if module == r or module.startswith(r + ".")), None)  # fmt: skip
    if rule is None:
        return  # server, cli: may import trio, typer and the flackd modules they wire
    bad = sorted(name for name in _imports(path) if not _allowed(name, RULES[rule]))
    assert bad == [], f"{module} must not import {bad}"


#: Modules that may name a concrete store; the rest know only the interface.
STORE_WIRING = {
    "flackd.cli",
    "flackd.store.memory",
    "flackd.store.sqlite",
    "flackd.store.redis",
}


def test_sql_lives_only_in_the_sqlite_store() -> None:
    for module, path in _modules():
        names = _imports(path)
        if module != "flackd.store.sqlite" and not module.startswith("flackd.store.sqlite."):
            assert "sqlite3" not in names, f"{module} imports sqlite3"
        if module not in STORE_WIRING:
            concrete = {
                n
                for n in names
                if n.startswith(
                    ("flackd.store.sqlite", "flackd.store.memory", "flackd.store.redis")
                )
            }
            assert not concrete, f"{module} names a concrete store: {concrete}"


def test_redis_lives_only_in_the_redis_store() -> None:
    for module, path in _modules():
        if module != "flackd.store.redis":
            assert not any(n.startswith("coredis") for n in _imports(path)), module


#: Modules that may import the IRC front end: the server's (I/O) and the command line.
IRC_WIRING = {
    "flackd.server",
    "flackd.entry",
    "flackd.reader",
    "flackd.dispatch",
    "flackd.lifecycle",
    "flackd.cli",
}


def test_irc_lives_only_in_flackd_irc() -> None:
    for module, path in _modules():
        if module.startswith("flackd.irc") or module in IRC_WIRING:
            continue
        irc = {n for n in _imports(path) if n.startswith("flackd.irc")}
        assert not irc, f"{module} imports {irc}"


#: Modules that may import the web front end: the server's and the command line.
WEB_WIRING = {"flackd.server", "flackd.entry", "flackd.cli"}


def test_web_lives_only_in_flackd_web() -> None:
    """HTTP, WebSocket and HTML stay in flackd/web: no other module imports h11, wsproto
    or flackd.web (but the server's wiring), and no Python module outside it holds markup."""
    for module, path in _modules():
        if not module.startswith("flackd"):
            continue
        if not module.startswith("flackd.web"):
            names = _imports(path)
            web = {n for n in names if n.startswith(("flackd.web", "h11", "wsproto"))}
            assert module in WEB_WIRING or not web, f"{module} imports {web}"
            text = path.read_text(encoding="utf-8").lower()
            assert "<html" not in text, f"{module} holds HTML"
            assert "<script" not in text, f"{module} holds HTML"


def test_the_page_never_writes_markup_from_strings() -> None:
    """The page builds its DOM from text only (Trusted Types enforce it in the browser;
    this keeps the sinks out of the source too)."""
    static = ROOT / "flackd" / "web" / "static"
    sinks = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
             "new Function", "setAttribute(\"on", "srcdoc")  # fmt: skip
    scripts = sorted(static.rglob("*.js"))
    assert scripts, "the page has no scripts"
    for script in scripts:
        text = script.read_text(encoding="utf-8")
        found = [sink for sink in sinks if sink in text]
        assert not found, f"{script.name} uses {found}"
    html = (static / "index.html").read_text(encoding="utf-8")
    for inline in ("<script>", " style=", "<style"):
        assert inline not in html, f"index.html has inline {inline}"
    assert not re.search(r"<[^>]*\son[a-z]+\s*=", html), "index.html has an inline handler"


def test_view_modules_are_layered_pure_and_small() -> None:
    """Every module of the view model exists, imports no view module above it (no cycles),
    never trio, asyncio or prompt_toolkit, and stays short."""
    modules = dict(_modules())
    for i, module in enumerate(VIEW_LAYERS):
        assert module in modules, f"{module} is missing"
        ui = {n for n in _imports(modules[module]) if n.startswith("flackcli.ui")}
        assert ui <= set(VIEW_LAYERS[:i]), f"{module} imports {sorted(ui - set(VIEW_LAYERS[:i]))}"
        tops = {n.split(".")[0] for n in _imports(modules[module])}
        assert not tops & {"trio", "asyncio", "prompt_toolkit"}, module
        lines = modules[module].read_text(encoding="utf-8").count("\n")
        assert lines <= VIEW_MODULE_MAX_LINES, f"{module}: {lines} lines"


def test_only_the_runner_imports_both_asyncio_and_trio() -> None:
    both = [
        module
        for module, path in _modules()
        if {"asyncio", "trio"} <= {name.split(".")[0] for name in _imports(path)}
    ]
    assert set(both) <= {ASYNCIO_MEETS_TRIO}, both


def test_script_commands_never_import_prompt_toolkit() -> None:
    for module, path in _modules():
        if module.startswith("flackcli.script") or module in (
            "flackcli.pacing",
            "flackcli.client",
            "flackcli.supervisor",
            "flackcli.catchup",
            "flackcli.memory",
        ):
            assert not any(n.startswith("prompt_toolkit") for n in _imports(path)), module


def test_every_module_says_what_it_owns() -> None:
    for module, path in _modules():
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        assert doc, f"{module} has no docstring"


@pytest.mark.parametrize("code", sorted(ERROR_CODES))
def test_protocol_md_documents_every_error_code(code: str) -> None:
    assert re.search(rf"^\| `{code}` \|", PROTOCOL, re.MULTILINE), code


@pytest.mark.parametrize(("name", "default"), [(n, d) for n, d, _ in limit_fields()])
def test_protocol_md_documents_every_limit(name: str, default: object) -> None:
    flag = "--" + name.replace("_", "-")
    row = re.search(rf"^\| `{flag}` \| ([^|]+) \|", PROTOCOL, re.MULTILINE)
    assert row, f"protocol.md has no row for {flag}"
    assert row.group(1).strip() == str(default)
