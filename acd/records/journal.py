"""The call records' local journal: rows not yet in the database survive a restart.

Every row is appended here (one JSON object a line) the moment it is queued, before
the database is asked, and the file is flushed to the operating system at once, so a
killed daemon loses nothing; it is fsync'ed before each database write, so a power cut
loses at most the last half second. When every queued row is written (or
dead-lettered) the file is truncated; under a steady load that never leaves it empty,
it is rewritten with only the rows still queued once it grows past ``COMPACT_BYTES``.
The rows still queued are always the file's last lines, because rows leave the queue
in the order they came.

At start the file is read back and its rows queued again: some may already be in the
database (a crash between a commit and the truncation), which the idempotent writes
(``acd.records.rows``) make harmless. A line that cannot be read (the last one, torn by
a crash mid-write) is handed back to be kept as a dead letter, never silently skipped.

One process writes one journal: the file is locked (``flock``), and a second daemon
pointed at the same directory is refused with a clear error rather than interleave.
"""
from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

#: rewrite the file with only what is still queued once it is this big
COMPACT_BYTES = 8 * 1024 * 1024

Entry = tuple[str, dict[str, Any]]


class JournalInUse(RuntimeError):
    """Another process holds the journal."""


class Journal:
    def __init__(self, path: str | Path) -> None:
        """Open (create) the journal at ``path`` and lock it; ``replayed`` and
        ``unreadable`` hold what an earlier run left."""
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise JournalInUse(f"records journal {self.path} is in use by another process; "
                               "give each daemon its own queue_log directory") from None
        self.replayed, self.unreadable = self._read()
        if self.unreadable:            # a torn last line would glue onto the next entry
            self.rewrite(self.replayed)
        self._unsynced = False

    def _read(self) -> tuple[list[Entry], list[str]]:
        self._file.seek(0)
        entries: list[Entry] = []
        unreadable: list[str] = []
        for line in self._file.read().splitlines():
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                entries.append((str(entry["table"]), dict(entry["row"])))
            except (ValueError, KeyError, TypeError):
                unreadable.append(line)
        return entries, unreadable

    def append(self, entries: Iterable[Entry]) -> None:
        """Add rows just queued; they reach the operating system before this returns."""
        for table, row in entries:
            self._file.write(json.dumps({"table": table, "row": row}, ensure_ascii=False) + "\n")
        self._file.flush()
        self._unsynced = True

    async def sync(self) -> None:
        """Make what was appended durable (before the database write that may fail)."""
        if self._unsynced:
            self._unsynced = False
            await asyncio.to_thread(os.fsync, self._file.fileno())

    def written(self, still_queued: list[Entry]) -> None:
        """Rows left the queue: drop them from the file (all of it when nothing waits)."""
        if not still_queued:
            self._file.truncate(0)
            self._file.flush()
        elif os.fstat(self._file.fileno()).st_size > COMPACT_BYTES:
            self.rewrite(still_queued)

    def rewrite(self, entries: list[Entry]) -> None:
        """Replace the file's content with ``entries``, atomically (a crash leaves the
        old file or the new one)."""
        spare = self.path.with_name(self.path.name + ".new")
        with open(spare, "w", encoding="utf-8") as out:
            for table, row in entries:
                out.write(json.dumps({"table": table, "row": row}, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(spare, self.path)
        old = self._file
        self._file = open(self.path, "a+", encoding="utf-8")
        fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        old.close()

    def close(self) -> None:
        if self._file.closed:
            return
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
