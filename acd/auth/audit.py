"""The audit log: every change a person or program made, kept in the database and read
by supervisors (``GET /api/audit``).

Entries hold what changed (states, statuses, who claimed), never the citizens' data the
change was about (caller numbers, notes): the log is kept longer than the retention of
that data (``acd.records.retention``), so it must not hold a copy of it.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.auth.schema import audit_log

log = logging.getLogger(__name__)

#: most entries one query answers with
MAX_AUDIT = 1000


class AuditLog:
    def __init__(self, db: AsyncEngine, now: Callable[[], float] = time.time) -> None:
        self.db = db
        self.now = now

    async def record(self, *, who: str, via: str, action: str, target: str | None = None,
                     remote: str | None = None, before: Any = None, after: Any = None,
                     detail: str | None = None) -> None:
        """Keep one entry. A database that does not answer is logged loudly, never raised:
        the change it describes has already been made and answered."""
        row = {"at": self.now(), "who": who, "via": via, "remote": remote, "action": action, "target": target,
               "before": before, "after": after, "detail": detail}
        try:
            async with self.db.begin() as conn:
                await conn.execute(audit_log.insert().values(**row))
        except Exception as error:       # the audit must not turn a done change into an error
            log.error("audit entry not stored: %r", error, extra=row)

    async def entries(self, *, since: float | None = None, who: str | None = None,
                      limit: int = 100) -> list[dict[str, Any]]:
        """Entries newest first, from ``since`` on, made by ``who`` (None: anyone)."""
        if not 1 <= limit <= MAX_AUDIT:
            raise ValueError(f"limit is 1 to {MAX_AUDIT}, got {limit}")
        query = select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc()).limit(limit)
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        if who is not None:
            query = query.where(audit_log.c.who == who)
        async with self.db.connect() as conn:
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]
