"""The generated files in a real (sandboxed) Asterisk: they load without an error, a
``dialplan reload`` keeps a call up, and with no daemon the caller is still answered
by an agent through the app_queue fallback, a violence report by the violence team."""
from __future__ import annotations

import asyncio
import re
import socket
import wave
from pathlib import Path
from typing import Any

import pytest

from acd.config import load_config
from acd.config.model import member_name
from acd.engine.lines import qualifies
from acd.protocol import FastAGIServer
from dialplan.generate import Options, generate
from dialplan.secrets import phone_keys
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
    assert fallback.count("(PJSIP/agent-") == len(config.agents)
    violence = asterisk.cli("queue show violence")        # the 24/7 line's, named as the daemon names it
    assert violence.count("(PJSIP/agent-29") == violence.count("(PJSIP/agent-") == 10
    pensions = asterisk.cli("queue show pensions")        # a topic's: every agent, the qualified first
    assert pensions.count("(PJSIP/agent-") == len(config.agents)
    # every member's state is its hint (phone and Custom device), which Asterisk loaded
    # and watches in each of the agent's queues: acd-fallback and the six topics', plus violence for 2901
    hints = asterisk.cli("core show hints")
    assert f"- {len(config.agents)} hints registered" in hints
    assert re.search(r"^agent-2001@acd-agent.*Watchers  7$", hints, flags=re.M), hints
    assert re.search(r"^agent-2901@acd-agent.*Watchers  8$", hints, flags=re.M), hints
    endpoints = asterisk.cli("pjsip show endpoints")
    assert "agent-2001" in endpoints and "agent-2910" in endpoints


def test_production_phones_with_nat_and_qualify_load_into_asterisk(asterisk: AsteriskSandbox) -> None:
    config = load_config(EXAMPLE)
    secrets = {key: f"pw-{key}-secret" for key in phone_keys(config)}      # agents' and supervisors' phones
    asterisk.apply(generate(config, Options(secrets=secrets, qualify_frequency=30, nat=True)))  # raises on ERROR
    endpoint = asterisk.cli("pjsip show endpoint agent-2001")
    assert re.search(r"rewrite_contact\s*:\s*true", endpoint) and re.search(r"rtp_symmetric\s*:\s*true", endpoint)
    aor = asterisk.cli("pjsip show aor agent-2001")
    assert re.search(r"qualify_frequency\s*:\s*30", aor) and re.search(r"max_contacts\s*:\s*1", aor)


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


async def test_no_daemon_a_caller_of_known_topic_is_logged_under_the_daemons_queue_name(
        asterisk: AsteriskSandbox, phones: Phones) -> None:
    """Issue 12: app_queue writes the one queue_log the daemon writes; a caller whose
    topic is known (pensions, the 24/7 line violence) is logged there under the
    config's queue name, and answered by an agent who qualifies for it first."""
    config = load_config(EXAMPLE)
    log = asterisk.log_dir / "queue_log"
    start = log.stat().st_size if log.exists() else 0
    agent_port = free_port(16500, socket.SOCK_DGRAM)
    asterisk.apply(generate(config, Options(agi_port=closed_tcp_port(), wait_retries=1,
                                            agents_at=f"127.0.0.1:{agent_port}")))
    phones.agents(port=agent_port, ring=0.2, talk=1.0)
    pensions = phones.citizens("q-pensions", caller_prefix="pensions-")
    violence = phones.citizens("q-violence", caller_prefix="violence-")
    results = await asyncio.gather(asyncio.to_thread(pensions.wait, 40), asyncio.to_thread(violence.wait, 40))
    assert results[0].all_successful, pensions.diagnostics()
    assert results[1].all_successful, violence.diagnostics()
    with open(log, encoding="utf-8") as file:
        file.seek(start)
        lines = [line.split("|") for line in file.read().splitlines()]
    entered = {line[2] for line in lines if line[4] == "ENTERQUEUE"}
    assert entered == {"pensions", "violence"}, lines
    connected = {line[2]: line[3] for line in lines if line[4] == "CONNECT"}
    names = {queue: {member_name(agent) for agent in config.agents.values()
                     if qualifies(agent.skills, config.queues[queue].requirements)} for queue in connected}
    assert set(connected) == {"pensions", "violence"}, lines
    assert all(agent in names[queue] for queue, agent in connected.items()), connected


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


def silent_prompt(path: Path, seconds: float) -> None:
    """A prompt file of silence (8 kHz, 16-bit mono, what Asterisk plays as .wav)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * round(8000 * seconds))


async def test_no_daemon_emergency_key_reaches_the_violence_team_and_silence_a_general_agent(
        asterisk: AsteriskSandbox, phones: Phones, tmp_path: Path) -> None:
    """Both callers dial 1555 while no daemon listens: the IVR cannot run, so Asterisk
    asks the degraded path's question itself. The one who presses 9 during the prompt
    is answered by an agent of the violence team (2901-2910); the one who presses
    nothing waits out the question and is answered by an agent who is not."""
    config = load_config(EXAMPLE)
    choice = config.ivr.degraded
    assert choice is not None and choice.keys == {"9": "violence"}
    prompts = tmp_path / "prompts"
    for ref in choice.prompt:                     # degraded_choice@el, degraded_choice@en
        prompt, _, language = ref.partition("@")
        silent_prompt(prompts / language / f"{prompt}.wav", 2.0)
    violence_team = {config.agents[str(n)].endpoint for n in range(2901, 2911)}
    agent_port = free_port(16500, socket.SOCK_DGRAM)
    asterisk.apply(generate(config, Options(agi_port=closed_tcp_port(), prompts_dir=str(prompts),
                                            agents_at=f"127.0.0.1:{agent_port}")))
    agents = phones.agents(port=agent_port, ring=0.2, talk=1.0)
    reporter = phones.citizens("1555", digits="9", first_digit_after=1.0, caller_prefix="report-")
    silent = phones.citizens("1555", caller_prefix="silent-")
    results = await asyncio.gather(asyncio.to_thread(reporter.wait, 40), asyncio.to_thread(silent.wait, 40))
    assert results[0].all_successful, reporter.diagnostics()
    assert results[1].all_successful, silent.diagnostics()
    assert [e.event for e in reporter.events()] == ["invite", "answered", "dtmf", "bye"]   # the agent hung up
    assert [e.event for e in silent.events()] == ["invite", "answered", "bye"]
    rung = {e.peer: e.phone for e in agents.events() if e.event == "answer"}
    assert set(rung) == {"report-1", "silent-1"}, agents.events()
    assert rung["report-1"] in violence_team
    assert rung["silent-1"] not in violence_team
