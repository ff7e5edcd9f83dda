"""The protocol layer against a real (sandboxed) Asterisk 16, the peer we did not write.

AMI: login, Ping, the Command action's Output lines, an event list (CoreShowChannels).
FastAGI: real calls (Local channels originated over AMI) run ``AGI(agi://...)`` into our
server; the caller hangs up in the middle of a command and later replies do not drift;
a Greek caller name crosses AMI and AGI intact; an unknown script ends in
AGISTATUS=FAILURE so the dialplan moves on.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest

from acd.protocol import AGIHangup, AGISession, AMIAuthError, AMIClient, AMIMessage, FastAGIServer
from rig.asterisk import AsteriskSandbox

pytestmark = pytest.mark.asterisk

GREEK_NAME = "Γιώργος Παπαδόπουλος"

DIALPLAN = """\
[proto]
exten => echo,1,AGI(agi://127.0.0.1:{port}/echo?lang=el,first,δεύτερο)
 same => n,UserEvent(ProtoDone,Script: echo,Status: ${{AGISTATUS}},Mark: ${{PROTO_MARK}})
 same => n,Hangup()
exten => nosuch,1,AGI(agi://127.0.0.1:{port}/nosuch)
 same => n,UserEvent(ProtoDone,Script: nosuch,Status: ${{AGISTATUS}})
 same => n,Hangup()
exten => hold,1,Answer()
 same => n,Wait(20)
 same => n,Hangup()
"""


def _free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Pbx:
    def __init__(self, sandbox: AsteriskSandbox, agi_port: int) -> None:
        self.sandbox = sandbox
        self.agi_port = agi_port


@pytest.fixture(autouse=True)
def every_log_line_is_built(caplog: pytest.LogCaptureFixture) -> None:
    """Debug level makes every log call build its record, so a bad ``extra`` key fails here."""
    caplog.set_level(logging.DEBUG, logger="acd.protocol")


@pytest.fixture(scope="module")
def pbx(asterisk: AsteriskSandbox) -> Pbx:
    """The session's sandboxed Asterisk (tests/conftest.py) with this module's dialplan."""
    agi_port = _free_tcp_port()
    asterisk.apply({"extensions_generated.conf": DIALPLAN.format(port=agi_port)})
    return Pbx(asterisk, agi_port)


@pytest.fixture
async def ami(pbx: Pbx) -> AsyncIterator[AMIClient]:
    client = AMIClient("127.0.0.1", pbx.sandbox.ami_port, pbx.sandbox.ami_username, pbx.sandbox.ami_secret,
                       action_timeout=5.0)
    await client.connect()
    yield client
    await client.close()


class UserEvents:
    """``UserEvent`` messages from the dialplan, awaited by name."""

    def __init__(self, ami: AMIClient) -> None:
        self.queue: asyncio.Queue[AMIMessage] = asyncio.Queue()
        ami.on_event("UserEvent", self.queue.put_nowait)

    async def next(self, name: str, timeout: float = 10.0) -> AMIMessage:
        async with asyncio.timeout(timeout):
            while True:
                message = await self.queue.get()
                if message.get("UserEvent") == name:
                    return message


async def originate(ami: AMIClient, exten: str, caller_name: str = GREEK_NAME) -> AMIMessage:
    """A call from ``hold`` (it answers and waits) into ``exten``: the ;2 half of the Local
    channel runs ``exten`` with the caller id given here."""
    return await ami.action("Originate", Channel=f"Local/{exten}@proto", Context="proto", Exten="hold",
                            Priority="1", CallerID=f'"{caller_name}" <2101234567>', Async="true",
                            Timeout="10000")


# ------------------------------------------------------------------------ AMI
async def test_ami_logs_in_and_answers_ping(ami: AMIClient) -> None:
    assert (ami.banner or "").startswith("Asterisk Call Manager/")
    pong = await ami.action("Ping")
    assert (pong.name, pong.get("Ping")) == ("Success", "Pong")


async def test_ami_refuses_a_wrong_secret(pbx: Pbx) -> None:
    client = AMIClient("127.0.0.1", pbx.sandbox.ami_port, pbx.sandbox.ami_username, "not-the-secret")
    with pytest.raises(AMIAuthError):
        await client.connect()
    await client.close()


async def test_command_action_output_lines_are_all_kept(ami: AMIClient) -> None:
    answer = await ami.action("Command", Command="core show version")
    assert answer.name == "Success"
    assert any(line.startswith("Asterisk 16.") for line in answer.get_all("Output"))
    dialplan = await ami.action("Command", Command="dialplan show proto")
    assert len(dialplan.get_all("Output")) > 5
    assert any("'echo'" in line for line in dialplan.get_all("Output"))


async def test_core_show_channels_lists_a_live_call_with_its_greek_name(ami: AMIClient) -> None:
    assert (await originate(ami, "hold")).name == "Success"
    for _ in range(50):
        channels = await ami.action_list("CoreShowChannels")
        if any(m.get("CallerIDName") == GREEK_NAME for m in channels):
            break
        await asyncio.sleep(0.1)
    names = [m.get("Channel") for m in channels if m.get("CallerIDName") == GREEK_NAME]
    assert names and all((n or "").startswith("Local/hold@proto-") for n in names)
    for name in names:
        await ami.action("Hangup", Channel=name)


# ------------------------------------------------------------------------ FastAGI
@pytest.fixture
async def agi(pbx: Pbx) -> AsyncIterator[dict[str, object]]:
    """A FastAGI server on the port the dialplan names; handlers report into ``seen``."""
    seen: dict[str, object] = {"entered": asyncio.Event(), "done": asyncio.Event()}

    async def echo(session: AGISession) -> None:
        try:
            await _echo(session, seen)
        finally:
            seen["done"].set()  # type: ignore[union-attr]

    server = FastAGIServer({"echo": echo}, port=pbx.agi_port)
    await server.start()
    try:
        yield seen
    finally:
        await server.stop()


async def _echo(session: AGISession, seen: dict[str, object]) -> None:
    seen["env"] = session.env
    seen["name"] = await session.get_variable("CALLERID(name)")
    await session.set_variable("PROTO_MARK", "σήμα 1")
    seen["full"] = await session.get_full_variable("${PROTO_MARK}|${CALLERID(num)}")
    seen["missing"] = await session.get_variable("PROTO_NOT_SET")
    seen["beep"] = await session.stream_file("beep", "#")
    if seen.get("hang_up_in_wait"):
        seen["entered"].set()  # type: ignore[union-attr]
        try:
            await session.wait_for_digit(15000)
        except AGIHangup:
            seen["hangup_raised"] = True
        seen["hung_up_flag"] = session.hung_up
        # the replies that follow the hang-up are still each command's own
        seen["after_hangup"] = await session.get_variable("PROTO_MARK")
        seen["after_hangup_full"] = await session.get_full_variable("${PROTO_MARK}")
        try:
            await session.stream_file("beep")
        except AGIHangup:
            seen["stream_after_hangup_raised"] = True


async def test_fastagi_session_from_a_real_call(ami: AMIClient, agi: dict[str, object]) -> None:
    events = UserEvents(ami)
    await originate(ami, "echo")
    done = await events.next("ProtoDone")
    env = agi["env"]
    assert env.script == "echo"  # type: ignore[attr-defined]
    assert dict(env.query) == {"lang": "el"}  # type: ignore[attr-defined]
    assert env.args == ("first", "δεύτερο")  # type: ignore[attr-defined]
    assert env["agi_network"] == "yes"  # type: ignore[index]
    assert env["agi_calleridname"] == GREEK_NAME  # type: ignore[index]
    assert agi["name"] == GREEK_NAME
    assert agi["full"] == "σήμα 1|2101234567"
    assert agi["missing"] is None
    assert agi["beep"] is None
    assert (done.get("Script"), done.get("Status"), done.get("Mark")) == ("echo", "SUCCESS", "σήμα 1")


async def test_caller_hanging_up_mid_command_does_not_shift_later_replies(
        ami: AMIClient, agi: dict[str, object], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="acd.protocol.agi_server")
    agi["hang_up_in_wait"] = True
    await originate(ami, "echo")
    await asyncio.wait_for(agi["entered"].wait(), 10)  # type: ignore[union-attr]
    await asyncio.sleep(0.2)  # WAIT FOR DIGIT is now running in Asterisk
    channel = agi["env"]["agi_channel"]  # type: ignore[index]
    assert (await ami.action("Hangup", Channel=channel)).name == "Success"
    await asyncio.wait_for(agi["done"].wait(), 10)  # type: ignore[union-attr]
    assert agi["hangup_raised"] is True
    assert agi["hung_up_flag"] is True
    assert agi["after_hangup"] == "σήμα 1"
    assert agi["after_hangup_full"] == "σήμα 1"
    assert agi["stream_after_hangup_raised"] is True
    # Asterisk really did put its HANGUP notice in the stream between those replies
    assert any(r.getMessage() == "AGI HANGUP notice" and r.channel == channel for r in caplog.records)


async def test_unknown_script_ends_in_agistatus_failure(ami: AMIClient, agi: dict[str, object]) -> None:
    events = UserEvents(ami)
    await originate(ami, "nosuch")
    done = await events.next("ProtoDone")
    assert (done.get("Script"), done.get("Status")) == ("nosuch", "FAILURE")


async def test_the_daemons_event_mask_keeps_the_call_events_and_lists_and_drops_the_dialplan_chatter(
        pbx: Pbx, ami: AMIClient) -> None:
    """The daemon logs in with ``AMI_EVENT_CLASSES`` and asks only for the events it
    handles: Asterisk still sends it the call's Newchannel and Hangup and answers its list
    actions, but neither the Newexten of every dialplan step nor a Newstate, which a
    session with ``Events: on`` gets."""
    from acd.daemon.ami_bridge import AMI_EVENT_CLASSES

    masked = AMIClient("127.0.0.1", pbx.sandbox.ami_port, pbx.sandbox.ami_username, pbx.sandbox.ami_secret,
                       action_timeout=5.0, events=AMI_EVENT_CLASSES, only_handled=True)
    seen: dict[str, list[str]] = {"masked": [], "all": []}
    for name in ("Newchannel", "Hangup"):
        masked.on_event(name, lambda message: seen["masked"].append(message.name))
    ami.on_event("*", lambda message: seen["all"].append(message.name))
    await masked.connect()
    try:
        assert (await originate(masked, "hold")).name == "Success"
        for _ in range(50):
            channels = await masked.action_list("CoreShowChannels")
            mine = [m.get("Channel") or "" for m in channels if m.get("CallerIDName") == GREEK_NAME]
            if mine:
                break
            await asyncio.sleep(0.1)
        assert mine, "the list action answered the masked session nothing"
        for name in mine:
            await masked.action("Hangup", Channel=name)
        for _ in range(50):
            if "Hangup" in seen["masked"] and "Hangup" in seen["all"]:
                break
            await asyncio.sleep(0.1)
    finally:
        await masked.close()
    assert {"Newchannel", "Hangup"} <= set(seen["masked"]), seen["masked"]
    assert {"Newexten", "Newstate"} <= set(seen["all"])
    assert {"Newchannel", "Hangup"} <= set(masked.received)
    assert not {"Newexten", "VarSet", "Newstate", "AGIExecStart", "AGIExecEnd"} & set(masked.received), masked.received
