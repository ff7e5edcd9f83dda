"""A real day as reports and the simulator's replay need it: the calls offered that day
and every agent's state changes, read from the call records (``acd.records``) or from a
queue_log (``acd.reports.queue_log_file``), with the day's intervals on the service's
local clock.

"The day" is local midnight to local midnight in ``daemon.timezone``: a call belongs to
the day, and to the interval, in which it entered the queue (``acd.metrics``' rule), so
a call that ran past midnight is yesterday's. Intervals are wall-clock times ("08:30"),
the labels of the forecast they are compared with; on the day clocks go forward the
missing hour's intervals are empty, on the day they go back the repeated hour falls in
the interval whose wall-clock label it carries first.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import time
from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from acd.metrics import AgentTime, time_kind

#: the call outcomes the records hold (``calls.outcome``)
OUTCOMES = ("answered", "abandoned", "exited")


class ReportError(Exception):
    """The report cannot be made: the reason, for the person who asked."""


@dataclass(frozen=True, slots=True)
class RealCall:
    """One call that entered a queue: what the records (or a queue_log) kept of it."""

    call_id: str
    queue: str
    enqueued_at: float
    #: answered | abandoned | exited
    outcome: str
    answered_at: float | None
    ended_at: float
    #: seconds talking (answered calls), None when not known
    talk_time: float | None = None
    agent_id: str | None = None
    requirements: Mapping[str, int] = field(default_factory=dict)
    #: the priority the engine gave it; None when not known (a queue_log): the queue's own
    priority: int | None = None
    #: a back-office ticket was opened for it
    escalated: bool = False
    #: seconds the agent's phone rang before the answer, when known (queue_log's CONNECT)
    ring_time: float | None = None


@dataclass(frozen=True, slots=True)
class AgentChange:
    """An agent entered ``state`` (an ``acd.engine.AgentState`` value) at ``at``."""

    agent_id: str
    at: float
    state: str


@dataclass(slots=True)
class RealDay:
    day: dt.date
    timezone: str
    #: the calls offered that day, by enqueue time
    calls: list[RealCall]
    #: state changes of the day by time; an agent's state at midnight comes first, at the
    #: day's start (so its time is counted from midnight)
    changes: list[AgentChange]
    #: where it was read from, for messages (no password)
    source: str = ""
    #: when what is known of the day ends: the moment it was read, for today (an agent
    #: logged in now is not staffed for the rest of the day yet); None: the day's end
    until: float | None = None

    @property
    def start(self) -> float:
        return day_bounds(self.day, self.timezone)[0]

    @property
    def end(self) -> float:
        return day_bounds(self.day, self.timezone)[1]


def zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ReportError(f"unknown time zone {timezone!r} (daemon.timezone)") from error


def _local(day: dt.date, minute: int, timezone: str) -> float:
    return dt.datetime(day.year, day.month, day.day, tzinfo=zone(timezone)).replace(
        hour=minute // 60, minute=minute % 60).timestamp()


def day_bounds(day: dt.date, timezone: str) -> tuple[float, float]:
    """The epoch seconds of the day's local midnight and of the next one."""
    return _local(day, 0, timezone), _local(day + dt.timedelta(days=1), 0, timezone)


def boundaries(day: dt.date, timezone: str, minutes: int) -> list[float]:
    """Epoch seconds where each ``minutes``-long interval of the local day starts, and
    the day's end last; never decreasing (a wall-clock time the clocks skip maps past
    the next one, so it is held back: that interval is empty)."""
    if minutes < 1 or 1440 % minutes:
        raise ReportError(f"--interval must divide the day into whole intervals (a divisor of 1440), got {minutes}")
    edges = [_local(day, m, timezone) for m in range(0, 1440, minutes)] + [day_bounds(day, timezone)[1]]
    for i in range(len(edges) - 2, -1, -1):
        edges[i] = min(edges[i], edges[i + 1])
    return edges


def labels(minutes: int) -> list[str]:
    """The intervals' wall-clock labels, "HH:MM", as ``acd-sim run`` writes them."""
    return [f"{m // 60:02d}:{m % 60:02d}" for m in range(0, 1440, minutes)]


def interval_of(at: float, edges: Sequence[float]) -> int:
    """The index of the interval holding ``at`` (within the day)."""
    return min(max(bisect_right(edges, at) - 1, 0), len(edges) - 2)


