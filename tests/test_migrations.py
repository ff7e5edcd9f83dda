"""The database's migrations (Alembic): a fresh database, one at the first release's
schema, and one made before the migrations existed all end at the models' schema with
their rows kept, on SQLite and PostgreSQL; two daemons migrating at once is harmless."""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd import migrate
from acd.auth.schema import auth_metadata
from acd.records.schema import agent_events, calls, metadata
from tests.auth_helpers import postgres_schema

FIRST_CALL = ("INSERT INTO calls (call_id, queue, enqueued_at, priority, requirements, outcome, ended_at, waited, "
              "missed_offers) VALUES ('c1', 'pensions', 100.0, 0, '{}', 'abandoned', 130.0, 30.0, 0)")
FIRST_EVENT = ("INSERT INTO agent_events (agent_id, at, state, previous, reason) "
               "VALUES ('2101', 90.0, 'paused', 'available', 'break')")


def differences(connection: Connection) -> list:
    """What the database lacks or has beyond the models (empty: they match)."""
    models = MetaData()
    for source in (metadata, auth_metadata):
        for table in source.tables.values():
            table.to_metadata(models)
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [d for d in compare_metadata(context, models) if not (d[0] == "remove_table" and d[1].name == "alembic_version")]


def to_first_release(connection: Connection) -> None:
    config = migrate._config(connection)
    command.upgrade(config, "0001")
    connection.execute(text(FIRST_CALL))
    connection.execute(text(FIRST_EVENT))


@asynccontextmanager
async def database(kind: str, tmp_path, postgres_url: str | None) -> AsyncIterator[AsyncEngine]:
    if kind == "sqlite":
        db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
        try:
            yield db
        finally:
            await db.dispose()
    else:
        async with postgres_schema(postgres_url, "migrate") as db:
            yield db


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db(request, tmp_path) -> AsyncIterator[AsyncEngine]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
    async with database(request.param, tmp_path, url) as engine:
        yield engine


async def test_a_fresh_database_gets_every_migration_and_matches_the_models(db):
    async with db.begin() as conn:
        applied = await conn.run_sync(migrate.upgrade)
    async with db.connect() as conn:
        assert applied == ["0001", "0002", "0003", "0004", "0005", "0006", "0007"] and applied[-1] == migrate.head()
        assert await conn.run_sync(differences) == []
        assert await conn.run_sync(migrate.current) == migrate.head()


async def test_a_database_at_the_first_release_is_migrated_with_its_rows_kept(db):
    async with db.begin() as conn:
        await conn.run_sync(to_first_release)
    async with db.begin() as conn:
        applied = await conn.run_sync(migrate.upgrade)
    async with db.begin() as conn:
        assert applied == ["0002", "0003", "0004", "0005", "0006", "0007"]
        assert await conn.run_sync(differences) == []
        call = (await conn.execute(select(calls))).one()
        event = (await conn.execute(select(agent_events))).one()
        assert (call.call_id, call.outcome, call.waited) == ("c1", "abandoned", 30.0)
        assert (event.reason, event.event_key) == ("break", None)
        assert await conn.run_sync(migrate.upgrade) == []          # the next start changes nothing


async def test_a_database_from_before_the_migrations_is_adopted_once_then_migrated_normally(db):
    async with db.begin() as conn:
        await conn.run_sync(to_first_release)
        await conn.execute(text("DROP TABLE alembic_version"))     # as the releases before Alembic left it
        await conn.execute(text("CREATE TABLE users (name VARCHAR(64) NOT NULL PRIMARY KEY, password_hash "
                                "VARCHAR(256) NOT NULL, role VARCHAR(16) NOT NULL, agent_id VARCHAR(16), units JSON "
                                "NOT NULL, disabled BOOLEAN NOT NULL, created_at FLOAT NOT NULL, updated_at FLOAT "
                                "NOT NULL)"))
    async with db.begin() as conn:
        applied = await conn.run_sync(migrate.upgrade)
    async with db.begin() as conn:
        assert len(applied) == 1 and applied[0].startswith("adopted: ") and "agent_events.event_key" in applied[0]
        assert "users" not in applied[0].split(": ", 1)[1].split(", ")           # it was there already
        assert await conn.run_sync(migrate.current) == migrate.head()
        assert await conn.run_sync(differences) == []
        assert (await conn.execute(select(calls.c.call_id))).scalars().all() == ["c1"]


async def test_a_table_this_project_did_not_make_is_refused_with_its_name(tmp_path):
    db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
    async with db.begin() as conn:
        await conn.execute(text("CREATE TABLE calls (call_id VARCHAR(64) PRIMARY KEY, whatever TEXT)"))
    with pytest.raises(migrate.SchemaMismatch, match="'calls' has no column 'queue'"):
        async with db.begin() as conn:
            await conn.run_sync(migrate.upgrade)
    async with db.connect() as conn:                      # nothing half done: the transaction rolled back
        assert await conn.run_sync(lambda c: c.dialect.has_table(c, "agent_events")) is False
    await db.dispose()


@pytest.mark.postgres
async def test_two_daemons_migrating_one_postgresql_at_once_both_start(postgres_url):
    async with postgres_schema(postgres_url, "migrate") as db:
        async def start() -> list[str]:
            async with db.begin() as conn:
                return await conn.run_sync(migrate.upgrade)

        first, second = await asyncio.gather(start(), start())
        assert sorted([first, second], key=len) == [[], ["0001", "0002", "0003", "0004", "0005", "0006", "0007"]]
        async with db.connect() as conn:
            assert await conn.run_sync(differences) == []


def test_acd_db_migrates_by_hand_and_tells_where_a_database_is(tmp_path, capsys):
    from acd.cli import main

    config = tmp_path / "acd.yaml"
    source = (Path(__file__).resolve().parent.parent / "examples" / "1555.yaml").read_text(encoding="utf-8")
    config.write_text(source, encoding="utf-8")
    url = f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}"
    assert main(["db", "current", "--config", str(config), "--url", url]) == 3
    assert "database empty" in capsys.readouterr().out
    assert main(["db", "upgrade", "--config", str(config), "--url", url]) == 0
    assert "migrated: 0001" in capsys.readouterr().out
    assert main(["db", "current", "--config", str(config), "--url", url]) == 0
    assert f"this release {migrate.head()}: up to date" in capsys.readouterr().out
