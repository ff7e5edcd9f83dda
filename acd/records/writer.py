"""Writes records from the engine's decisions without ever slowing routing down.

The daemon calls ``CallRecords`` synchronously with each batch of decisions; rows are
only assembled here (and appended to the local journal) and a background task writes
them in batches. Records never jam and are never dropped:

- the database is retried with backoff from start-up on (creating the tables
  included): ``start`` does not wait for it, rows wait in the queue and the journal;
- every write is idempotent (``acd.records.rows``), so a retry after a lost commit or a
  journal replayed after a restart writes nothing twice;
- a batch the database refuses is retried one row at a time, and a row that cannot be
  written goes to the dead letters with its reason (``acd.records.refused``)
  while the others are written;
- with a ``journal`` (the daemon puts it next to the queue_log) what is not written
  yet survives a restart (``acd.records.journal``).

Tickets are written the same way: a queue's max-wait exit with action ``ticket`` opens
one from the ``ExitCall`` decision (the engine knows nothing of back offices), and an
agent's escalation hands one in through ``open_ticket``. docs/records.md has the design.
"""
from __future__ import annotations

import logging
import uuid
from collections import deque
from itertools import islice
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.batch_writer import BatchWriter
from acd.config.back_office import BackOffice, back_office_of
from acd.engine import decisions as d
from acd.records import rows
from acd.records.refused import DeadLetters
from acd.records.journal import Entry, Journal, JournalInUse
from acd.records.schema import calls, create_or_upgrade
from acd.records.ticket import Ticket, new_ticket

log = logging.getLogger(__name__)

#: how long PostgreSQL may take to accept a connection, and to answer a statement, before
#: the try counts as failed (a blackholed server must not hold the writer forever)
CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 30.0
#: most seconds a stop waits for the last write when there is a journal to keep the rest
STOP_TIMEOUT = 10.0
#: longest caller number the calls table keeps (its column's length)
CALLER_LENGTH: int = getattr(calls.c.caller.type, "length", None) or 64


def records_engine(database_url: str) -> AsyncEngine:
    """The records' connection pool: connections checked before use (the database may
    have restarted since), and bounded waits on PostgreSQL."""
    connect_args: dict[str, Any] = {}
    if make_url(database_url).drivername == "postgresql+asyncpg":
        connect_args = {"timeout": CONNECT_TIMEOUT, "command_timeout": STATEMENT_TIMEOUT}
    return create_async_engine(database_url, pool_pre_ping=True, connect_args=connect_args)


