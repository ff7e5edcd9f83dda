"""The shared shape of a decision subscriber that writes elsewhere (SQL, Redis).

The daemon hands decisions over synchronously and must never wait for a database; the
subscriber only queues, and a background task writes in batches. When the far side is
down, nothing queued is dropped: the task retries with a growing delay and logs how
much waits. A writer with ``prepare_later`` does not even wait for the far side at
start: what ``_prepare`` does (create the tables) is retried with the same backoff, so
a database down at start-up costs a delay, not the run's records.
"""
from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)


class BatchWriter:
    #: what the log calls this writer
    name = "writer"
    #: True: ``start`` tries to prepare once (at most ``FIRST_TRY`` seconds), and when that
    #: fails the background task prepares with backoff; False: ``start`` raises when the
    #: far side is not there
    prepare_later = False
    FIRST_TRY = 2.0
    #: most seconds ``stop`` waits for the last write (None: as long as it takes); a writer
    #: that keeps what it could not write elsewhere (the records' journal) sets it, so a
    #: hung database cannot hold the daemon's stop
    stop_timeout: float | None = None

    def __init__(self, interval: float, max_delay: float = 30.0) -> None:
        self._interval = interval
        self._max_delay = max_delay
        self._wake = asyncio.Event()
        self._flushing = asyncio.Lock()   # the background task and an explicit flush never overlap
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._stop = asyncio.Event()       # cuts a backoff short
        self._prepared = False

    @property
    def backlog(self) -> int:
        raise NotImplementedError

    async def _prepare(self) -> None:
        """Connect or create what the writes need (called once by ``start``)."""

    async def _write(self) -> None:
        """Write what is queued; items leave the queue only once written."""
        raise NotImplementedError

    async def start(self) -> None:
        if not self.prepare_later:
            await self._prepare()
            self._prepared = True
        else:
            try:
                await asyncio.wait_for(self._prepare(), timeout=self.FIRST_TRY)
                self._prepared = True
            except Exception as exc:
                log.warning("%s: not ready at start, retrying in the background: %r", self.name, exc)
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Write what is left (one last try if the far side is down), then stop."""
        self._stopping = True
        self._stop.set()
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=self.stop_timeout)
        except asyncio.TimeoutError:
            log.error("%s: the last write did not finish in %.0f s; stopped with %d waiting", self.name,
                      self.stop_timeout, self.backlog)
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def flush(self) -> None:
        async with self._flushing:
            if not self._prepared:
                await self._prepare()
                self._prepared = True
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
                delay = min(delay * 2, self._max_delay)
                log.warning("%s: not written yet, will retry in %.1f s: %r", self.name, delay, exc,
                            extra={"backlog": self.backlog})
                if self._stopping:
                    return
                # the far side may come back empty (a database recreated): prepare again first
                self._prepared = False
                try:
                    await asyncio.wait_for(self._stop.wait(), timeout=delay)
                except asyncio.TimeoutError:
                    pass
                continue
            if self._stopping and not self.backlog:
                return
