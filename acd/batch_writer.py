"""The shared shape of a decision subscriber that writes elsewhere (SQL, Redis).

The daemon hands decisions over synchronously and must never wait for a database; the
subscriber only queues, and a background task writes in batches. When the far side is
down, nothing queued is dropped: the task retries with a growing delay and logs how
much waits.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class BatchWriter:
    #: what the log calls this writer
    name = "writer"

    def __init__(self, interval: float, max_delay: float = 30.0) -> None:
        self._interval = interval
        self._max_delay = max_delay
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()   # the background task and an explicit flush never overlap
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def backlog(self) -> int:
        raise NotImplementedError

    async def _prepare(self) -> None:
        """Connect or create what the writes need (called once by ``start``)."""

    async def _write(self) -> None:
        """Write what is queued; items leave the queue only once written."""
        raise NotImplementedError

    async def start(self) -> None:
        await self._prepare()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Write what is left (one last try if the far side is down), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def flush(self) -> None:
        async with self._flushing:
            await self._write()

    def _poke(self) -> None:
        self._wake.set()

    async def _run(self) -> None:
        delay = self._interval
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self._interval)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
                delay = self._interval
            except Exception as exc:
                log.warning("%s: not written yet, will retry: %r", self.name, exc, extra={"backlog": self.backlog})
                if self._stopping:
                    return
                delay = min(delay * 2, self._max_delay)
                await asyncio.sleep(delay)
                continue
            if self._stopping and not self.backlog:
                return
