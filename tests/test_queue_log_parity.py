"""The daemon's queue_log against app_queue's, on the real sandboxed Asterisk.

The same scripted calls (answered and ended by either side, abandoned, timed out,
rung without an answer and auto-paused, left while ringing, a second caller while
the first one's agent rings, blind-transferred by the agent, attended-transferred by the
agent's phone after a consultation, its agent free at once) and the same agents'
log-ins, pauses and log-outs go once through a plain app_queue queue and once through the daemon; both
write into the one file, Asterisk's queue_log (docs/records.md, "The queue_log"), and the two runs'
lines are compared event by event with app_queue as the oracle. Excepted: times of
day, uniqueids (the callid and CONNECT's peer), ring-no-answer and ring-cancelled
milliseconds, the bridge an attended transfer joined, and durations in seconds within 1 s (app_queue subtracts whole-second
clocks, ``time(NULL) - qe->start``, so it is itself 1 s apart from run to run).
"""
from __future__ import annotations

import asyncio
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from acd.engine import AgentState
from acd.engine import events as e
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sip_endpoints import agent_endpoint, citizens_trunk
from rig.sipp import Phones
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

QUEUE = "pq"
#: agent id -> (member name, what its phone does)
AGENTS = {"11": "Anna Pappa", "12": "Nikos K", "13": "Maria T", "31": "Eleni S"}
MAX_WAIT = 8
RING_TIMEOUT = 3
#: where agents transfer callers to: an extension that talks half a second and hangs up
TRANSFER_CONTEXT, TRANSFER_EXTEN, TRANSFER_TALK = "backoffice", "2000", 0.5
#: the colleague an agent consults before an attended transfer: answers, talks 2 s, hangs up
COLLEAGUE_EXTEN, COLLEAGUE_TALK = "2001", 2.0
CONFIG = """\
service: {{name: parity, languages: [el]}}
skills: {{topic:a: A}}
queues:
  {queue}: {{requires: {{topic:a: 1}}, wrapup: 0, ring_timeout: {ring}, max_wait: {max_wait},
        announcements: {{first_after: 0, every: 0}}}}
routing: {{missed_offer_rest: 30, auto_pause_after: 1}}
agents:
{agents}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, queue_log: {queue_log}, recordings_dir: {var}/rec}}
"""
#: app_queue's twin of the daemon's queue: one member rung at a time for the ring timeout,
#: no second ring before the scripted callers leave, the ACD's auto-pause (all queues)
APP_QUEUE = f"""\
[{QUEUE}]
strategy=ringall
timeout={RING_TIMEOUT}
retry=30
wrapuptime=0
autopause=all
ringinuse=no
joinempty=yes
leavewhenempty=no
musicclass=default
announce-frequency=0
periodic-announce-frequency=0
announce-position=no
announce-holdtime=no
"""

#: data fields (0-based from the event's first field) that are seconds, per event
SECONDS = {"CONNECT": (0, 2), "COMPLETECALLER": (0, 1), "COMPLETEAGENT": (0, 1), "ABANDON": (2,),
           "EXITWITHTIMEOUT": (2,), "BLINDTRANSFER": (2, 3), "ATTENDEDTRANSFER": (2, 3)}
#: data fields not compared: CONNECT's peer uniqueid, the ring milliseconds, the bridge
#: uniqueid an attended transfer joined the caller to
IGNORED = {"CONNECT": (1,), "RINGNOANSWER": (0,), "RINGCANCELED": (0,), "ATTENDEDTRANSFER": (1,)}


def dialplan(agi_port: int) -> str:
    """``q-<queue>`` into the daemon's waiting room, ``aq-<queue>`` into app_queue with
    the queue's max wait; both answer first, as the generated dialplan does."""
    return textwrap.dedent(f"""\
        [acd-inbound]
        exten => _q-.,1,Answer()
         same => n,Set(ACD_CALLID=${{UNIQUEID}})
         same => n,Set(ACD_QUEUE=${{EXTEN:2}})
         same => n,AGI(agi://127.0.0.1:{agi_port}/wait)
         same => n,Hangup()
        exten => _aq-.,1,Answer()
         same => n,Queue(${{EXTEN:3}},,,,{MAX_WAIT})
         same => n,Hangup()

        [{TRANSFER_CONTEXT}]
        exten => {TRANSFER_EXTEN},1,Wait({TRANSFER_TALK})
         same => n,Hangup()
        exten => {COLLEAGUE_EXTEN},1,Answer()
         same => n,Wait({COLLEAGUE_TALK})
         same => n,Hangup()

        [acd-agents]
        """)


