"""Call records written from a real engine run, into SQLite and into a real PostgreSQL."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from acd.engine import Engine
from acd.engine import events as e
from acd.records import CallRecords, agent_events, calls, metadata
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
        await conn.run_sync(metadata.drop_all)
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
    url = f"sqlite+aiosqlite:///{tmp_path / 'missing-dir' / 'acd.sqlite3'}"
    records = CallRecords(url, interval=0.05)
    run_a_small_day(records)
    with pytest.raises(Exception):
        await records.flush()
    assert records.backlog > 0             # nothing was dropped
    (tmp_path / "missing-dir").mkdir()
    async with records.db.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await records.flush()
    assert records.backlog == 0
    await records.db.dispose()
