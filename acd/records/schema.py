"""The record tables: one row per call when it ends, one row per agent state change,
one row per back-office ticket and one per thing the back office did with it.

SQLAlchemy Core, not the ORM: rows are written in batches from decisions and read by
reports; there are no objects with behaviour to map.

The tables here are the models; the database gets them through the Alembic migrations
in ``acd/migrations/versions`` (``acd.migrate``), one per release that changed them. A
change here needs a new migration: tests/test_migrations.py fails until the migrated
schema matches these tables on SQLite and PostgreSQL.
"""
from __future__ import annotations

from sqlalchemy import JSON, Column, Connection, Float, ForeignKey, Integer, MetaData, String, Table, Text

from acd.config.limits import AGENT_ID, OWNER_ID, PAUSE_REASON, QUEUE_NAME, UNIT_NAME
from acd.migrate import SchemaMismatch, upgrade  # noqa: F401  (SchemaMismatch: callers catch it here)

metadata = MetaData()

calls = Table(
    "calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("queue", String(QUEUE_NAME), nullable=False, index=True),
    Column("enqueued_at", Float, nullable=False, index=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("requirements", JSON, nullable=False),
    #: answered | abandoned | exited
    Column("outcome", String(16), nullable=False),
    Column("agent_id", String(AGENT_ID), index=True),
    Column("answered_at", Float),
    Column("ended_at", Float, nullable=False),
    Column("waited", Float, nullable=False),
    Column("talk_time", Float),
    #: who hung up a connected call: caller | agent
    Column("ended_by", String(8)),
    Column("missed_offers", Integer, nullable=False, default=0),
    Column("exit_action", String(32)),
    Column("position", Integer),
    Column("original_position", Integer),
    #: the caller's post-call answer (1 to 5), written later by the survey
    Column("satisfaction", Integer),
    Column("callback", Text),
    #: the citizen's number (AMI's CallerIDNum of the inbound channel), when the daemon
    #: knew it: an agent's panel lists that number's earlier calls; erased with the
    #: other personal data after ``privacy.retention_days`` (acd.records.retention)
    Column("caller", String(64), index=True),
)

agent_events = Table(
    "agent_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", String(AGENT_ID), nullable=False, index=True),
    Column("at", Float, nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("previous", String(16), nullable=False),
    Column("reason", String(PAUSE_REASON)),
    #: made with the event (not by the database), so writing it again (a retry after a
    #: lost commit, a journal replayed) finds it there instead of adding it twice;
    #: None in rows written before it existed
    Column("event_key", String(32), index=True, unique=True),
)

tickets = Table(
    "tickets",
    metadata,
    #: made when the ticket is opened (not by the database), so the agent is told its
    #: reference at once even while the database is down and the row waits to be written
    Column("id", String(32), primary_key=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("queue", String(QUEUE_NAME), nullable=False),
    #: the back-office unit, and its owners as they were when the ticket was opened;
    #: None when the config has no back_office section
    Column("unit", String(UNIT_NAME), index=True),
    Column("primary_owner", String(OWNER_ID)),
    Column("alternate_owner", String(OWNER_ID)),
    #: agent (escalated by the agent who took the call) | max_wait (the queue's exit)
    Column("source", String(16), nullable=False),
    Column("agent_id", String(AGENT_ID), index=True),
    #: indexed for the agent's panel: the open tickets of the number on the line
    Column("caller", String(64), index=True),
    Column("note", Text),
    #: open | claimed | resolved (acd.records.ticket.TRANSITIONS); open when made here
    Column("status", String(16), nullable=False, default="open"),
    # added with the ticket desk; nullable, so create_or_upgrade adds them to older tables
    #: who claimed it, while it is claimed
    Column("claimed_by", String(OWNER_ID)),
    #: what was done, while it is resolved
    Column("resolution", Text),
    #: the last move (None: never moved since it was opened)
    Column("updated_at", Float),
)

#: every move the back office made with a ticket (the opening is the ticket's own row):
#: who, when, what, from which status to which, and the note they left
ticket_events = Table(
    "ticket_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ticket_id", String(32), ForeignKey("tickets.id"), nullable=False, index=True),
    Column("at", Float, nullable=False),
    Column("action", String(16), nullable=False),
    Column("from_status", String(16), nullable=False),
    Column("to_status", String(16), nullable=False),
    Column("who", String(OWNER_ID), nullable=False),
    Column("note", Text),
)


#: a row the database would not take (too long for its column, refused by a constraint):
#: kept here with the reason instead of blocking the rows after it (acd.records.dead_letters)
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("table_name", String(64), nullable=False),
    #: the row as JSON, as it was queued
    Column("row", Text, nullable=False),
    Column("reason", Text, nullable=False),
)


#: callbacks promised to citizens (acd.daemon.callback_book): written before the caller
#: hears the confirmation, read back at every start, so no restart forgets one
callbacks = Table(
    "callbacks",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("queue", String(QUEUE_NAME), nullable=False),
    Column("number", String(32), nullable=False),
    Column("requirements", JSON, nullable=False),
    Column("priority", Integer),
    Column("language", String(16)),
    Column("caller_type", String(16)),
    #: the place in line (the caller's original enqueue time)
    Column("enqueued_at", Float, nullable=False),
    Column("requested_at", Float, nullable=False),
    #: the window's end: ``routing.callback_window`` after the queue is next open
    Column("expires_at", Float, nullable=False),
    #: pending | answered | failed | expired
    Column("status", String(16), nullable=False, index=True),
    #: tries made (the citizen's phone rung)
    Column("attempts", Integer, nullable=False, default=0),
    #: a pending callback is not offered before this (the delay after an unanswered try)
    Column("next_try_at", Float),
    Column("updated_at", Float, nullable=False),
)


def create_or_upgrade(connection: Connection) -> list[str]:
    """Bring the database to this code's schema (``acd.migrate``, Alembic); the
    revisions applied. Run inside a transaction (``conn.run_sync``) at start-up."""
    return upgrade(connection)