def normalised(line: str) -> list[str]:
    """A line without what is excepted: time of day, uniqueids, milliseconds."""
    fields = line.split("|")
    event, data = fields[4], fields[5:]
    callid = fields[1] if fields[1] in ("NONE", "MANAGER") else "<uniqueid>"
    data = ["*" if i in IGNORED.get(event, ()) else value for i, value in enumerate(data)]
    return [callid, fields[2], fields[3], event, *data]


def differs(oracle: str, ours: str) -> bool:
    a, b = normalised(oracle), normalised(ours)
    if len(a) != len(b) or a[:4] != b[:4]:
        return True
    seconds = {4 + i for i in SECONDS.get(a[3], ())}
    return any(abs(int(x) - int(y)) > 1 if i in seconds else x != y for i, (x, y) in enumerate(zip(a, b)))


@dataclass
class Path_:
    """One way through Asterisk: how agents log in, pause and log out, and the number to call."""

    number: str
    login: Callable[[str], Awaitable[None]]
    logout: Callable[[str], Awaitable[None]]
    pause: Callable[[str, str], Awaitable[None]]
    unpause: Callable[[str], Awaitable[None]]
    #: the agent's phone blind-transfers its answered call to an extension (the same on both paths)
    blind_transfer: Callable[[str, str, str], Awaitable[None]]
    #: the agent's phone is called for its consultation with a colleague (then it transfers)
    consult: Callable[[str], Awaitable[None]]
    #: whether the agent is on a call for the queue (app_queue's member, the daemon's engine)
    in_call: Callable[[str], Awaitable[bool]]


@pytest.fixture
async def daemon(asterisk: AsteriskSandbox, phones: Phones, tmp_path: Path) -> AsyncIterator:
    from acd.daemon.app import Daemon

    answering = phones.agents(talk=2.5, name="hangs-up")            # 11: ends the call after 2.5 s
    listening = phones.agents(talk=None, name="listens")            # 12: until the caller hangs up
    silent = phones.agents(behaviour="never_answers", name="silent")   # 31: never picks up
    transferring = phones.agents(behaviour="transfers_attended", name="transfers")   # 13
    agi_port = free_port(14673)
    pjsip = citizens_trunk() + "".join(agent_endpoint(agent, phone.port) for agent, phone in
                                       (("11", answering), ("12", listening), ("13", transferring),
                                        ("31", silent)))
    asterisk.apply({"pjsip_generated.conf": pjsip,
                    "extensions_generated.conf": dialplan(agi_port),
                    "queues_generated.conf": APP_QUEUE})
    agents = "\n".join(f"  '{agent}': {{name: {name}, pin: '{agent * 2}', skills: {{topic:a: 1}}}}"
                       for agent, name in AGENTS.items())
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG.format(queue=QUEUE, ring=RING_TIMEOUT, max_wait=MAX_WAIT, agents=agents,
                                    ami_port=asterisk.ami_port, ami_user=asterisk.ami_username,
                                    ami_secret=asterisk.ami_secret, agi_port=agi_port,
                                    queue_log=asterisk.log_dir / "queue_log", var=tmp_path / "var"))
    running = Daemon(config, extras=False)
    await running.start()
    await eventually(lambda: running.ami.connected, timeout=10)
    try:
        yield running
    finally:
        await running.stop()


async def answered_channel(daemon, agent: str) -> str:
    """The agent's channel once its phone answered and it is bridged (polled over AMI)."""
    deadline = asyncio.get_running_loop().time() + 10.0
    while True:
        channels = [str(item.get("Channel")) for item in await daemon.ami.action_list("CoreShowChannels")
                    if str(item.get("Channel", "")).startswith(f"PJSIP/agent-{agent}-")
                    and item.get("ChannelStateDesc") == "Up" and item.get("BridgeId")]
        if channels:
            return channels[0]
        assert asyncio.get_running_loop().time() < deadline, f"agent {agent}'s phone never answered"
        await asyncio.sleep(0.1)


