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
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from acd.config.model import Config, QueueConfig
from acd.engine import AgentState, CallState, Engine
from acd.engine import decisions as d
from acd.engine.lines import qualifies
from acd.engine.runtime import Agent
from acd.live_figures import LiveFigures
from acd.metrics import QueueFigures, pooled_figures, pooled_mode
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


def queues_body(live: _Live, today: LiveFigures, phones: Registrations,
                staff: QueueStaff | None = None) -> dict[str, Any]:
    """``GET /api/queues``: per queue waiting, longest wait, talking and today's figures
    (since the local midnight), the agents by state, the logged-in agents whose phone is
    not registered. ``staff``: the per-queue agent counts kept from decisions (None:
    counted afresh, ``agents_by_queue``)."""
    engine = live.engine
    now = live.now()
    result: dict[str, dict[str, Any]] = {
        name: {"title": dict(q.title), "waiting": 0, "longest_wait": 0.0, "talking": 0}
        for name, q in engine.config.queues.items()
    }
    midnight = local_midnight(now, engine.config.daemon.timezone)
    today.forget_before(midnight)
    rows: list[QueueFigures] = []
    for name, queue in engine.config.queues.items():
        target = queue.service
        done = today.figures(target.threshold, name, short_abandon_s=target.short_abandon, since=midnight,
                             mode=target.counts)
        rows.append(done)
        result[name]["today"] = {"offered": done.offered, "answered": done.answered, "abandoned": done.abandoned,
                                 "exited": done.exited, "service_level": done.service_level,
                                 "target": target.target, "threshold": target.threshold, "asa": done.asa,
                                 "abandon_rate": done.abandon_rate, "aht": done.aht,
                                 "service_level_definition": target.definition}
    waiting = CallState.WAITING
    for call in engine.calls.values():
        figures = result.setdefault(call.queue.name, {"waiting": 0, "longest_wait": 0.0, "talking": 0})
        if call.state is waiting:
            figures["waiting"] += 1
            figures["longest_wait"] = max(figures["longest_wait"], now - call.enqueued_at)
        else:
            figures["talking"] += 1
    counts: dict[str, int] = {}
    for agent in engine.agents.values():
        state = agent.state._value_           # the plain value: an enum hashes in Python
        counts[state] = counts.get(state, 0) + 1
    unregistered = 0
    for agent_id, phone in phones.all().items():
        holder = engine.agents.get(agent_id)
        if holder is not None and holder.state is not AgentState.LOGGED_OUT and phone.registered is False:
            unregistered += 1
    # the supervisor's view (acd.api.supervise): each queue's own agents and wait alarms,
    # the line's totals, and the service's clock
    for name, staffed in (staff.counts() if staff is not None else agents_by_queue(engine)).items():
        result[name]["agents"] = staffed
    for name, alarm in wait_alarms(engine.config).items():
        result[name]["wait_alarm"] = alarm
    division = pooled_mode(queue.service.counts for queue in engine.config.queues.values())
    line = line_totals(result.values(), pooled_figures(rows, division))
    line["today"]["service_level_counts"] = division
    clock = {"now": now, "timezone": engine.config.daemon.timezone, "service": engine.config.service_name}
    return {"queues": result, "agents": counts, "unregistered_phones": unregistered, "line": line, "clock": clock}


def wait_alarm(queue: QueueConfig) -> dict[str, float]:
    """When a queue's longest wait turns amber (``warn``) and red (``alarm``), from that
    queue's own service level: amber once a caller has waited past the threshold (that
    call can no longer count within it), red at three times the threshold or at the
    queue's max wait if that comes first (the callers are about to be taken out). The
    violence line (10 s) turns amber at 10 s and red at 30 s; a 20 s queue at 20 and 60."""
    warn = queue.service.threshold
    alarm = 3 * warn if queue.max_wait is None else min(3 * warn, queue.max_wait)
    return {"warn": warn, "alarm": max(alarm, warn)}


_alarms: tuple[object, dict[str, dict[str, float]]] | None = None


def wait_alarms(config: Config) -> dict[str, dict[str, float]]:
    """``wait_alarm`` of every queue, kept per config (they change only with it)."""
    global _alarms
    if _alarms is None or _alarms[0] is not config:
        _alarms = (config, {name: wait_alarm(queue) for name, queue in config.queues.items()})
    return _alarms[1]


_members: tuple[object, dict[str, tuple[str, ...]]] | None = None
_staff: tuple[object, object, dict[str, list[Agent]]] | None = None


def queue_members(config: Config) -> dict[str, tuple[str, ...]]:
    """The agents who count for each queue: those whose skills meet the queue's own
    ``requires`` at the levels written (before any widening, and without the IVR's
    language or caller-type needs), the same test the engine routes by
    (``acd.engine.lines.qualifies``). An agent may count for several queues. Kept per
    config: a reload builds it again."""
    global _members
    if _members is None or _members[0] is not config:
        _members = (config, {name: tuple(a.id for a in config.agents.values() if qualifies(a.skills, q.requirements))
                             for name, q in config.queues.items()})
    return _members[1]


