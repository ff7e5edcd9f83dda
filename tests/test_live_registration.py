"""End-to-end: an agent's softphone registers with the real (sandboxed) Asterisk and
un-registers, and the daemon follows it from AMI alone.

sipp sends the REGISTERs with digest (rig/scenarios/register_auth.xml) to the endpoint as
``python -m dialplan`` writes it; the contact it registers points
at a second sipp that answers like an agent's softphone, so a call Asterisk sends to the
registered phone is really answered. The daemon runs in the test's event loop with its
REST API; assertions read the API, the engine and the phones' logs.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from acd.engine import AgentState
from acd.engine import events as e
from acd.config import load_config
from dialplan.generate import Options, generate
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sipp import Phones, registration_outcome
from tests.auth_helpers import program_token
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

ENDPOINT = "agent-91"
PASSWORD = "Registration-91.secret"
USER_AGENT = "acd-test-softphone/1.0"
CONFIG = """\
service: {{name: '1555', languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  qa: {{requires: {{topic:a: 1}}, wrapup: 1, ring_timeout: 5, announcements: {{first_after: 0, every: 0}}}}
agents:
  '91': {{pin: '9191', skills: {{topic:a: 2}}}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, api_port: {api_port}, queue_log: {var}/queue_log,
         recordings_dir: {var}/rec, database_url: 'sqlite+aiosqlite:///{var}/acd.sqlite3'}}
"""


@pytest.fixture
async def daemon(asterisk: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Any]:
    """The daemon with its API (call records on SQLite, no Redis) against the session's
    Asterisk, which carries this test's endpoint and dialplan; ``daemon.token`` reads the API."""
    from acd.daemon.app import Daemon

    agi_port = free_port(14600)
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG.format(ami_port=asterisk.ami_port, ami_user=asterisk.ami_username,
                                    ami_secret=asterisk.ami_secret, agi_port=agi_port, api_port=free_port(18600),
                                    var=tmp_path / "var"))
    # the agent's endpoint as production writes it for a registering phone: digest auth,
    # an AOR without a static contact, one registration at a time
    asterisk.apply(generate(load_config(config), Options(secrets={"91": PASSWORD})))
    (tmp_path / "var").mkdir()
    token = await program_token(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'acd.sqlite3'}")
    running = Daemon(config)
    running.token = token     # type: ignore[attr-defined]
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def api_phone(daemon: Any, agent_id: str) -> dict[str, Any]:
    """The agent's phone as ``GET /api/agents`` shows it."""
    url = f"http://127.0.0.1:{daemon.config.daemon.api_port}/api/agents"
    headers = {"Authorization": f"Bearer {daemon.token}"}
    async with aiohttp.ClientSession(headers=headers) as session, session.get(url) as answer:
        assert answer.status == 200, await answer.text()
        agents = (await answer.json())["agents"]
    return next(a["phone"] for a in agents if a["id"] == agent_id)


async def phone_in_api(daemon: Any, agent_id: str, timeout: float = 10.0, **expected: Any) -> dict[str, Any]:
    """Poll the API until the agent's phone shows ``expected`` (or fail with what it shows)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        phone = await api_phone(daemon, agent_id)
        if all(phone[key] == value for key, value in expected.items()):
            return phone
        assert asyncio.get_running_loop().time() < deadline, f"API still shows {phone}, not {expected}"
        await asyncio.sleep(0.1)


async def test_agent_phone_registers_and_unregisters_and_is_offered_calls_only_while_registered(
        asterisk: AsteriskSandbox, phones: Phones, daemon: Any) -> None:
    agent = daemon.live.engine.agents["91"]
    await eventually(lambda: daemon.ami.connected)
    # the login's resync: Asterisk has the endpoint but no contact for it
    phone = await phone_in_api(daemon, "91", registered=False)
    assert phone["uri"] is None
    await eventually(lambda: not agent.reachable)
    daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), "91"))

    softphone = phones.agents(talk=0.5, name="softphone")          # where the registered contact rings
    contact = f"sip:{ENDPOINT}@127.0.0.1:{softphone.port}"
    register = phones.registration(ENDPOINT, contact, expires=300, user_agent=USER_AGENT, password=PASSWORD)
    await asyncio.to_thread(register.wait, 30)
    assert registration_outcome(register) == "registered", register.diagnostics()
    # pjsip_options.c: a new contact is CREATED, "NonQualified"; its user agent comes from PJSIPShowEndpoint
    await phone_in_api(daemon, "91", registered=True, uri=contact, status="NonQualified", user_agent=USER_AGENT)
    await eventually(lambda: agent.reachable)

    citizen = phones.citizens("q-qa", caller_prefix="registered-")
    assert (await asyncio.to_thread(citizen.wait, 30)).all_successful, citizen.diagnostics()
    assert [ev.phone for ev in softphone.events() if ev.event == "answer"] == [ENDPOINT]

    unregister = phones.registration(ENDPOINT, contact, expires=0, user_agent=USER_AGENT, password=PASSWORD)
    await asyncio.to_thread(unregister.wait, 30)
    assert registration_outcome(unregister) == "registered", unregister.diagnostics()
    phone = await phone_in_api(daemon, "91", registered=False)
    assert phone["uri"] is None and phone["since"] is not None
    await eventually(lambda: not agent.reachable)
    await eventually(lambda: agent.state is AgentState.AVAILABLE)      # logged in, free, yet not rung

    patient = phones.citizens("q-qa", caller_prefix="unregistered-", hold=2.0)
    await eventually(lambda: len(daemon.room.callers) == 1)
    assert (await asyncio.to_thread(patient.wait, 30)).all_successful, patient.diagnostics()
    assert [ev for ev in softphone.events() if ev.peer.startswith("unregistered-")] == []
    daemon.queue_log._file.flush()
    lines = [line.split("|") for line in daemon.queue_log.path.read_text().splitlines()]
    assert [f[4] for f in lines if f[1] != "MANAGER" and f[4] in ("CONNECT", "RINGNOANSWER", "ABANDON")] == [
        "CONNECT", "ABANDON"]