class CallRecords(BatchWriter):
    name = "call-records"
    prepare_later = True

    def __init__(self, database_url: str, *, batch: int = 500, interval: float = 0.5,
                 back_office: BackOffice | None = None,
                 caller_number: Callable[[str], str | None] | None = None,
                 journal: str | Path | None = None) -> None:
        """``back_office``: the units max-wait tickets go to (follows ``reconfigure``);
        ``caller_number``: the citizen's number of a call id, when the daemon knows it;
        ``journal``: the file rows wait in until written (None: in memory only, lost
        by a restart); its earlier run's rows are queued again at once, and dead
        letters the database refuses go to ``records-dead-letters.jsonl`` beside it."""
        super().__init__(interval)
        self.back_office = back_office
        self.caller_number = caller_number
        self.database_url = database_url
        self.db: AsyncEngine = records_engine(database_url)
        self._open: dict[str, dict[str, Any]] = {}     # calls not finished yet
        #: rows to write, in the order they came: (table or "satisfaction", row)
        self._pending: deque[Entry] = deque()
        self._batch = batch
        self.journal = self._open_journal(journal)
        self.dead_letters = DeadLetters(self.db, Path(journal).with_name("records-dead-letters.jsonl")
                                        if journal is not None else None)
        if self.journal is not None:
            self.stop_timeout = STOP_TIMEOUT        # what the last write leaves waits in the journal
            self._replay(self.journal)

    @staticmethod
    def _open_journal(path: str | Path | None) -> Journal | None:
        """The journal at ``path``; held by another daemon, records still run, in memory
        only (an error says so), rather than not at all."""
        if path is None:
            return None
        try:
            return Journal(path)
        except JournalInUse as error:
            log.error("records: %s; running without a journal (rows not written are lost at a restart)", error)
            return None

    def _replay(self, journal: Journal) -> None:
        self._pending.extend(journal.replayed)
        if journal.replayed:
            log.info("records: %d rows from the journal queued again", len(journal.replayed),
                     extra={"journal": str(journal.path)})
        for line in journal.unreadable:
            log.error("records: a journal line cannot be read; kept as a dead letter",
                      extra={"journal": str(journal.path), "line": line})
            self.dead_letters.keep_in_file("journal", {"line": line}, "the journal line cannot be read (torn by a crash?)")

    async def _prepare(self) -> None:
        """Create the tables, or bring an older database's up to date (new nullable
        columns), so an upgraded daemon starts on the file it ran on before. A SQLite
        file's directory is made first, as the queue_log's is: a fresh install's working
        directory has no ``var/``, and records that cannot start are lost."""
        url = self.db.url
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        async with self.db.begin() as conn:
            added = await conn.run_sync(create_or_upgrade)
        if added:
            log.info("records schema upgraded", extra={"added": added})

    async def close(self) -> None:
        await self.stop()
        await self.db.dispose()
        if self._pending:
            if self.journal is not None:
                log.warning("records: %d rows not written yet; they wait in the journal for the next start",
                            len(self._pending), extra={"journal": str(self.journal.path)})
            else:
                log.error("records: %d rows not written and no journal: they are lost", len(self._pending))
        if self.journal is not None:
            self.journal.close()

    @property
    def backlog(self) -> int:
        return len(self._pending)

    def reconfigure(self, config: Any) -> None:
        """Follow a reloaded config's back office (tickets already opened keep their unit)."""
        self.back_office = back_office_of(config)

    def _queue(self, entries: Sequence[Entry]) -> None:
        """Rows enter the journal (when there is one) as they enter the queue."""
        if not entries:
            return
        self._pending.extend(entries)
        if self.journal is not None:
            self.journal.append(entries)

    # -- the subscriber ------------------------------------------------------------------
    def __call__(self, decisions: Sequence[d.Decision]) -> None:
        for decision in decisions:
            self._take(decision)
        if self.backlog >= self._batch:
            self._poke()

    def _take(self, decision: d.Decision) -> None:
        if isinstance(decision, d.CallQueued):
            self._open[decision.call_id] = {
                "call_id": decision.call_id, "queue": decision.queue, "enqueued_at": decision.enqueued_at,
                "priority": decision.priority, "requirements": dict(decision.requirements),
                "missed_offers": 0, "original_position": decision.position,
            }
        elif isinstance(decision, d.OfferCall):
            row = self._open.get(decision.call_id)
            if row is not None and decision.callback:
                row["callback"] = decision.callback
        elif isinstance(decision, d.OfferMissed):
            row = self._open.get(decision.call_id)
            if row is not None:
                row["missed_offers"] += 1
        elif isinstance(decision, d.CallConnected):
            row = self._open.get(decision.call_id)
            if row is not None:
                row.update(agent_id=decision.agent_id, answered_at=decision.at, waited=decision.waited)
        elif isinstance(decision, d.CallEnded):
            self._finish(decision.call_id, outcome="answered", ended_at=decision.at, talk_time=decision.talk_time,
                         ended_by=decision.by, waited=decision.waited)
        elif isinstance(decision, d.CallAbandoned):
            self._finish(decision.call_id, outcome="abandoned", ended_at=decision.at, waited=decision.waited,
                         position=decision.position)
        elif isinstance(decision, d.ExitCall):
            self._finish(decision.call_id, outcome="exited", ended_at=decision.at, waited=decision.waited,
                         position=decision.position, exit_action=decision.action.kind)
            if decision.action.kind == "ticket":
                caller = self.caller_number(decision.call_id) if self.caller_number else None
                self.open_ticket(new_ticket(self.back_office, call_id=decision.call_id, queue=decision.queue,
                                            at=decision.at, source="max_wait", caller=caller))
        elif isinstance(decision, d.CallbackCancelled) and decision.made_before:
            self._open.pop(decision.call_id, None)      # the earlier daemon's records have it
        elif isinstance(decision, d.CallbackCancelled):
            # the promise ran out (its window, or its tries): the call's row says so
            self._finish(decision.call_id, outcome="exited", ended_at=decision.at, waited=decision.waited,
                         exit_action=f"callback_{decision.reason}")
        elif isinstance(decision, d.AgentStatus):
            self._queue([("agent_events", {
                "agent_id": decision.agent_id, "at": decision.at, "state": decision.state,
                "previous": decision.previous, "reason": decision.reason, "event_key": uuid.uuid4().hex})])

    def _finish(self, call_id: str, **values: Any) -> None:
        row = self._open.pop(call_id, None)
        if row is None:
            log.warning("record for an unknown call", extra={"call_id": call_id})
            return
        row.update(values)
        if row.get("caller") is None and self.caller_number is not None:
            number = self.caller_number(call_id)
            # a number longer than its column would send the whole row to the dead letters
            row["caller"] = number if number and len(number) <= CALLER_LENGTH else None
        for column in calls.columns.keys():
            row.setdefault(column, None)
        self._queue([("calls", row)])

    def set_satisfaction(self, call_id: str, score: int) -> None:
        """The post-call survey's answer, stored with the call's record."""
        if not 1 <= score <= 5:
            raise ValueError(f"satisfaction is 1 to 5, got {score}")
        self._queue([(rows.SATISFACTION, {"call_id": call_id, "satisfaction": score})])
        self._poke()

    def open_ticket(self, ticket: Ticket) -> None:
        """Queue a ticket's row; like every row, it is kept until the database has it."""
        self._queue([("tickets", ticket.row())])
        log.info("ticket opened", extra={"ticket": ticket.id, "call_id": ticket.call_id, "unit": ticket.unit,
                                         "source": ticket.source})
        self._poke()

    # -- the writer ------------------------------------------------------------------------
    async def _write(self) -> None:
        """Write what is queued, ``batch`` rows a transaction (a long outage's backlog is
        not one huge transaction). Rows leave the queue only once committed or
        dead-lettered; an outage leaves the rest queued (raised, so the background task
        backs off)."""
        if self.journal is not None:
            await self.journal.sync()
        left = len(self._pending)
        while left > 0:
            batch = list(islice(self._pending, min(self._batch, left)))
            left -= len(batch)
            await self._write_batch(batch)

    async def _write_batch(self, batch: list[Entry]) -> None:
        """Write the queue's first rows (``batch``): in one transaction when the database
        takes them all, else one row at a time, a row it refuses to the dead letters."""
        good: list[Entry] = []
        for kind, row in batch:
            reason = rows.check(kind, row)
            if reason is None:
                good.append((kind, row))
            else:
                await self.dead_letters.keep(kind, row, reason)
        if len(good) < len(batch):      # the batch is the queue's head: put back only what fits
            for _ in batch:
                self._pending.popleft()
            self._pending.extendleft(reversed(good))
        try:
            async with self.db.begin() as conn:
                for kind in rows.KINDS:
                    await rows.write(conn, kind, [row for k, row in good if k == kind])
        except Exception as error:
            if not rows.is_the_rows_fault(error):
                raise
            log.warning("records: a batch of %d rows was refused (%r); writing them one by one", len(good), error)
            await self._write_one_by_one(good)
        else:
            for _ in good:
                self._pending.popleft()
        if self.journal is not None:
            self.journal.written(list(self._pending))

    async def _write_one_by_one(self, entries: list[Entry]) -> None:
        """Each row in its own transaction, in the order queued; a row refused goes to the
        dead letters, an outage stops here with the rest still queued."""
        for kind, row in entries:
            try:
                async with self.db.begin() as conn:
                    await rows.write(conn, kind, [row])
            except Exception as error:
                if not rows.is_the_rows_fault(error):
                    raise
                await self.dead_letters.keep(kind, row, f"the database refused it: {error}")
            self._pending.popleft()