def agent_times(changes: Iterable[AgentChange], edges: Sequence[float],
                until: float | None = None) -> list[list[AgentTime]]:
    """Each interval's agents' staffed and busy seconds (``acd.metrics.time_kind``),
    from the state changes: a state lasts until the agent's next change, or the day's
    end, or ``until`` (the day so far)."""
    count = len(edges) - 1
    staffed: list[dict[str, float]] = [{} for _ in range(count)]
    busy: list[dict[str, float]] = [{} for _ in range(count)]
    by_agent: dict[str, list[AgentChange]] = {}
    for change in changes:
        by_agent.setdefault(change.agent_id, []).append(change)
    end = edges[-1] if until is None else max(min(edges[-1], until), edges[0])
    for agent, own in by_agent.items():
        own.sort(key=lambda c: c.at)
        for change, following in zip(own, [*own[1:], None]):
            kind = time_kind(change.state)
            if kind == 0:
                continue
            span_start = max(change.at, edges[0])
            span_end = min(following.at if following is not None else end, end)
            i = interval_of(span_start, edges)
            while i < count and edges[i] < span_end:
                overlap = min(span_end, edges[i + 1]) - max(span_start, edges[i])
                if overlap > 0:
                    staffed[i][agent] = staffed[i].get(agent, 0.0) + overlap
                    if kind == 2:
                        busy[i][agent] = busy[i].get(agent, 0.0) + overlap
                i += 1
    return [[AgentTime(agent, seconds, min(busy[i].get(agent, 0.0), seconds)) for agent, seconds in sorted(s.items())]
            for i, s in enumerate(staffed)]


def from_records(url: str, day: dt.date, timezone: str, *,
                 progress: Callable[[str], None] = lambda _: None) -> RealDay:
    """The day as the call records hold it (SQLite or PostgreSQL, the daemon's
    ``database_url``); ``ReportError`` when the database cannot be read."""
    return asyncio.run(_read(url, day, timezone, progress))


def shown_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:       # not a URL at all: say so as given
        return url


def so_far(day: dt.date, timezone: str) -> float | None:
    """Now, when ``day`` is not over yet (None when it is)."""
    now = time.time()
    return now if now < day_bounds(day, timezone)[1] else None


async def _read(url: str, day: dt.date, timezone: str, progress: Callable[[str], None]) -> RealDay:
    from sqlalchemy import func, select
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from acd.records.schema import agent_events, calls, tickets
    from acd.records.writer import records_engine

    start, end = day_bounds(day, timezone)
    where = shown_url(url)
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and not Path(parsed.database).exists():
            raise ReportError(f"no records database at {parsed.database} (daemon.database_url {where})")
        engine = records_engine(url)
    except ReportError:
        raise
    except Exception as error:
        raise ReportError(f"cannot use the records database {where}: {error}") from error
    try:
        async with engine.connect() as conn:
            progress(f"reading the calls of {day.isoformat()} from {where}")
            rows = (await conn.execute(
                select(calls).where(calls.c.enqueued_at >= start, calls.c.enqueued_at < end)
                .order_by(calls.c.enqueued_at))).mappings().all()
            escalated = set((await conn.execute(
                select(tickets.c.call_id).where(tickets.c.created_at >= start))).scalars())
            progress(f"{len(rows)} calls; reading the agents' states")
            last = (select(agent_events.c.agent_id, func.max(agent_events.c.at).label("at"))
                    .where(agent_events.c.at < start).group_by(agent_events.c.agent_id).subquery())
            before = (await conn.execute(
                select(agent_events.c.agent_id, agent_events.c.state)
                .join(last, (agent_events.c.agent_id == last.c.agent_id) & (agent_events.c.at == last.c.at))
            )).all()
            events = (await conn.execute(
                select(agent_events.c.agent_id, agent_events.c.at, agent_events.c.state)
                .where(agent_events.c.at >= start, agent_events.c.at < end)
                .order_by(agent_events.c.at, agent_events.c.id))).all()
    except (SQLAlchemyError, OSError) as error:
        raise ReportError(f"cannot read the records database {where}: {error}") from error
    finally:
        await engine.dispose()
    progress(f"{len(events)} agent state changes")
    return RealDay(
        day, timezone,
        [_call(row, escalated) for row in rows],
        [AgentChange(agent, start, state) for agent, state in sorted(before)]
        + [AgentChange(agent, at, state) for agent, at, state in events],
        where, so_far(day, timezone))


def _call(row: Mapping[Any, Any], escalated: set[str]) -> RealCall:
    def number(name: str) -> float | None:
        value = row[name]
        return None if value is None else float(value)

    requirements = row["requirements"]
    return RealCall(
        call_id=str(row["call_id"]), queue=str(row["queue"]), enqueued_at=float(row["enqueued_at"]),
        outcome=str(row["outcome"]), answered_at=number("answered_at"),
        ended_at=float(row["ended_at"]), talk_time=number("talk_time"),
        agent_id=None if row["agent_id"] is None else str(row["agent_id"]),
        requirements=dict(requirements) if isinstance(requirements, dict) else {},
        priority=None if row["priority"] is None else int(row["priority"]),
        escalated=str(row["call_id"]) in escalated)
