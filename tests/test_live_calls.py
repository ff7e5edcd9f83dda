"""End-to-end: real SIP calls through a real (sandboxed) Asterisk into the daemon.

sipp plays the citizens and the agents' phones (rig.sipp); the daemon runs in the
test's event loop (FastAGI + AMI against the sandbox). Assertions read the phones'
event logs, the queue_log and the engine's state.
"""
from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from acd.engine import AgentState
from acd.engine import events as e
from bench.asterisk_side import FEATURE_CODES, dialplan, endpoints, feature_code_phone

pytestmark = pytest.mark.asterisk

AGENT_PHONES = {"answering": ["11", "12", "21"], "silent": ["31"], "desk": ["41"]}
CONFIG = """\
service: {{name: e2e, languages: [el, en]}}
skills: {{topic:a: A, topic:b: B}}
queues:
  qa: {{requires: {{topic:a: 1}}, wrapup: 3, ring_timeout: 3, announcements: {{first_after: 0, every: 0}}}}
  qb: {{requires: {{topic:b: 1}}, wrapup: 3, ring_timeout: 3, announcements: {{first_after: 0, every: 0}},
        record: true}}
routing: {{missed_offer_rest: 30, pause_reasons: {{break: false, backoffice: true}}}}
agents:
  '11': {{pin: '1111', skills: {{topic:a: 2}}}}
  '12': {{pin: '1212', skills: {{topic:a: 2}}}}
  '21': {{pin: '2121', skills: {{topic:b: 2}}}}
  '31': {{pin: '3131', skills: {{topic:a: 5}}}}
  '41': {{pin: '4141', skills: {{topic:a: 1}}}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, queue_log: {var}/queue_log, recordings_dir: {var}/rec}}
"""


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI: {reason}")
    pytest.skip(reason)


class Pbx:
    def __init__(self, sandbox, agi_port: int, phones: dict, workdir: Path) -> None:
        self.sandbox = sandbox
        self.agi_port = agi_port
        self.phones = phones
        self.workdir = workdir


@pytest.fixture(scope="module")
def pbx(tmp_path_factory) -> Iterator[Pbx]:
    if shutil.which("asterisk") is None or shutil.which("sipp") is None:
        _missing("asterisk and sipp are needed for the live tests")
    from rig.asterisk import AsteriskSandbox
    from rig.ports import free_port
    from rig.sipp import agent_phones

    workdir = tmp_path_factory.mktemp("live")
    agi_port = free_port(14573)
    phones = {"answering": agent_phones(workdir, talk=1.0, name="answering"),
              "silent": agent_phones(workdir, behaviour="never_answers", name="silent"),
              "desk": agent_phones(workdir, name="desk")}
    ports = {group: phone.port for group, phone in phones.items()}
    contacts = {f"agent-{agent}": ports[group] for group, ids in AGENT_PHONES.items() for agent in ids}
    sandbox = AsteriskSandbox(workdir / "asterisk", extra_files={
        "pjsip_generated.conf": endpoints(contacts), "extensions_generated.conf": dialplan(agi_port),
        "queues_generated.conf": ""})
    sandbox.start()
    try:
        for group in ("answering", "silent"):
            phones[group].start()
        yield Pbx(sandbox, agi_port, phones, workdir)
    finally:
        for phone in phones.values():
            if phone.running:
                phone.stop(2.0)
        sandbox.stop()


def write_config(pbx: Pbx, directory: Path) -> Path:
    config = directory / "acd.yaml"
    config.write_text(CONFIG.format(ami_port=pbx.sandbox.ami_port, ami_user=pbx.sandbox.ami_username,
                                    ami_secret=pbx.sandbox.ami_secret, agi_port=pbx.agi_port, var=directory / "var"))
    return config


@pytest.fixture
async def daemon(pbx: Pbx, tmp_path: Path) -> AsyncIterator:
    from acd.daemon.app import Daemon

    running = Daemon(write_config(pbx, tmp_path), extras=False)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def login(daemon, *agents: str) -> None:
    for agent in agents:
        daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), agent))


def queue_log(daemon) -> list[list[str]]:
    daemon.queue_log._file.flush()
    return [line.split("|") for line in daemon.queue_log.path.read_text().splitlines()]


async def call(pbx: Pbx, number: str, prefix: str, *, calls: int = 1, rate: float = 5.0,
               hold: float | None = None, timeout: float = 40.0):
    """Citizens calling ``number``; returns their result once all calls ended."""
    from rig.sipp import citizens

    phone = citizens(pbx.workdir, pbx.sandbox.sip_port, number, calls=calls, rate=rate, caller_prefix=prefix,
                     hold=hold, name=f"{prefix}citizens")
    await asyncio.to_thread(phone.start)
    return phone, asyncio.ensure_future(asyncio.to_thread(phone.wait, timeout))


def agent_events(pbx: Pbx, group: str, prefix: str) -> list:
    return [event for event in pbx.phones[group].events() if event.peer.startswith(prefix)]


