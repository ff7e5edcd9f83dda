"""End-to-end: real SIP calls through a real (sandboxed) Asterisk into the daemon.

sipp plays the citizens and the agents' phones (rig.sipp); the daemon runs in the
test's event loop (FastAGI + AMI against the sandbox). Assertions read the phones'
event logs, the queue_log and the engine's state.
"""
from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from acd.engine import AgentState
from acd.engine import events as e
from acd.config import load_config
from dialplan.generate import FEATURE_CODES
from rig.pbx_files import sandbox_files
from rig.sipp import feature_code_phone
from rig.tcp_proxy import TcpProxy
from tests.needs import missing
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

#: the phones of the agents, by group (one sipp process each); the generated dialplan and
#: endpoints (rig.pbx_files) point each agent's contact at its group's sipp
AGENT_PHONES = {"answering": ["11", "12", "21"], "silent": ["31"], "desk": ["41"], "busy": ["51"],
                "talking": ["81"]}
#: an agent whose phone is not registered (AOR without contact: Asterisk says UNAVAILABLE)
UNREGISTERED = ["61"]
#: agent 71 has no endpoint in Asterisk at all (a config out of step): Dial says CHANUNAVAIL
CALLBACK_NUMBER_PREFIX = "21055500"
CONFIG = """\
service: {{name: '1555', languages: [el, en]}}
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
  '51': {{pin: '5151', skills: {{topic:a: 9}}}}
  '61': {{pin: '6161', skills: {{topic:a: 8}}}}
  '71': {{pin: '7171', skills: {{topic:a: 7}}}}
  '81': {{pin: '8181', skills: {{topic:a: 1}}}}
# callbacks dial out through the citizens' trunk, here the sipp that plays the citizens' phones
trunks:
  citizens: {{server: '127.0.0.1:{callback_port}', match: [127.0.0.1], dids: ['1555'], callbacks: true}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, queue_log: {var}/queue_log, recordings_dir: {var}/rec}}
"""


class Pbx:
    def __init__(self, sandbox, agi_port: int, phones: dict, workdir: Path) -> None:
        self.sandbox = sandbox
        self.agi_port = agi_port
        self.phones = phones
        self.workdir = workdir


@pytest.fixture(scope="module")
def pbx(tmp_path_factory) -> Iterator[Pbx]:
    if shutil.which("asterisk") is None or shutil.which("sipp") is None:
        missing("asterisk and sipp are needed for the live tests")
    from rig.asterisk import AsteriskSandbox
    from rig.ports import free_port
    from rig.sipp import agent_phones

    workdir = tmp_path_factory.mktemp("live")
    agi_port = free_port(14573)
    phones = {"answering": agent_phones(workdir, talk=1.0, name="answering"),
              "silent": agent_phones(workdir, behaviour="never_answers", name="silent"),
              "desk": agent_phones(workdir, name="desk"),
              "busy": agent_phones(workdir, behaviour="busy", name="busy"),
              # answers and talks until the test hangs the call up (a call that outlives a daemon)
              "talking": agent_phones(workdir, talk=None, name="talking"),
              # the citizens' phones a callback reaches: answer, talk until the agent hangs up
              "callback": agent_phones(workdir, name="callback")}
    ports = {group: phone.port for group, phone in phones.items()}
    contacts: dict[str, int | None] = {f"agent-{agent}": ports[group] for group, ids in AGENT_PHONES.items()
                                       for agent in ids}
    contacts.update({f"agent-{agent}": None for agent in UNREGISTERED})
    sandbox = AsteriskSandbox(workdir / "asterisk")
    pbx = Pbx(sandbox, agi_port, phones, workdir)
    config = load_config(write_config(pbx, workdir))
    sandbox.extra_files.update(sandbox_files(config, agi_port=agi_port, contacts=contacts))
    sandbox.start()
    try:
        for group in ("answering", "silent", "busy", "callback", "talking"):
            phones[group].start()
        yield pbx
    finally:
        for phone in phones.values():
            if phone.running:
                phone.stop(2.0)
        sandbox.stop()


