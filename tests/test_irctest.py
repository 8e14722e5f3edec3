"""irctest (github progval/irctest) against the installed flackd's IRC port.

Runs a selection of irctest's server tests as a child ``pytest`` in the irctest tree, with
the controller in tests/irctest/ (which starts one flackd per test, on ports irctest
reserves, and ends it by its PID). The selection is RFC 1459/2812, Modern and IRCv3
behaviour without services, deprecated, strict or implementation-specific tests; every test
in it must pass except those in :data:`DELIBERATE`, where flackd differs from IRC on
purpose (each with its reason). A test that fails and is not listed there is a bug.

Where irctest is: ``$IRCTEST_DIR``, else ``../shared/irctest`` beside the repository.
Without it, or without pytest-timeout, pytest-xdist or filelock (:data:`NEEDS`), the test
is skipped. It runs on four workers: about a minute (serially it takes over three). The
selection minus DELIBERATE is passed as exact node ids, as pytest's ``--deselect`` matches
prefixes. Nothing is written into the irctest tree (no cache, no bytecode); the servers'
temporary directories and irctest's port list go under ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Final

import pytest
import trio

REPO: Final = Path(__file__).resolve().parents[1]
CONTROLLER_DIR: Final = REPO / "tests" / "irctest"
CONTROLLER: Final = "flackd_irctest_controller"
#: Where irctest's server tests are, relative to its tree (and in its node ids).
TESTS: Final = "irctest/server_tests"
#: The whole irctest run (about a minute on four workers); each test has 60 s on its own.
RUN_TIMEOUT: Final = 420.0

#: What irctest needs here beyond pytest (module: pip name); xdist, as serially it is slow.
NEEDS: Final = {"pytest_timeout": "pytest-timeout", "xdist": "pytest-xdist", "filelock": "filelock"}
#: The selection: the core marker expression over every module, as irctest's own CI runs
#: servers, plus chathistory and redact (marked "services", as most of their tests register
#: accounts, which Flack does not have: those skip, the rest run).
CORE: Final = "not services and not implementation-specific and not deprecated and not strict"
SERVICES_MODULES: Final = ("chathistory", "redact")
SERVICES: Final = "not implementation-specific and not deprecated and not strict"
MARKERS: Final = f"({CORE}) or services"  # what the run collects; the node ids decide

_NO_TAGMSG = "client-only tags are not relayed and TAGMSG is not supported (CLIENTTAGDENY=*)"

_MARK = (
    "a read marker is Flack's MARK: a message read, not any time; a time before every message"
    " (in an empty channel or conversation) marks nothing, and MARKREAD answers with the time"
    " of the last message read"
)
_MARK_JOIN = (
    "a read marker is Flack's MARK: leaving a channel drops it, and a JOIN puts it at the"
    " channel's newest message (what was said before you came is not unread)"
)
#: irctest node ids (under :data:`TESTS`) that fail because flackd differs from IRC on
#: purpose, or lacks a command yet (each with its reason; docs/irc.md lists them too).
DELIBERATE: Final[dict[str, str]] = {
    "labeled_responses.py::LabeledResponsesTestCase::testLabeledTagMsgResponsesToChannel": _NO_TAGMSG,  # noqa: E501
    "labeled_responses.py::LabeledResponsesTestCase::testLabeledTagMsgResponsesToClient": _NO_TAGMSG,  # noqa: E501
    "labeled_responses.py::LabeledResponsesTestCase::testLabeledTagMsgResponsesToSelf": _NO_TAGMSG,
    "read_marker.py::ReadMarkerTestCase::testSetAndGet": _MARK,
    "read_marker.py::ReadMarkerTestCase::testReadMarkerDoesNotDecrease": _MARK,
    "read_marker.py::ReadMarkerTestCase::testReadMarkerUserTarget": _MARK,
    "read_marker.py::ReadMarkerTestCase::testReadMarkerOnJoinWithStoredTimestamp": _MARK_JOIN,
}


def irctest_dir() -> Path:
    return Path(os.environ.get("IRCTEST_DIR") or REPO.parent / "shared" / "irctest")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pytest_command(*args: str, marker: str = MARKERS) -> list[str]:
    """A child pytest's command line (run from the irctest tree)."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    return [*command, "--controller", CONTROLLER, "-m", marker, *args]


