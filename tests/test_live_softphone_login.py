"""End-to-end, the production way: the agents' endpoints exactly as ``python -m dialplan``
writes them for registering softphones (``--secrets``: ``auth=``, a ``type=auth`` section
with the agent's SIP password, an AOR with ``max_contacts=1`` and ``remove_existing=yes``,
no static contact), loaded into the real (sandboxed) Asterisk, and a softphone that has to
prove its password.

sipp plays the softphone in three parts, all as the agent's endpoint: the REGISTER with
digest (rig/scenarios/register_auth.xml: challenged with 401, answered with credentials),
the ``*11`` login call with digest (rig/scenarios/agent_feature_code_auth.xml), and the
UAS the registered contact points at, which rings and answers. A wrong password is
refused by Asterisk itself (a fresh 401: res/res_pjsip/pjsip_distributor.c
``authenticate``, ``AST_SIP_AUTHENTICATION_FAILED``), and Asterisk then holds no contact
for the agent. The daemon runs in the test's event loop with its REST API; what it saw
is read from the API and the engine, what the phones saw from their logs.
"""
from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from acd.engine import AgentState
from dialplan.__main__ import main as generate_cli
from dialplan.generate import FEATURE_CODES, FILES
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sipp import SCENARIOS, Phones, SippProcess, registration_outcome
from tests.auth_helpers import program_token
from tests.test_live_registration import phone_in_api
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

AGENT, PIN = "72", "7272"
ENDPOINT = f"agent-{AGENT}"
PASSWORD = "Softphone-72.secret"
WRONG_PASSWORD = "Softphone-72.guess"
USER_AGENT = "acd-test-softphone/2.0"
CONFIG = """\
service: {{name: '1555', languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  qa: {{requires: {{topic:a: 1}}, wrapup: 1, ring_timeout: 5, announcements: {{first_after: 0, every: 0}}}}
agents:
  '{agent}': {{pin: '{pin}', skills: {{topic:a: 1}}}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, api_port: {api_port}, queue_log: {var}/queue_log,
         recordings_dir: {var}/rec, database_url: 'sqlite+aiosqlite:///{var}/acd.sqlite3'}}
"""


@pytest.fixture
async def daemon(asterisk: AsteriskSandbox, tmp_path: Path) -> AsyncIterator[Any]:
    """The session's Asterisk with what the generator's command line writes for this
    config and a secrets file (no sandbox options: the AGI address is the config's), and
    the daemon with its API (call records on SQLite, no Redis)."""
    from acd.daemon.app import Daemon

    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG.format(agent=AGENT, pin=PIN, ami_port=asterisk.ami_port,
                                    ami_user=asterisk.ami_username, ami_secret=asterisk.ami_secret,
                                    agi_port=free_port(14700), api_port=free_port(18700), var=tmp_path / "var"),
                      encoding="utf-8")
    secrets = tmp_path / "sip-secrets"
    secrets.write_text(f"# agent  SIP password\n{AGENT} {PASSWORD}\n", encoding="utf-8")
    generated = tmp_path / "generated"
    assert generate_cli(["--config", str(config), "--out", str(generated), "--secrets", str(secrets)]) == 0
    asterisk.apply({name: (generated / name).read_text(encoding="utf-8") for name in FILES})
    (tmp_path / "var").mkdir()
    token = await program_token(f"sqlite+aiosqlite:///{tmp_path / 'var' / 'acd.sqlite3'}")
    running = Daemon(config)
    running.token = token     # type: ignore[attr-defined]
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def registered_contacts(asterisk: AsteriskSandbox) -> list[str]:
    """The contacts Asterisk's registrar holds for the agent's AOR (``pjsip show aor``:
    one ``Contact:  <aor>/<uri>`` line each)."""
    lines = asterisk.cli(f"pjsip show aor {ENDPOINT}").splitlines()
    return [line.split(f"{ENDPOINT}/", 1)[1].split()[0] for line in lines
            if line.strip().startswith("Contact:") and f"{ENDPOINT}/" in line]