def write_config(pbx: Pbx, directory: Path) -> Path:
    config = directory / "acd.yaml"
    config.write_text(CONFIG.format(ami_port=pbx.sandbox.ami_port, ami_user=pbx.sandbox.ami_username,
                                    ami_secret=pbx.sandbox.ami_secret, agi_port=pbx.agi_port, var=directory / "var",
                                    callback_port=pbx.phones["callback"].port))
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
    assert missed[0][3] == "31" and int(missed[0][5]) >= 2500


async def test_agent_hang_up_leads_to_wrap_up_then_the_agent_is_available(pbx, daemon):
    login(daemon, "12")
    _, done = await call(pbx, "q-qa", "wrap-")
    agent = daemon.live.engine.agents["12"]
    await eventually(lambda: agent.state is AgentState.ON_CALL)
    await eventually(lambda: agent.state is AgentState.WRAP_UP, timeout=5)
    assert (await done).all_successful
    assert [f[4] for f in queue_log(daemon) if f[1] != "MANAGER"][-1] == "COMPLETEAGENT"
    await eventually(lambda: agent.state is AgentState.AVAILABLE, timeout=5)


async def test_agent_logs_in_pauses_with_a_reason_and_unpauses_from_the_phone_and_a_wrong_pin_is_refused(
        pbx, daemon):
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
    await dial(FEATURE_CODES["unpause"], "4141")
    assert agent.state is AgentState.AVAILABLE
    assert [f[4:] for f in queue_log(daemon) if f[3] == "41"] == [
        ["ADDMEMBER", ""], ["PAUSEALL", "backoffice"], ["PAUSE", "backoffice"], ["UNPAUSEALL", ""], ["UNPAUSE", ""]]


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


async def test_agent_escalates_a_call_the_previous_daemon_connected_after_a_restart(pbx, tmp_path):
    """The call lives on the caller's channel (ACD_CALLID, ACD_QUEUE): the restarted daemon
    finds agent 81 bridged to it at resync, and *15 from 81's phone opens a ticket for that
    call and its queue while the agent is still kept out of routing."""
    from acd.daemon.app import Daemon

    config = write_config(pbx, tmp_path)
    config.write_text(config.read_text() + "back_office:\n  units:\n"
                      "    a-desk: {primary: team:bo-a, alternate: person:bo-a-head, queues: [qa]}\n")
    first_daemon: Daemon | None = Daemon(config, extras=False)
    await first_daemon.start()
    second_daemon = None
    try:
        login(first_daemon, "81")
        _, done = await call(pbx, "q-qa", "restart-esc-", timeout=60)
        await eventually(lambda: first_daemon.live.engine.agents["81"].state is AgentState.ON_CALL, timeout=10)
        (call_id,) = [f[1] for f in queue_log(first_daemon) if f[4] == "CONNECT"]
        stopping, first_daemon = first_daemon, None
        await stopping.stop()                            # the call stays up in Asterisk
        second_daemon = Daemon(config, extras=False)
        tickets: list = []
        second_daemon.escalations.store = tickets.append
        await second_daemon.start()
        agent = second_daemon.live.engine.agents["81"]
        await eventually(lambda: second_daemon.escalations.taken(call_id) is not None, timeout=10)
        assert not agent.reachable and agent.call_id == call_id     # resumed: on call, out of routing
        phone = feature_code_phone(pbx.workdir, pbx.sandbox.sip_port, "agent-81", FEATURE_CODES["escalate"], "8181")
        await asyncio.to_thread(phone.start)
        await asyncio.to_thread(phone.wait, 30)
        [ticket] = tickets
        assert (ticket.call_id, ticket.queue, ticket.agent_id, ticket.source) == (call_id, "qa", "81", "agent")
        assert ticket.unit == "a-desk" and (ticket.caller or "").startswith("restart-esc-")
        for channel in await asyncio.to_thread(agent_channels, pbx, "agent-81"):
            await asyncio.to_thread(pbx.sandbox.cli, f"channel request hangup {channel}")
        assert (await done).all_successful
        await eventually(lambda: agent.reachable, timeout=10)      # the phone is free: back in routing
    finally:
        for channel in await asyncio.to_thread(agent_channels, pbx, "agent-81"):
            await asyncio.to_thread(pbx.sandbox.cli, f"channel request hangup {channel}")
        for running in (first_daemon, second_daemon):
            if running is not None:
                await running.stop()


