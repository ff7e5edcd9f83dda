"""Call, agent and ticket records in SQL (SQLite by default, PostgreSQL in production)."""
from acd.records.schema import agent_events, calls, metadata, tickets
from acd.records.ticket import Ticket
from acd.records.writer import CallRecords

__all__ = ["CallRecords", "Ticket", "agent_events", "calls", "metadata", "tickets"]
