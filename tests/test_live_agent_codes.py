"""End-to-end: an agent's feature codes from a softphone, through a real (sandboxed)
Asterisk into the daemon's ``agent`` handler, with the wrong-PIN rate limit.

sipp plays the agent's phone: it dials ``*11`` (log in) or ``*12`` (log out) as the
agent's endpoint and types the PIN by SIP INFO (accepted with any ``dtmf_mode``);
another sipp is the phone the agent is rung on; citizens wait in the queue. What the
phone was told is Asterisk's word (``rig.agi_trace``: the digits GET DATA collected and
the sound that answered them), what the agent's state became is the queue_log's and
the engine's.

The rate limit is the daemon's own ``PinGuard`` with its default limits (the config
file has no setting for them): ``max_failures`` wrong PINs within ``window`` seconds lock
the agent and its phone for ``lockout`` seconds (five minutes). The guard's clock is a
parameter, so the test waits those minutes out by moving that clock on, not by waiting.
"""
from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from acd.config import load_config
from acd.daemon.agents_phone import SOUNDS
from acd.pin_guard import PinGuard
from acd.engine import AgentState, CallState
from dialplan.generate import FEATURE_CODES, Options, generate
from rig.agi_trace import AgiSession, AgiTrace
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sipp import SCENARIOS, Phones, SippProcess
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

AGENT, PIN, WRONG_PIN = "41", "4141", "9999"
ENDPOINT = f"agent-{AGENT}"
MEMBER = AGENT     # the queue_log names the agent by its member name: its name, its id here
CONFIG = """\
service: {{name: '1555', languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  qa: {{requires: {{topic:a: 1}}, wrapup: 0, ring_timeout: 5, announcements: {{first_after: 0, every: 0}}}}
agents:
  '{agent}': {{pin: '{pin}', skills: {{topic:a: 1}}}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, queue_log: {var}/queue_log, recordings_dir: {var}/rec}}
"""
_calls = itertools.count(1)


