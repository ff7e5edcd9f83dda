"""The callback book's own rules: stored before anything else, tried N times with a
delay, expired after its window counted from the queue's next opening."""
from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

from acd.daemon.callback_book import CallbackBook, next_open
from acd.engine import decisions as d
from tests.daemon_fakes import Room, config_with

ROUTING = "routing: {callback_attempts: 2, callback_retry_delay: 300, callback_window: 3600}\n"


def status(path, call_id: str) -> tuple:
    with create_engine(f"sqlite:///{path}").connect() as conn:
        return tuple(conn.execute(text(f"SELECT status, attempts FROM callbacks WHERE call_id = '{call_id}'")).one())


async def book_for(tmp_path, sections: str = ROUTING) -> tuple[Room, CallbackBook]:
    r = Room(tmp_path, config=config_with(sections))
    book = CallbackBook(r.live, f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", sweep_every=3600)
    await book.start()
    return r, book


async def drained(book: CallbackBook) -> None:
    while book._writes:
        await asyncio.gather(*list(book._writes))


async def test_an_unanswered_callback_is_tried_again_after_the_delay_then_counted_failed(tmp_path):
    r, book = await book_for(tmp_path)
    try:
        await book.promise("cb", "q", "2101234567", enqueued_at=r.clock.now - 30)
        assert status(tmp_path / "acd.sqlite3", "cb") == ("pending", 0)
        r.live.engine.calls.pop("cb")                 # as if tried: the engine ended that call
        book.tried("cb", answered=False)
        book.sweep()
        assert "cb" not in r.live.engine.calls        # not before the delay
        r.clock.now += 301
        book.sweep()
        assert r.live.engine.calls["cb"].enqueued_at == r.clock.now - 301 - 30   # back at its place
        r.live.engine.calls.pop("cb")
        book.tried("cb", answered=False)
        await drained(book)
        assert status(tmp_path / "acd.sqlite3", "cb") == ("failed", 2) and book.pending == {}
    finally:
        await book.close()


async def test_a_slow_earlier_write_never_lands_over_a_newer_outcome(tmp_path):
    """CI saw ``('pending', 1)`` after the last try: the try's write and the final
    ``failed`` write raced on the same row and the older one landed last."""
    r, book = await book_for(tmp_path)
    store, first = book._store, asyncio.Event()

    async def slow_first(callback, now=None):
        if callback.status == "pending" and callback.attempts == 1 and not first.is_set():
            first.set()
            await asyncio.sleep(0.2)          # the newer outcome is decided meanwhile
        await store(callback, now)

    book._store = slow_first
    try:
        await book.promise("cb", "q", "2101234567", enqueued_at=r.clock.now - 30)
        r.live.engine.calls.pop("cb")
        book.tried("cb", answered=False)
        await first.wait()
        book.tried("cb", answered=False)                   # the last try, while the first write is slow
        await drained(book)
        assert status(tmp_path / "acd.sqlite3", "cb") == ("failed", 2) and book.pending == {}
    finally:
        await book.close()


async def test_a_callback_past_its_window_expires_and_leaves_the_line(tmp_path):
    r, book = await book_for(tmp_path)
    try:
        await book.promise("cb", "q", "2101234567")
        r.clock.now += 3601
        book.sweep()
        await drained(book)
        assert "cb" not in r.live.engine.calls and [x.reason for x in r.of(d.CallbackCancelled)] == ["expired"]
        assert status(tmp_path / "acd.sqlite3", "cb") == ("expired", 0)
        assert r.queue_log_events()[-1] == "EXITWITHTIMEOUT"
    finally:
        await book.close()


def test_an_after_hours_callback_counts_its_window_from_the_opening():
    config = config_with("schedules:\n  office: {weekly: {mon-fri: '08:00-16:00'}}\n",
                         queues="q: {requires: {topic:a: 1}, schedule: office}\n")
    athens = ZoneInfo(config.daemon.timezone)
    friday_night = datetime(2026, 12, 4, 22, 0, tzinfo=athens).timestamp()
    assert next_open(config, "q", friday_night) == datetime(2026, 12, 7, 8, 0, tzinfo=athens).timestamp()


async def test_a_callback_number_that_came_on_the_channel_is_stored_too(tmp_path):
    from acd.daemon.callbacks import CallbackDialer

    r, book = await book_for(tmp_path)
    r.room.callbacks = CallbackDialer(r.live, book)
    try:
        session = await r.arrive("1.1", ACD_CALLBACK="2101234567")
        session.hang_up()
        await asyncio.wait_for(r.tasks[0], 1)
        while r.room._stopping:
            await asyncio.sleep(0.01)
        assert status(tmp_path / "acd.sqlite3", "1.1") == ("pending", 0)
        assert "1.1" in book.pending and r.live.engine.calls["1.1"].callback == "2101234567"
    finally:
        await book.close()


async def test_promises_in_postgresql_and_redis_survive_a_new_book(tmp_path, postgres_url, redis_url):
    import json
    import uuid

    import redis.asyncio as aioredis
    from sqlalchemy import select

    from acd.records.schema import callbacks

    tag = uuid.uuid4().hex[:8]
    call_id, prefix = f"pg-{tag}", f"test-{tag}:"
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    r = Room(tmp_path, config=config_with(ROUTING))
    book = CallbackBook(r.live, postgres_url, redis=redis, redis_prefix=prefix, sweep_every=3600)
    await book.start()
    await book.promise(call_id, "q", "2101234567", enqueued_at=r.clock.now - 90)
    assert json.loads(await redis.hget(f"{prefix}callbacks", call_id))["number"] == "2101234567"
    await book.close()

    again = Room(tmp_path, config=config_with(ROUTING))       # a new daemon
    book = CallbackBook(again.live, postgres_url, redis=redis, redis_prefix=prefix, sweep_every=3600)
    try:
        await book.start()
        call = again.live.engine.calls[call_id]
        assert (call.callback, call.enqueued_at) == ("2101234567", r.clock.now - 90)
        book.tried(call_id, answered=True)
        await drained(book)
        async with book.db.connect() as conn:
            row = (await conn.execute(select(callbacks.c.status, callbacks.c.attempts)
                                      .where(callbacks.c.call_id == call_id))).one()
        assert tuple(row) == ("answered", 1)
        assert json.loads(await redis.hget(f"{prefix}callbacks", call_id))["status"] == "answered"   # tombstone
    finally:
        await book.close()
        await redis.aclose()


async def test_a_standby_with_its_own_database_makes_the_dead_daemons_callbacks(tmp_path, redis_url):
    """Each daemon its own SQLite file, one Redis: the active promised a callback and died;
    the standby's book reads it from the Redis mirror, keeps it in its own database and
    puts it in line at its place."""
    import uuid

    import redis.asyncio as aioredis

    tag = uuid.uuid4().hex[:8]
    call_id, prefix = f"cb-{tag}", f"test-{tag}:"
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    r = Room(tmp_path / "a", config=config_with(ROUTING))
    dead = CallbackBook(r.live, f"sqlite+aiosqlite:///{tmp_path / 'a' / 'acd.sqlite3'}", redis=redis,
                        redis_prefix=prefix, sweep_every=3600)
    await dead.start()
    await dead.promise(call_id, "q", "2101234567", enqueued_at=r.clock.now - 90)
    await dead.db.dispose()                                   # SIGKILL: no close, nothing more written

    standby = Room(tmp_path / "b", config=config_with(ROUTING))
    book = CallbackBook(standby.live, f"sqlite+aiosqlite:///{tmp_path / 'b' / 'acd.sqlite3'}", redis=redis,
                        redis_prefix=prefix, sweep_every=3600)
    try:
        assert await book.start() == 1
        call = standby.live.engine.calls[call_id]
        assert (call.callback, call.enqueued_at) == ("2101234567", r.clock.now - 90)
        assert status(tmp_path / "b" / "acd.sqlite3", call_id) == ("pending", 0)
        book.tried(call_id, answered=True)
        await drained(book)
        assert status(tmp_path / "b" / "acd.sqlite3", call_id) == ("answered", 1)
        assert await mirrored(redis, prefix, call_id) == "answered"
    finally:
        await book.close()
        await redis.delete(f"{prefix}callbacks")
        await redis.aclose()


async def test_the_final_outcome_written_is_told_so_the_answer_note_can_go(tmp_path):
    r, book = await book_for(tmp_path)
    told: list[tuple[str, tuple]] = []

    async def finished(call_id: str) -> None:
        told.append((call_id, status(tmp_path / "acd.sqlite3", call_id)))

    book.finished = finished
    try:
        await book.promise("cb", "q", "2101234567")
        r.live.engine.calls.pop("cb")
        book.tried("cb", answered=False)                 # not final: nothing to tell
        await drained(book)
        book.tried("cb", answered=True)
        await drained(book)
        assert told == [("cb", ("answered", 2))]         # told once the row says so
    finally:
        await book.close()


# -- two daemons, each its own SQLite file, one Redis mirror ---------------------------
async def mirrored(redis, prefix: str, call_id: str) -> str | None:
    import json

    raw = await redis.hget(f"{prefix}callbacks", call_id)
    return None if raw is None else json.loads(raw)["status"]


class Pair:
    """The active daemon's book (``b``) and the other daemon's database (``a``), one Redis."""

    def __init__(self, tmp_path, redis, prefix: str) -> None:
        self.tmp_path, self.redis, self.prefix = tmp_path, redis, prefix
        self.books: list[CallbackBook] = []
        for side in "ab":
            (tmp_path / side).mkdir(exist_ok=True)

    def book(self, side: str) -> tuple[Room, CallbackBook]:
        r = Room(self.tmp_path / side, config=config_with(ROUTING))
        book = CallbackBook(r.live, f"sqlite+aiosqlite:///{self.tmp_path / side / 'acd.sqlite3'}", redis=self.redis,
                            redis_prefix=self.prefix, sweep_every=3600)
        self.books.append(book)
        return r, book

    def status(self, side: str, call_id: str) -> tuple:
        return status(self.tmp_path / side / "acd.sqlite3", call_id)

    async def close(self) -> None:
        for book in self.books:
            await book.close()
        await self.redis.delete(f"{self.prefix}callbacks")
        await self.redis.aclose()


async def pair(tmp_path, redis_url) -> Pair:
    import uuid

    import redis.asyncio as aioredis

    return Pair(tmp_path, aioredis.Redis.from_url(redis_url, decode_responses=True), f"test-{uuid.uuid4().hex[:8]}:")


async def killed_before_the_mirror(p: Pair, call_id: str) -> float:
    """The active daemon stored a promise and was killed before mirroring it; its place."""
    r, dead = p.book("a")
    await dead.start()

    async def killed(callback) -> None:
        return None

    dead._mirror = killed
    await dead.promise(call_id, "q", "2101234567", enqueued_at=r.clock.now - 90)
    return r.clock.now - 90


async def test_a_promise_killed_before_its_mirror_is_offered_at_the_restart_and_made_by_the_active(
        tmp_path, redis_url):
    """bench.failover: callback 1796321229.127 was lost. The killed daemon had it in its own
    database only; the standby that took over never saw it, and the killed daemon came
    back as the standby, which does not run the book. Starting, even as the standby, a
    daemon offers its pending rows to the mirror (HSETNX); the active adopts them."""
    p = await pair(tmp_path, redis_url)
    try:
        place = await killed_before_the_mirror(p, "cb-lost")
        active_room, active = p.book("b")
        assert await active.start() == 0 and await mirrored(p.redis, p.prefix, "cb-lost") is None
        _, restarted = p.book("a")
        await restarted.offer()                                   # as the standby, 2 s later
        assert await mirrored(p.redis, p.prefix, "cb-lost") == "pending"
        assert await active.adopt() == 1 and await active.adopt() == 0
        assert active_room.live.engine.calls["cb-lost"].enqueued_at == place
        assert p.status("b", "cb-lost") == ("pending", 0)         # in its own database first
        active_room.live.engine.calls.pop("cb-lost")
        active.tried("cb-lost", answered=True)
        await drained(active)
        assert await mirrored(p.redis, p.prefix, "cb-lost") == "answered"
        _, again = p.book("a")                                    # the other daemon starts again
        assert await again.start() == 0 and p.status("a", "cb-lost") == ("answered", 1)
    finally:
        await p.close()


async def test_a_stale_copy_offered_while_the_active_finishes_the_callback_is_never_made_again(
        tmp_path, redis_url):
    """The race: the active has written the outcome to its database but not yet to the
    mirror (still ``pending`` there) when the restarted daemon offers its stale copy and
    the active's sweep looks for callbacks to adopt. Neither brings the callback back."""
    p = await pair(tmp_path, redis_url)
    try:
        dead_room, dead = p.book("a")
        await dead.start()
        await dead.promise("cb", "q", "2101234567", enqueued_at=dead_room.clock.now - 90)
        active_room, active = p.book("b")
        assert await active.start() == 1
        mirror, between, go_on = active._mirror, asyncio.Event(), asyncio.Event()

        async def slow_tombstone(callback) -> None:
            if callback.status != "pending":
                between.set()
                await go_on.wait()
            await mirror(callback)

        active._mirror = slow_tombstone
        active_room.live.engine.calls.pop("cb")
        active.tried("cb", answered=True)
        await between.wait()
        _, restarted = p.book("a")
        await restarted.offer()
        assert await active.adopt() == 0
        go_on.set()
        await drained(active)
        assert "cb" not in active.pending and "cb" not in active_room.live.engine.calls
        assert await mirrored(p.redis, p.prefix, "cb") == "answered"
        await restarted.offer()                          # its next start: the tombstone settles its copy
        assert p.status("a", "cb") == ("answered", 1) and await active.adopt() == 0
    finally:
        await p.close()


async def test_tombstones_go_after_the_callback_window_and_a_stale_copy_is_not_offered_after(
        tmp_path, redis_url):
    p = await pair(tmp_path, redis_url)
    try:
        await killed_before_the_mirror(p, "cb-lost")
        room, active = p.book("b")
        await active.start()
        await active.promise("cb-new", "q", "2101234568")
        await active.promise("cb-done", "q", "2101234569")
        room.live.engine.calls.pop("cb-done")
        active.tried("cb-done", answered=True)
        await drained(active)
        await active.prune()
        assert await mirrored(p.redis, p.prefix, "cb-done") == "answered"     # kept for the window
        room.clock.now += 3601
        await active.prune()
        assert await mirrored(p.redis, p.prefix, "cb-done") is None
        assert await mirrored(p.redis, p.prefix, "cb-new") == "pending"
        restarted_room, restarted = p.book("a")
        restarted_room.clock.now = room.clock.now
        await restarted.offer()                           # past its window: not brought back
        assert await mirrored(p.redis, p.prefix, "cb-lost") is None
    finally:
        await p.close()
