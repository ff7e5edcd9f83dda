"""What the live benchmark and the demo measure, from the phones' own event logs.

Every figure comes from the sipp phones' side of the wire (``rig.sipp.PhoneEvent``:
each step of each call with the time the phone saw it), never from the daemon, so the
ACD and app_queue are measured by the same ruler:

- routing latency: an agent's phone hangs up (sends BYE) while callers wait, until the
  same phone receives its next INVITE;
- answered: citizens' calls that an agent's phone answered, counted once per citizen
  (the caller's SIP user the agent's phone saw in From);
- peak concurrency: the most citizens' calls up at once (dialled, not yet ended),
  whether waiting or talking.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol


class Event(Protocol):
    """``rig.sipp.PhoneEvent``: at, event, phone, peer, call_id."""

    at: float
    event: str
    phone: str
    peer: str
    call_id: str


def routing_latencies(agent_events: Iterable[Event], *, waiting_from: float, waiting_until: float) -> list[float]:
    """Milliseconds from each agent's hang-up to the same agent's next INVITE, for
    hang-ups while callers were waiting (``waiting_from`` .. ``waiting_until``)."""
    hung_up_at: dict[str, float] = {}
    latencies: list[float] = []
    for event in sorted(agent_events, key=lambda e: e.at):
        if event.event == "hangup" and waiting_from <= event.at <= waiting_until:
            hung_up_at[event.phone] = event.at
        elif event.event == "invite":
            started = hung_up_at.pop(event.phone, None)
            if started is not None:
                latencies.append((event.at - started) * 1000.0)
    return latencies


def answered_callers(agent_events: Iterable[Event]) -> set[str]:
    """The citizens (caller SIP users) whose call an agent's phone answered."""
    return {event.peer for event in agent_events if event.event == "answer"}


def call_intervals(citizen_events: Iterable[Event]) -> list[tuple[float, float]]:
    """(dialled, ended) of each citizen call; a call never ended lasts to infinity."""
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    for event in citizen_events:
        if event.event == "invite":
            start.setdefault(event.call_id, event.at)
        elif event.event in ("bye", "hangup", "failed", "busy"):
            end.setdefault(event.call_id, event.at)
    return [(at, end.get(call_id, math.inf)) for call_id, at in start.items()]


def peak_concurrency(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals open at one moment (one ending as another starts: not both)."""
    points = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = current = 0
    for _, step in points:
        current += step
        peak = max(peak, current)
    return peak


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p99 is a measured value)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]
