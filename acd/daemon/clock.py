"""Drives the engine's timers from the asyncio loop.

The engine keeps its own deadlines (wrap-up ends, widening, announcements, max wait)
and says when it next needs time to pass (``Engine.next_deadline``). One
``loop.call_at`` handle, re-armed after every event, is all the daemon needs: no
polling tick, so an idle daemon sleeps and a due deadline fires on time.

Engine time is epoch seconds (``time.time``), because ``ACD_ENQUEUED_AT`` on the
channel must mean the same thing to a restarted daemon; the loop's own clock is
monotonic, so each deadline is converted at the moment it is armed.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

WallClock = Callable[[], float]


class EngineClock:
    def __init__(self, wake: Callable[[float], None], *, now: WallClock = time.time,
                 loop: asyncio.AbstractEventLoop | None = None) -> None:
        """``wake(now)`` is called when the armed deadline is due (it advances the engine)."""
        self._wake = wake
        self.now = now
        self._loop = loop
        self._handle: asyncio.TimerHandle | None = None
        self._armed_for: float | None = None

    def rearm(self, deadline: float | None) -> None:
        """Sleep until ``deadline`` (epoch seconds); None: nothing to wait for."""
        if deadline == self._armed_for and self._handle is not None:
            return
        self.cancel()
        if deadline is None:
            return
        loop = self._loop or asyncio.get_running_loop()
        delay = max(0.0, deadline - self.now())
        self._armed_for = deadline
        self._handle = loop.call_at(loop.time() + delay, self._fire)

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = None
        self._armed_for = None

    def _fire(self) -> None:
        # The loop's monotonic clock and the wall clock drift apart by microseconds; the
        # deadline has come, so never report a time before it (that would re-arm forever).
        due = self._armed_for if self._armed_for is not None else 0.0
        self._handle = None
        self._armed_for = None
        self._wake(max(self.now(), due))
