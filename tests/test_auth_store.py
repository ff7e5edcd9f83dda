"""The user store itself, on SQLite and on a real PostgreSQL: passwords, sessions that
slide and end, tokens narrowed to their scopes, disabling, and the audit log's query."""
from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from acd.auth import AuditLog, AuthStore, UserError
from tests.auth_helpers import FAST, postgres_schema


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


async def check_store(db: AsyncEngine) -> None:
    clock = Clock()
    store = AuthStore(db, now=clock, hasher=FAST, session_hours=1)
    await store.prepare()
    await store.add_user("e.markou", "pensions desk secret", "backoffice", units=["pensions", "labour"])
    await store.add_user("a2001", "agent 2001 secret", "agent", agent_id="2001")
    with pytest.raises(UserError, match="exists already"):
        await store.add_user("a2001", "agent 2001 secret", "agent", agent_id="2001")
    with pytest.raises(UserError, match="unknown role"):
        await store.add_user("x", "long enough secret", "admin")
    assert await store.check_password("e.markou", "wrong password") is None
    assert await store.check_password("nobody", "pensions desk secret") is None
    user = await store.check_password("e.markou", "pensions desk secret")
    assert user is not None and (user.role, user.units) == ("backoffice", ("pensions", "labour"))

    secret, csrf = await store.open_session(user, "10.0.0.7")
    me = await store.session(secret)
    assert me is not None and (me.who, me.csrf, me.units) == ("person:e.markou", csrf, ("pensions", "labour"))
    assert await store.session(secret + "x") is None
    clock.t += 3000                                   # used within the hour: it slides on
    assert await store.session(secret) is not None
    clock.t += 3000
    assert await store.session(secret) is not None
    clock.t += 3700                                   # idle more than the hour: ended
    assert await store.session(secret) is None

    token = await store.issue_token("a2001", ["figures"], label="panel kiosk", days=1)
    found = await store.token(token)
    assert found is not None and (found.rights, found.agent_id, found.via) == (
        frozenset({"figures"}), "2001", f"token:{token.split('_')[1]}")
    assert await store.token("acd_nope_nope") is None and await store.token("garbage") is None
    clock.t += 2 * 86400
    assert await store.token(token) is None           # expired
    forever = await store.issue_token("a2001", ["agent:self"])
    await store.set_disabled("a2001")
    assert await store.token(forever) is None and await store.check_password("a2001", "agent 2001 secret") is None
    await store.set_disabled("a2001", False)
    assert await store.token(forever) is not None
    assert [u.name for u in await store.users()] == ["a2001", "e.markou"]

    audit = AuditLog(db, now=clock)
    await audit.record(who="person:e.markou", via="session", action="ticket.claim", target="t1",
                       before={"status": "open"}, after={"status": "claimed"})
    clock.t += 10
    await audit.record(who="cli:root", via="cli", action="user.add", target="a2001")
    assert [x["action"] for x in await audit.entries()] == ["user.add", "ticket.claim"]
    assert [x["action"] for x in await audit.entries(who="person:e.markou")] == ["ticket.claim"]
    assert [x["action"] for x in await audit.entries(since=clock.t)] == ["user.add"]
    (claim,) = await audit.entries(who="person:e.markou")
    assert (claim["before"], claim["after"]) == ({"status": "open"}, {"status": "claimed"})


async def test_the_store_in_sqlite(tmp_path):
    db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'users.sqlite3'}")
    try:
        await check_store(db)
    finally:
        await db.dispose()


@pytest.mark.postgres
async def test_the_store_in_postgresql(postgres_url):
    async with postgres_schema(postgres_url, "auth") as db:
        await check_store(db)


async def test_remembered_identities_spare_the_database_and_follow_changes(tmp_path):
    """With ``remember_for`` a polling reader costs one query a period; a change made by
    this store forgets at once, one made by another process (the CLI) within the period."""
    import asyncio

    clock = Clock()
    db = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'users.sqlite3'}")
    try:
        store = AuthStore(db, now=clock, hasher=FAST, remember_for=2.0)
        other = AuthStore(db, now=clock, hasher=FAST)            # the `acd users` command
        await store.prepare()
        await store.add_user("kiosk", "wallboard secret 1", "wallboard")
        token = await store.issue_token("kiosk", ["figures"])
        found = await asyncio.gather(*(store.token(token) for _ in range(20)))
        assert all(f is not None and f.role == "wallboard" for f in found)
        await other.revoke_token(token.split("_")[1])
        assert await store.token(token) is not None             # remembered: within the period
        clock.t += 2.0
        assert await store.token(token) is None                 # the period is over: asked again
        user = await store.check_password("kiosk", "wallboard secret 1")
        assert user is not None
        secret, _ = await store.open_session(user, None)
        assert await store.session(secret) is not None
        await store.set_disabled("kiosk")                       # this store's change: forgotten at once
        assert await store.session(secret) is None
    finally:
        await db.dispose()
