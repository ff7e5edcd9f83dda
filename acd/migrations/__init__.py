"""Alembic's migration scripts for the one database the project keeps (call records,
tickets, callbacks, people): see ``acd.migrate`` for how they run."""
