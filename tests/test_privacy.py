"""Citizens' data is kept no longer than ``privacy.retention_days``: caller numbers and
notes of old calls and of tickets resolved long ago are erased, the figures stay, open
tickets keep theirs; by the command, by the daemon's daily run, on SQLite and PostgreSQL."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.auth.schema import audit_log
from acd.cli import main
from acd.config import ConfigError, load_config_text
from acd.config.access import privacy_of
from acd.daemon.app import Daemon
from acd.records.retention import purge
from acd.records.schema import calls, create_or_upgrade, ticket_events, tickets
from tests.auth_helpers import postgres_schema

DAY = 86400.0
NOW = 1_796_108_400.0
CONFIG = """\
service: {{name: test, languages: [el]}}
skills: {{topic:a: A}}
queues:
  q: {{requires: {{topic:a: 1}}}}
agents:
  '11': {{pin: '1234', skills: {{topic:a: 3}}}}
daemon: {{database_url: '{url}', queue_log: {var}/queue_log, api_port: {api}, agi_port: {agi}, ami_port: {ami}}}
{privacy}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(call_id: str, ended: float, callback: str | None) -> dict[str, object]:
    row = {c: None for c in calls.columns.keys()}
    row.update(call_id=call_id, queue="q", enqueued_at=ended - 100, priority=0, requirements={}, outcome="answered",
               agent_id="11", answered_at=ended - 90, ended_at=ended, waited=10.0, talk_time=80.0, missed_offers=0,
               callback=callback, caller=callback and callback[:-1] + "9")
    return row


def ticket(ticket_id: str, created: float, status: str, updated: float | None) -> dict[str, object]:
    return {"id": ticket_id, "call_id": f"call-{ticket_id}", "created_at": created, "queue": "q", "unit": "a-desk",
            "primary_owner": "team:a", "alternate_owner": "person:b", "source": "agent", "agent_id": "11",
            "caller": "2101234567", "note": "ο πολίτης ζητά επανυπολογισμό", "status": status,
            "claimed_by": "person:e.markou" if status != "open" else None,
            "resolution": "πληρώθηκε" if status == "resolved" else None, "updated_at": updated}


async def fill(db: AsyncEngine) -> None:
    """Calls and tickets, old and new (retention 30 days)."""
    async with db.begin() as conn:
        await conn.run_sync(create_or_upgrade)
        await conn.execute(calls.insert(), [call("old-call", NOW - 40 * DAY, "2109990000"),
                                            call("new-call", NOW - 2 * DAY, "2109990001")])
        await conn.execute(tickets.insert(), [
            ticket("old-resolved", NOW - 60 * DAY, "resolved", NOW - 45 * DAY),
            ticket("old-but-open", NOW - 60 * DAY, "open", None),         # the citizen still waits
            ticket("resolved-lately", NOW - 60 * DAY, "resolved", NOW - 3 * DAY)])
        await conn.execute(ticket_events.insert(), [
            {"ticket_id": "old-resolved", "at": NOW - 45 * DAY, "action": "resolve", "from_status": "claimed",
             "to_status": "resolved", "who": "person:e.markou", "note": "μίλησα με τον κ. Παπαδόπουλο"},
            {"ticket_id": "resolved-lately", "at": NOW - 3 * DAY, "action": "resolve", "from_status": "claimed",
             "to_status": "resolved", "who": "person:e.markou", "note": "κλήθηκε"}])


async def check_purge(db: AsyncEngine) -> None:
    await fill(db)
    erased = await purge(db, 30, now=NOW)
    assert (erased.calls, erased.tickets, erased.ticket_events) == (1, 1, 1)
    async with db.connect() as conn:
        by_call = {r.call_id: r for r in (await conn.execute(select(calls))).all()}
        by_ticket = {r.id: r for r in (await conn.execute(select(tickets))).all()}
        notes = {r.ticket_id: r.note for r in (await conn.execute(select(ticket_events))).all()}
        (entry,) = (await conn.execute(select(audit_log))).all()
    assert by_call["old-call"].callback is None and by_call["new-call"].callback == "2109990001"
    assert by_call["old-call"].caller is None and by_call["new-call"].caller == "2109990009"   # the agent panel's
    assert (by_call["old-call"].talk_time, by_call["old-call"].outcome) == (80.0, "answered")     # figures stay
    old = by_ticket["old-resolved"]
    assert (old.caller, old.note, old.resolution) == (None, None, None)
    assert (old.status, old.claimed_by, old.queue) == ("resolved", "person:e.markou", "q")
    assert by_ticket["old-but-open"].caller == "2101234567" and by_ticket["old-but-open"].note
    assert by_ticket["resolved-lately"].caller == "2101234567"
    assert notes == {"old-resolved": None, "resolved-lately": "κλήθηκε"}
    assert (entry.who, entry.action, entry.after) == ("daemon", "privacy.purge",
                                                      {"calls": 1, "tickets": 1, "ticket_events": 1})
    again = await purge(db, 30, now=NOW)
    assert again.total == 0


