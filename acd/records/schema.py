"""The record tables: one row per call when it ends, one row per agent state change,
one row per back-office ticket.

SQLAlchemy Core, not the ORM: rows are written in batches from decisions and read by
reports; there are no objects with behaviour to map.
"""
from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

calls = Table(
    "calls",
    metadata,
    Column("call_id", String(64), primary_key=True),
    Column("queue", String(64), nullable=False, index=True),
    Column("enqueued_at", Float, nullable=False, index=True),
    Column("priority", Integer, nullable=False, default=0),
    Column("requirements", JSON, nullable=False),
    #: answered | abandoned | exited
    Column("outcome", String(16), nullable=False),
    Column("agent_id", String(16), index=True),
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
)

agent_events = Table(
    "agent_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("agent_id", String(16), nullable=False, index=True),
    Column("at", Float, nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("previous", String(16), nullable=False),
    Column("reason", String(32)),
)

tickets = Table(
    "tickets",
    metadata,
    #: made when the ticket is opened (not by the database), so the agent is told its
    #: reference at once even while the database is down and the row waits to be written
    Column("id", String(32), primary_key=True),
    Column("call_id", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("queue", String(64), nullable=False),
    #: the back-office unit, and its owners as they were when the ticket was opened;
    #: None when the config has no back_office section
    Column("unit", String(64), index=True),
    Column("primary_owner", String(128)),
    Column("alternate_owner", String(128)),
    #: agent (escalated by the agent who took the call) | max_wait (the queue's exit)
    Column("source", String(16), nullable=False),
    Column("agent_id", String(16), index=True),
    Column("caller", String(64)),
    Column("note", Text),
    #: open when made here; the back office's own tools move it on
    Column("status", String(16), nullable=False, default="open"),
)
