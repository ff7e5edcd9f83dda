"""How a queued record row is checked and written: idempotently, and one bad row alone.

Every row is written so that writing it again changes nothing, because it will be
written again: after a commit whose reply was lost (the database has it, the writer
does not know), and when the journal is replayed after a restart. Each table has a
stable key made before the database sees the row:

- ``calls``: the call id. A call that comes back with the same id (a callback made)
  keeps one row, the later leg's values over the earlier's, and a column the later leg
  leaves empty keeps what the earlier one said (the exit that led to the callback, the
  survey answer already stored): ``INSERT ... ON CONFLICT (call_id) DO UPDATE SET
  col = COALESCE(excluded.col, calls.col)``. Applying the same row twice gives the same row.
- ``agent_events``: ``event_key``, a random id given to the event when it is queued;
  a second write of the same event does nothing.
- ``tickets``: the ticket id, made when the ticket is opened; a second write does
  nothing (the back office may already have moved the ticket: its status is the desk's).
- a survey answer is an ``UPDATE`` of its call's row, the same each time.

``check`` says why a row cannot be written before the database is asked (a value longer
than its column: PostgreSQL refuses it, SQLite would silently keep it), so both stores
treat it alike; ``is_the_rows_fault`` tells a row the database refuses (dead-letter that
row, write the others) from a database that is not there (retry everything later).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Table, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

from acd.records.schema import agent_events, calls, tickets

#: the survey's answer to a call: not a table of its own, an update of ``calls``
SATISFACTION = "satisfaction"
#: what a queued row can be, in the order a batch writes them (a survey answer after calls)
KINDS: tuple[str, ...] = ("calls", "tickets", "agent_events", SATISFACTION)
_TABLES: Mapping[str, Table] = {"calls": calls, "tickets": tickets, "agent_events": agent_events}


class RowRefused(Exception):
    """The database took the statement but the row did not apply (a survey answer for a
    call that has no row)."""


def check(kind: str, row: Mapping[str, Any]) -> str | None:
    """Why ``row`` cannot be written to ``kind``, or None when it fits its columns."""
    if kind == SATISFACTION:
        score = row.get("satisfaction")
        if not isinstance(row.get("call_id"), str) or not isinstance(score, int) or not 1 <= score <= 5:
            return f"a survey answer needs a call_id and a score of 1 to 5, got {dict(row)!r}"
        return None
    table = _TABLES.get(kind)
    if table is None:
        return f"no record table {kind!r}"
    unknown = sorted(set(row) - set(table.columns.keys()))
    if unknown:
        return f"{kind} has no column {unknown[0]!r}"
    for column in table.columns:
        value = row.get(column.name)
        where = f"{kind}.{column.name}"
        if value is None:
            made_by_database = column.primary_key and column.autoincrement is True
            if not column.nullable and column.default is None and not made_by_database:
                return f"{where} is empty and the column needs a value"
            continue
        kind_of = column.type
        if isinstance(kind_of, String):
            if not isinstance(value, str):
                return f"{where} should be text, got {value!r}"
            if kind_of.length is not None and len(value) > kind_of.length:
                return f"{where} is {len(value)} characters, the column holds {kind_of.length}: {value!r}"
        elif isinstance(kind_of, Integer) and (isinstance(value, bool) or not isinstance(value, int)):
            return f"{where} should be a whole number, got {value!r}"
        elif isinstance(kind_of, Float) and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"{where} should be a number, got {value!r}"
        elif isinstance(kind_of, JSON) and not isinstance(value, (dict, list)):
            return f"{where} should be a mapping, got {value!r}"
    return None


def is_the_rows_fault(error: BaseException) -> bool:
    """Whether ``error`` says the database refused the row itself (a constraint, a value
    it cannot hold: SQLSTATE classes 23 and 22, or a row that did not apply). Anything
    else (connection refused or lost, a timeout, a server starting up, a deadlock, a
    missing table, an error not known here) is taken as the database not being there:
    nothing is dead-lettered, everything is retried later. A row wrongly retried waits;
    a row wrongly dead-lettered needs a person."""
    if isinstance(error, (RowRefused, IntegrityError, DataError)):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return False
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        return isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23")
    # a value the driver could not even send (SQLAlchemy's bind processing)
    return isinstance(error, StatementError)


async def write(conn: AsyncConnection, kind: str, rows: Sequence[dict[str, Any]]) -> None:
    """Write ``rows`` of one ``kind`` idempotently, in the caller's transaction."""
    if not rows:
        return
    if kind == SATISFACTION:
        for row in rows:
            done = await conn.execute(update(calls).where(calls.c.call_id == row["call_id"])
                                      .values(satisfaction=row["satisfaction"]))
            if done.rowcount != 1:
                raise RowRefused(f"no call record {row['call_id']!r} to store the survey answer with")
        return
    insert = _insert_of(conn.dialect.name)
    if kind == "calls":
        statement = insert(calls)
        statement = statement.on_conflict_do_update(
            index_elements=[calls.c.call_id],
            set_={c.name: func.coalesce(statement.excluded[c.name], c) if c.nullable else statement.excluded[c.name]
                  for c in calls.columns if not c.primary_key})
        key = "call_id"
    elif kind == "agent_events":
        statement = insert(agent_events).on_conflict_do_nothing(index_elements=[agent_events.c.event_key])
        key = "event_key"
    else:
        statement = insert(tickets).on_conflict_do_nothing(index_elements=[tickets.c.id])
        key = "id"
    for part in _each_key_once(rows, key):
        await conn.execute(statement, part)


def _each_key_once(rows: Sequence[dict[str, Any]], key: str) -> list[list[dict[str, Any]]]:
    """``rows`` in order, cut where a key comes again: PostgreSQL refuses one statement
    that upserts the same row twice ("cannot affect row a second time"), and the two
    legs of a call that came back can sit in one batch."""
    parts: list[list[dict[str, Any]]] = [[]]
    seen: set[Any] = set()
    for row in rows:
        if row.get(key) in seen:
            parts.append([])
            seen.clear()
        seen.add(row.get(key))
        parts[-1].append(row)
    return parts


def _insert_of(dialect: str) -> Any:
    """The dialect's ``insert`` that knows ``ON CONFLICT`` (both spell it alike)."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"the call records support SQLite and PostgreSQL, not {dialect}")
