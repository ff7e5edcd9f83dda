"""The callback book: a callback confirmed to a citizen is a durable promise.

Why a book of its own, apart from the engine and the call records: the engine keeps a
callback's place in line only in memory, and the call records are written after the
fact, in batches; a promise must be on disk *before* the caller hears "we will call you
back", and must come back after any restart. So:

- ``promise`` writes the row (table ``callbacks`` in the records database, an upsert by
  call id, so a repeated request or a second daemon changes nothing) and mirrors it to
  the Redis live state when configured; only then does it put the callback in the
  engine, at its original place (the caller's enqueue time). It raises when the
  database does not take the row: the IVR then tells the caller the callback could not
  be taken and the caller stays in line.
- ``start`` (every daemon start, or a standby taking over) reads the pending rows back
  and feeds them to the engine at their places; pending callbacks in the Redis mirror
  that its database lacks (the dead daemon's own database, on another host) are
  written to its database first, so they are made too.
- a try an earlier daemon began (a takeover or restart found it on the agent's phone)
  is ``resumed``: it counts as that try, so the callback is not made twice.
- each try ends in ``tried``: the citizen answered (``answered``, done), or not: after
  ``routing.callback_attempts`` tries ``failed``, else pending again after
  ``routing.callback_retry_delay`` seconds.
- the sweep (every second) expires a callback whose window (``routing.callback_window``
  from the moment its queue is next open: an after-hours callback waits for the
  morning) has passed, and puts back the ones whose retry delay is over.

The Redis mirror (``<prefix>callbacks``: call id -> the row as JSON) is what two daemons
with a database each share, so it must hold every promise and every outcome:

- a daemon killed between writing a promise and mirroring it has it on its own disk
  only. Every daemon starting, the standby too, ``offer``s its pending rows to the
  mirror with ``HSETNX``: never over what is there, which is as new or newer. The active
  daemon's sweep ``adopt``s, every few seconds, pending entries it does not know
  (written to its own database first, as ``start`` does).
- a finished callback stays in the mirror as a tombstone (its final status), not
  deleted, so a stale pending copy (the other daemon's database) can neither be offered
  over it (HSETNX) nor be restored: ``offer`` gives a stale copy the tombstone's outcome.
  Tombstones go (``prune``) once past both the callback's window and
  ``routing.callback_window`` after their outcome; a copy past its window is not offered.
- the outcome reaches the mirror after the database: in between, the entry is still
  ``pending``; ``adopt`` skips a callback whose outcome this book is writing or whose
  row is final, and puts the tombstone there itself for a final row.

Placing the call (agent first, then the citizen) is ``acd.daemon.callbacks``; the rules
of who is offered a callback when are the engine's.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.config.calendar import is_open, local_time
from acd.config.model import Config
from acd.daemon.live_engine import LiveEngine
from acd.engine import events as e
from acd.engine.states import CallState
from acd.records.schema import callbacks, create_or_upgrade

log = logging.getLogger(__name__)

PENDING, ANSWERED, FAILED, EXPIRED = "pending", "answered", "failed", "expired"
#: how far ahead the next opening of a closed queue is looked for (a week and a holiday)
_LOOKAHEAD = 9 * 24 * 3600
_STEP = 60.0
#: seconds between the active book's looks for mirrored callbacks it does not know
ADOPT_EVERY = 3.0
#: seconds between prunings of old tombstones in the mirror
PRUNE_EVERY = 300.0
#: HDEL a tombstone only if it is still the one read (never a callback pending again)
_PRUNE = """
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class Callback:
    """One promised callback, as stored."""

    call_id: str
    queue: str
    number: str
    enqueued_at: float
    requested_at: float
    expires_at: float
    requirements: Mapping[str, int] = field(default_factory=dict)
    priority: int | None = None
    language: str | None = None
    caller_type: str | None = None
    status: str = PENDING
    attempts: int = 0
    next_try_at: float | None = None

    def row(self, now: float) -> dict[str, Any]:
        return {**asdict(self), "requirements": dict(self.requirements), "updated_at": now}


