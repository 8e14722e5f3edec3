"""flackd.sockets.accept_forever: every listener's accept loop.

Each accepted stream goes to the door at once, and the task it asks for runs in the
handler nursery (no wrapper frame held by every connection); an accept that fails for
want of a resource (EMFILE and kin) is logged and tried again after a pause, and any
other failure of accept is not hidden. The loop over
real sockets is exercised by every test that connects to a server; these are its edges.
"""

from __future__ import annotations

import errno
import functools
import logging
import socket

import pytest
import trio
import trio.testing

from flackd.sockets import ACCEPT_RETRY_SECONDS, Job, accept_forever


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

    def door(stream: trio.SocketStream) -> Job:
        return functools.partial(handler, stream)

    caplog.set_level(logging.ERROR, "flackd")
    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_forever, [listener], door, nursery)
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

    def door(stream: trio.SocketStream) -> Job:
        raise AssertionError("nothing was accepted")

    with pytest.RaisesGroup(
        pytest.RaisesExc(OSError, check=lambda e: e.errno == errno.EBADF), flatten_subgroups=True
    ):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(accept_forever, [listener], door, nursery)
    assert listener.closed
    await theirs.aclose()
    await ours.aclose()


async def test_a_listening_socket_gives_up_what_waits_in_one_wake_up() -> None:
    """Connections waiting in the backlog are accepted one after another without a pass
    of the event loop in between (a connection storm costs one wake-up for many); the
    door takes each at once, and only the task it asks for is started."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(10)]
    passes = 0  # passes of the event loop the ticker saw
    seen: list[int] = []  # the pass in which the door took each connection
    served: list[trio.SocketStream] = []
    all_seen, all_served = trio.Event(), trio.Event()

    async def ticker() -> None:
        nonlocal passes
        while True:
            await trio.lowlevel.checkpoint()
            passes += 1

    async def serve(stream: trio.SocketStream) -> None:
        served.append(stream)
        if len(served) == len(clients) // 2:
            all_served.set()
        await stream.aclose()

    def door(stream: trio.SocketStream) -> Job:
        seen.append(passes)
        if len(seen) == len(clients):
            all_seen.set()
        if len(seen) % 2:
            return functools.partial(serve, stream)
        stream.socket.close()  # taken in: no task
        return None

    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(ticker)
            nursery.start_soon(accept_forever, [listener], door, nursery)
            await all_seen.wait()
            await all_served.wait()
            nursery.cancel_scope.cancel()
    finally:
        for client in clients:
            client.close()
    assert len(set(seen)) == 1, seen  # all in one wake-up of the accept loop
    assert len(served) == 5  # a task for each connection whose door asked for one, no more


async def test_a_bug_at_the_door_ends_only_that_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """If taking a connection in fails (a bug), that connection is closed and logged, and
    the listener goes on accepting the next one."""
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    taken: list[trio.SocketStream] = []
    second = trio.Event()

    def door(stream: trio.SocketStream) -> Job:
        taken.append(stream)
        if len(taken) == 1:
            raise RuntimeError("a bug in the door")
        second.set()
        stream.socket.close()
        return None

    caplog.set_level(logging.ERROR, "flackd")
    async with trio.open_nursery() as nursery:
        nursery.start_soon(accept_forever, [listener], door, nursery)
        first = await trio.open_tcp_stream("127.0.0.1", port)
        assert await first.receive_some(16) == b""  # closed, not left open
        client = await trio.open_tcp_stream("127.0.0.1", port)
        await second.wait()
        nursery.cancel_scope.cancel()
    assert len(taken) == 2
    assert "taking in a connection: internal error" in caplog.text
    await first.aclose()
    await client.aclose()