async def eventually(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_each_call_is_answered_by_an_agent_with_the_right_skills_and_recorded_queues_record(pbx, daemon):
    login(daemon, "11", "21")
    _, done_a = await call(pbx, "q-qa", "skill-a-", calls=3)
    _, done_b = await call(pbx, "q-qb", "skill-b-", calls=2)
    assert (await done_a).all_successful and (await done_b).all_successful
    answers = [(ev.phone, ev.peer) for ev in agent_events(pbx, "answering", "skill-") if ev.event == "answer"]
    assert {agent for agent, caller in answers if caller.startswith("skill-a-")} == {"agent-11"}
    assert {agent for agent, caller in answers if caller.startswith("skill-b-")} == {"agent-21"}
    assert len({caller for _, caller in answers}) == 5
    events = [f[4] for f in queue_log(daemon)]
    assert events.count("CONNECT") == 5 and events.count("COMPLETEAGENT") == 5
    recorded_calls = {f[1] for f in queue_log(daemon) if f[4] == "CONNECT" and f[2] == "qb"}
    recordings = daemon.room.settings.recordings_dir
    assert {p.stem for p in recordings.glob("*.wav")} == recorded_calls   # only qb records, by call id


async def test_caller_who_hangs_up_while_waiting_is_logged_abandon_and_frees_nothing_twice(pbx, daemon):
    _, done = await call(pbx, "q-qa", "patience-", hold=1.0)
    assert (await done).all_successful
    await eventually(lambda: not daemon.room.callers)
    await asyncio.sleep(0.5)                         # the late AMI Hangup must change nothing
    abandons = [f for f in queue_log(daemon) if f[4] == "ABANDON"]
    assert len(abandons) == 1 and abandons[0][2] == "qa"
    assert daemon.live.engine.calls == {}


async def test_agent_who_does_not_answer_is_skipped_and_the_call_keeps_its_place(pbx, daemon):
    login(daemon, "31")                              # its phone rings and is never picked up
    _, first = await call(pbx, "q-qa", "first-")
    await eventually(lambda: len(daemon.room.callers) == 1)
    _, second = await call(pbx, "q-qa", "second-")
    await eventually(lambda: any(f[4] == "RINGNOANSWER" for f in queue_log(daemon)), timeout=10)
    login(daemon, "11")                              # 31 rests; 11 must take the first caller first
    assert (await first).all_successful and (await second).all_successful
    order = [ev.peer for ev in pbx.phones["answering"].events()
             if ev.event == "invite" and ev.peer.startswith(("first-", "second-"))]
    assert order == ["first-1", "second-1"]
    missed = [f for f in queue_log(daemon) if f[4] == "RINGNOANSWER"]
    assert missed[0][3] == "PJSIP/agent-31" and int(missed[0][5]) >= 2500


async def test_agent_hang_up_leads_to_wrap_up_then_the_agent_is_available(pbx, daemon):
    login(daemon, "12")
    _, done = await call(pbx, "q-qa", "wrap-")
    agent = daemon.live.engine.agents["12"]
    await eventually(lambda: agent.state is AgentState.ON_CALL)
    await eventually(lambda: agent.state is AgentState.WRAP_UP, timeout=5)
    assert (await done).all_successful
    assert [f[4] for f in queue_log(daemon) if f[1] != "MANAGER"][-1] == "COMPLETEAGENT"
    await eventually(lambda: agent.state is AgentState.AVAILABLE, timeout=5)


async def test_agent_logs_in_and_pauses_from_the_phone_and_a_wrong_pin_is_refused(pbx, daemon):
    agent = daemon.live.engine.agents["41"]

    async def dial(code: str, pin: str) -> None:
        phone = feature_code_phone(pbx.workdir, pbx.sandbox.sip_port, "agent-41", code, pin)
        await asyncio.to_thread(phone.start)
        await asyncio.to_thread(phone.wait, 30)

    await dial(FEATURE_CODES["login"], "9999")
    assert agent.state is AgentState.LOGGED_OUT
    await dial(FEATURE_CODES["login"], "4141")
    assert agent.state is AgentState.AVAILABLE
    await dial(FEATURE_CODES["pause"] + "2", "4141")
    assert (agent.state, agent.reason) == (AgentState.PAUSED, "backoffice")
    assert [f[4] for f in queue_log(daemon) if f[3] == "PJSIP/agent-41"] == ["ADDMEMBER", "PAUSEALL", "PAUSE"]


async def test_caller_keeps_place_when_the_daemon_restarts(pbx, tmp_path):
    from acd.daemon.app import Daemon

    config = write_config(pbx, tmp_path)
    first_daemon = Daemon(config, extras=False)
    await first_daemon.start()
    _, veteran = await call(pbx, "q-qa", "veteran-")
    await eventually(lambda: len(first_daemon.room.callers) == 1)
    await asyncio.sleep(1.0)                         # answered and hearing music
    (enqueued_at,) = [c.enqueued_at for c in first_daemon.live.engine.calls.values()]
    await first_daemon.stop()                        # the caller's AGI closes; the dialplan retries
    await asyncio.sleep(1.5)
    second_daemon = Daemon(config, extras=False)
    await second_daemon.start()
    try:
        await eventually(lambda: len(second_daemon.live.engine.calls) == 1)
        assert [c.enqueued_at for c in second_daemon.live.engine.calls.values()] == [enqueued_at]
        _, newcomer = await call(pbx, "q-qa", "newcomer-")
        await eventually(lambda: len(second_daemon.live.engine.calls) == 2)
        login(second_daemon, "11")
        assert (await veteran).all_successful and (await newcomer).all_successful
        order = [ev.peer for ev in pbx.phones["answering"].events()
                 if ev.event == "invite" and ev.peer.startswith(("veteran-", "newcomer-"))]
        assert order == ["veteran-1", "newcomer-1"]
    finally:
        await second_daemon.stop()
