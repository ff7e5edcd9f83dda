"""The generated files in a real (sandboxed) Asterisk: they load without an error, a
``dialplan reload`` keeps a call up, and with no daemon the caller is still answered
by an agent through the app_queue fallback."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest

from acd.config import load_config
from acd.protocol import FastAGIServer
from dialplan.generate import Options, generate
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sipp import Phones

pytestmark = pytest.mark.asterisk

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"


def closed_tcp_port() -> int:
    """A port nobody listens on: the FastAGI of a daemon that is not running."""
    return free_port(17000, socket.SOCK_STREAM)


def test_generated_files_load_into_asterisk(asterisk: AsteriskSandbox) -> None:
    config = load_config(EXAMPLE)
    asterisk.apply(generate(config, Options(agents_at="127.0.0.1:16000")))   # raises on any ERROR logged
    inbound = asterisk.cli("dialplan show acd-inbound")
    assert "'1555'" in inbound and "'q-violence'" in inbound
    assert "agi://127.0.0.1:4573/ivr" in inbound
    fallback = asterisk.cli("queue show acd-fallback")
    assert fallback.count("PJSIP/agent-") == len(config.agents)
    endpoints = asterisk.cli("pjsip show endpoints")
    assert "agent-2001" in endpoints and "agent-2910" in endpoints


async def test_no_daemon_sends_the_ivr_caller_to_an_agent_through_app_queue(
        asterisk: AsteriskSandbox, phones: Phones) -> None:
    config = load_config(EXAMPLE)
    agent_port = free_port(16500, socket.SOCK_DGRAM)
    asterisk.apply(generate(config, Options(agi_port=closed_tcp_port(), agents_at=f"127.0.0.1:{agent_port}")))
    agents = phones.agents(port=agent_port, ring=0.2, talk=1.0)
    citizen = phones.citizens("1555")
    result = await asyncio.to_thread(citizen.wait, 40)
    assert result.all_successful, citizen.diagnostics()
    assert [e.event for e in citizen.events()] == ["invite", "answered", "bye"]   # the agent hung up
    assert [e.event for e in agents.events()][:2] == ["invite", "answer"]


async def test_direct_queue_line_without_daemon_retries_then_falls_back(
        asterisk: AsteriskSandbox, phones: Phones) -> None:
    config = load_config(EXAMPLE)
    agent_port = free_port(16500, socket.SOCK_DGRAM)
    asterisk.apply(generate(config, Options(agi_port=closed_tcp_port(), wait_retries=1,
                                            agents_at=f"127.0.0.1:{agent_port}")))
    agents = phones.agents(port=agent_port, ring=0.2, talk=1.0)
    citizen = phones.citizens("q-labour")
    result = await asyncio.to_thread(citizen.wait, 40)
    assert result.all_successful, citizen.diagnostics()
    assert "invite" in [e.event for e in agents.events()]


async def test_dialplan_reload_keeps_a_waiting_call_up(asterisk: AsteriskSandbox, phones: Phones) -> None:
    config = load_config(EXAMPLE)
    arrived: asyncio.Queue[str] = asyncio.Queue()
    release = asyncio.Event()

    async def wait(session: Any) -> None:   # a waiting room that holds the caller until told
        await session.answer()
        arrived.put_nowait(await session.get_variable("ACD_QUEUE") or "")
        await release.wait()
        await session.hangup()

    server = FastAGIServer({"wait": wait}, port=0)
    await server.start()
    try:
        asterisk.apply(generate(config, Options(agi_port=server.port, agents_at="127.0.0.1:16000")))
        citizen = phones.citizens("q-pensions")
        assert await asyncio.wait_for(arrived.get(), 20) == "pensions"
        asterisk.cli("dialplan reload")
        await asyncio.sleep(1.0)
        assert asterisk.cli("core show channels count").startswith("1 active channel")
        assert "bye" not in [e.event for e in citizen.events()]
        release.set()
        await asyncio.to_thread(citizen.wait, 20)
        assert [e.event for e in citizen.events()] == ["invite", "answered", "bye"]
    finally:
        await server.stop()
