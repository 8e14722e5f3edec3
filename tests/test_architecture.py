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
    "flackd.hub": {"flackd", "flackd.codec", "flackd.history", "flackd.limits"},
    "flackd.connection": {"trio"},
    "flackcli": {"flackcli", "flackd.codec", "trio", "typer", "prompt_toolkit", "platformdirs"},
    # The pure parts of the client: data in, data out, testable without sockets or a screen.
    "flackcli.notices": set(),
    "flackcli.backoff": {"flackd.codec"},
    "flackcli.ui.view": {"flackd.codec", "flackcli.notices"},
    "flackcli.ui.input": {"flackd.codec", "flackcli.notices"},
    # The network side of the client never touches the screen.
    "flackcli.client": {"trio", "flackd.codec"},
    "flackcli.supervisor": {"trio", "flackd.codec", "flackcli"},
    "flackcli.scripting": {"trio", "typer", "flackd.codec", "flackcli", "platformdirs"},
    "flackcli.files": {"flackcli", "flackd.codec", "platformdirs"},
    # Only the runner may bring asyncio and trio together.
    "flackcli.ui.app": {"prompt_toolkit", "flackd.codec", "flackcli"},
}

#: The one module where asyncio and Trio meet (Trio guest mode inside prompt-toolkit).
ASYNCIO_MEETS_TRIO = "flackcli.ui.runner"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
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


def test_only_the_runner_imports_both_asyncio_and_trio() -> None:
    both = [
        module
        for module, path in _modules()
        if {"asyncio", "trio"} <= {name.split(".")[0] for name in _imports(path)}
    ]
    assert set(both) <= {ASYNCIO_MEETS_TRIO}, both


def test_script_commands_never_import_prompt_toolkit() -> None:
    for module, path in _modules():
        if module in ("flackcli.scripting", "flackcli.client", "flackcli.supervisor"):
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
