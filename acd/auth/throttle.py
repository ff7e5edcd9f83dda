"""Slowing password guessing from one address, without letting anyone lock a person out.

A lockout per user name would let a stranger keep any supervisor out by typing wrong
passwords in their name; so the count is per client address only: after ``limit`` wrong
passwords within ``window`` seconds that address gets 429 until its oldest failure is
``window`` old. Guessing from many addresses is slowed by argon2's cost and shows in the
audit log (``login.failed``).
"""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class LoginThrottle:
    def __init__(self, limit: int = 10, window: float = 300.0, now: Callable[[], float] = time.monotonic,
                 max_sources: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.now = now
        self.max_sources = max_sources
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, source: str) -> deque[float]:
        failures = self._failures.get(source)
        if failures is None:
            return deque()
        cutoff = self.now() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[source]
        return failures

    def retry_after(self, source: str) -> float:
        """Seconds until ``source`` may try again (0: now)."""
        failures = self._recent(source)
        if len(failures) < self.limit:
            return 0.0
        return max(0.0, failures[0] + self.window - self.now())

    def failed(self, source: str) -> None:
        if len(self._failures) >= self.max_sources and source not in self._failures:
            self._failures.pop(next(iter(self._failures)))     # bounded memory under a flood
        self._failures.setdefault(source, deque()).append(self.now())