def blind_transfer(daemon) -> Callable[[str, str, str], Awaitable[None]]:
    """What an agent's phone or an operator does: AMI ``BlindTransfer`` on the agent's
    answered channel (main/manager.c ``action_blind_transfer``, Asterisk 16: the bridge's
    ``ast_bridge_transfer_blind`` with the agent as transferer, as a SIP REFER does)."""
    async def transfer(agent: str, exten: str, context: str) -> None:
        channel = await answered_channel(daemon, agent)
        response = await daemon.ami.action("BlindTransfer", timeout=5.0, Channel=channel, Exten=exten,
                                           Context=context)
        assert str(response.get("Response")) == "Success", dict(response.headers)

    return transfer


def consult(daemon) -> Callable[[str], Awaitable[None]]:
    """The consultation call of an attended transfer, once the agent answered: the agent's
    phone is called (AMI ``Originate``, as a CTI desktop's click-to-dial does) and, when it
    answers, dials the colleague, so both of the phone's legs are bridged, as when the phone
    itself dials. The phone then transfers (rig/scenarios/agent_attended_transfer.xml)."""
    async def call_colleague(agent: str) -> None:
        await answered_channel(daemon, agent)
        response = await daemon.ami.action("Originate", timeout=5.0, Channel=f"PJSIP/agent-{agent}",
                                           Application="Dial", Data=f"Local/{COLLEAGUE_EXTEN}@{TRANSFER_CONTEXT}",
                                           CallerID="consult <consult>", Async="true")
        assert str(response.get("Response")) == "Success", dict(response.headers)

    return call_colleague


def app_queue_path(daemon) -> Path_:
    """app_queue's own members: AMI QueueAdd/QueuePause/QueueRemove (the lines app_queue
    writes for them: MANAGER/NONE callid, the member name with log_membername_as_agent)."""
    async def act(name: str, **fields: str) -> None:
        response = await daemon.ami.action(name, timeout=5.0, **fields)
        assert str(response.get("Response")) == "Success", (name, fields, dict(response.headers))

    async def in_call(agent: str) -> bool:
        """QueueStatus's ``InCall`` of the member: ``mem->starttime``, which app_queue's
        update_queue clears when it logs the call's end (apps/app_queue.c, 16.28)."""
        members = [item for item in await daemon.ami.action_list("QueueStatus", Queue=QUEUE)
                   if item.get("Event") == "QueueMember" and item.get("Location") == f"PJSIP/agent-{agent}"]
        assert members, f"agent {agent} is no member of {QUEUE}"
        return str(members[0].get("InCall")) == "1"

    return Path_(f"aq-{QUEUE}",
                 lambda a: act("QueueAdd", Queue=QUEUE, Interface=f"PJSIP/agent-{a}", MemberName=AGENTS[a]),
                 lambda a: act("QueueRemove", Queue=QUEUE, Interface=f"PJSIP/agent-{a}"),
                 lambda a, reason: act("QueuePause", Interface=f"PJSIP/agent-{a}", Paused="true", Reason=reason),
                 lambda a: act("QueuePause", Interface=f"PJSIP/agent-{a}", Paused="false"),
                 blind_transfer(daemon), consult(daemon), in_call)


def daemon_path(daemon) -> Path_:
    async def feed(event: e.Event) -> None:
        daemon.live.feed(event)

    now = daemon.live.now

    async def in_call(agent: str) -> bool:
        return daemon.live.engine.agents[agent].state is AgentState.ON_CALL

    return Path_(f"q-{QUEUE}",
                 lambda a: feed(e.AgentLoggedIn(now(), a)),
                 lambda a: feed(e.AgentLoggedOut(now(), a)),
                 lambda a, reason: feed(e.AgentPaused(now(), a, reason)),
                 lambda a: feed(e.AgentUnpaused(now(), a)),
                 blind_transfer(daemon), consult(daemon), in_call)


