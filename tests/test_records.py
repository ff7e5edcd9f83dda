"""Call records and back-office tickets written from a real engine run, into SQLite and
into a real PostgreSQL."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from acd.config import load_config_text
from acd.config.back_office import back_office_of
from acd.daemon.escalation import Escalations
from acd.engine import Engine
from acd.engine import events as e
from acd.records import CallRecords, agent_events, calls, metadata, tickets
from tests.databases import drop_everything
from tests.engine_helpers import make_config

QUEUE = "q:\n  requires: {topic:a: 1}\n  wrapup: 5\n  max_wait: 100\n  on_max_wait: callback\n"
AGENTS = "'11': {pin: '1234', skills: {topic:a: 3}}\n"


def run_a_small_day(records: CallRecords) -> None:
    engine = Engine(make_config(QUEUE, AGENTS))

    def feed(event: e.Event) -> None:
        records(engine.handle(event))

    feed(e.AgentLoggedIn(0, "11"))
    feed(e.CallArrived(1, "answered", "q"))          # offered at once
    feed(e.CallArrived(2, "abandons", "q"))
    feed(e.CallArrived(3, "times-out", "q"))
    feed(e.OfferFailed(16, "answered", "11", "no_answer"))
    feed(e.CallerHungUp(18, "abandons"))
    feed(e.Tick(21))                                  # the agent's rest is over
    feed(e.OfferAnswered(25, "answered", "11"))
    feed(e.AgentHungUp(85, "answered"))
    feed(e.AgentPaused(86, "11", "break"))          # in wrap-up: paused at 90
    feed(e.Tick(200))                                 # "times-out" reached max wait at 103


async def check_records(url: str) -> None:
    records = CallRecords(url, interval=0.05)
    async with records.db.begin() as conn:
        await conn.run_sync(drop_everything)
    await records.start()
    run_a_small_day(records)
    records.set_satisfaction("answered", 4)
    await records.close()
    records = CallRecords(url)
    async with records.db.connect() as conn:
        rows = {r.call_id: r for r in (await conn.execute(select(calls))).all()}
        states = [r.state for r in (await conn.execute(select(agent_events).order_by(agent_events.c.id))).all()]
    await records.db.dispose()
    answered = rows["answered"]
    assert (answered.outcome, answered.agent_id, answered.waited, answered.talk_time) == ("answered", "11", 24, 60)
    assert (answered.missed_offers, answered.ended_by, answered.satisfaction) == (1, "agent", 4)
    assert answered.requirements == {"topic:a": 1}
    abandoned = rows["abandons"]
    assert (abandoned.outcome, abandoned.waited, abandoned.position) == ("abandoned", 16, 2)  # "answered" was back ahead
    exited = rows["times-out"]
    assert (exited.outcome, exited.exit_action, exited.waited) == ("exited", "callback", 100)
    assert states == ["available", "ringing", "resting", "available", "ringing", "on_call", "wrap_up", "paused"]


async def test_records_in_sqlite(tmp_path):
    await check_records(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")


@pytest.mark.postgres
async def test_records_in_postgresql(postgres_url):
    await check_records(postgres_url)


async def test_rows_wait_while_the_database_is_down(tmp_path):
    # a file where the database's directory should be: neither the writer nor SQLite can open it
    blocker = tmp_path / "missing-dir"
    blocker.write_text("not a directory")
    url = f"sqlite+aiosqlite:///{blocker / 'acd.sqlite3'}"
    records = CallRecords(url, interval=0.05)
    run_a_small_day(records)
    with pytest.raises(Exception):
        await records.flush()
    assert records.backlog > 0             # nothing was dropped
    blocker.unlink()
    blocker.mkdir()
    async with records.db.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await records.flush()
    assert records.backlog == 0
    await records.db.dispose()


# -- back-office tickets -------------------------------------------------------------------------

TICKET_CONFIG = """\
service: {name: test, languages: [el]}
skills: {topic:a: A}
queues:
  q: {requires: {topic:a: 1}, wrapup: 120, max_wait: 100, on_max_wait: ticket}
agents:
  '11': {pin: '1234', skills: {topic:a: 3}}
back_office:
  units:
    a-desk: {primary: team:bo-a, alternate: person:bo-a-head, queues: [q]}
    general: {primary: team:bo-general, alternate: person:duty-officer}
