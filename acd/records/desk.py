"""The back office's ticket desk: list a unit's tickets, read one with its history, move it.

Every read and write goes to the SQL store, never to the daemon's memory: the back
office works a ticket for hours or days, across daemon restarts and from more than one
desk, and the rows it works are the ones reports read. The rules of what may happen to
a ticket are in ``acd.records.ticket`` (``TRANSITIONS``, ``move``); this module only
reads rows, asks ``move`` and writes its answer with one history row, in one
transaction.

Tickets reach the table through the call records' batch writer (about every half
second), so a ticket opened a moment ago is listed once it is written. Two people moving
the same ticket at once: the update is conditional on the status that was read, so the
second one is refused (``changed``) instead of silently overwriting the first.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.records.schema import create_or_upgrade, ticket_events, tickets
from acd.records.ticket import STATUSES, TRANSITIONS, TicketRefused, move

#: most tickets one list answers with (a unit's desk pages by status, not by scrolling)
MAX_LIST = 500


class TicketDesk:
    def __init__(self, db: AsyncEngine, now: Callable[[], float] = time.time) -> None:
        """``db``: the call records' engine (the daemon shares one pool); ``now``: the
        daemon's clock, the one tickets are opened with, so ages and history agree."""
        self.db = db
        self.now = now

    async def prepare(self) -> None:
        """Create or upgrade the tables; the call records do it too, so this is only for
        a desk that runs without them (tests, a separate back-office process)."""
        async with self.db.begin() as conn:
            await conn.run_sync(create_or_upgrade)

    async def tickets(self, *, unit: str | None = None, statuses: Sequence[str] = (),
                      limit: int = 100, units: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Tickets newest first, of ``unit`` (None: every unit) in any of ``statuses``
        (empty: any status); ``units``: only of these units (a back-office person's)."""
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown:
            raise ValueError(f"unknown status {unknown[0]!r}; use one of {', '.join(STATUSES)}")
        if not 1 <= limit <= MAX_LIST:
            raise ValueError(f"limit is 1 to {MAX_LIST}, got {limit}")
        query = select(tickets).order_by(tickets.c.created_at.desc(), tickets.c.id).limit(limit)
        if unit is not None:
            query = query.where(tickets.c.unit == unit)
        if units is not None:
            query = query.where(tickets.c.unit.in_(list(units)))
        if statuses:
            query = query.where(tickets.c.status.in_(list(statuses)))
        async with self.db.connect() as conn:
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]

    async def escalated_as(self, call_id: str) -> str | None:
        """The id of the ticket an agent opened for ``call_id``, if one was (the first,
        should there be more): what a restarted daemon asks before a second escalation
        of a call an earlier daemon connected (``acd.daemon.escalation``)."""
        query = (select(tickets.c.id).where(tickets.c.call_id == call_id, tickets.c.source == "agent")
                 .order_by(tickets.c.created_at, tickets.c.id).limit(1))
        async with self.db.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def ticket(self, ticket_id: str) -> dict[str, Any]:
        """One ticket with its ``history`` (oldest move first); TicketRefused if unknown."""
        async with self.db.connect() as conn:
            row = (await conn.execute(select(tickets).where(tickets.c.id == ticket_id))).first()
            if row is None:
                raise TicketRefused("unknown_ticket", f"no ticket {ticket_id!r}")
            history = (await conn.execute(select(ticket_events).where(ticket_events.c.ticket_id == ticket_id)
                                          .order_by(ticket_events.c.at, ticket_events.c.id))).all()
        found = dict(row._mapping)
        found["history"] = [{k: v for k, v in h._mapping.items() if k != "ticket_id"} for h in history]
        return found

    async def act(self, ticket_id: str, action: str, *, who: str, note: str | None = None) -> dict[str, Any]:
        """Make ``action`` (claim, release, resolve, reopen) on a ticket as ``who``; the
        ticket as it is afterwards, with its history. Raises ValueError for a bad request
        and TicketRefused when the ticket is unknown or its status does not allow it."""
        if action not in TRANSITIONS:
            raise ValueError(f"unknown action {action!r}; use one of {', '.join(TRANSITIONS)}")
        note = note.strip() if note is not None and note.strip() else None
        async with self.db.begin() as conn:
            row = (await conn.execute(select(tickets.c.status).where(tickets.c.id == ticket_id))).first()
            if row is None:
                raise TicketRefused("unknown_ticket", f"no ticket {ticket_id!r}")
            at = self.now()
            changes = move(ticket_id, row.status, action, who=who, note=note, at=at)
            done = await conn.execute(update(tickets)
                                      .where(tickets.c.id == ticket_id, tickets.c.status == row.status)
                                      .values(**changes))
            if done.rowcount != 1:
                raise TicketRefused("changed", f"ticket {ticket_id} was moved by someone else meanwhile; "
                                               "look at it again")
            await conn.execute(ticket_events.insert().values(
                ticket_id=ticket_id, at=at, action=action, from_status=row.status, to_status=changes["status"],
                who=who, note=note))
        return await self.ticket(ticket_id)