async def call(phones: Phones, path: Path_, name: str, hold: float | None) -> None:
    citizen = phones.citizens(path.number, caller_prefix="2105550", hold=hold, name=name)
    result = await asyncio.to_thread(citizen.wait, 30.0)
    assert result.all_successful, citizen.diagnostics()


async def answered_agent_hangs_up(path: Path_, phones: Phones, name: str) -> None:
    await path.login("11")
    await call(phones, path, name, hold=None)
    await path.logout("11")


async def answered_caller_hangs_up(path: Path_, phones: Phones, name: str) -> None:
    await path.login("12")
    await call(phones, path, name, hold=4.5)
    await path.logout("12")


async def abandoned(path: Path_, phones: Phones, name: str) -> None:
    await call(phones, path, name, hold=3.5)


async def timeout_exit(path: Path_, phones: Phones, name: str) -> None:
    await call(phones, path, name, hold=None)


async def ring_no_answer_then_auto_pause(path: Path_, phones: Phones, name: str) -> None:
    await path.login("31")
    await call(phones, path, name, hold=RING_TIMEOUT + 2.5)
    await path.logout("31")


async def caller_leaves_while_ringing(path: Path_, phones: Phones, name: str) -> None:
    await path.login("31")
    await call(phones, path, name, hold=1.5)
    await path.logout("31")


async def second_caller_while_the_first_rings(path: Path_, phones: Phones, name: str) -> None:
    # app_queue keeps a ringing caller in the queue: the second one enters at position 2
    await path.login("31")
    first = phones.citizens(path.number, caller_prefix="2105551", hold=RING_TIMEOUT + 2.5, name=f"{name}-1")
    await asyncio.sleep(1.0)
    second = phones.citizens(path.number, caller_prefix="2105552", hold=3.5, name=f"{name}-2")
    for citizen in (first, second):
        result = await asyncio.to_thread(citizen.wait, 30.0)
        assert result.all_successful, citizen.diagnostics()
    await path.logout("31")


async def answered_then_blind_transferred(path: Path_, phones: Phones, name: str) -> None:
    # the agent sends the caller on once answered; the caller talks there until it hangs up
    await path.login("12")
    citizen = phones.citizens(path.number, caller_prefix="2105553", hold=None, name=name)
    await path.blind_transfer("12", TRANSFER_EXTEN, TRANSFER_CONTEXT)
    transferred = time.time()
    result = await asyncio.to_thread(citizen.wait, 30.0)
    assert result.all_successful, citizen.diagnostics()
    # the caller reached the target, not a hang-up: its BYE came after the target's talk
    byes = [event.at for event in citizen.events() if event.event == "bye"]
    assert byes and byes[0] - transferred > TRANSFER_TALK - 0.3, (byes, transferred)
    await path.logout("12")


async def answered_then_attended_transferred(path: Path_, phones: Phones, name: str) -> None:
    # the agent consults a colleague, then its phone joins the caller to the colleague: the
    # agent is free for the next caller at once, while the caller talks on with the colleague
    await path.login("13")
    citizen = phones.citizens(path.number, caller_prefix="2105554", hold=None, name=name)
    await path.consult("13")
    assert await path.in_call("13")
    deadline = time.monotonic() + 5.0
    while await path.in_call("13"):
        assert time.monotonic() < deadline, "the agent is still on the call 5 s after its consultation began"
        await asyncio.sleep(0.05)
    freed = time.time()
    assert citizen.running, "the caller's call ended before its agent was free"
    result = await asyncio.to_thread(citizen.wait, 30.0)
    assert result.all_successful, citizen.diagnostics()
    # the caller reached the colleague: its BYE came when the colleague hung up, after the transfer
    byes = [event.at for event in citizen.events() if event.event == "bye"]
    assert byes and byes[0] - freed > 0.8, (byes, freed)
    await path.logout("13")


async def pause_and_unpause(path: Path_, phones: Phones, name: str) -> None:
    await path.login("12")
    await path.pause("12", "backoffice")
    await asyncio.sleep(0.2)
    await path.unpause("12")
    await path.logout("12")