class GuardClock:
    """The PIN guard's clock: the real monotonic one, which the test can move on."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped


@dataclass
class Desk:
    """The daemon, the agent's desk phone (rung for calls) and a trace of Asterisk's AGI."""

    daemon: Any
    asterisk: AsteriskSandbox
    phones: Phones
    desk_phone: SippProcess
    trace: AgiTrace
    guard_clock: GuardClock

    async def dial(self, action: str, pin: str) -> AgiSession:
        """The agent dials the feature code of ``action`` and types ``pin``; returns the
        ``agent`` AGI session of that call as Asterisk logged it."""
        digits = [arg for i, digit in enumerate(pin, 1) for arg in ("-key", f"d{i}", digit)]
        code = FEATURE_CODES[action]
        phone = SippProcess(SCENARIOS / "agent_feature_code_brief.xml",
                            ["-s", code, "-key", "agent", ENDPOINT, *digits, "-m", "1", "-timeout", "30s"],
                            workdir=self.phones.workdir, name=f"{action}-{next(_calls)}",
                            remote=f"127.0.0.1:{self.asterisk.sip_port}")
        before = len(self.agent_sessions())
        self.phones.started.append(phone)
        await asyncio.to_thread(phone.start)
        result = await asyncio.to_thread(phone.wait, 30)
        assert result.all_successful, phone.diagnostics()
        await eventually(lambda: len(self.agent_sessions()) > before and self.agent_sessions()[-1].streamed(),
                         what=f"{code} in Asterisk's log")
        return self.agent_sessions()[-1]

    def agent_sessions(self) -> list[AgiSession]:
        return [s for s in self.trace.sessions() if s.script == "agent"]

    def queue_log(self) -> list[list[str]]:
        self.daemon.queue_log._file.flush()
        return [row.split("|") for row in self.daemon.queue_log.path.read_text().splitlines()]

    def member_events(self) -> list[str]:
        return [row[4] for row in self.queue_log() if row[3] == MEMBER and row[4] in ("ADDMEMBER", "REMOVEMEMBER")]


@pytest.fixture
async def desk(request: pytest.FixtureRequest, asterisk: AsteriskSandbox, phones: Phones,
               tmp_path: Path) -> AsyncIterator[Desk]:
    """The desk on ``CONFIG``; a test may add config lines with indirect parametrization
    (``@pytest.mark.parametrize("desk", ["phones: {dtmf_mode: auto}"], indirect=True)``)."""
    from acd.daemon.app import Daemon

    config_path = tmp_path / "acd.yaml"
    config_path.write_text(CONFIG.format(
        agent=AGENT, pin=PIN, ami_port=asterisk.ami_port, ami_user=asterisk.ami_username,
        ami_secret=asterisk.ami_secret, agi_port=free_port(14650), var=tmp_path / "var")
        + getattr(request, "param", ""), encoding="utf-8")
    desk_phone = phones.agents(talk=0.5, name="desk-phone")
    daemon = Daemon(config_path, extras=False)
    guard_clock = GuardClock()
    daemon.phone.guard = PinGuard(now=guard_clock)   # the default limits, on a clock the test moves
    await daemon.start()
    try:
        asterisk.apply(generate(load_config(config_path), Options(agi_port=daemon.agi_port,
                                                                  agents_at=f"127.0.0.1:{desk_phone.port}")))
        await eventually(lambda: daemon.ami.connected)
        with AgiTrace(asterisk, tmp_path / "agi.log") as trace:
            yield Desk(daemon, asterisk, phones, desk_phone, trace, guard_clock)
    finally:
        await daemon.stop()


def typed(session: AgiSession) -> list[str]:
    """What each GET DATA of the session collected (``200 result=<digits>``)."""
    return [x.reply.split("result=", 1)[1].split()[0] for x in session.exchanges
            if x.command.startswith("GET DATA") and x.reply is not None and "result=" in x.reply]


def answered_with(session: AgiSession) -> list[str]:
    """The sounds the handler streamed to the phone."""
    return [x.streamed_file or "" for x in session.streamed()]


async def test_wrong_pins_lock_the_agent_out_then_the_right_pin_logs_in_and_logout_stops_the_offers(
        desk: Desk) -> None:
    engine = desk.daemon.live.engine
    agent = engine.agents[AGENT]
    guard = desk.daemon.phone.guard
    # a citizen is waiting from the start: a locked-out agent must not get it
    first = desk.phones.citizens("q-qa", caller_prefix="early-", name="early")
    await eventually(lambda: len(engine.calls) == 1, what="the first caller queued")
    first_done = asyncio.ensure_future(asyncio.to_thread(first.wait, 60))

    for attempt in range(guard.max_failures):
        session = await desk.dial("login", WRONG_PIN)
        assert typed(session) == [WRONG_PIN]
        assert answered_with(session) == [SOUNDS["bad_pin"]], f"attempt {attempt + 1}"
        assert agent.state is AgentState.LOGGED_OUT

    # locked: the right PIN is not even asked for
    session = await desk.dial("login", PIN)
    assert typed(session) == []
    assert answered_with(session) == [SOUNDS["locked"]]
    assert agent.state is AgentState.LOGGED_OUT
    assert desk.member_events() == []
    assert [call.state for call in engine.calls.values()] == [CallState.WAITING]
    assert [ev for ev in desk.desk_phone.events() if ev.event == "invite"] == []

    # once the lockout has passed the right PIN logs the agent in, and the waiting caller is its
    desk.guard_clock.skipped += guard.lockout
    session = await desk.dial("login", PIN)
    assert typed(session) == [PIN]
    assert answered_with(session) == [SOUNDS["logged_in"]]
    assert desk.member_events() == ["ADDMEMBER"]
    assert (await first_done).all_successful
    await eventually(lambda: agent.state is AgentState.AVAILABLE, what="the agent available after its call")
    assert [ev.peer for ev in desk.desk_phone.events() if ev.event == "invite"] == ["early-1"]

    # *12: logged out, and the next caller waits without ringing the agent's phone
    session = await desk.dial("logout", PIN)
    assert typed(session) == [PIN]
    assert answered_with(session) == [SOUNDS["logged_out"]]
    assert agent.state is AgentState.LOGGED_OUT
    assert desk.member_events() == ["ADDMEMBER", "REMOVEMEMBER"]
    late = desk.phones.citizens("q-qa", caller_prefix="late-", name="late", hold=2.0)
    assert (await asyncio.to_thread(late.wait, 20)).all_successful
    assert [ev.peer for ev in desk.desk_phone.events() if ev.event == "invite"] == ["early-1"]
    late_call = [row[1] for row in desk.queue_log() if row[4] == "ENTERQUEUE"][-1]
    assert [row[4] for row in desk.queue_log() if row[1] == late_call] == ["ENTERQUEUE", "ABANDON"]
