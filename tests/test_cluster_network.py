"""The cluster mode: a node's connections to Redis silently black-holed.

A failover that moves Redis's address, a NAT or load-balancer flow table that forgets a
connection, a host that vanished: the TCP connections the node already has stop carrying
anything (no FIN, no RST), while new ones work. The node must recover from that:

- coredis does not drop a connection whose (non-blocking) request timed out, so after a
  lost answer RedisLog drops the writer's connections itself; otherwise every later
  append and lease renewal would queue behind on the dead one (STORAGE_UNKNOWN forever);
- the reader's blocking read is bounded (``XREAD BLOCK`` plus a timeout), so it cannot
  wait forever on a dead connection.

Otherwise the node would be declared dead by the others but never learn it, and serve a
frozen copy. The test puts a TCP proxy of its own between
the node and Redis, freezes the proxy's existing connections (new ones pass), and expects
the node to be writing and reading again within a few timeouts.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import coredis
import trio

from tests.redissupport import CLUSTER_LIMITS, Node, _run_node, redis_server


class FreezingProxy:
    """Forwards 127.0.0.1:<port> to Redis; :meth:`freeze` black-holes the connections
    open now (they stay open, carry nothing); later ones are forwarded."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.generation = 0
        self.port = 0

    def freeze(self) -> None:
        self.generation += 1

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self.port)
        await trio.serve_listeners(self._handle, listeners)

    async def _handle(self, client: trio.SocketStream) -> None:
        generation = self.generation
        try:
            upstream = await trio.open_tcp_stream("127.0.0.1", self.target)
        except OSError:
            await client.aclose()
            return
        async with client, upstream, trio.open_nursery() as nursery:
            nursery.start_soon(self._pump, client, upstream, generation, nursery)
            nursery.start_soon(self._pump, upstream, client, generation, nursery)

    async def _pump(
        self,
        source: trio.SocketStream,
        sink: trio.SocketStream,
        generation: int,
        nursery: trio.Nursery,
    ) -> None:
        try:
            while True:
                data = await source.receive_some(65536)
                if self.generation != generation:
                    await trio.sleep_forever()  # black-holed: keep the socket, drop bytes
                if not data:
                    break
                await sink.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            pass
        nursery.cancel_scope.cancel()


async def test_a_node_whose_redis_connections_were_black_holed_recovers(
    tmp_path: Path,
) -> None:
    limits = dataclasses.replace(CLUSTER_LIMITS, redis_lease=3.0, store_retry=0.5)
    async with redis_server(tmp_path) as redis, trio.open_nursery() as nursery:
        proxy = FreezingProxy(redis.port)
        await nursery.start(proxy.run)
        url = f"redis://127.0.0.1:{proxy.port}/0"
        a: Node = await nursery.start(_run_node, url, "a", limits, trio.CancelScope(), None)
        alice = await a.client("alice", "#c")
        await alice.send("MSG #c before")
        assert (await alice.recv()).endswith(" alice :before")

        proxy.freeze()
        async with coredis.Redis(host="127.0.0.1", port=proxy.port) as fresh:
            assert await fresh.ping()  # a new connection through the proxy works
        seen: list[str] = []
        with trio.move_on_after(20.0):
            while True:
                await alice.send("MSG #c after")
                line = await alice.recv(timeout=15.0)
                seen.append(line)
                if line.startswith(("MSG #c", "BYE")):
                    break
                await trio.sleep(0.5)  # the retry= the client was told, about
        assert seen
        assert seen[-1].startswith(("MSG #c", "BYE")), seen
        nursery.cancel_scope.cancel()