def log_in_from_the_phone(phones: Phones, sip_port: int) -> SippProcess:
    """The agent dials ``*11`` and its PIN from its softphone, which has to answer
    Asterisk's 401 on the INVITE with the same credentials as its REGISTER."""
    digits = [arg for i, digit in enumerate(PIN, 1) for arg in ("-key", f"d{i}", digit)]
    phone = SippProcess(SCENARIOS / "agent_feature_code_auth.xml",
                        ["-s", FEATURE_CODES["login"], "-key", "agent", ENDPOINT, "-au", ENDPOINT, "-ap", PASSWORD,
                         *digits, "-m", "1", "-timeout", "30s"],
                        workdir=phones.workdir, name="login", remote=f"127.0.0.1:{sip_port}")
    phones.started.append(phone)
    return phone.start()


async def test_softphone_registers_with_its_password_logs_in_and_takes_a_call_and_a_wrong_password_is_refused(
        asterisk: AsteriskSandbox, phones: Phones, daemon: Any) -> None:
    agent = daemon.live.engine.agents[AGENT]
    await eventually(lambda: daemon.ami.connected, what="the daemon's AMI login")
    # the login's resync: Asterisk has the generated endpoint, with no contact
    phone = await phone_in_api(daemon, AGENT, registered=False)
    assert phone["uri"] is None
    assert registered_contacts(asterisk) == []
    await eventually(lambda: not agent.reachable, what="an unregistered phone is unreachable")

    # a wrong password: challenged, answered with bad credentials, refused; no contact
    softphone = phones.agents(talk=0.5, name="softphone")          # where the registered contact rings
    contact = f"sip:{ENDPOINT}@127.0.0.1:{softphone.port}"
    intruder = f"sip:{ENDPOINT}@127.0.0.1:{free_port(17000)}"
    guess = phones.registration(ENDPOINT, intruder, password=WRONG_PASSWORD, user_agent=USER_AGENT)
    assert (await asyncio.to_thread(guess.wait, 20)).all_successful, guess.diagnostics()
    assert [ev.event for ev in guess.events()] == ["register", "challenged", "refused"]
    assert registration_outcome(guess) == "refused 401"
    assert registered_contacts(asterisk) == []

    # the right password: challenged, then 200; Asterisk holds the contact, the daemon sees it
    register = phones.registration(ENDPOINT, contact, password=PASSWORD, user_agent=USER_AGENT)
    assert (await asyncio.to_thread(register.wait, 20)).all_successful, register.diagnostics()
    assert [ev.event for ev in register.events()] == ["register", "challenged", "registered"]
    assert registered_contacts(asterisk) == [contact]
    await phone_in_api(daemon, AGENT, registered=True, uri=contact, status="NonQualified", user_agent=USER_AGENT)
    await eventually(lambda: agent.reachable, what="the registered phone reachable")
    assert agent.state is AgentState.LOGGED_OUT

    # *11 and the PIN from the softphone (an INVITE with digest): logged in
    login = log_in_from_the_phone(phones, asterisk.sip_port)
    assert (await asyncio.to_thread(login.wait, 20)).all_successful, login.diagnostics()
    await eventually(lambda: agent.state is AgentState.AVAILABLE, what="the agent logged in from its phone")

    # a citizen's call is routed by the daemon to the registered contact, and answered there
    citizen = phones.citizens("q-qa", caller_prefix="softphone-caller-")
    assert (await asyncio.to_thread(citizen.wait, 20)).all_successful, citizen.diagnostics()
    # (only this endpoint's calls: another sandbox on the machine may ring a port it once had)
    answered = [ev.peer for ev in softphone.events() if ev.event == "answer" and ev.phone == ENDPOINT]
    assert answered == ["softphone-caller-1"]
    daemon.queue_log._file.flush()
    rows = [line.split("|") for line in daemon.queue_log.path.read_text().splitlines()]
    assert [(f[3], f[4]) for f in rows if f[4] in ("ADDMEMBER", "CONNECT", "RINGNOANSWER")] == [
        (f"PJSIP/{ENDPOINT}", "ADDMEMBER"), (f"PJSIP/{ENDPOINT}", "CONNECT")]

    # un-REGISTER (with digest too): Asterisk drops the contact, the daemon follows
    unregister = phones.registration(ENDPOINT, contact, expires=0, password=PASSWORD, user_agent=USER_AGENT)
    assert (await asyncio.to_thread(unregister.wait, 20)).all_successful, unregister.diagnostics()
    assert registration_outcome(unregister) == "registered"
    assert registered_contacts(asterisk) == []
    await phone_in_api(daemon, AGENT, registered=False)
    await eventually(lambda: not agent.reachable, what="the un-registered phone unreachable")
