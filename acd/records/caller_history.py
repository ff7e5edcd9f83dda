"""A caller's history as the agent taking the call sees it: that number's earlier calls
and its tickets the back office has not resolved yet.

The agent answering a citizen who called three times this week about the same pension,
or whose ticket is still open, should know before asking again. Read from the call
records (the same rows reports read), newest first and bounded, so one read costs the
same whatever the number's past. Who may read it, for which caller, is the API's rule
(``acd.api.agent_desk``): only for the caller the agent is talking to, and audited.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.records.schema import calls, tickets

#: most earlier calls and open tickets one read answers with
LIMIT = 10
#: the statuses of a ticket the back office still has to work
UNRESOLVED = ("open", "claimed")
_CALL_COLUMNS = ("call_id", "queue", "enqueued_at", "outcome", "agent_id", "waited", "talk_time", "exit_action")
_TICKET_COLUMNS = ("id", "call_id", "created_at", "queue", "unit", "status", "claimed_by", "source", "note")


async def caller_history(db: AsyncEngine, number: str, *, leave_out: str | None = None,
                         limit: int = LIMIT) -> dict[str, list[dict[str, Any]]]:
    """``calls``: the number's earlier calls (as the caller, or as the number a callback
    went to), newest first, without ``leave_out`` (the call in progress);
    ``tickets``: its unresolved tickets, newest first."""
    call_query = (select(*(calls.c[name] for name in _CALL_COLUMNS))
                  .where(or_(calls.c.caller == number, calls.c.callback == number))
                  .order_by(calls.c.enqueued_at.desc()).limit(limit))
    if leave_out is not None:
        call_query = call_query.where(calls.c.call_id != leave_out)
    ticket_query = (select(*(tickets.c[name] for name in _TICKET_COLUMNS))
                    .where(tickets.c.caller == number, tickets.c.status.in_(UNRESOLVED))
                    .order_by(tickets.c.created_at.desc()).limit(limit))
    async with db.connect() as conn:
        found_calls = [dict(row._mapping) for row in (await conn.execute(call_query)).all()]
        found_tickets = [dict(row._mapping) for row in (await conn.execute(ticket_query)).all()]
    return {"calls": found_calls, "tickets": found_tickets}