async def test_busy_and_unreachable_agents_go_back_into_the_engine_and_the_caller_is_served(pbx, daemon):
    # 61's phone is not registered: the device states read at AMI login take it out first
    await eventually(lambda: not daemon.live.engine.agents["61"].reachable)
    login(daemon, "51", "61", "71", "11")             # the best matches first: 51 (busy), 71 (no endpoint)
    _, done = await call(pbx, "q-qa", "unlucky-")
    assert (await done).all_successful
    answers = [ev.phone for ev in agent_events(pbx, "answering", "unlucky-") if ev.event == "answer"]
    assert answers == ["agent-11"]
    assert [ev.event for ev in agent_events(pbx, "busy", "unlucky-")] == ["busy"]
    lines = [f for f in queue_log(daemon) if f[1] != "MANAGER" and f[4] not in ("PAUSE", "PAUSEALL")]
    # app_queue logs a busy or unavailable member as RINGNOANSWER too (rna() in app_queue.c)
    assert [(f[4], f[3]) for f in lines if f[4] in ("RINGNOANSWER", "CONNECT")] == [
        ("RINGNOANSWER", "51"), ("RINGNOANSWER", "71"), ("CONNECT", "11")]
    assert not daemon.live.engine.agents["71"].reachable   # CHANUNAVAIL: out until Asterisk says otherwise


async def test_callback_request_keeps_the_place_and_is_placed_when_an_agent_is_free(pbx, daemon):
    _, asked = await call(pbx, "cb-qa", CALLBACK_NUMBER_PREFIX, hold=1.0)   # asks, then hangs up
    assert (await asked).all_successful
    await eventually(lambda: not daemon.room.callers)
    (callback,) = daemon.live.engine.calls.values()
    assert callback.callback == f"{CALLBACK_NUMBER_PREFIX}1"
    _, later = await call(pbx, "q-qa", "later-")
    await eventually(lambda: len(daemon.room.callers) == 1)
    login(daemon, "11")                               # the callback is first in line: placed first
    assert (await later).all_successful
    invites = [ev.peer for ev in pbx.phones["answering"].events()
               if ev.event == "invite" and ev.peer in (callback.callback, "later-1")]
    assert invites == [callback.callback, "later-1"]
    citizen = [ev.event for ev in pbx.phones["callback"].events() if ev.phone == callback.callback]
    assert citizen[:2] == ["invite", "answer"]
    log = queue_log(daemon)
    assert [f[4] for f in log if f[1] == callback.id] == ["ENTERQUEUE", "CONNECT", "COMPLETEAGENT"]
    assert [f[4] for f in log if f[4] in ("CONNECT", "ABANDON")] == ["CONNECT", "CONNECT"]
    await eventually(lambda: daemon.live.engine.calls == {})


def agent_channels(pbx: Pbx, endpoint: str) -> list[str]:
    concise = pbx.sandbox.cli("core show channels concise")
    return [line.split("!")[0] for line in concise.splitlines() if line.startswith(f"PJSIP/{endpoint}-")]


