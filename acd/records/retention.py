"""Retention of citizens' personal data: caller numbers and notes are erased from the
records after ``privacy.retention_days`` (GDPR: kept no longer than needed).

What is erased, and when:

* a call record's citizen data (its callback number, and any caller column the calls
  table has) once the call ended more than N days ago;
* a ticket's caller number, agent's note and resolution, and the notes of its history,
  once the ticket has been resolved and left alone for more than N days. An open or
  claimed ticket keeps them: the citizen is still waiting for that call back.

The figures stay (queue, times, outcome, who worked a ticket), so reports over old
months still add up. Erasing means NULL, not a mask: a masked number is still partly a
number. The daemon runs this once a day (``DailyPurge``); ``acd privacy purge --config
FILE`` runs it now. Each run that erased something is kept in the audit log.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.auth.audit import AuditLog
from acd.auth.schema import create_auth_tables
from acd.config.access import privacy_of
from acd.records.schema import calls, create_or_upgrade, ticket_events, tickets

log = logging.getLogger(__name__)

#: columns of the calls table that hold a citizen's data, where the table has them
CALL_PERSONAL = ("callback", "caller", "caller_number", "caller_name", "note")
#: columns of the tickets table that hold a citizen's data (or an agent's words about them)
TICKET_PERSONAL = ("caller", "note", "resolution")
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class Erased:
    """How many rows had personal data erased, per table."""

    calls: int = 0
    tickets: int = 0
    ticket_events: int = 0

    @property
    def total(self) -> int:
        return self.calls + self.tickets + self.ticket_events


async def purge(db: AsyncEngine, retention_days: int, *, now: float, who: str = "daemon",
                via: str = "daemon") -> Erased:
    """Erase the personal data older than ``retention_days`` (see the module's doc);
    what was erased is counted in the audit log as ``privacy.purge`` by ``who``."""
    if retention_days < 1:
        raise ValueError(f"retention_days is at least 1, got {retention_days}")
    cutoff = now - retention_days * DAY
    call_columns = [calls.c[name] for name in CALL_PERSONAL if name in calls.c]
    old_tickets = (select(tickets.c.id).where(tickets.c.status == "resolved",
                                              func.coalesce(tickets.c.updated_at, tickets.c.created_at) < cutoff))
    async with db.begin() as conn:
        await conn.run_sync(create_or_upgrade)
        done_calls = 0
        if call_columns:
            result = await conn.execute(
                update(calls).where(calls.c.ended_at < cutoff, _any_set(call_columns))
                .values({column.name: None for column in call_columns}))
            done_calls = result.rowcount
        ticket_columns = [tickets.c[name] for name in TICKET_PERSONAL]
        done_tickets = (await conn.execute(
            update(tickets).where(tickets.c.id.in_(old_tickets), _any_set(ticket_columns))
            .values({column.name: None for column in ticket_columns}))).rowcount
        done_events = (await conn.execute(
            update(ticket_events).where(ticket_events.c.ticket_id.in_(old_tickets), ticket_events.c.note.is_not(None))
            .values(note=None))).rowcount
    erased = Erased(done_calls, done_tickets, done_events)
    if erased.total:
        async with db.begin() as conn:
            await conn.run_sync(create_auth_tables)
        await AuditLog(db, now=lambda: now).record(who=who, via=via, action="privacy.purge", after=asdict(erased),
                                                   detail=f"personal data older than {retention_days} days erased")
    log.info("personal data erased", extra={"retention_days": retention_days, **asdict(erased)})
    return erased


def _any_set(columns: list[Any]) -> Any:
    return or_(*(column.is_not(None) for column in columns))


class DailyPurge:
    """The daemon's once-a-day purge, following the running config's retention (a reload
    that sets or changes ``privacy.retention_days`` applies from the next run)."""

    name = "privacy-purge"

    def __init__(self, db: AsyncEngine, config: Callable[[], Any], *, now: Callable[[], float] = time.time,
                 every: float = DAY) -> None:
        self.db = db
        self.config = config
        self.now = now
        self.every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def run_once(self) -> Erased | None:
        days = privacy_of(self.config()).retention_days
        if days is None:
            return None
        return await purge(self.db, days, now=self.now())

    async def _run(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:       # a database down today: tomorrow's run erases it all the same
                log.exception("privacy purge failed; the next run will try again")
            await asyncio.sleep(self.every)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
