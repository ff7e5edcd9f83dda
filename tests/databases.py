"""Emptying the shared test database between tests: every table the migrations make,
and their version, so the next start migrates from nothing instead of trusting a
version whose tables are gone."""
from __future__ import annotations

from sqlalchemy import Connection, text

from acd.auth.schema import auth_metadata
from acd.records.schema import metadata


def drop_everything(connection: Connection) -> None:
    metadata.drop_all(connection)
    auth_metadata.drop_all(connection)
    connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
