"""``acd users ...``: the first user, passwords from standard input, tokens that work on
the API, disabling; each change in the audit log as ``cli:<user>``."""
from __future__ import annotations

import asyncio
import io
import sys

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from acd.api import make_app
from acd.auth import AuthStore
from acd.auth.schema import audit_log
from acd.cli import main
from acd.daemon.live_engine import LiveEngine
from tests.auth_helpers import PLAIN_HTTP
from tests.engine_helpers import make_config

CONFIG = """\
service: {{name: test, languages: [el]}}
skills: {{topic:a: A}}
queues:
  q: {{requires: {{topic:a: 1}}}}
agents:
  '11': {{pin: '1234', skills: {{topic:a: 3}}}}
back_office:
  units:
    pensions: {{primary: team:bo-pensions, alternate: person:e.markou}}
    labour: {{primary: team:bo-labour, alternate: person:k.papas}}
daemon: {{database_url: '{url}'}}
"""


@pytest.fixture
def users(tmp_path, monkeypatch, capsys):
    url = f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}"
    path = tmp_path / "acd.yaml"
    path.write_text(CONFIG.format(url=url))

    def run(*argv: str, password: str | None = None) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "stdin", io.StringIO(f"{password}\n" if password is not None else ""))
        code = main(["users", *argv, "--config", str(path)])
        out = capsys.readouterr()
        return code, out.out, out.err

    run.url = url  # type: ignore[attr-defined]
    return run


def test_the_first_user_and_the_rules_for_users(users):
    assert users("add", "admin", "--role", "supervisor", password="a long enough secret")[0] == 0
    code, _, err = users("add", "admin", "--role", "supervisor", password="a long enough secret")
    assert code == 1 and "exists already" in err
    code, _, err = users("add", "short", "--role", "planner", password="2short")
    assert code == 1 and "at least 10" in err
    code, _, err = users("add", "desk7", "--role", "agent", password="a long enough secret")
    assert code == 1 and "--agent" in err
    code, _, err = users("add", "Not A Name", "--role", "planner", password="a long enough secret")
    assert code == 1 and "user name" in err
    code, _, err = users("add", "a99", "--role", "agent", "--agent", "99", password="a long enough secret")
    assert code == 1 and "no agent '99'" in err
    code, _, err = users("add", "bo9", "--role", "backoffice", "--unit", "pension", password="a long enough secret")
    assert code == 1 and "no back-office unit 'pension'" in err and "labour, pensions" in err
    assert users("add", "a11", "--role", "agent", "--agent", "11", password="a long enough secret")[0] == 0
    assert users("add", "bo1", "--role", "backoffice", "--unit", "pensions", "--unit", "labour",
                 password="a long enough secret")[0] == 0
    code, out, _ = users("list")
    assert code == 0 and out.splitlines() == ["a11\tagent\t11\tenabled", "admin\tsupervisor\t-\tenabled",
                                              "bo1\tbackoffice\tpensions,labour\tenabled"]
    assert users("disable", "bo1")[0] == 0 and "bo1\tbackoffice\tpensions,labour\tdisabled" in users("list")[1]
    assert users("enable", "bo1")[0] == 0 and "bo1\tbackoffice\tpensions,labour\tenabled" in users("list")[1]
    code, _, err = users("passwd", "nobody", password="a long enough secret")
    assert code == 1 and "no user 'nobody'" in err


async def test_a_token_from_the_command_line_works_on_the_api_until_revoked(users, tmp_path):
    def setup() -> str:
        assert users("add", "hall-b", "--role", "wallboard", password="a long enough secret")[0] == 0
        code, _, err = users("token", "hall-b", "--scope", "agents:read")
        assert code == 1 and "does not hold" in err
        code, out, _ = users("token", "hall-b", "--scope", "figures", "--label", "hall B")
        assert code == 0
        return out.strip()

    token = await asyncio.to_thread(setup)
    db = create_async_engine(users.url)
    live = LiveEngine(make_config("q:\n  requires: {topic:a: 1}\n", "'11': {pin: '1234', skills: {topic:a: 3}}\n"))
    client = TestClient(TestServer(make_app(live, auth=AuthStore(db), settings=PLAIN_HTTP)))
    await client.start_server()
    try:
        bearer = {"Authorization": f"Bearer {token}"}
        assert (await client.get("/api/queues", headers=bearer)).status == 200
        assert (await client.get("/api/agents", headers=bearer)).status == 403
        assert (await asyncio.to_thread(users, "revoke", token.split("_")[1]))[0] == 0
        assert (await client.get("/api/queues", headers=bearer)).status == 401
        async with db.connect() as conn:
            entries = (await conn.execute(select(audit_log.c.who, audit_log.c.action).order_by(audit_log.c.id))).all()
        assert [a for _, a in entries] == ["user.add", "token.issue", "token.revoke"]
        assert all(who.startswith("cli:") for who, _ in entries)
    finally:
        await client.close()
        await db.dispose()
        live.clock.cancel()


async def test_a_new_password_ends_the_users_sessions(users):
    assert (await asyncio.to_thread(users, "add", "sup", "--role", "supervisor", password="the first secret"))[0] == 0
    db = create_async_engine(users.url)
    live = LiveEngine(make_config("q:\n  requires: {topic:a: 1}\n", "'11': {pin: '1234', skills: {topic:a: 3}}\n"))
    client = TestClient(TestServer(make_app(live, auth=AuthStore(db), settings=PLAIN_HTTP)))
    await client.start_server()
    try:
        assert (await client.post("/api/login", json={"name": "sup", "password": "the first secret"})).status == 200
        assert (await client.get("/api/me")).status == 200
        assert (await asyncio.to_thread(users, "passwd", "sup", password="the second secret"))[0] == 0
        assert (await client.get("/api/me")).status == 401
        assert (await client.post("/api/login", json={"name": "sup", "password": "the first secret"})).status == 401
        assert (await client.post("/api/login", json={"name": "sup", "password": "the second secret"})).status == 200
    finally:
        await client.close()
        await db.dispose()
        live.clock.cancel()
