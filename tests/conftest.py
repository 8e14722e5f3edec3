"""Test rules for the whole suite.

1. Network traffic goes to 127.0.0.1 only, on ephemeral ports (port 0).
2. No sleeps to wait for readiness: servers start with ``nursery.start``; "nothing else
   arrived" is proved with a PING barrier; timed behaviour uses ``autojump_clock`` or
   ``trio.testing.MockClock``.
3. Every wait is bounded (``trio.fail_after`` in the helpers), so a bug fails, never hangs.
4. No assertion about speed; speed lives in benchmarks/.
5. A test ends only processes it started, by their PID.
6. A flackd subprocess opens no IRC listener unless its test asks for one: the defaults
   (6667, and 6697 with TLS) are fixed ports, and tests run side by side.
7. A skip says why, in Trio tests too (see :func:`pytest_runtest_makereport`).
"""

from __future__ import annotations

import os
from collections.abc import Generator

import pytest
import trio
from _pytest.outcomes import Skipped
from pluggy import Result

from tests.support import RunningServer, start_server

os.environ["FLACKD_IRC_PORT"] = "0"
os.environ["FLACKD_IRC_TLS_PORT"] = "0"
os.environ["FLACKD_WEB_PORT"] = "0"
os.environ["FLACKD_WEB_TLS_PORT"] = "0"


@pytest.fixture
async def flackd(nursery: trio.Nursery) -> RunningServer:
    """An in-process server with test limits on an ephemeral loopback port."""
    return await start_server(nursery)


def _skip_inside(exc: BaseException | None) -> Skipped | None:
    """The one ``pytest.skip`` a Trio test raised, inside the exception group whose
    context pytest-trio's own message-less ``pytest.skip()`` carries (pytest-trio 0.8)."""
    group = exc.__context__ if exc is not None else None
    leaves: list[BaseException] = []
    queue = [group] if isinstance(group, BaseExceptionGroup) else []
    while queue:
        item = queue.pop()
        for inner in item.exceptions:
            if isinstance(inner, BaseExceptionGroup):
                queue.append(inner)
            else:
                leaves.append(inner)
    if len(leaves) == 1 and isinstance(leaves[0], Skipped):
        return leaves[0]
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Result[pytest.TestReport], None]:
    """A skip raised inside a Trio test reaches pytest as a bare "Skipped" at
    pytest-trio's line: report the test's own reason, at the test, instead."""
    outcome = yield
    report = outcome.get_result()
    if not report.skipped or call.excinfo is None or not isinstance(report.longrepr, tuple):
        return
    inner = _skip_inside(call.excinfo.value)
    if inner is not None and inner.msg:
        path, line, _name = item.location
        report.longrepr = (path, (line or 0) + 1, f"Skipped: {inner.msg}")
