"""A "real day" made by the simulator and written as the daemon's call records, so the
live report and the replay can be checked against a day whose every call is known."""
from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from acd.config.model import Config
from acd.config.sim import SimSettings
from acd.engine import decisions as d
from acd.records.schema import agent_events, calls, metadata, tickets
from acd.reports.real_day import day_bounds
from sim.model import CallCentreDay, DayResult


@dataclass
class LoggedDay:
    result: DayResult
    #: (agent, simulated seconds, state, previous)
    changes: list[tuple[str, float, str, str]] = field(default_factory=list)
    #: call id -> (requirements the IVR added, priority), as the engine queued it
    queued: dict[str, tuple[dict[str, int], int]] = field(default_factory=dict)


class _Logging(CallCentreDay):
    """The simulator, keeping every agent state change as the daemon's records would."""

    changes: list[tuple[str, float, str, str]]
    queued: dict[str, tuple[dict[str, int], int]]

    def _on_queued(self, decision: d.Decision) -> None:
        assert isinstance(decision, d.CallQueued)
        self.queued[decision.call_id] = (dict(decision.requirements), decision.priority)

    def _on_agent_status(self, decision: d.Decision) -> None:
        assert isinstance(decision, d.AgentStatus)
        self.changes.append((decision.agent_id, decision.at, decision.state, decision.previous))
        super()._on_agent_status(decision)


def simulate_day(config: Config, settings: SimSettings, seed: int = 1, **kwargs: Any) -> LoggedDay:
    model = _Logging(config, settings, seed, **kwargs)
    model.changes, model.queued = [], {}
    model._handlers[d.CallQueued] = model._on_queued
    result = model.run()
    return LoggedDay(result, model.changes, model.queued)


def write_records(day: LoggedDay, where: Path | str, date: dt.date, timezone: str) -> str:
    """Write the simulated day as call records of ``date`` (simulated second 0 = local
    midnight) to a SQLite file or a database URL; the URL the daemon would use."""
    url = where if isinstance(where, str) else f"sqlite+aiosqlite:///{where}"
    asyncio.run(_write(day, url, day_bounds(date, timezone)[0]))
    return url


async def _write(day: LoggedDay, url: str, midnight: float) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    call_rows, ticket_rows = [], []
    for call in day.result.attempts:
        if call.outcome not in ("answered", "abandoned", "exited") or call.enqueued is None or call.wait is None:
            continue
        left = midnight + call.enqueued + call.wait
        answered = call.outcome == "answered"
        call_rows.append({
            "call_id": call.id, "queue": call.queue, "enqueued_at": midnight + call.enqueued,
            "priority": day.queued[call.id][1], "requirements": day.queued[call.id][0], "outcome": call.outcome, "agent_id": call.agent,
            "answered_at": left if answered else None, "ended_at": left + (call.talk if answered else 0.0),
            "waited": call.wait, "talk_time": call.talk if answered else None, "ended_by": "agent" if answered else None,
            "missed_offers": 0, "exit_action": call.exit_action, "position": None, "original_position": None,
            "satisfaction": None, "callback": None})
        if call.escalated:
            ticket_rows.append({"id": uuid.uuid4().hex, "call_id": call.id, "created_at": left + call.talk,
                                "queue": call.queue, "source": "agent", "status": "open"})
    event_rows = [{"agent_id": agent, "at": midnight + at, "state": state, "previous": previous,
                   "reason": None, "event_key": uuid.uuid4().hex}
                  for agent, at, state, previous in day.changes]
    async with engine.begin() as conn:
        for table, rows in ((calls, call_rows), (tickets, ticket_rows), (agent_events, event_rows)):
            if rows:
                await conn.execute(insert(table), rows)
    await engine.dispose()