async def test_lost_ami_link_is_reconnected_with_backoff_and_resynced_from_asterisk(pbx, tmp_path):
    from acd.daemon.app import Daemon

    proxy = TcpProxy("127.0.0.1", pbx.sandbox.ami_port)

    await proxy.start()
    running = Daemon(write_config(pbx, tmp_path), ami_port=proxy.port, extras=False)
    await running.start()
    agent = running.live.engine.agents["31"]
    try:
        await eventually(lambda: running.ami.connected)
        await eventually(lambda: not running.live.engine.agents["61"].reachable)   # the login's resync
        login(running, "31")
        proxy.drop()
        cut_at = asyncio.get_running_loop().time()
        await eventually(lambda: not running.ami.connected)
        # while the link is down, agent 31's phone is rung from outside the ACD: the
        # DeviceStateChange and Newchannel events of that are lost to the daemon
        await asyncio.to_thread(pbx.sandbox.cli, "channel originate PJSIP/agent-31 application Wait 30")
        while not await asyncio.to_thread(agent_channels, pbx, "agent-31"):   # the CLI off the loop
            assert asyncio.get_running_loop().time() < cut_at + 10, "the originated channel never showed"
            await asyncio.sleep(0.1)
        await asyncio.sleep(max(0.0, cut_at + 3.5 - asyncio.get_running_loop().time()))
        assert agent.reachable and not running.ami.connected
        # backoff: 0.5 s doubling (with jitter) tries at about 0.5, 1.5 and 3.5 s; a fixed
        # retry every 0.5 s would make 7 attempts, a loop without a pause hundreds
        assert 2 <= proxy.refused <= 4, proxy.refused
        proxy.resume()
        await eventually(lambda: running.ami.connected, timeout=15)
        await eventually(lambda: not agent.reachable)    # CoreShowChannels: on a call we did not place
        for channel in agent_channels(pbx, "agent-31"):
            await asyncio.to_thread(pbx.sandbox.cli, f"channel request hangup {channel}")
        await eventually(lambda: agent.reachable)        # its phone is free again (DeviceStateChange)
    finally:
        for channel in await asyncio.to_thread(agent_channels, pbx, "agent-31"):
            await asyncio.to_thread(pbx.sandbox.cli, f"channel request hangup {channel}")
        await running.stop()
        await proxy.stop()


async def test_agent_escalates_the_call_it_just_ended_from_the_phone_with_the_callers_number(pbx, tmp_path):
    """*15 from the agent's phone in wrap-up: one ticket for that call, with the unit the
    config gives its queue and the caller's number learnt from AMI."""
    from acd.daemon.app import Daemon

    config = write_config(pbx, tmp_path)
    text = config.read_text().replace("qa: {requires: {topic:a: 1}, wrapup: 3,", "qa: {requires: {topic:a: 1}, wrapup: 60,")
    config.write_text(text + "back_office:\n  units:\n"
                             "    a-desk: {primary: team:bo-a, alternate: person:bo-a-head, queues: [qa]}\n")
    daemon = Daemon(config, extras=False)
    tickets: list = []
    daemon.escalations.store = tickets.append
    await daemon.start()
    try:
        await eventually(lambda: daemon.ami.connected)
        login(daemon, "12")
        _, done = await call(pbx, "q-qa", "escalate-")
        assert (await done).all_successful
        agent = daemon.live.engine.agents["12"]
        await eventually(lambda: agent.state is AgentState.WRAP_UP)
        (call_id,) = [f[1] for f in queue_log(daemon) if f[4] == "CONNECT"]
        phone = feature_code_phone(pbx.workdir, pbx.sandbox.sip_port, "agent-12", FEATURE_CODES["escalate"], "1111")
        await asyncio.to_thread(phone.start)
        await asyncio.to_thread(phone.wait, 30)
        assert tickets == []                                       # a wrong PIN opens nothing
        phone = feature_code_phone(pbx.workdir, pbx.sandbox.sip_port, "agent-12", FEATURE_CODES["escalate"], "1212")
        await asyncio.to_thread(phone.start)
        await asyncio.to_thread(phone.wait, 30)
        [ticket] = tickets
        assert (ticket.call_id, ticket.queue, ticket.agent_id, ticket.source) == (call_id, "qa", "12", "agent")
        assert (ticket.unit, ticket.primary_owner, ticket.alternate_owner) == ("a-desk", "team:bo-a", "person:bo-a-head")
        assert (ticket.caller or "").startswith("escalate-")
    finally:
        await daemon.stop()
