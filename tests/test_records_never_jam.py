"""Records never jam and are never dropped (issue 9, item 2): a second record of the
same call, a commit whose reply was lost, a database down at start-up, a value longer
than its column and a restart with rows not yet written, each against SQLite and the
real PostgreSQL (a fresh database per test, reached through ``rig.tcp_proxy`` where the
network has to fail)."""
from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from acd.config import load_config_text
from acd.config.errors import ConfigError
from acd.engine import AgentState, Engine
from acd.engine import decisions as d
from acd.engine import events as e
from acd.records import CallRecords, agent_events, calls, dead_letters, tickets
from acd.records.desk import TicketDesk
from acd.records.ticket import new_ticket
from rig.tcp_proxy import TcpProxy
from tests.engine_helpers import make_config
from tests.waiting import eventually

QUEUE = "q:\n  requires: {topic:a: 1}\n  wrapup: 0\n  max_wait: 30\n  on_max_wait: callback\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n"


@pytest.fixture
async def fresh_postgres(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own in the test PostgreSQL (others use ``acd_test`` meanwhile)."""
    name = f"acd_records_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres_url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    return str(request.getfixturevalue("fresh_postgres"))


async def rows_of(url: str, table) -> list:  # type: ignore[no-untyped-def]
    db = create_async_engine(url)
    try:
        async with db.connect() as conn:
            return list((await conn.execute(select(table))).all())
    finally:
        await db.dispose()


def via(proxy: TcpProxy, url: str) -> str:
    """The same PostgreSQL URL, through the proxy."""
    return url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")


def a_day_of_calls(records: CallRecords, count: int, engine: Engine | None = None, start: float = 0.0) -> Engine:
    """``count`` calls answered one after the other by agent 11, each one a call row and
    agent events (ringing, on call, wrap-up, available)."""
    engine = engine or Engine(make_config(QUEUE, AGENTS))
    at = start
    if engine.agents["11"].state is AgentState.LOGGED_OUT:
        records(engine.handle(e.AgentLoggedIn(at, "11")))
    for n in range(count):
        call = f"call-{start:g}-{n}"
        records(engine.handle(e.CallArrived(at + 1, call, "q")))
        records(engine.handle(e.OfferAnswered(at + 2, call, "11")))
        records(engine.handle(e.AgentHungUp(at + 10, call)))
        at += 20
    return engine


# -- a) the same call's second record ------------------------------------------------------------

@pytest.mark.parametrize("in_one_batch", [False, True])
async def test_a_calls_second_record_does_not_stop_the_records_after_it(database, in_one_batch, caplog):
    """A caller who chose a callback comes back with the same call id and is answered:
    the second record of that call used to break the primary key, the batch was retried
    forever and every later record was dropped at stop. Both records may be in one
    batch (PostgreSQL refuses one statement upserting a row twice) or in two."""
    records = CallRecords(database, interval=60)
    await records.start()
    engine = Engine(make_config(QUEUE, AGENTS))
    records(engine.handle(e.CallArrived(1, "twice", "q")))
    records(engine.handle(e.Tick(40)))                       # max wait at 31: exits to a callback
    if not in_one_batch:
        await records.flush()                                 # the first record is in the table
    records(engine.handle(e.AgentLoggedIn(50, "11")))
    records(engine.handle(e.CallArrived(60, "twice", "q")))  # the callback, same call id
    records(engine.handle(e.OfferAnswered(62, "twice", "11")))
    records(engine.handle(e.AgentHungUp(100, "twice")))
    a_day_of_calls(records, 5, engine, start=200)
    await records.close()

    rows = {r.call_id: r for r in await rows_of(database, calls)}
    assert len(rows) == 6, sorted(rows)
    twice = rows["twice"]
    # one row per call: the later leg's outcome, with the exit that led to the callback
    assert (twice.outcome, twice.agent_id, twice.talk_time, twice.exit_action) == ("answered", "11", 38, "callback")
    assert await rows_of(database, dead_letters) == []
    assert "refused" not in caplog.text                      # written as a batch, not row by row


async def test_writing_the_same_rows_again_changes_nothing(database):
    """Idempotent writes: a batch written twice (a retry, a journal replayed) leaves one
    row per call, agent event and ticket, and a survey answer already stored stays."""
    records = CallRecords(database, interval=60)
    await records.start()
    a_day_of_calls(records, 3)
    records.open_ticket(new_ticket(None, call_id="call-0-0", queue="q", at=5, source="agent", agent_id="11"))
    queued = list(records._pending)
    await records.flush()
    records.set_satisfaction("call-0-0", 5)
    await records.flush()
    records._pending.extend(queued)                         # the same rows once more
    await records.flush()
    await records.close()
    assert len(await rows_of(database, calls)) == 3
    assert len(await rows_of(database, agent_events)) == 1 + 3 * 4
    assert len(await rows_of(database, tickets)) == 1
    assert {r.call_id: r.satisfaction for r in await rows_of(database, calls)}["call-0-0"] == 5


# -- d) a value longer than its column --------------------------------------------------------

PAUSE_39 = "lunch_break_with_the_regional_directors"


def test_acd_check_refuses_a_pause_reason_longer_than_the_records_hold():
    assert len(PAUSE_39) == 39
    with pytest.raises(ConfigError) as refused:
        make_config(QUEUE, AGENTS, routing=f"pause_reasons: {{{PAUSE_39}: false}}\n")
    assert refused.value.line == 17                   # routing's pause_reasons line
    assert "32" in refused.value.reason and PAUSE_39 in refused.value.reason


def test_acd_check_names_the_file_and_line_of_the_pause_reason(tmp_path, capsys):
    from acd.cli import main

    config = tmp_path / "acd.yaml"
    config.write_text("service: {name: t, languages: [el]}\nskills: {topic:a: A}\n"
                      "queues:\n  q: {requires: {topic:a: 1}}\nagents:\n  '11': {pin: '1234', skills: [topic:a]}\n"
                      f"routing:\n  pause_reasons:\n    break: false\n    {PAUSE_39}: false\n")
    assert main(["check", "--config", str(config)]) == 1
    assert f"{config}:10:" in capsys.readouterr().err


@pytest.mark.parametrize(("section", "what"), [
    ("queues", "queue name"),
    ("back_office", "unit name"),
])
def test_acd_check_refuses_names_longer_than_the_records_hold(section, what):
    long = "x" * 65
    office = "back_office:\n  units:\n    {unit}: {{primary: team:a, alternate: team:b, queues: [{queue}]}}\n"
    queue, unit = (long, "u") if section == "queues" else ("q", long)
    source = ("service: {name: t, languages: [el]}\nskills: {topic:a: A}\n"
              f"queues:\n  {queue}: {{requires: {{topic:a: 1}}}}\nagents:\n  '11': {{pin: '1234', skills: [topic:a]}}\n"
              + office.format(unit=unit, queue=queue))
    with pytest.raises(ConfigError) as refused:
        load_config_text(source, "<long>")
    assert what in refused.value.reason and "64" in refused.value.reason
    assert refused.value.line == (4 if section == "queues" else 9)


async def test_a_value_too_long_for_its_column_is_dead_lettered_and_the_rest_are_written(database, caplog):
    """The 39-character pause reason reached the agent events (in PostgreSQL it overflowed
    VARCHAR(32) and jammed every row: 0 of 30 calls, 0 agent events); a call id longer than
    its column likewise. Each goes to the dead letters with its reason; the rest go on
    (written 16 rows a transaction, so the bad rows fall inside a later batch)."""
    records = CallRecords(database, interval=0.05, batch=16)
    await records.start()
    engine = a_day_of_calls(records, 10)
    records([d.AgentStatus(300, "11", "paused", "available", PAUSE_39)])
    records(engine.handle(e.CallArrived(310, "c" * 80, "q")))
    records(engine.handle(e.CallerHungUp(315, "c" * 80)))
    a_day_of_calls(records, 20, engine, start=400)
    await records.close()

    assert len(await rows_of(database, calls)) == 30
    assert len(await rows_of(database, agent_events)) == 1 + 30 * 4 + 2     # the long call id rang the agent
    letters = {r.table_name: r for r in await rows_of(database, dead_letters)}
    assert set(letters) == {"agent_events", "calls"}
    assert "agent_events.reason" in letters["agent_events"].reason and "32" in letters["agent_events"].reason
    assert json.loads(letters["agent_events"].row)["reason"] == PAUSE_39
    assert json.loads(letters["calls"].row)["call_id"] == "c" * 80
    assert "dead letter" in caplog.text and "agent_events.reason" in caplog.text


async def test_a_row_the_database_refuses_is_dead_lettered_and_the_rest_are_written(database):
    """A row that passes every check here but that the database still refuses (a
    constraint the code does not know): retried one row at a time, that row goes to the
    dead letters with the database's reason, the batch's other rows are written."""
    records = CallRecords(database, interval=60)
    await records.start()
    await records.flush()                               # the tables are made
    db = create_async_engine(database)
    async with db.begin() as conn:
        await conn.execute(text("CREATE UNIQUE INDEX one_break_a_day ON agent_events (reason)"))
    await db.dispose()
    a_day_of_calls(records, 5)
    records([d.AgentStatus(300, "11", "paused", "available", "break"),
             d.AgentStatus(310, "11", "available", "paused", None)])
    a_day_of_calls(records, 5, start=400)
    records([d.AgentStatus(600, "11", "paused", "available", "break")])     # the index refuses a second one
    await records.flush()
    await records.close()
    assert len(await rows_of(database, calls)) == 10
    assert len(await rows_of(database, agent_events)) == 1 + 10 * 4 + 2 + 1
    (letter,) = await rows_of(database, dead_letters)
    assert letter.table_name == "agent_events" and json.loads(letter.row)["at"] == 600
    assert "one_break_a_day" in letter.reason or "agent_events.reason" in letter.reason


async def test_dead_letters_go_to_a_file_when_the_database_refuses_them_too(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    journal = tmp_path / "records-journal.jsonl"
    records = CallRecords(url, interval=60, journal=journal)
    await records.start()
    await records.flush()
    db = create_async_engine(url)
    async with db.begin() as conn:
        await conn.execute(text("DROP TABLE dead_letters"))
    await db.dispose()
    records([d.AgentStatus(10, "11", "paused", "available", PAUSE_39)])
    a_day_of_calls(records, 2)
    await records.close()
    assert len(await rows_of(url, calls)) == 2
    (line,) = (tmp_path / "records-dead-letters.jsonl").read_text().splitlines()
    letter = json.loads(line)
    assert letter["table"] == "agent_events" and letter["row"]["reason"] == PAUSE_39
    assert "agent_events.reason" in letter["reason"]


# -- b) a commit whose reply was lost -------------------------------------------------------

@pytest.mark.postgres
async def test_a_commit_whose_reply_was_lost_is_written_once(fresh_postgres):
    """PostgreSQL commits, the connection drops before the client hears so: the retry
    wrote the same rows again, "duplicate key" on every try (2 of 30 rows kept)."""
    async with TcpProxy("127.0.0.1", 5432) as proxy:
        records = CallRecords(via(proxy, fresh_postgres), interval=0.05)
        await records.start()
        await records.flush()                   # the schema is there, its commit heard
        proxy.cut_after(b"COMMIT")
        a_day_of_calls(records, 30)
        await eventually(lambda: proxy.cuts_after == 1, what="the commit cut")
        await eventually(lambda: records.backlog == 0, timeout=30, what="every row written")
        await records.close()
    assert len(await rows_of(fresh_postgres, calls)) == 30
    assert len(await rows_of(fresh_postgres, agent_events)) == 1 + 30 * 4
    assert await rows_of(fresh_postgres, dead_letters) == []


# -- c) the database down at start-up --------------------------------------------------------------

@pytest.mark.postgres
async def test_records_and_the_ticket_desk_wait_for_a_database_down_at_start(fresh_postgres):
    """PostgreSQL down for the daemon's first 3 seconds: no record was ever written that
    run and the ticket desk answered 503 until a restart. Now start-up does not wait, the
    rows wait, and both recover when the database comes back."""
    async with TcpProxy("127.0.0.1", 5432) as proxy:
        await proxy.refuse()
        records = CallRecords(via(proxy, fresh_postgres), interval=0.05)
        await records.start()                   # does not raise, does not block
        desk = TicketDesk(records.db)
        a_day_of_calls(records, 30)
        records.open_ticket(new_ticket(None, call_id="call-0-0", queue="q", at=5, source="agent", agent_id="11"))
        with pytest.raises(Exception):
            await desk.tickets()
        assert records.backlog == 30 + 1 + 30 * 4 + 1
        await proxy.accept()

        await eventually(lambda: records.backlog == 0, timeout=40, what="the rows written after the outage")
        assert [t["call_id"] for t in await desk.tickets()] == ["call-0-0"]
        await records.close()
    assert len(await rows_of(fresh_postgres, calls)) == 30


@pytest.mark.postgres
async def test_the_daemons_ticket_desk_recovers_when_the_database_comes_back(fresh_postgres, tmp_path):
    import aiohttp

    from acd.daemon.app import Daemon
    from rig.ports import free_port

    from tests.auth_helpers import program_token

    # a program's token made while the database was up; the daemon then starts with it down
    token = await program_token(fresh_postgres, scopes=("tickets:read", "tickets:all-units"))
    async with TcpProxy("127.0.0.1", 5432) as proxy:
        await proxy.refuse()
        api = free_port(20000)
        config = tmp_path / "acd.yaml"
        config.write_text(
            "service: {name: test, languages: [el]}\nskills: {topic:a: A}\n"
            "queues:\n  q: {requires: {topic:a: 1}, wrapup: 0}\n"
            "agents:\n  '11': {pin: '1234', skills: {topic:a: 3}}\n"
            f"daemon: {{database_url: '{via(proxy, fresh_postgres)}', api_port: {api}, "
            f"agi_port: {free_port(api + 1)}, ami_port: {free_port(api + 2)}, queue_log: '{tmp_path / 'queue_log'}'}}\n")
        daemon = Daemon(config)
        await daemon.start()
        try:
            now = daemon.live.now()
            daemon.live.feed(e.CallArrived(now, "c1", "q"))      # nobody logged in: the caller gives up
            daemon.live.feed(e.CallerHungUp(now + 30, "c1"))
            statuses: list[int] = []
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
                async def ask() -> int:
                    async with http.get(f"http://127.0.0.1:{api}/api/tickets") as answer:
                        return answer.status
                statuses.append(await ask())
                await proxy.accept()
                for _ in range(400):
                    statuses.append(await ask())
                    if statuses[-1] == 200:
                        break
                    await asyncio.sleep(0.1)
        finally:
            await daemon.stop()
    assert statuses[0] == 503 and statuses[-1] == 200
    (row,) = await rows_of(fresh_postgres, calls)
    assert (row.call_id, row.outcome) == ("c1", "abandoned")
    assert (tmp_path / "records-journal.jsonl").read_text() == ""     # the daemon's journal, emptied


# -- e) rows not written yet survive a restart -----------------------------------------------------

@pytest.mark.postgres
async def test_rows_not_written_survive_a_restart_in_the_journal(fresh_postgres, tmp_path):
    """The writer is stopped with PostgreSQL down; a new one starts with it up: every
    row lands, none twice (the journal is replayed; the writes are idempotent)."""
    journal = tmp_path / "records-journal.jsonl"
    async with TcpProxy("127.0.0.1", 5432) as proxy:
        records = CallRecords(via(proxy, fresh_postgres), interval=0.05, journal=journal)
        await records.start()
        await records.flush()
        engine = a_day_of_calls(records, 10)
        await eventually(lambda: records.backlog == 0, what="the first rows written")
        await proxy.refuse()
        proxy.cut()
        a_day_of_calls(records, 20, engine, start=1000)
        records.set_satisfaction("call-0-3", 4)
        await records.close()
        assert journal.stat().st_size > 0
    later = CallRecords(fresh_postgres, interval=0.05, journal=journal)
    assert later.backlog == 20 * 5 + 1          # replayed before the database is even asked
    await later.start()
    await eventually(lambda: later.backlog == 0, timeout=20, what="the journal written")
    await later.close()
    assert journal.stat().st_size == 0
    rows = await rows_of(fresh_postgres, calls)
    assert len(rows) == 30 and len({r.call_id for r in rows}) == 30
    assert {r.call_id: r.satisfaction for r in rows}["call-0-3"] == 4
    assert len(await rows_of(fresh_postgres, agent_events)) == 1 + 30 * 4


async def test_a_journal_replayed_after_its_rows_were_written_writes_nothing_twice(tmp_path):
    """A crash between the commit and the journal's truncation: the next start writes the
    same rows again, and the idempotent writes make that harmless."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    journal = tmp_path / "records-journal.jsonl"
    records = CallRecords(url, interval=60, journal=journal)
    await records.start()
    a_day_of_calls(records, 5)
    kept = journal.read_bytes()
    await records.close()
    journal.write_bytes(kept + b'{"table": "calls", "row": {"call_id": "torn')    # and a torn last line
    again = CallRecords(url, interval=60, journal=journal)
    await again.start()
    await again.close()
    assert len(await rows_of(url, calls)) == 5
    assert len(await rows_of(url, agent_events)) == 1 + 5 * 4
    (line,) = (tmp_path / "records-dead-letters.jsonl").read_text().splitlines()
    assert "torn" in json.loads(line)["row"]["line"]


async def test_the_proxy_refuses_then_accepts():
    """The proxy's own contract, as the tests above rely on it."""
    server = await asyncio.start_server(lambda r, w: w.write(b"hello") or w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with TcpProxy("127.0.0.1", port) as proxy:
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await reader.read() == b"hello"
        writer.close()
        await proxy.refuse()
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection("127.0.0.1", proxy.port)
        await proxy.accept()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        assert await reader.read() == b"hello"
        writer.close()
    server.close()


@pytest.mark.postgres
async def test_a_stop_with_the_database_hung_is_bounded_and_the_journal_keeps_the_rows(fresh_postgres, tmp_path):
    """A half-open link (every byte dropped): the last write at stop would wait for the
    statement timeout; the stop gives up after ``stop_timeout`` and the journal has it all."""
    journal = tmp_path / "records-journal.jsonl"
    async with TcpProxy("127.0.0.1", 5432) as proxy:
        records = CallRecords(via(proxy, fresh_postgres), interval=0.05, journal=journal)
        records.stop_timeout = 1.0
        await records.start()
        engine = a_day_of_calls(records, 5)
        await eventually(lambda: records.backlog == 0, what="the first rows written")
        proxy.blackhole()
        a_day_of_calls(records, 5, engine, start=1000)
        loop = asyncio.get_running_loop()
        began = loop.time()
        await records.close()
        assert loop.time() - began < 5
    later = CallRecords(fresh_postgres, interval=0.05, journal=journal)
    assert later.backlog == 5 * 5
    await later.start()
    await eventually(lambda: later.backlog == 0, timeout=20, what="the journal written")
    await later.close()
    assert len(await rows_of(fresh_postgres, calls)) == 10
    assert len(await rows_of(fresh_postgres, agent_events)) == 1 + 10 * 4


async def test_the_journal_is_compacted_under_a_load_that_never_empties_it(tmp_path, monkeypatch):
    from acd.records import journal as journal_module

    monkeypatch.setattr(journal_module, "COMPACT_BYTES", 2000)
    path = tmp_path / "records-journal.jsonl"
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=60, journal=path)
    await records.start()
    engine = a_day_of_calls(records, 20)
    from acd.records import rows
    write = rows.write

    arrived: list[bool] = []

    async def a_row_arrives_during_the_write(*args: object) -> None:
        if not arrived:
            arrived.append(True)
            records([d.AgentStatus(engine.now, "11", "paused", "available", "break")])
        await write(*args)      # type: ignore[arg-type]
    monkeypatch.setattr(rows, "write", a_row_arrives_during_the_write)
    await records.flush()
    assert records.backlog == 1
    assert [line for line in path.read_text().splitlines()] == [
        json.dumps({"table": t, "row": r}, ensure_ascii=False) for t, r in records._pending]
    await records.close()


def test_one_journal_is_written_by_one_process(tmp_path, caplog):
    from acd.records.journal import Journal, JournalInUse

    first = Journal(tmp_path / "records-journal.jsonl")
    with pytest.raises(JournalInUse, match="in use by another process"):
        Journal(tmp_path / "records-journal.jsonl")
    second_daemon = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", journal=first.path)
    assert second_daemon.journal is None                # runs, without a journal, and says so
    assert "running without a journal" in caplog.text
    first.close()
    Journal(tmp_path / "records-journal.jsonl").close()


OLD_AGENT_EVENTS = """CREATE TABLE agent_events (id INTEGER PRIMARY KEY, agent_id VARCHAR(16) NOT NULL,
    at FLOAT NOT NULL, state VARCHAR(16) NOT NULL, previous VARCHAR(16) NOT NULL, reason VARCHAR(32))"""


async def test_agent_events_from_before_event_keys_are_upgraded_in_place(database):
    """An older database has agent events without ``event_key``: the column and its
    unique index are added at start, the old rows stay, new ones are written once."""
    db = create_async_engine(database)
    serial = "SERIAL" if database.startswith("postgresql") else "INTEGER"
    async with db.begin() as conn:
        await conn.execute(text(OLD_AGENT_EVENTS.replace("id INTEGER", f"id {serial}")))
        await conn.execute(text("INSERT INTO agent_events (id, agent_id, at, state, previous) "
                                "VALUES (1, '11', 0, 'available', 'logged_out')"))
    await db.dispose()
    records = CallRecords(database, interval=60)
    await records.start()
    a_day_of_calls(records, 2, start=100)
    queued = list(records._pending)
    await records.flush()
    records._pending.extend(queued)
    await records.close()
    events = await rows_of(database, agent_events)
    assert len(events) == 1 + 1 + 2 * 4
    assert events[0].event_key is None and all(event.event_key for event in events[1:])


CHILD = """
import asyncio, os, signal, sys
from acd.records import CallRecords
from acd.engine import decisions as d

async def main():
    records = CallRecords(sys.argv[1], interval=0.05, journal=sys.argv[2])
    await records.start()
    records([d.AgentStatus(float(n), "11", "paused", "available", "break") for n in range(50)])
    print("queued", flush=True)
    await asyncio.sleep(60)

asyncio.run(main())
"""


async def test_rows_queued_by_a_daemon_killed_with_sigkill_are_written_by_the_next(tmp_path):
    """No stop at all: the journal has every row the moment it was queued."""
    import os
    import signal
    import subprocess
    import sys

    blocker = tmp_path / "not-yet"      # a file where the database's directory goes: it cannot be opened
    blocker.write_text("not a directory")
    missing = f"sqlite+aiosqlite:///{blocker / 'acd.sqlite3'}"
    journal = tmp_path / "records-journal.jsonl"
    child = subprocess.Popen([sys.executable, "-c", CHILD, missing, str(journal)], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "queued"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    blocker.unlink()
    blocker.mkdir()
    later = CallRecords(missing, interval=0.05, journal=journal)
    assert later.backlog == 50
    await later.start()
    await later.close()
    assert [r.at for r in await rows_of(missing, agent_events)] == [float(n) for n in range(50)]


def test_only_the_databases_own_refusal_of_a_row_dead_letters_it():
    """A server starting up (asyncpg raises its own error, unwrapped, at connect), a lost
    connection, a deadlock: the rows wait. A value too long (22001), a duplicate (23505):
    that row is dead-lettered."""
    import asyncpg.exceptions
    from sqlalchemy.exc import DBAPIError

    from acd.records.rows import RowRefused, is_the_rows_fault

    class Orig(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    def wrapped(sqlstate: str, invalidated: bool = False) -> DBAPIError:
        return DBAPIError("INSERT", {}, Orig(sqlstate), connection_invalidated=invalidated)

    assert is_the_rows_fault(wrapped("22001")) and is_the_rows_fault(wrapped("23505"))
    assert is_the_rows_fault(RowRefused("no call record"))
    for away in (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"),
                 ConnectionRefusedError(), TimeoutError(), wrapped("40P01"), wrapped("57P01"),
                 wrapped("22001", invalidated=True), wrapped("42P01")):
        assert not is_the_rows_fault(away), away
