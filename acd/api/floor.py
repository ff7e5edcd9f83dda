"""The floor's figures as readers get them: built once per change, shared by every reader.

A wallboard polls ``GET /api/queues`` every second and each open page would otherwise
rebuild the same answer on the event loop that routes calls. ``QueuesView`` keeps the
answer's JSON bytes and rebuilds them only when something it shows changed (an engine
decision, a phone's registration) or when ``refresh`` seconds of the daemon's clock have
passed (waits and times in state grow without any event), so a read costs the same
whether one wallboard or a thousand poll, and at 23:59 as at 00:01 (today's figures are
``LiveFigures``' running ones).
"""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from acd.engine import AgentState, CallState, Engine
from acd.engine import decisions as d
from acd.live_figures import LiveFigures
from acd.registrations import PhoneRegistration, Registrations

#: seconds of the daemon's clock after which a view is rebuilt even if nothing happened
REFRESH = 0.25


class _Live(Protocol):
    engine: Engine

    def now(self) -> float: ...


@lru_cache(maxsize=16)
def _zone(timezone: str) -> dt.tzinfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return dt.timezone.utc


def local_midnight(now: float, timezone: str) -> float:
    """The epoch of the last midnight in the service's time zone: "today" on a wallboard
    is the local day, whatever the server's clock zone."""
    local = dt.datetime.fromtimestamp(now, _zone(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def queues_body(live: _Live, today: LiveFigures, phones: Registrations) -> dict[str, Any]:
    """``GET /api/queues``: per queue waiting, longest wait, talking and today's figures
    (since the local midnight), the agents by state, the logged-in agents whose phone is
    not registered."""
    engine = live.engine
    now = live.now()
    result: dict[str, dict[str, Any]] = {
        name: {"title": dict(q.title), "waiting": 0, "longest_wait": 0.0, "talking": 0}
        for name, q in engine.config.queues.items()
    }
    midnight = local_midnight(now, engine.config.daemon.timezone)
    today.forget_before(midnight)
    for name, queue in engine.config.queues.items():
        target = queue.service
        done = today.figures(target.threshold, name, short_abandon_s=target.short_abandon, since=midnight)
        result[name]["today"] = {"offered": done.offered, "answered": done.answered, "abandoned": done.abandoned,
                                 "exited": done.exited, "service_level": done.service_level,
                                 "target": target.target, "threshold": target.threshold, "asa": done.asa,
                                 "abandon_rate": done.abandon_rate}
    waiting = CallState.WAITING
    for call in engine.calls.values():
        figures = result.setdefault(call.queue.name, {"waiting": 0, "longest_wait": 0.0, "talking": 0})
        if call.state is waiting:
            figures["waiting"] += 1
            figures["longest_wait"] = max(figures["longest_wait"], now - call.enqueued_at)
        else:
            figures["talking"] += 1
    by_state: dict[AgentState, int] = {}
    for agent in engine.agents.values():
        by_state[agent.state] = by_state.get(agent.state, 0) + 1
    counts = {state.value: n for state, n in by_state.items()}
    unregistered = 0
    for agent_id, phone in phones.all().items():
        holder = engine.agents.get(agent_id)
        if holder is not None and holder.state is not AgentState.LOGGED_OUT and phone.registered is False:
            unregistered += 1
    return {"queues": result, "agents": counts, "unregistered_phones": unregistered}


class QueuesView:
    """``queues_body`` as JSON bytes, rebuilt on change (see the module's docstring).
    Subscribe it to the engine's decisions and to the registrations."""

    def __init__(self, live: _Live, today: LiveFigures, phones: Registrations, refresh: float = REFRESH) -> None:
        self.live, self.today, self.phones, self.refresh = live, today, phones, refresh
        self._body: bytes | None = None
        self._built_at = 0.0
        phones.subscribe(self._phone_changed, replay=False)

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        self._body = None

    def _phone_changed(self, agent_id: str, phone: PhoneRegistration) -> None:
        self._body = None

    def body(self) -> bytes:
        now = self.live.now()
        if self._body is None or not 0 <= now - self._built_at < self.refresh:
            self._body = json.dumps(queues_body(self.live, self.today, self.phones), ensure_ascii=False).encode()
            self._built_at = now
        return self._body
