"""Deadlines the engine keeps (wrap-up ends, widening steps, announcements, max wait).

A heap of (due, seq, kind, target, token). Cancelling is lazy: each agent and call
carries a token that changes when its situation changes, and a timer whose token no
longer matches is dropped when it comes due. That keeps every operation O(log n).

A timer is a plain tuple, not a NamedTuple: building a NamedTuple runs its Python-level
``__new__`` even in the compiled engine, one Python call per timer (70,000 in a
simulated day of the 1555 line, bench.sim); a tuple is built in C, and the heap
compares either the same way (due, then seq: never further, seq is unique).
"""
from __future__ import annotations

import heapq
from typing import TypeAlias

#: (due, seq, kind, target, token): see the module doc
Timer: TypeAlias = tuple[float, int, str, str, int]


class Timers:
    __slots__ = ("_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._seq = 0

    def add(self, due: float, kind: str, target: str, token: int) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, kind, target, token))

    def peek(self) -> Timer | None:
        return self._heap[0] if self._heap else None

    def drop(self) -> None:
        """Remove the earliest timer (found stale by the engine)."""
        heapq.heappop(self._heap)

    def pop_due(self, now: float) -> Timer | None:
        if self._heap and self._heap[0][0] <= now:
            return heapq.heappop(self._heap)
        return None

    def __len__(self) -> int:
        return len(self._heap)
