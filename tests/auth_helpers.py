"""People for the API tests: a user store on a fresh SQLite file with one user per
role, and logging a test client in the way a page does (cookie + CSRF header)."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.auth import AuthStore
from acd.config.access import AccessSettings

#: argon2 at its cheapest: the tests hash dozens of passwords, production hashes one per login
FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery"
#: the tests' server is plain http on loopback
PLAIN_HTTP = AccessSettings(secure_cookies=False)

#: name -> (role, agent id, units)
PEOPLE: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "sup": ("supervisor", None, ()),
    "eng": ("engineer", None, ()),
    "plan": ("planner", None, ()),
    "kiosk": ("wallboard", None, ()),
    "bo-a": ("backoffice", None, ("a-desk",)),
    "a11": ("agent", "11", ()),
    "a12": ("agent", "12", ()),
}


async def people(directory: Path, now: Callable[[], float] | None = None) -> AuthStore:
    """A user store in ``directory`` with everyone in PEOPLE (password PASSWORD)."""
    db = create_async_engine(f"sqlite+aiosqlite:///{directory / 'users.sqlite3'}")
    store = AuthStore(db, hasher=FAST, **({"now": now} if now is not None else {}))
    await store.prepare()
    for name, (role, agent_id, units) in PEOPLE.items():
        await store.add_user(name, PASSWORD, role, agent_id=agent_id, units=units)
    return store


async def log_in(client: TestClient, name: str, password: str = PASSWORD) -> str:
    """Log ``client`` in as ``name``; its later requests send the session's CSRF token."""
    r = await client.post("/api/login", json={"name": name, "password": password})
    assert r.status == 200, await r.text()
    csrf = (await r.json())["me"]["csrf"]
    client.session.headers["X-CSRF-Token"] = csrf
    return csrf


async def program_token(database_url: str, role: str = "supervisor", scopes: tuple[str, ...] = ("agents:read",),
                        name: str = "test-program") -> str:
    """A bearer token in the database a daemon is about to use (for tests that talk to a
    running daemon over plain aiohttp, which keeps no cookies for an IP address)."""
    db = create_async_engine(database_url)
    try:
        store = AuthStore(db, hasher=FAST)
        await store.prepare()
        await store.add_user(name, PASSWORD, role)
        return await store.issue_token(name, scopes)
    finally:
        await db.dispose()


@asynccontextmanager
async def postgres_schema(url: str, prefix: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the test PostgreSQL whose tables go to a schema of their own, dropped
    afterwards, so other tests' tables in the shared ``acd_test`` database are never touched."""
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = create_async_engine(url, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()
