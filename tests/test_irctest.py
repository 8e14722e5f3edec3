"""irctest (github progval/irctest) against the installed flackd's IRC port.

Runs a selection of irctest's server tests as a child ``pytest`` in the irctest tree, with
the controller in tests/irctest/ (which starts one flackd per test, on ports irctest
reserves, and ends it by its PID). The selection is RFC 1459/2812 and Modern behaviour
without IRCv3, services, operators' commands or implementation-specific tests; every test
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
RUN_TIMEOUT: Final = 170.0

#: What irctest needs here beyond pytest (module: pip name); xdist, as serially it is slow.
NEEDS: Final = {"pytest_timeout": "pytest-timeout", "xdist": "pytest-xdist", "filelock": "filelock"}
MODULES: Final = (
    "connection_registration",
    "pingpong",
    "join",
    "part",
    "names",
    "topic",
    "messages",
    "who",
    "list",
    "isupport",
    "quit",
    "lusers",
    "away",
    "whois",
    "buffering",
    "regressions",
    "time",
    "utf8",
)
MARKERS: Final = (
    "not services and not implementation-specific and not deprecated and not strict and not IRCv3"
)

_NO_OPS = "no channel operators: a channel's creator gets no @ (NAMES, WHO, WHOIS 319)"
_NO_USER = "Flack keeps no USER fields: the nick stands in for username and realname"
_NO_OPER = "Flack has no IRC operators: OPER gets 491"

#: irctest node ids (under :data:`TESTS`) that fail because flackd differs on purpose.
DELIBERATE: Final[dict[str, str]] = {
    "connection_registration.py::ConnectionRegistrationTestCase::testNonutf8Username": (
        _NO_USER + " (WHOIS does not echo USER's realname)"
    ),
    "names.py::NamesTestCase::testNames2812": _NO_OPS,
    "names.py::NamesTestCase::testNamesModern": _NO_OPS,
    "names.py::NamesTestCase::testNamesMultipleChannels2812": _NO_OPS,
    "names.py::NamesTestCase::testNames2812Secret": "no channel modes: no +s, no '@' symbol",
    "topic.py::TopicTestCase::testTopicMode": "no +t and no operators: any member sets a topic",
    "topic.py::TopicPrivilegesTestCase::testTopicPrivileges": (
        "no +t and no operators: any member sets a topic"
    ),
    "messages.py::NoticeTestCase::testNotice": (
        "Flack has one kind of message: a NOTICE is delivered as PRIVMSG"
    ),
    **{
        f"who.py::WhoTestCase::{test}[{mask}]": _NO_USER + " (352)"
        for test in ("testWhoNick", "testWhoNickAway")
        for mask in ("exact", "casefolded", "mask")
    },
    "who.py::WhoTestCase::testWhoChan[exact]": _NO_USER + " (352); " + _NO_OPS,
    "who.py::WhoTestCase::testWhoChan[casefolded]": _NO_USER + " (352); " + _NO_OPS,
    "who.py::WhoTestCase::testWhoStar": _NO_USER + " (352)",
    **{
        f"who.py::WhoTestCase::{test}[{mask}]": _NO_OPER
        for test in ("testWhoNickOper", "testWhoNickAwayAndOper")
        for mask in ("exact", "casefolded", "mask")
    },
    **{
        f"whois.py::WhoisTestCase::testWhoisUser[{target}]": _NO_USER + " (311)"
        for target in ("no-target", "target_server", "target-nick")
    },
    "whois.py::WhoisTestCase::testWhoisNumerics[normal]": _NO_OPS,
    "whois.py::WhoisTestCase::testWhoisNumerics[away]": _NO_OPS,
    "whois.py::WhoisTestCase::testWhoisNumerics[oper]": _NO_OPER,
}


def irctest_dir() -> Path:
    return Path(os.environ.get("IRCTEST_DIR") or REPO.parent / "shared" / "irctest")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def pytest_command(*args: str) -> list[str]:
    """A child pytest's command line (run from the irctest tree) over the selection."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    return [*command, "--controller", CONTROLLER, "-m", MARKERS, *args]


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


@pytest.mark.subprocess
async def test_irctest_selection_passes(tmp_path: Path) -> None:
    tree = irctest_dir()
    if not (tree / "conftest.py").is_file() or not (tree / "irctest").is_dir():
        pytest.skip(f"no irctest tree at {tree} (set IRCTEST_DIR)")
    missing = [pip for module, pip in NEEDS.items() if not _has(module)]
    if missing:
        pytest.skip(f"irctest needs {', '.join(missing)} here: pip install {' '.join(missing)}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "FLACKD_"))}
    env |= {
        "PYTHONPATH": os.pathsep.join([str(CONTROLLER_DIR), str(tree)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(tmp_path),
    }
    junit = tmp_path / "irctest.xml"
    modules = [f"{TESTS}/{module}.py" for module in MODULES]
    with trio.fail_after(RUN_TIMEOUT):
        # Exact node ids: --deselect ...::testNotice would take testNoticeNonexistentChannel.
        listing = await run(pytest_command("--collect-only", *modules), tree, env)
        nodes = collected(listing.stdout.decode("utf-8", "replace"))
        assert nodes, listing.stdout.decode("utf-8", "replace")[-4000:]
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