"""


async def check_tickets(url: str) -> None:
    """An agent escalates the call it just ended, and a caller reaches the queue's max
    wait whose exit is ``ticket``: both become rows of ``tickets``, with the unit and
    owners the config gives the queue."""
    config = load_config_text(TICKET_CONFIG, "<tickets>")
    records = CallRecords(url, interval=0.05, back_office=back_office_of(config),
                          caller_number={"times-out": "2101234567"}.get)
    async with records.db.begin() as conn:
        await conn.run_sync(drop_everything)
    await records.start()
    engine = Engine(config)
    now = [0.0]
    escalations = Escalations(SimpleNamespace(config=config, engine=engine, now=lambda: now[0]), records.open_ticket)

    def feed(event: e.Event) -> None:
        now[0] = event.at
        out = engine.handle(event)
        records(out)
        escalations(out)

    feed(e.AgentLoggedIn(0, "11"))
    feed(e.CallArrived(1, "helped", "q"))
    feed(e.OfferAnswered(3, "helped", "11"))
    feed(e.CallArrived(5, "times-out", "q"))          # nobody free: the agent is busy, then in wrap-up
    feed(e.AgentHungUp(60, "helped"))                 # wrap-up until 180
    now[0] = 70
    by_agent = escalations.escalate("11", note="Pension recalculation: needs the 2019 records")
    feed(e.Tick(200))                                 # "times-out" reached max wait at 105
    await records.close()

    records = CallRecords(url)
    async with records.db.connect() as conn:
        rows = {r.source: r for r in (await conn.execute(select(tickets))).all()}
        exited = (await conn.execute(select(calls).where(calls.c.call_id == "times-out"))).one()
    await records.db.dispose()
    assert set(rows) == {"agent", "max_wait"}
    agent = rows["agent"]
    assert (agent.id, agent.call_id, agent.created_at, agent.queue, agent.agent_id) == (by_agent.id, "helped", 70, "q", "11")
    assert (agent.unit, agent.primary_owner, agent.alternate_owner) == ("a-desk", "team:bo-a", "person:bo-a-head")
    assert (agent.note, agent.status, agent.caller) == ("Pension recalculation: needs the 2019 records", "open", None)
    waited = rows["max_wait"]
    assert (waited.call_id, waited.created_at, waited.queue, waited.agent_id) == ("times-out", 105, "q", None)
    assert (waited.unit, waited.primary_owner, waited.caller, waited.status) == ("a-desk", "team:bo-a", "2101234567", "open")
    assert (exited.outcome, exited.exit_action) == ("exited", "ticket")


async def test_tickets_in_sqlite(tmp_path):
    await check_tickets(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")


@pytest.mark.postgres
async def test_tickets_in_postgresql(postgres_url):
    await check_tickets(postgres_url)


async def test_a_max_wait_ticket_without_a_back_office_still_gets_written(tmp_path):
    """No ``back_office`` section: the ticket has no unit, but the caller who was told
    "your request is recorded" is not dropped."""
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05)
    await records.start()
    engine = Engine(make_config("q: {requires: {topic:a: 1}, max_wait: 30, on_max_wait: ticket}\n", AGENTS))
    records(engine.handle(e.CallArrived(1, "c1", "q")))
    records(engine.handle(e.Tick(40)))
    await records.close()
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
    async with records.db.connect() as conn:
        row = (await conn.execute(select(tickets))).one()
    await records.db.dispose()
    assert (row.call_id, row.source, row.unit, row.primary_owner, row.status) == ("c1", "max_wait", None, None, "open")


async def test_a_callback_that_runs_out_gets_its_row(tmp_path):
    """A callback left waiting past its window is cancelled by the engine; the call's row
    ends as an exit that says so, not missing."""
    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05)
    await records.start()
    engine = Engine(make_config(QUEUE, AGENTS))
    records(engine.handle(e.CallArrived(1, "cb", "q", callback="6900000000")))
    records(engine.handle(e.CallbackCancelled(50, "cb", "expired")))
    await records.close()
    async with records.db.connect() as conn:
        (row,) = (await conn.execute(select(calls))).all()
    assert (row.call_id, row.outcome, row.exit_action, row.waited) == ("cb", "exited", "callback_expired", 49)


async def test_a_callback_an_earlier_daemon_made_writes_no_exit_over_its_row(tmp_path):
    """The dialer learnt from AstDB that an earlier daemon's try was answered: that
    daemon's records have the call (in a shared database, the same row, by call id),
    so this one writes nothing, rather than an exit over an answered call."""
    from acd.engine.decisions import CALLBACK_MADE_BEFORE

    records = CallRecords(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", interval=0.05)
    await records.start()
    engine = Engine(make_config(QUEUE, AGENTS))
    records(engine.handle(e.CallArrived(1, "cb", "q", callback="6900000000")))
    records(engine.handle(e.CallbackCancelled(50, "cb", CALLBACK_MADE_BEFORE)))
    await records.close()
    async with records.db.connect() as conn:
        assert (await conn.execute(select(calls))).all() == []