def next_open(config: Config, queue: str, at: float) -> float:
    """When ``queue`` next takes calls from ``at`` on (``at`` itself when open now), to
    the minute; a queue closed for longer than the look-ahead counts from ``at``."""
    settings = config.queues[queue]
    if settings.always_open:
        return at
    schedule = config.schedules[settings.schedule]
    moment = at
    while moment < at + _LOOKAHEAD:
        if is_open(schedule, config.holidays, local_time(moment, config.daemon.timezone)):
            return moment
        moment += _STEP
    return at


class CallbackBook:
    def __init__(self, live: LiveEngine, database_url: str, *, redis: Any = None, redis_prefix: str = "acd:",
                 sweep_every: float = 1.0) -> None:
        """``redis``: a redis.asyncio client to mirror the book to (None: database only)."""
        self.live = live
        self.db: AsyncEngine = create_async_engine(database_url)
        self.redis = redis
        self.redis_key = f"{redis_prefix}callbacks"
        self.sweep_every = sweep_every
        #: the pending callbacks, by call id (the database has the same rows)
        self.pending: dict[str, Callback] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._writes: set[asyncio.Task[None]] = set()
        #: the outcome still to write, and the task writing it, per callback
        self._newest: dict[str, tuple[Callback, float]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}
        #: tries an earlier daemon began, found before ``start`` read the book (``resumed``)
        self._resumed_early: dict[str, bool] = {}
        #: told each call id whose final outcome is written (the dialer deletes its AstDB note)
        self.finished: Callable[[str], Awaitable[None]] | None = None
        #: mirror entries ``adopt`` found final, so it does not read them again
        self._settled: set[str] = set()
        self._adopted_at = self._pruned_at = float("-inf")
        self._mirror_kept = True

    @property
    def config(self) -> Config:
        return self.live.config

    # -------------------------------------------------------------- life
    async def start(self) -> int:
        """Create the table if needed, load the pending callbacks and put them in line at
        their places; the number restored. Raises when the database cannot be read."""
        await self.offer()
        mirrored = [callback for callback in (await self._mirrored()).values() if callback.status == PENDING]
        async with self.db.begin() as conn:
            await conn.run_sync(create_or_upgrade)
            for callback in mirrored:      # another daemon's promise, not in our database
                if (await conn.execute(select(callbacks.c.call_id)
                                       .where(callbacks.c.call_id == callback.call_id))).first() is None:
                    await conn.execute(callbacks.insert().values(callback.row(self.live.now())))
            rows = (await conn.execute(select(callbacks).where(callbacks.c.status == PENDING))).mappings().all()
        restored = 0
        for row in sorted(rows, key=lambda r: r["enqueued_at"]):
            callback = _callback(row)
            if callback.queue not in self.config.queues:
                log.error("pending callback for a queue no longer configured",
                          extra={"call_id": callback.call_id, "queue": callback.queue})
                continue
            self.pending[callback.call_id] = callback
            if callback.expires_at > self.live.now():      # else the first sweep expires it
                restored += self._enqueue(callback)
        early, self._resumed_early = self._resumed_early, {}
        for call_id, answered in early.items():
            self.resumed(call_id, answered)
        log.info("callbacks restored", extra={"pending": len(self.pending), "in_line": restored})
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())
        return restored

    async def close(self, wait: float = 5.0) -> None:
        """Stop sweeping; give outcomes not yet written ``wait`` seconds. One still not
        written leaves its row pending: the next daemon makes that callback again (at
        least once, never lost)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._writes:
            _, late = await asyncio.wait(set(self._writes), timeout=wait)
            for task in late:
                task.cancel()
            if late:
                log.error("callback outcomes not written at stop; their callbacks stay pending",
                          extra={"count": len(late)})
        await self.db.dispose()

    # -------------------------------------------------------------- promises
    async def promise(self, call_id: str, queue: str, number: str, *, requirements: Mapping[str, int] | None = None,
                      priority: int | None = None, language: str | None = None, caller_type: str | None = None,
                      enqueued_at: float | None = None) -> Callback:
        """Store the callback, then put it in line; returns what was stored (its
        ``enqueued_at`` is the place kept). Raises if the database does not take it:
        nothing is then promised and the engine is untouched."""
        if queue not in self.config.queues:
            raise ValueError(f"unknown queue {queue!r}")
        now = self.live.now()
        known = self.live.engine.calls.get(call_id)
        place = known.enqueued_at if known is not None else (now if enqueued_at is None else min(enqueued_at, now))
        callback = Callback(call_id, queue, number, place, now,
                            next_open(self.config, queue, now) + self.config.routing.callback_window,
                            dict(requirements or {}), priority, language, caller_type)
        await self._store(callback)
        await self._mirror(callback)
        self.pending[call_id] = callback
        if known is not None and known.state is CallState.WAITING:
            self.live.feed(e.CallbackRequested(now, call_id, number))
        elif known is None:
            self._enqueue(callback)
        log.info("callback promised", extra={"call_id": call_id, "queue": queue, "expires_at": callback.expires_at})
        return callback

    def tried(self, call_id: str, answered: bool) -> None:
        """A try ended (the agent answered and the citizen's phone was rung)."""
        callback = self.pending.get(call_id)
        if callback is None:
            return
        now = self.live.now()
        attempts = callback.attempts + 1
        if answered:
            self._finish(replace(callback, attempts=attempts, status=ANSWERED), now)
        elif attempts >= self.config.routing.callback_attempts:
            self._finish(replace(callback, attempts=attempts, status=FAILED), now)
        else:
            again = replace(callback, attempts=attempts, next_try_at=now + self.config.routing.callback_retry_delay)
            self.pending[call_id] = again
            self._write_later(again, now)
            log.info("callback not answered; tried again later",
                     extra={"call_id": call_id, "attempts": attempts, "at": again.next_try_at})

    def resumed(self, call_id: str, answered: bool) -> None:
        """An earlier daemon's try of this callback is under way (the AMI resync found the
        call on its agent's phone): that try counts, or the callback would be made a
        second time once the call ends. Found before ``start`` read the book (the resync
        often comes first): applied when it has. ``call_id`` may be any resumed call."""
        if call_id in self.pending:
            self.tried(call_id, answered)
        elif self._sweeper is None:
            self._resumed_early[call_id] = answered

    # -------------------------------------------------------------- the mirror
    async def offer(self) -> int:
        """Every start, the standby's too: this database's pending callbacks go to the
        mirror where it has none of them (``HSETNX``: what is there is as new or newer),
        so the active daemon adopts a promise whose daemon died before mirroring it; a
        copy the mirror has a tombstone for takes its outcome. The number offered.
        Raises when the database cannot be read; Redis down: none offered."""
        if self.redis is None:
            return 0
        async with self.db.begin() as conn:
            await conn.run_sync(create_or_upgrade)
            rows = (await conn.execute(select(callbacks).where(callbacks.c.status == PENDING))).mappings().all()
        now, offered = self.live.now(), 0
        try:
            for row in rows:
                callback = _callback(row)
                if callback.expires_at > now and await self.redis.hsetnx(
                        self.redis_key, callback.call_id, json.dumps(callback.row(now))):
                    offered += 1
                    continue
                there = _parsed(callback.call_id, await self.redis.hget(self.redis_key, callback.call_id))
                if there is not None and there.status != PENDING:
                    await self._store(there, now)       # our stale copy: the outcome is known
                    log.info("stale callback copy settled from the mirror",
                             extra={"call_id": callback.call_id, "status": there.status})
        except Exception as error:
            log.warning("callbacks not offered to Redis", extra={"reason": repr(error)})
        if offered:
            log.warning("pending callbacks the mirror lacked offered to it", extra={"count": offered})
        return offered

    async def adopt(self) -> int:
        """The active book's sweep, every few seconds: pending callbacks in the mirror it
        does not know (offered by a restarted daemon) are written to its database, then
        put in line at their places; the number adopted. One whose outcome this book is
        writing, or whose row here is final, is not brought back (a final row puts its
        tombstone in the mirror)."""
        if self.redis is None:
            return 0
        keys = set(await self.redis.hkeys(self.redis_key))
        self._settled &= keys
        unknown = sorted(keys - self.pending.keys() - self._writers.keys() - self._settled)
        if not unknown:
            return 0
        found = [_parsed(call_id, raw) for call_id, raw in zip(unknown, await self.redis.hmget(self.redis_key, unknown))]
        candidates = []
        for callback in filter(None, found):
            if callback.status != PENDING:
                self._settled.add(callback.call_id)
            elif callback.queue in self.config.queues:
                candidates.append(callback)
        if not candidates:
            return 0
        now, fresh, final = self.live.now(), [], []
        async with self.db.begin() as conn:
            for callback in candidates:
                row = (await conn.execute(select(callbacks).where(callbacks.c.call_id == callback.call_id))
                       ).mappings().first()
                if row is None:
                    await conn.execute(callbacks.insert().values(callback.row(now)))
                    fresh.append(callback)
                elif row["status"] == PENDING:
                    fresh.append(_callback(row))
                else:
                    final.append(_callback(row))
        for callback in final:
            if callback.call_id not in self._writers:
                await self._mirror(callback)
        adopted = 0
        for callback in fresh:
            if callback.call_id in self.pending or callback.call_id in self._writers:
                continue        # promised or finished here meanwhile
            self.pending[callback.call_id] = callback
            self._enqueue(callback)
            adopted += 1
            log.warning("callback adopted from the mirror", extra={"call_id": callback.call_id,
                                                                  "queue": callback.queue})
        return adopted

    async def prune(self) -> int:
        """Tombstones past both their callback's window and ``routing.callback_window``
        after their outcome go from the mirror: no copy that old is offered any more."""
        if self.redis is None:
            return 0
        now, window, pruned = self.live.now(), self.config.routing.callback_window, 0
        for call_id, raw in (await self.redis.hgetall(self.redis_key)).items():
            try:
                row = json.loads(raw)
                old = (row["status"] != PENDING and now >= float(row["expires_at"])
                       and now >= float(row.get("updated_at") or 0) + window)
            except (ValueError, TypeError, KeyError):
                continue
            if old:
                pruned += int(await self.redis.eval(_PRUNE, 1, self.redis_key, call_id, raw))
        return pruned

    async def _keep_mirror(self) -> None:
        """The sweep's share of the mirror: adopt, and now and then prune."""
        now = self.live.now()
        try:
            if now - self._adopted_at >= ADOPT_EVERY:
                self._adopted_at = now
                await self.adopt()
            if now - self._pruned_at >= PRUNE_EVERY:
                self._pruned_at = now
                await self.prune()
        except Exception as error:      # Redis or the database down: the next sweep tries again
            if self._mirror_kept:
                log.warning("callback mirror not checked", extra={"reason": repr(error)})
            self._mirror_kept = False
        else:
            self._mirror_kept = True

    def sweep(self) -> None:
        """Expire callbacks past their window; put back those whose retry delay is over."""
        now = self.live.now()
        calls = self.live.engine.calls
        for callback in list(self.pending.values()):
            call = calls.get(callback.call_id)
            if now >= callback.expires_at and (call is None or call.state is CallState.WAITING):
                if call is not None:
                    self.live.feed(e.CallbackCancelled(now, callback.call_id, EXPIRED))
                self._finish(replace(callback, status=EXPIRED), now)
            elif call is None and (callback.next_try_at or 0) <= now:
                self._enqueue(callback)

    # -------------------------------------------------------------- inside
    def _enqueue(self, callback: Callback) -> int:
        """Put a pending callback in the engine at its place, unless it is there or must
        wait for its retry."""
        now = self.live.now()
        if callback.call_id in self.live.engine.calls or (callback.next_try_at or 0) > now:
            return 0
        self.live.feed(e.CallArrived(now, callback.call_id, callback.queue, dict(callback.requirements),
                                     callback.priority, callback.enqueued_at, callback.language,
                                     callback.caller_type, callback.number))
        return int(callback.call_id in self.live.engine.calls)

    def _finish(self, callback: Callback, now: float) -> None:
        self.pending.pop(callback.call_id, None)
        self._write_later(callback, now)
        log.info("callback done", extra={"call_id": callback.call_id, "status": callback.status,
                                         "attempts": callback.attempts})

    def _write_later(self, callback: Callback, now: float) -> None:
        """Outcomes are written in the background, retried until the database takes them.
        One writer per callback, always writing the newest outcome: two writes of the same
        row racing could leave an older one (``pending``) over a newer one (``failed``)."""
        self._newest[callback.call_id] = (callback, now)
        if callback.call_id in self._writers:
            return
        task = asyncio.get_running_loop().create_task(self._write_until_done(callback.call_id))
        self._writers[callback.call_id] = task
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)

    async def _write_until_done(self, call_id: str) -> None:
        try:
            while call_id in self._newest:
                callback, now = self._newest.pop(call_id)
                delay = 0.5
                while True:
                    try:
                        await self._store(callback, now)
                        await self._mirror(callback)
                        if callback.status != PENDING and call_id not in self._newest:
                            await self._tell_finished(call_id)
                        break
                    except Exception as error:
                        log.warning("callback outcome not written yet; retrying",
                                    extra={"call_id": call_id, "reason": repr(error), "in": delay})
                        await asyncio.sleep(delay)
                        delay = min(delay * 2, 30.0)
                        if call_id in self._newest:     # a newer outcome replaces this one
                            callback, now = self._newest.pop(call_id)
        finally:
            self._writers.pop(call_id, None)

    async def _store(self, callback: Callback, now: float | None = None) -> None:
        row = callback.row(self.live.now() if now is None else now)
        async with self.db.begin() as conn:
            found = await conn.execute(update(callbacks).where(callbacks.c.call_id == callback.call_id).values(row))
            if found.rowcount == 0:
                await conn.execute(callbacks.insert().values(row))

    async def _tell_finished(self, call_id: str) -> None:
        if self.finished is None:
            return
        try:
            await self.finished(call_id)
        except Exception:
            log.exception("callback's end not told", extra={"call_id": call_id})

    async def _mirrored(self) -> dict[str, Callback]:
        """The callbacks in the live state, pending and finished: a standby taking over
        from a daemon that died may not share its database (one SQLite file per host),
        but shares the Redis. Redis down: none (the database's own rows still come back)."""
        if self.redis is None:
            return {}
        try:
            entries = await self.redis.hgetall(self.redis_key)
        except Exception as error:
            log.warning("callbacks in Redis not read", extra={"reason": repr(error)})
            return {}
        found = (_parsed(call_id, raw) for call_id, raw in entries.items())
        return {callback.call_id: callback for callback in found if callback is not None}

    async def _mirror(self, callback: Callback) -> None:
        """The live state's copy (wallboards, a standby daemon), a finished one kept as
        its tombstone; Redis down costs only it."""
        if self.redis is None:
            return
        try:
            await self.redis.hset(self.redis_key, callback.call_id, json.dumps(callback.row(self.live.now())))
        except Exception as error:
            log.warning("callback not mirrored to Redis", extra={"call_id": callback.call_id, "reason": repr(error)})

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every)
            try:
                self.sweep()
                await self._keep_mirror()
            except Exception:
                log.exception("callback sweep failed")


def _callback(row: Mapping[Any, Any]) -> Callback:
    """A stored row (database or mirror) as a Callback; other keys are left out."""
    return Callback(**{k: row[k] for k in Callback.__dataclass_fields__ if k in row})


def _parsed(call_id: str, raw: str | None) -> Callback | None:
    """A mirror entry, or None when absent or unreadable (logged)."""
    if raw is None:
        return None
    try:
        return _callback(json.loads(raw))
    except (ValueError, TypeError) as error:
        log.error("unreadable callback in Redis", extra={"call_id": call_id, "reason": repr(error)})
        return None

