"""End-to-end: a supervisor listens to, then barges into, an agent's call through a real
(sandboxed) Asterisk.

A sipp citizen calls the queue, a sipp agent answers and talks; the supervisor presses
"listen" on the API (``POST /api/agents/41/spy/listen``), the daemon's AMI Originates
ChanSpy to the supervisor's own phone (another sipp, the config's
``access.supervisor_phones``: an endpoint the dialplan generator writes, its contact set
to that sipp as the agents' are, ``rig.pbx_files``), that phone rings and answers, and
Asterisk reports the spy: ``ChanSpyStart`` on AMI with the agent's channel as the spyee,
and the ChanSpy application on the supervisor's channel in ``core show channels``.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from acd.api import make_app
from acd.api.supervise import AMI_LINK
from acd.config import load_config
from acd.config.access import access_of
from acd.engine import AgentState
from acd.engine import events as e
from rig.asterisk import AsteriskSandbox
from rig.pbx_files import sandbox_files
from rig.ports import free_port
from rig.sipp import Phones
from tests.auth_helpers import log_in, people
from tests.test_live_agent_codes import AGENT, CONFIG, ENDPOINT, PIN
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

#: the supervisor's phone: an endpoint of its own, generated from the config, rung at the
#: second sipp's port
SUPERVISOR_ENDPOINT = "sup-1"
SUPERVISOR_PHONE = f"PJSIP/{SUPERVISOR_ENDPOINT}"
#: the test config (``str.format``'d) with that phone declared as the generator's
WITH_PHONE = CONFIG + "access:\n  supervisor_phones:\n    sup: {{endpoint: " + SUPERVISOR_ENDPOINT + "}}\n"


@pytest.fixture
async def floor(asterisk: AsteriskSandbox, phones: Phones, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    from acd.daemon.app import Daemon

    config_path = tmp_path / "acd.yaml"
    config_path.write_text(WITH_PHONE.format(agent=AGENT, pin=PIN, ami_port=asterisk.ami_port,
                                             ami_user=asterisk.ami_username, ami_secret=asterisk.ami_secret,
                                             agi_port=free_port(14700), var=tmp_path / "var"), encoding="utf-8")
    agent_phone = phones.agents(talk=None, name="agent-phone")            # answers, talks until hung up
    supervisor_phone = phones.agents(talk=None, name="supervisor-phone")
    daemon = Daemon(config_path, extras=False)
    await daemon.start()
    spied: list[Any] = []
    daemon.ami.on_event("ChanSpyStart", spied.append)
    try:
        config = load_config(config_path)
        asterisk.apply(sandbox_files(config, agi_port=daemon.agi_port,
                                     contacts={ENDPOINT: agent_phone.port, SUPERVISOR_ENDPOINT: supervisor_phone.port}))
        await eventually(lambda: daemon.ami.connected, what="the daemon's AMI link")
        settings = replace(access_of(config), secure_cookies=False)
        assert settings.supervisor_phones == {"sup": SUPERVISOR_PHONE}
        app = make_app(daemon.live, daemon.phone.guard, auth=await people(tmp_path), settings=settings)
        app[AMI_LINK] = daemon.ami
        client = TestClient(TestServer(app))
        await client.start_server()
        try:
            yield {"daemon": daemon, "client": client, "asterisk": asterisk, "phones": phones, "spied": spied,
                   "agent_phone": agent_phone, "supervisor_phone": supervisor_phone}
        finally:
            await client.close()
    finally:
        await daemon.stop()


async def test_a_supervisor_listens_then_barges_into_an_agents_call_from_its_own_phone(floor):
    daemon, client, asterisk = floor["daemon"], floor["client"], floor["asterisk"]
    agent = daemon.live.engine.agents[AGENT]
    daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), AGENT))
    citizen = floor["phones"].citizens("q-qa", caller_prefix="spied-", name="spied", hold=12.0)
    await eventually(lambda: agent.state is AgentState.ON_CALL, what="the agent talking to the citizen", timeout=15)
    await log_in(client, "sup")

    r = await client.post(f"/api/agents/{AGENT}/spy/listen", json={})
    assert r.status == 202, await r.text()
    answer = await r.json()
    assert answer["phone"] == SUPERVISOR_PHONE and answer["call"] == agent.call_id
    await eventually(lambda: floor["spied"], what="ChanSpyStart on AMI", timeout=10)
    start = floor["spied"][0]
    assert start.get("SpyeeChannel", "").startswith(f"PJSIP/agent-{AGENT}-")
    assert start.get("SpyerChannel", "").startswith(f"{SUPERVISOR_PHONE}-")
    assert start.get("SpyerUniqueid") == answer["channel_id"]
    channels = await asyncio.to_thread(asterisk.cli, "core show channels concise")
    spying = [line for line in channels.splitlines() if line.startswith(f"{SUPERVISOR_PHONE}-")]
    assert spying and "ChanSpy" in spying[0], channels
    invites = [ev for ev in floor["supervisor_phone"].events() if ev.event == "invite"]
    assert len(invites) == 1

    r = await client.post(f"/api/agents/{AGENT}/spy/barge", json={})
    assert r.status == 202, await r.text()
    await eventually(lambda: len(floor["spied"]) >= 2, what="the barge's ChanSpyStart", timeout=10)
    assert floor["spied"][1].get("SpyeeChannel", "").startswith(f"PJSIP/agent-{AGENT}-")

    result = await asyncio.to_thread(citizen.wait, 30)
    assert result.all_successful, citizen.diagnostics()
    await eventually(lambda: agent.state is not AgentState.ON_CALL, what="the call's end")
    audit = (await (await client.get("/api/audit")).json())["entries"]
    assert [x["action"] for x in audit[:2]] == ["agent.barge", "agent.listen"]
