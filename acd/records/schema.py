"""The record tables: one row per call when it ends, one row per agent state change.

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
