"""flackd.sockets.accept_forever: every listener's accept loop.

Each accepted stream's task runs the handler itself (no wrapper frame held by every
connection); an accept that fails for want of a resource (EMFILE and kin) is logged and
tried again after a pause, and any other failure of accept is not hidden. The loop over
real sockets is exercised by every test that connects to a server; these are its edges.
"""

from __future__ import annotations

import errno
import logging

import pytest
import trio
import trio.testing

from flackd.sockets import ACCEPT_RETRY_SECONDS, accept_forever


class FailingListener(trio.abc.Listener[trio.SocketStream]):
    """Fails with ``errors`` in turn, then hands out one real stream, then waits."""

    def __init__(self, errors: list[OSError], stream: trio.SocketStream) -> None:
        self.errors = errors
        self.stream: trio.SocketStream | None = stream
        self.closed = False

    async def accept(self) -> trio.SocketStream:
        await trio.lowlevel.checkpoint()
        if self.errors:
            raise self.errors.pop(0)
        if self.stream is not None:
            stream, self.stream = self.stream, None
            return stream
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        self.closed = True


async def stream_pair() -> tuple[trio.SocketStream, trio.SocketStream]:
    a, b = trio.socket.socketpair()
    return trio.SocketStream(a), trio.SocketStream(b)


async def test_out_of_descriptors_is_logged_and_accept_is_tried_again(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    ours, theirs = await stream_pair()
    listener = FailingListener([OSError(errno.EMFILE, "Too many open files")], ours)
    handled: list[trio.SocketStream] = []
    done = trio.Event()

    async def handler(stream: trio.SocketStream) -> None:
        handled.append(stream)
        done.set()

    caplog.set_level(logging.ERROR, "flackd")
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_forever, [listener], handler, nursery)
        await done.wait()
        nursery.cancel_scope.cancel()
    assert handled == [ours]  # the handler got the stream itself
    assert trio.current_time() - started >= ACCEPT_RETRY_SECONDS  # the pause (mock clock)
    assert "accept failed: EMFILE" in caplog.text
    assert listener.closed
    await theirs.aclose()
    await ours.aclose()


async def test_any_other_accept_failure_is_raised() -> None:
    ours, theirs = await stream_pair()
    listener = FailingListener([OSError(errno.EBADF, "Bad file descriptor")], ours)

    async def handler(stream: trio.SocketStream) -> None:
        raise AssertionError("nothing was accepted")

    with pytest.RaisesGroup(
        pytest.RaisesExc(OSError, check=lambda e: e.errno == errno.EBADF), flatten_subgroups=True
    ):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept_forever, [listener], handler, nursery)
    assert listener.closed
    await theirs.aclose()
    await ours.aclose()
