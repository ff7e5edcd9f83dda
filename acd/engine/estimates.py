"""Estimated wait for announcements.

app_queue announces a smoothed average of *past* waits, which lags the present badly
when staffing changes. We estimate from the caller's own situation instead:

    EWT = position x AHT / N

where ``position`` counts the calls ahead of this caller that compete for the same
agents, ``N`` is the number of logged-in, unpaused agents who can take this call now
(its current, possibly widened, requirements), and ``AHT`` is the mean handling time
(talk + wrap-up) of the queue's last ``window`` calls, falling back to the configured
default before any call was handled. With N = 0 there is no honest estimate: None.
"""
from __future__ import annotations

from collections import deque


class HandleTimes:
    """A moving window of recent handling times per queue."""

    __slots__ = ("_window", "_default", "_by_queue")

    def __init__(self, window: int, default: float) -> None:
        self._window = window
        self._default = default
        self._by_queue: dict[str, tuple[deque[float], list[float]]] = {}

    def add(self, queue: str, seconds: float) -> None:
        entry = self._by_queue.get(queue)
        if entry is None:
            entry = self._by_queue[queue] = (deque(), [0.0])
        values, total = entry
        values.append(seconds)
        total[0] += seconds
        if len(values) > self._window:
            total[0] -= values.popleft()

    def mean(self, queue: str) -> float:
        entry = self._by_queue.get(queue)
        if not entry or not entry[0]:
            return self._default
        return entry[1][0] / len(entry[0])


def estimated_wait(position: int, agents: int, handle_time: float) -> float | None:
    if agents <= 0:
        return None
    return position * handle_time / agents