SCENARIOS = (answered_agent_hangs_up, answered_caller_hangs_up, abandoned, timeout_exit,
             ring_no_answer_then_auto_pause, caller_leaves_while_ringing, second_caller_while_the_first_rings,
             answered_then_blind_transferred, answered_then_attended_transferred, pause_and_unpause)


async def lines_of(log: Path, scenario: Callable[..., Awaitable[None]], path: Path_, phones: Phones,
                   name: str) -> list[str]:
    """The lines ``scenario`` adds to the queue_log (read after the last one settles)."""
    start = log.stat().st_size if log.exists() else 0
    await scenario(path, phones, name)
    await asyncio.sleep(1.0)      # Asterisk's logger thread and the last AMI events
    with open(log, "rb") as file:
        file.seek(start)
        return file.read().decode("utf-8").splitlines()


async def test_the_daemon_writes_the_queue_log_app_queue_writes_for_the_same_calls(
        asterisk: AsteriskSandbox, phones: Phones, daemon) -> None:
    log = asterisk.log_dir / "queue_log"
    compared = differing = 0
    report, shown = [], []
    for scenario in SCENARIOS:
        oracle = await lines_of(log, scenario, app_queue_path(daemon), phones, f"aq-{scenario.__name__}")
        ours = await lines_of(log, scenario, daemon_path(daemon), phones, f"acd-{scenario.__name__}")
        assert oracle, f"{scenario.__name__}: app_queue wrote nothing"
        for i in range(max(len(oracle), len(ours))):
            a = oracle[i] if i < len(oracle) else "-|-|-|-|(missing)"
            b = ours[i] if i < len(ours) else "-|-|-|-|(missing)"
            compared += 1
            shown.append(f"{'!=' if differs(a, b) else '=='} {scenario.__name__}\n   app_queue {a}\n   daemon    {b}")
            if differs(a, b):
                differing += 1
                report.append(f"{scenario.__name__}:\n  app_queue {a}\n  daemon    {b}")
    print("\n".join(shown))
    print(f"queue_log: {compared} events compared, {differing} differ")
    assert differing == 0, "\n".join(report)


def test_asterisk_appends_to_the_daemons_queue_log_named_relative_to_its_log_directory(tmp_path: Path) -> None:
    """What scripts/install-service sets up (``queue_log_name = ../acd/queue_log``): main/logger.c
    opens ``<astlogdir>/<name>``, so Asterisk writes into the daemon's file, beside its lines."""
    from acd.daemon.queue_log import QueueLogWriter
    from acd.engine import Engine
    from acd.install_service import shared_queue_log_name
    from rig.asterisk import BASE_CONFIG, find_binary
    from rig.asterisk_conf import set_option
    from tests.engine_helpers import make_config
    from tests.needs import missing

    if find_binary() is None:
        missing("asterisk is not installed (scripts/install-system-deps)")
    shared = tmp_path / "acd" / "queue_log"
    config = make_config("pq: {requires: {topic:a: 1}}\n", "'11': {name: Anna Pappa, pin: '1234', skills: {topic:a: 1}}\n")
    writer = QueueLogWriter(shared, config)          # the daemon's, first (it creates the file)
    engine = Engine(config)
    writer(engine.handle(e.AgentLoggedIn(1000, "11")))
    sandbox = AsteriskSandbox(tmp_path / "ast")
    logger = set_option((BASE_CONFIG / "logger.conf").read_text(), "general", "queue_log_name",
                        shared_queue_log_name(shared, sandbox.log_dir))
    sandbox.extra_files.update({"logger.conf": logger, "queues_generated.conf": APP_QUEUE})
    with sandbox:
        sandbox.cli(f"queue add member Local/99@nowhere to {QUEUE} penalty 0 as Someone")
        writer(engine.handle(e.AgentLoggedOut(1001, "11")))
    writer.close()
    events = [line.split("|")[2:5] for line in shared.read_text().splitlines()]
    assert events[0] == ["pq", "Anna Pappa", "ADDMEMBER"] and events[-1] == ["pq", "Anna Pappa", "REMOVEMEMBER"]
    assert ["NONE", "NONE", "QUEUESTART"] in events and ["pq", "Someone", "ADDMEMBER"] in events
    assert not (sandbox.log_dir / "queue_log").exists()