def agents_by_queue(engine: Engine) -> dict[str, dict[str, int]]:
    """Per queue, its agents (``queue_members``) logged in and by state. The members'
    engine objects are kept per config, so a rebuild is one pass over them (575 places
    on the 1555 line: 185 agents in 7 queues), with no lookups and no enum hashing."""
    global _staff
    if _staff is None or _staff[0] is not engine.config or _staff[1] is not engine.agents:
        agents = engine.agents
        _staff = (engine.config, agents, {name: [agents[a] for a in members if a in agents]
                                          for name, members in queue_members(engine.config).items()})
    found: dict[str, dict[str, int]] = {}
    for name, members in _staff[2].items():
        counts = dict.fromkeys(_STATE_NAMES, 0)
        for agent in members:
            # the member's plain value: Enum.value is a descriptor and an enum hashes in Python
            counts[agent.state._value_] += 1
        out = counts.pop(AgentState.LOGGED_OUT.value)
        counts["logged_in"] = len(members) - out
        found[name] = counts
    return found


_STATE_NAMES = tuple(s.value for s in AgentState)


class QueueStaff:
    """``agents_by_queue`` kept one state change at a time: subscribed to the engine's
    decisions, each ``AgentStatus`` moves the agent's count from its previous state to the
    new one in every queue it counts for, so a rebuild of the body after each decision
    costs a few dicts per queue, not a pass over every agent's places (2,849 for the
    bench's 1,000 agents in 36 queues). A new config (a reload) is counted afresh."""

    def __init__(self, live: _Live) -> None:
        self.live = live
        self._recount()

    def _recount(self) -> None:
        engine = self.live.engine
        self._config = engine.config
        self._queues_of: dict[str, list[str]] = {}
        for name, members in queue_members(engine.config).items():
            for agent_id in members:
                self._queues_of.setdefault(agent_id, []).append(name)
        self._counts = {name: dict.fromkeys(_STATE_NAMES, 0) for name in engine.config.queues}
        for agent_id, names in self._queues_of.items():
            agent = engine.agents.get(agent_id)
            if agent is not None:
                for name in names:
                    self._counts[name][agent.state._value_] += 1

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        for decision in decisions:
            if type(decision) is d.AgentStatus and decision.state != decision.previous:
                for name in self._queues_of.get(decision.agent_id, ()):
                    counts = self._counts[name]
                    counts[decision.previous] -= 1
                    counts[decision.state] += 1

    def counts(self) -> dict[str, dict[str, int]]:
        if self.live.engine.config is not self._config:
            self._recount()
        found: dict[str, dict[str, int]] = {}
        for name, counts in self._counts.items():
            shown = dict(counts)
            del shown[_LOGGED_OUT]
            shown["logged_in"] = sum(shown.values())
            found[name] = shown
        return found


_LOGGED_OUT = AgentState.LOGGED_OUT.value


def line_totals(queues: Iterable[dict[str, Any]], today: QueueFigures) -> dict[str, Any]:
    """The whole line: callers waiting and talking now, the longest wait of any queue, and
    today's figures pooled over the queues (``acd.metrics.pooled_figures``)."""
    shown = list(queues)
    return {"waiting": sum(q["waiting"] for q in shown), "talking": sum(q["talking"] for q in shown),
            "longest_wait": max((q["longest_wait"] for q in shown), default=0.0),
            "today": {"offered": today.offered, "answered": today.answered, "abandoned": today.abandoned,
                      "exited": today.exited, "service_level": today.service_level, "asa": today.asa,
                      "abandon_rate": today.abandon_rate, "aht": today.aht}}


class QueuesView:
    """``queues_body`` as JSON bytes, rebuilt on change (see the module's docstring).
    Subscribe it to the engine's decisions and to the registrations."""

    def __init__(self, live: _Live, today: LiveFigures, phones: Registrations, refresh: float = REFRESH) -> None:
        self.live, self.today, self.phones, self.refresh = live, today, phones, refresh
        self.staff = QueueStaff(live)
        self._body: bytes | None = None
        self._built_at = 0.0
        phones.subscribe(self._phone_changed, replay=False)

    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        self.staff(decisions)
        self._body = None

    def _phone_changed(self, agent_id: str, phone: PhoneRegistration) -> None:
        self._body = None

    def body(self) -> bytes:
        now = self.live.now()
        if self._body is None or not 0 <= now - self._built_at < self.refresh:
            self._body = json.dumps(queues_body(self.live, self.today, self.phones, self.staff),
                                    ensure_ascii=False).encode()
            self._built_at = now
        return self._body
