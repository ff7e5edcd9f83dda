"""Call and agent records in SQL (SQLite by default, PostgreSQL in production)."""
from acd.records.schema import agent_events, calls, metadata
from acd.records.writer import CallRecords

__all__ = ["CallRecords", "agent_events", "calls", "metadata"]