async def test_purge_erases_old_personal_data_and_keeps_the_figures_in_sqlite(tmp_path):
    db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
    try:
        await check_purge(db)
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_purge_in_postgresql(postgres_url):
    async with postgres_schema(postgres_url, "privacy") as db:
        await check_purge(db)


def test_the_retention_setting_is_checked_with_file_and_line():
    base = CONFIG.format(url="sqlite+aiosqlite:///x", var="var", api=1, agi=2, ami=3, privacy="")
    assert privacy_of(load_config_text(base)).retention_days is None
    assert privacy_of(load_config_text(base + "privacy: {retention_days: 90}\n")).retention_days == 90
    with pytest.raises(ConfigError) as error:
        load_config_text(base + "privacy: {retention_days: 0}\n", "acd.yaml")
    assert "acd.yaml" in str(error.value) and ":8" in str(error.value)
    with pytest.raises(ConfigError, match="retention_dayz"):
        load_config_text(base + "privacy: {retention_dayz: 9}\n", "acd.yaml")


def write_config(tmp_path: Path, privacy: str) -> tuple[Path, str]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    path = tmp_path / "acd.yaml"
    path.write_text(CONFIG.format(url=url, var=tmp_path, api=free_port(), agi=free_port(), ami=free_port(),
                                  privacy=privacy))
    return path, url


async def test_the_command_purges_now_and_refuses_without_a_setting(tmp_path, capsys, monkeypatch):
    path, url = write_config(tmp_path, "privacy: {retention_days: 30}\n")
    db = create_async_engine(url)
    await fill(db)
    monkeypatch.setattr("time.time", lambda: NOW)
    assert await _in_thread(main, ["privacy", "purge", "--config", str(path)]) == 0
    assert "1 calls, 1 tickets, 1 ticket history notes" in capsys.readouterr().out
    async with db.connect() as conn:
        (who,) = (await conn.execute(select(audit_log.c.who))).scalars().all()
    await db.dispose()
    assert who.startswith("cli:")
    bare, _ = write_config(tmp_path, "")
    assert await _in_thread(main, ["privacy", "purge", "--config", str(bare)]) == 1
    assert "no privacy.retention_days" in capsys.readouterr().err


async def test_the_daemon_purges_when_it_starts(tmp_path):
    path, url = write_config(tmp_path, "privacy: {retention_days: 30}\n")
    db = create_async_engine(url)
    await fill(db)
    daemon = Daemon(path, now=lambda: NOW)
    await daemon.start()
    try:
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            async with db.connect() as conn:
                caller = (await conn.execute(select(tickets.c.caller).where(tickets.c.id == "old-resolved"))).scalar()
            if caller is None:
                break
            assert asyncio.get_running_loop().time() < deadline, "the daemon did not purge at start"
            await asyncio.sleep(0.05)
    finally:
        await daemon.stop()
        await db.dispose()


async def _in_thread(function, argv):
    """``main`` runs its own event loop: from an async test it runs in a thread."""
    return await asyncio.to_thread(function, argv)


async def test_the_daily_run_follows_the_running_configs_setting(tmp_path):
    """Nothing is erased while the config has no retention; a reload that sets it applies
    at the next run."""
    from acd.records.retention import DailyPurge

    db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
    await fill(db)
    base = CONFIG.format(url="sqlite+aiosqlite:///x", var="var", api=1, agi=2, ami=3, privacy="")
    config = [load_config_text(base)]
    daily = DailyPurge(db, lambda: config[0], now=lambda: NOW, every=0.05)
    assert await daily.run_once() is None
    daily.start()
    try:
        await asyncio.sleep(0.2)
        async with db.connect() as conn:
            assert (await conn.execute(select(calls.c.callback).where(calls.c.call_id == "old-call"))).scalar()
        config[0] = load_config_text(base + "privacy: {retention_days: 30}\n")
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            async with db.connect() as conn:
                left = (await conn.execute(select(calls.c.callback).where(calls.c.call_id == "old-call"))).scalar()
            if left is None:
                break
            assert asyncio.get_running_loop().time() < deadline, "the daily run did not follow the new setting"
            await asyncio.sleep(0.05)
    finally:
        await daily.close()
        await db.dispose()
