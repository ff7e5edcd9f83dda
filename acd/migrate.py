"""The database's schema, brought to the code's version by Alembic migrations
(``acd/migrations/versions``), at every start and by ``acd db upgrade``.

Every part that keeps rows (the call records, the ticket desk, the callback book, the
people and their sessions) calls ``upgrade`` before its first write, in its own
transaction: whichever starts first migrates, the others find the head revision and
do nothing. On PostgreSQL two daemons starting at once take an advisory lock, so one
migrates and the other waits, then finds nothing to do.

Databases made before the migrations existed (the tables created from the models, the
new columns added at start) have no ``alembic_version`` table. Those releases could
leave any mix of tables and columns (each part created its own at its own start), so
no single revision describes them: they are brought to the head schema the way those
releases did it, once, and stamped; from then on only migrations change them. Nothing
is ever dropped by ``upgrade``.
"""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, inspect, text

#: the advisory lock two daemons migrating one PostgreSQL take (any fixed number)
PG_LOCK = 1555_0001


class SchemaMismatch(RuntimeError):
    """The database has a table this code cannot bring to its schema without a person
    deciding (a column it cannot add to existing rows, a table it did not make)."""


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The revision this code expects."""
    found = ScriptDirectory.from_config(_config()).get_current_head()
    assert found is not None
    return found


def current(connection: Connection) -> str | None:
    """The database's revision; None for a database without ``alembic_version``."""
    return MigrationContext.configure(connection).get_current_revision()


def adopt_unversioned(connection: Connection) -> list[str]:
    """Bring a database made before the migrations to the head schema the way those
    releases did at start (create the missing tables, add the missing nullable columns),
    so that every state they could leave is taken in; the caller then stamps it. The
    tables and columns added, as ``table`` or ``table.column``."""
    from acd.auth.schema import auth_metadata
    from acd.records.schema import metadata

    existing = inspect(connection)
    quote = connection.dialect.identifier_preparer.quote
    tables = [table for models in (metadata, auth_metadata) for table in models.sorted_tables]
    missing: dict[str, list[Column]] = {}
    for table in tables:             # refuse before changing anything (SQLite's DDL is not rolled back)
        if not existing.has_table(table.name):
            continue
        have = {c["name"] for c in existing.get_columns(table.name)}
        missing[table.name] = [column for column in table.columns if column.name not in have]
        for column in missing[table.name]:
            if not column.nullable:
                raise SchemaMismatch(f"table {table.name!r} has no column {column.name!r} and it cannot be added "
                                     "to existing rows (NOT NULL): this database was not made by this project, "
                                     "or needs a person to migrate it")
    added: list[str] = []
    for table in tables:
        if table.name not in missing:
            table.create(connection)
            added.append(table.name)
            continue
        for column in missing[table.name]:
            kind = column.type.compile(dialect=connection.dialect)
            connection.execute(text(f"ALTER TABLE {quote(table.name)} ADD COLUMN {quote(column.name)} {kind}"))
            added.append(f"{table.name}.{column.name}")
        for index in table.indexes:
            index.create(connection, checkfirst=True)
    return added


def upgrade(connection: Connection) -> list[str]:
    """Migrate to the head revision inside the caller's transaction; the revisions
    applied, oldest first (empty when the database was already there)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"SELECT pg_advisory_xact_lock({PG_LOCK})"))
    config = _config(connection)
    before = current(connection)
    if before is None and inspect(connection).get_table_names():
        adopted = adopt_unversioned(connection)
        command.stamp(config, "head")
        return [f"adopted: {', '.join(adopted) or 'nothing added'}"]
    command.upgrade(config, "head")
    after = current(connection)
    if after == before:
        return []
    scripts = ScriptDirectory.from_config(config)
    return [script.revision for script in reversed(list(scripts.iterate_revisions(after, before)))]
