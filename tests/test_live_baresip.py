"""A real softphone as the agent: baresip (rig/baresip.py) against the sandboxed Asterisk
loaded with what ``python -m dialplan --secrets`` writes, and the running daemon.

sipp sends DTMF whatever was negotiated, so it cannot show what common softphones do:
baresip sends RFC 4733 events, and only when the SDP answer carries
``telephone-event``. With endpoints written ``dtmf_mode=info`` the answer has none, the
PIN never reaches the daemon, and the agent cannot log in from the phone (the bug this
test reproduces). Here the agent's phone registers with the generator's digest
credentials, logs in with ``*11`` and its PIN, auto-answers a citizen's call the daemon
routes to it, hangs up, and the agent is in wrap-up.
"""
from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from acd.engine import AgentState
from dialplan.generate import FEATURE_CODES
from rig.asterisk import AsteriskSandbox
from rig.baresip import Softphone, find_baresip
from rig.sipp import Phones
from tests.needs import missing
from tests.test_live_registration import phone_in_api
from tests.test_live_softphone_login import AGENT, ENDPOINT, PASSWORD, PIN, daemon
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

# The agent, its PIN and SIP password, and the ``daemon`` fixture (the generator's files
# for them loaded into the session's Asterisk, the daemon with its API) are the sipp
# softphone test's: the same production set-up, a real softphone instead of sipp.
__all__ = ["daemon"]


@pytest.fixture
def softphone(asterisk: AsteriskSandbox, tmp_path: Path) -> Iterator[Softphone]:
    """baresip as the agent, registering at the sandbox with the password of the secrets file."""
    if find_baresip() is None:
        missing("baresip is not installed (Debian package baresip)")
    phone = Softphone(tmp_path / "baresip", ENDPOINT, f"127.0.0.1:{asterisk.sip_port}", password=PASSWORD)
    try:
        yield phone
    finally:
        phone.stop()


async def test_baresip_agent_registers_logs_in_over_rfc4733_takes_a_routed_call_and_goes_to_wrap_up(
        asterisk: AsteriskSandbox, phones: Phones, daemon: Any, softphone: Softphone) -> None:
    agent = daemon.live.engine.agents[AGENT]
    await eventually(lambda: daemon.ami.connected, what="the daemon's AMI login")

    # registers with the generator's digest credentials (challenged, then 200)
    await asyncio.to_thread(softphone.start)
    await asyncio.to_thread(softphone.wait_for, "REGISTER_OK", 15)
    await phone_in_api(daemon, AGENT, registered=True, timeout=15)
    await eventually(lambda: agent.reachable, what="the registered baresip reachable")

    # *11, then the PIN as RFC 4733 events once Asterisk plays the prompt (RTP arrives)
    mark = len(softphone.events())
    softphone.dial(FEATURE_CODES["login"])
    await asyncio.to_thread(softphone.wait_for, "CALL_ESTABLISHED", 15, mark)
    await asyncio.to_thread(softphone.wait_for, "CALL_RTPESTAB", 15, mark)
    softphone.send_digits(PIN + "#")
    await eventually(lambda: agent.state is AgentState.AVAILABLE, timeout=20,
                     what=f"agent logged in from baresip with its PIN sent as RFC 4733 (state {agent.state})")
    await asyncio.to_thread(softphone.wait_for, "CALL_CLOSED", 15, mark)

    # a citizen's call, routed by the daemon to the registered baresip, answered by itself
    mark = len(softphone.events())
    citizen = phones.citizens("q-qa", caller_prefix="baresip-caller-")
    incoming = await asyncio.to_thread(softphone.wait_for, "CALL_ESTABLISHED", 20, mark)
    assert "baresip-caller-1" in incoming.peer
    await eventually(lambda: agent.state is AgentState.ON_CALL, what="the agent on the call")

    # the agent hangs up: the citizen gets the BYE, the agent is in wrap-up
    softphone.hangup()
    assert (await asyncio.to_thread(citizen.wait, 20)).all_successful, citizen.diagnostics()
    assert [ev.event for ev in citizen.events()][-1] == "bye"
    # (the queue's wrap-up is 1 s: polled every 50 ms in the daemon's own event loop, the
    # state is seen before the wrap-up timer can end it)
    await eventually(lambda: agent.state is AgentState.WRAP_UP, what=f"the agent in wrap-up (state {agent.state})")
    daemon.queue_log._file.flush()
    rows = [line.split("|") for line in daemon.queue_log.path.read_text().splitlines()]
    assert [f[4] for f in rows if f[3] == AGENT and f[4] in (   # the member name
        "ADDMEMBER", "CONNECT", "COMPLETEAGENT", "COMPLETECALLER", "RINGNOANSWER")] == [
        "ADDMEMBER", "CONNECT", "COMPLETEAGENT"]
