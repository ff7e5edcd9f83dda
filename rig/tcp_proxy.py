"""A small TCP proxy to put in front of a service (Asterisk's AMI, PostgreSQL, Redis) so a
test can fail the link the ways networks and restarting servers fail it:

- ``cut()``: every link is reset and new connections are accepted and closed at once
  (a restarting server, a refused port); ``refused`` counts them;
- ``blackhole()``: links stay open but nothing passes either way, and new connections
  are accepted and then hear nothing (a half-open link, a dead route);
- ``resume()``: back to relaying.

It runs on the caller's event loop; a test that blocks (``time.sleep``, ``wait()`` of a
process) must do that in a thread, or the proxy stops relaying.
"""
from __future__ import annotations

import asyncio


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", *, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.target_host, self.target_port = target_host, target_port
        self.host, self.port = host, port
        self.mode = "relay"
        self.refused = 0
        self._links: list[asyncio.StreamWriter] = []
        self._server: asyncio.AbstractServer | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            self.refused += 1
            writer.transport.abort()
            return
        self._links.append(writer)
        await self._flowing.wait()            # a blackholed connect hears nothing until resumed
        if self.mode == "cut" or writer.is_closing():
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._links.append(up_writer)
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pipe(source, sink))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()    # blackholed: held, as a dead route holds it
                if self.mode == "cut":
                    break
                sink.write(data)
                await sink.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            sink.transport.abort()

    def cut(self) -> None:
        self.mode = "cut"
        self._flowing.set()
        for writer in self._links:
            writer.transport.abort()
        self._links.clear()

    def blackhole(self) -> None:
        self.mode = "blackhole"
        self._flowing.clear()

    def resume(self) -> None:
        self.mode = "relay"
        self._flowing.set()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
