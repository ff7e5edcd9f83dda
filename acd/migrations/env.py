"""Alembic's environment: the project runs migrations on a connection it already holds
(``acd.migrate.upgrade``, inside the caller's transaction), never from alembic.ini."""
from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the migrations through 'acd db upgrade' (acd.migrate), which passes the connection")
context.configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