def collected(output: str) -> list[str]:
    """The node ids a ``--collect-only -q`` run printed."""
    return [line for line in output.splitlines() if line.startswith(f"{TESTS}/")]


async def run(
    command: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[bytes]:
    return await trio.run_process(
        command, cwd=cwd, env=env, check=False, capture_stdout=True, stderr=subprocess.STDOUT
    )


def failures(junit: Path) -> dict[str, str]:
    """The node ids (under irctest/server_tests/) that failed or errored, with the first
    line of each one's error."""
    failed = {}
    for case in ET.parse(junit).iter("testcase"):
        for child in case:
            if child.tag in ("failure", "error"):
                module, _, cls = case.get("classname", "").rpartition(".")
                path = module.removeprefix("irctest.server_tests.").replace(".", "/")
                message = (child.get("message") or "").strip().partition("\n")[0]
                failed[f"{path}.py::{cls}::{case.get('name')}"] = message[:200]
                break
    return failed


def _why_not() -> str:
    """Why irctest cannot run here ("" if it can), decided at collection so that the
    reason shows in pytest's skip summary (a skip raised inside a Trio test reaches it
    without its text)."""
    tree = irctest_dir()
    if not (tree / "conftest.py").is_file() or not (tree / "irctest").is_dir():
        return f"no irctest tree at {tree} (set IRCTEST_DIR)"
    missing = [pip for module, pip in NEEDS.items() if not _has(module)]
    if missing:
        return f"irctest needs {', '.join(missing)} here: pip install {' '.join(missing)}"
    return ""


@pytest.mark.subprocess
@pytest.mark.skipif(bool(_why_not()), reason=_why_not() or "-")
async def test_irctest_selection_passes(tmp_path: Path) -> None:
    tree = irctest_dir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FLACKD_"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(CONTROLLER_DIR), str(tree)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(tmp_path),
    }
    junit = tmp_path / "irctest.xml"
    services = [f"{TESTS}/{module}.py" for module in SERVICES_MODULES]
    with trio.fail_after(RUN_TIMEOUT):
        # Exact node ids: --deselect ...::testNotice would take testNoticeNonexistentChannel.
        nodes: list[str] = []
        for marker, where in ((CORE, [TESTS]), (SERVICES, services)):
            listing = await run(pytest_command("--collect-only", *where, marker=marker), tree, env)
            found = collected(listing.stdout.decode("utf-8", "replace"))
            assert found, listing.stdout.decode("utf-8", "replace")[-4000:]
            nodes += [node for node in found if node not in nodes]
        stale = sorted(set(DELIBERATE) - {node.removeprefix(f"{TESTS}/") for node in nodes})
        assert not stale, f"DELIBERATE lists tests the selection does not have: {stale}"
        selected = [node for node in nodes if node.removeprefix(f"{TESTS}/") not in DELIBERATE]
        args = ["-n", "4", "--timeout", "60", "-o", "junit_logging=no", f"--junit-xml={junit}"]
        result = await run(pytest_command(*args, *selected), tree, env)
    output = result.stdout.decode("utf-8", "replace")
    summary = output.strip().splitlines()[-1] if output.strip() else "(no output)"
    failed = failures(junit) if junit.is_file() else {}
    listed = "".join(f"\n  {node}: {message}" for node, message in failed.items())
    assert not failed, (
        f"irctest: {summary}; each failure is a flackd bug, unless flackd differs on "
        f"purpose (then add it to DELIBERATE with the reason):{listed}"
    )
    assert result.returncode == 0, f"irctest: {summary}\n{output[-4000:]}"
    print(f"irctest: {summary}; {len(DELIBERATE)} more fail on purpose (DELIBERATE)")
