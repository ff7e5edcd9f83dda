"""Call, agent and ticket records in SQL (SQLite by default, PostgreSQL in production)."""
from acd.records.desk import TicketDesk
from acd.records.schema import (agent_events, calls, create_or_upgrade, dead_letters, metadata, ticket_events,
                                tickets)
from acd.records.ticket import Ticket, TicketRefused
from acd.records.writer import CallRecords

__all__ = ["CallRecords", "Ticket", "TicketDesk", "TicketRefused", "agent_events", "calls", "create_or_upgrade",
           "dead_letters", "metadata", "ticket_events", "tickets"]
