"""A TCP proxy to put between a program and a server, to make the network fail on cue.

Tests put it in front of PostgreSQL (or AMI, Redis, anything over TCP) and then make the
faults an operator's bad day brings, each one precisely and when the test says so:

- ``refuse()`` closes the listening socket: a new connection is refused (ECONNREFUSED),
  as when the server is down; ``accept()`` listens again on the same port. Connections
  already open are left alone (``cut()`` them too for a full outage).
- ``cut()`` closes every open connection, both sides, at once (a server restart, a
  firewall reset).
- ``drop()`` cuts every connection and resets each new one at once until ``resume()``,
  counting them in ``refused`` (a server restarting: the port answers, then resets; the
  count shows a client's reconnect backoff).
- ``blackhole()`` keeps every connection open but passes no byte either way, new
  connections included (a cable pulled, a half-open link); ``resume()`` passes again.
  What arrived meanwhile is dropped, as on a dead link.
- ``cut_after(marker)``: the next chunk from the client that contains ``marker`` (say
  ``b"COMMIT"``) reaches the server, then that connection is cut before the server's
  reply gets back: the server did it, the client never hears so (a lost reply).

It runs in the caller's event loop (``await proxy.start()``), so a test drives the
faults between its own awaits; the program under test may be in the same loop or in a
child process. ``python -m rig.tcp_proxy LISTEN_PORT HOST:PORT`` runs a plain proxy
from a shell (no faults), to watch traffic by hand.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import sys

log = logging.getLogger(__name__)

_CHUNK = 65536


class _Link:
    """One client connection and its connection to the server."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server
        self.tasks: list[asyncio.Task[None]] = []

    def close(self) -> None:
        for writer in (self.client, self.server):
            with contextlib.suppress(Exception):
                if writer.can_write_eof():
                    writer.transport.abort()
                else:
                    writer.close()


class TcpProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on ``host:port`` (0: any free port, see ``port`` after ``start``) and
        pass each connection to ``target_host:target_port``."""
        self.target = (target_host, target_port)
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._links: set[_Link] = set()
        self._blackholed = False
        self._dropping = False
        #: connections reset at once while ``drop()`` holds
        self.refused = 0
        self._cut_markers: list[bytes] = []
        #: connections accepted so far, and how many were cut by ``cut_after``
        self.accepted = 0
        self.cuts_after = 0

    @property
    def open_connections(self) -> int:
        return len(self._links)

    async def start(self) -> None:
        """Listen; with ``refuse()`` called before, the port is chosen but nothing listens."""
        await self.accept()

    async def accept(self) -> None:
        """Listen again (after ``refuse``); new connections pass to the server."""
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._serve, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def refuse(self) -> None:
        """Stop listening: a new connection is refused, as by a server that is down. To
        choose a port without ever listening, ``start()`` then ``refuse()``."""
        if self._server is None:
            return
        self._server.close()
        await self._server.wait_closed()
        self._server = None

    def cut(self) -> None:
        """Close every open connection (both sides)."""
        for link in list(self._links):
            link.close()

    def blackhole(self) -> None:
        """Pass nothing, either way, until ``resume()``; connections stay open."""
        self._blackholed = True

    def drop(self) -> None:
        """Cut every connection, and reset new ones at once until ``resume()``."""
        self._dropping = True
        self.cut()

    def resume(self) -> None:
        """Pass bytes again after ``blackhole()``, take connections again after ``drop()``."""
        self._blackholed = False
        self._dropping = False

    def cut_after(self, marker: bytes) -> None:
        """Cut the next connection whose client sends ``marker``, right after the chunk
        holding it reached the server (so the server acts on it, the client gets no reply)."""
        self._cut_markers.append(marker)

    async def stop(self) -> None:
        await self.refuse()
        self.cut()
        for link in list(self._links):
            for task in link.tasks:
                task.cancel()
            await asyncio.gather(*link.tasks, return_exceptions=True)

    async def __aenter__(self) -> TcpProxy:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._dropping:
            self.refused += 1
            client_writer.transport.abort()
            return
        self.accepted += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError as error:
            log.info("tcp proxy: target %s:%s not reachable: %r", *self.target, error)
            client_writer.transport.abort()
            return
        link = _Link(client_writer, server_writer)
        self._links.add(link)
        up = asyncio.create_task(self._pipe(client_reader, server_writer, link, upstream=True))
        down = asyncio.create_task(self._pipe(server_reader, client_writer, link, upstream=False))
        link.tasks = [up, down]
        try:
            await asyncio.wait(link.tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            link.close()
            await asyncio.gather(*link.tasks, return_exceptions=True)
            self._links.discard(link)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: _Link,
                    upstream: bool) -> None:
        while True:
            data = await reader.read(_CHUNK)
            if not data:
                return
            if self._blackholed:
                continue
            writer.write(data)
            await writer.drain()
            if upstream and self._cut_markers:
                marker = next((m for m in self._cut_markers if m in data), None)
                if marker is not None:
                    self._cut_markers.remove(marker)
                    self.cuts_after += 1
                    link.close()
                    return


async def _main(listen_port: int, target: str) -> None:
    host, _, port = target.rpartition(":")
    proxy = TcpProxy(host or "127.0.0.1", int(port), port=listen_port)
    await proxy.start()
    print(f"tcp proxy: 127.0.0.1:{proxy.port} -> {target}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m rig.tcp_proxy LISTEN_PORT HOST:PORT")
    asyncio.run(_main(int(sys.argv[1]), sys.argv[2]))
