"""Writes records from the engine's decisions without ever slowing routing down.

The daemon calls ``CallRecords`` synchronously with each batch of decisions; rows are
only assembled here and a background task writes them in batches. When the database is
down the rows stay queued and the task retries with backoff, so nothing is lost by a
short outage; a warning says how many rows wait.

Tickets are written the same way: a queue's max-wait exit with action ``ticket`` opens
one from the ``ExitCall`` decision (the engine knows nothing of back offices), and an
agent's escalation hands one in through ``open_ticket``.
"""
from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.batch_writer import BatchWriter
from acd.config.back_office import BackOffice, back_office_of
from acd.engine import decisions as d
from acd.records.schema import agent_events, calls, create_or_upgrade, tickets
from acd.records.ticket import Ticket, new_ticket

log = logging.getLogger(__name__)


class CallRecords(BatchWriter):
    name = "call-records"

    def __init__(self, database_url: str, *, batch: int = 500, interval: float = 0.5,
                 back_office: BackOffice | None = None,
                 caller_number: Callable[[str], str | None] | None = None) -> None:
        """``back_office``: the units max-wait tickets go to (follows ``reconfigure``);
        ``caller_number``: the citizen's number of a call id, when the daemon knows it."""
        super().__init__(interval)
        self.back_office = back_office
        self.caller_number = caller_number
        self.database_url = database_url
        self.db: AsyncEngine = create_async_engine(database_url)
        self._open: dict[str, dict[str, Any]] = {}     # calls not finished yet
        self._call_rows: deque[dict[str, Any]] = deque()
        self._agent_rows: deque[dict[str, Any]] = deque()
        self._updates: deque[tuple[str, int]] = deque()
        self._ticket_rows: deque[dict[str, Any]] = deque()
        self._batch = batch

    async def _prepare(self) -> None:
        """Create the tables, or bring an older database's up to date (new nullable
        columns), so an upgraded daemon starts on the file it ran on before. A SQLite
        file's directory is made first, as the queue_log's is: a fresh install's working
        directory has no ``var/``, and records that cannot start are lost."""
        url = self.db.url
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        async with self.db.begin() as conn:
            added = await conn.run_sync(create_or_upgrade)
        if added:
            log.info("records schema upgraded", extra={"added": added})

    async def close(self) -> None:
        await self.stop()
        await self.db.dispose()

    @property
    def backlog(self) -> int:
        return len(self._call_rows) + len(self._agent_rows) + len(self._updates) + len(self._ticket_rows)

    def reconfigure(self, config: Any) -> None:
        """Follow a reloaded config's back office (tickets already opened keep their unit)."""
        self.back_office = back_office_of(config)

    # -- the subscriber ------------------------------------------------------------------
    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        for decision in decisions:
            self._take(decision)
        if self.backlog >= self._batch:
            self._poke()

    def _take(self, decision: d.Decision) -> None:
        if isinstance(decision, d.CallQueued):
            self._open[decision.call_id] = {
                "call_id": decision.call_id, "queue": decision.queue, "enqueued_at": decision.enqueued_at,
                "priority": decision.priority, "requirements": dict(decision.requirements),
                "missed_offers": 0, "original_position": decision.position,
            }
        elif isinstance(decision, d.OfferCall):
            row = self._open.get(decision.call_id)
            if row is not None and decision.callback:
                row["callback"] = decision.callback
        elif isinstance(decision, d.OfferMissed):
            row = self._open.get(decision.call_id)
            if row is not None:
                row["missed_offers"] += 1
        elif isinstance(decision, d.CallConnected):
            row = self._open.get(decision.call_id)
            if row is not None:
                row.update(agent_id=decision.agent_id, answered_at=decision.at, waited=decision.waited)
        elif isinstance(decision, d.CallEnded):
            self._finish(decision.call_id, outcome="answered", ended_at=decision.at, talk_time=decision.talk_time,
                         ended_by=decision.by, waited=decision.waited)
        elif isinstance(decision, d.CallAbandoned):
            self._finish(decision.call_id, outcome="abandoned", ended_at=decision.at, waited=decision.waited,
                         position=decision.position)
        elif isinstance(decision, d.ExitCall):
            self._finish(decision.call_id, outcome="exited", ended_at=decision.at, waited=decision.waited,
                         position=decision.position, exit_action=decision.action.kind)
            if decision.action.kind == "ticket":
                caller = self.caller_number(decision.call_id) if self.caller_number else None
                self.open_ticket(new_ticket(self.back_office, call_id=decision.call_id, queue=decision.queue,
                                            at=decision.at, source="max_wait", caller=caller))
        elif isinstance(decision, d.AgentStatus):
            self._agent_rows.append({"agent_id": decision.agent_id, "at": decision.at, "state": decision.state,
                                     "previous": decision.previous, "reason": decision.reason})

    def _finish(self, call_id: str, **values: Any) -> None:
        row = self._open.pop(call_id, None)
        if row is None:
            log.warning("record for an unknown call", extra={"call_id": call_id})
            return
        row.update(values)
        for column in calls.columns.keys():
            row.setdefault(column, None)
        self._call_rows.append(row)

    def set_satisfaction(self, call_id: str, score: int) -> None:
        """The post-call survey's answer, stored with the call's record."""
        if not 1 <= score <= 5:
            raise ValueError(f"satisfaction is 1 to 5, got {score}")
        self._updates.append((call_id, score))
        self._poke()

    def open_ticket(self, ticket: Ticket) -> None:
        """Queue a ticket's row; like every row, it is kept until the database has it."""
        self._ticket_rows.append(ticket.row())
        log.info("ticket opened", extra={"ticket": ticket.id, "call_id": ticket.call_id, "unit": ticket.unit,
                                         "source": ticket.source})
        self._poke()

    # -- the writer ------------------------------------------------------------------------
    async def _write(self) -> None:
        """Write everything queued so far (rows leave the queue only once committed)."""
        call_rows = list(self._call_rows)
        agent_rows = list(self._agent_rows)
        updates = list(self._updates)
        ticket_rows = list(self._ticket_rows)
        if not (call_rows or agent_rows or updates or ticket_rows):
            return
        async with self.db.begin() as conn:
            if call_rows:
                await conn.execute(calls.insert(), call_rows)
            if agent_rows:
                await conn.execute(agent_events.insert(), agent_rows)
            for call_id, score in updates:
                await conn.execute(update(calls).where(calls.c.call_id == call_id).values(satisfaction=score))
            if ticket_rows:
                await conn.execute(tickets.insert(), ticket_rows)
        for _ in call_rows:
            self._call_rows.popleft()
        for _ in agent_rows:
            self._agent_rows.popleft()
        for _ in updates:
            self._updates.popleft()
        for _ in ticket_rows:
            self._ticket_rows.popleft()
