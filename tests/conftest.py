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
"""

from __future__ import annotations

import os

import pytest
import trio

from tests.support import RunningServer, start_server

os.environ["FLACKD_IRC_PORT"] = "0"
os.environ["FLACKD_IRC_TLS_PORT"] = "0"
os.environ["FLACKD_WEB_PORT"] = "0"
os.environ["FLACKD_WEB_TLS_PORT"] = "0"


@pytest.fixture
async def flackd(nursery: trio.Nursery) -> RunningServer:
    """An in-process server with test limits on an ephemeral loopback port."""
    return await start_server(nursery)
