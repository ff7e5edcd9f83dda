"""A small asyncio TCP proxy for fault injection: the tests put it between the daemon
and a service (AMI, PostgreSQL) and break the link the ways networks break it.

- ``cut()``: every link is reset at once and new connections are refused (accepted and
  closed): a restarting peer, a dropped route. Clients see the error immediately.
- ``blackhole()``: links stay open but every byte in either direction is dropped, and
  new connections are accepted and then hear nothing: a half-open link (a cable pulled,
  a NAT entry gone, a frozen host). No error reaches the client; only a keepalive
  notices.
- ``resume()``: back to relaying; links reset by a cut are gone (the client reconnects),
  links that were blackholed carry traffic again.

Only the relay is faked; both ends are the real programs.
"""
from __future__ import annotations

import asyncio
import contextlib


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.target_host, self.target_port = target_host, target_port
        self.host, self.port = host, port
        self.mode = "relay"                   # relay | cut | blackhole
        #: connections accepted while cut (refused at once)
        self.refused = 0
        #: connections accepted in all
        self.accepted = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def cut(self) -> None:
        self.mode = "cut"
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    def blackhole(self) -> None:
        self.mode = "blackhole"

    def resume(self) -> None:
        self.mode = "relay"

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        if self.mode == "cut":
            self.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers += [writer, up_writer]
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                if self.mode != "relay":
                    continue                   # blackholed: the bytes vanish
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()
