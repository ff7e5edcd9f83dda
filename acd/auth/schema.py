"""The tables of people, their sessions and tokens, and the audit log, in the call
records' database (one PostgreSQL to back up, one place a supervisor's question "who
did this" is answered next to the tickets it is about).

They have their own ``MetaData`` (the models), and the API migrates the database at
start (``create_auth_tables``) whether or not the call records are running; the
migrations (``acd/migrations``) hold these tables too. Secrets are never stored: passwords as argon2 hashes, session and
token secrets as SHA-256 digests (they are random 256-bit values, so a slow hash adds
nothing and would cost every request).
"""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Connection, Float, ForeignKey, Integer, MetaData, String, Table, Text

from acd.migrate import upgrade

auth_metadata = MetaData()

users = Table(
    "users",
    auth_metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    #: one of acd.auth.roles.ROLES
    Column("role", String(16), nullable=False),
    #: the agent an ``agent`` user is (None for the other roles)
    Column("agent_id", String(16)),
    #: the back-office units a ``backoffice`` user works (empty for the other roles)
    Column("units", JSON, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

sessions = Table(
    "sessions",
    auth_metadata,
    #: SHA-256 of the cookie's value
    Column("id", String(64), primary_key=True),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False, index=True),
    #: the token pages send back in ``X-CSRF-Token`` with every change
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("remote", String(64)),
)

api_tokens = Table(
    "api_tokens",
    auth_metadata,
    #: the token's public part (``acd_<id>_<secret>``): names it in lists and the audit log
    Column("id", String(16), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("user_name", String(64), ForeignKey("users.name"), nullable=False, index=True),
    Column("scopes", JSON, nullable=False),
    Column("label", String(128)),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float),
    Column("revoked", Boolean, nullable=False, default=False),
)

#: every change a person or program made: who, from where, what, when, before and after
audit_log = Table(
    "audit_log",
    auth_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    #: ``person:<name>``, ``cli:<os user>``, ``daemon`` (the retention purge)
    Column("who", String(128), nullable=False, index=True),
    #: ``session``, ``token:<id>``, ``cli``
    Column("via", String(32), nullable=False),
    #: the client's address (None from the command line)
    Column("remote", String(64)),
    #: what was done: ``agent.logout``, ``ticket.claim``, ``user.add``, ``login.failed``...
    Column("action", String(64), nullable=False),
    #: what it was done to: an agent id, a ticket id, a user name
    Column("target", String(128)),
    Column("before", JSON),
    Column("after", JSON),
    Column("detail", Text),
)


def create_auth_tables(connection: Connection) -> None:
    """Bring the database to this code's schema, these tables included (``acd.migrate``:
    one chain of migrations for the whole database). Run inside a transaction."""
    upgrade(connection)
