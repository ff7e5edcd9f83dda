"""Where a record row that cannot be written goes: kept with its reason, out of the way.

A row the database refuses (a value longer than its column, a constraint) used to be
retried with the whole batch forever, and every row after it waited behind it until the
daemon stopped and dropped them all. Now that one row leaves the queue for the
``dead_letters`` table (table, row as JSON, reason, when), is logged at error level with
its reason, and the rows after it are written. When the database will not take the dead
letter either, it goes to a JSON-lines file next to the journal; without a journal the
log line, which carries the whole row, is what is left of it.

Nothing here is retried automatically: a dead letter needs a person (fix the config or
the column, then insert the row by hand); see docs/records.md.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from acd.records.schema import dead_letters

log = logging.getLogger(__name__)


class DeadLetters:
    def __init__(self, db: AsyncEngine, file: Path | None, now: Any = time.time) -> None:
        """``file``: the JSON-lines file used when the database refuses the dead letter too."""
        self.db = db
        self.file = file
        self.now = now
        #: dead letters kept since start (table and file), for the log and the tests
        self.count = 0

    async def keep(self, table: str, row: dict[str, Any], reason: str) -> None:
        """Keep ``row`` of ``table`` with ``reason``: in the table, else the file."""
        self.count += 1
        log.error("records: a row of %s sent to the dead letters: %s", table, reason,
                  extra={"table": table, "row": row, "reason": reason})
        record = {"at": self.now(), "table_name": table, "row": json.dumps(row, ensure_ascii=False, default=repr),
                  "reason": reason}
        try:
            async with self.db.begin() as conn:
                await conn.execute(dead_letters.insert(), record)
        except Exception as error:
            log.error("records: the database refused the dead letter too (%r); keeping it in %s", error,
                      self.file or "the log only")
            self.keep_in_file(table, row, reason)

    def keep_in_file(self, table: str, row: dict[str, Any], reason: str) -> None:
        """Append a dead letter to the file (a journal line that cannot be read goes
        here directly: it is not a row the database could take)."""
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        with open(self.file, "a", encoding="utf-8") as out:
            out.write(json.dumps({"at": self.now(), "table": table, "row": row, "reason": reason},
                                 ensure_ascii=False, default=repr) + "\n")
