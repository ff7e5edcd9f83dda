"""The carrier's trunk as generated from ``trunks:``, live in the sandboxed Asterisk:
the caller id is the carrier's P-Asserted-Identity, a callback dials out through the
trunk to the carrier's server (a sipp standing in for the carrier), and an A-law call
reaches an agent without transcoding."""
from __future__ import annotations

import asyncio
import re
import socket

import pytest

from acd.config import load_config_text
from dialplan.generate import Options, generate
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sipp import Phones
from tests.test_dialplan_asterisk import closed_tcp_port
from tests.test_ivr_end_to_end import prompts_dir  # noqa: F401  (fixture)
from tests.test_live_dtmf import DID, EXAMPLE, OpenLine, call, open_line, trunk_config_text  # noqa: F401
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

CALLER = "+302101234567"


async def test_caller_id_is_the_carriers_p_asserted_identity(
        open_line: OpenLine, asterisk: AsteriskSandbox, phones: Phones) -> None:  # noqa: F811
    recorder = await open_line("auto")
    recorder.hold = asyncio.Event()                      # the waiting room holds the call
    citizen = call(phones, DID, "anonymous", digits="26", how="rfc4733",
                   headers=[f"P-Asserted-Identity: <sip:{CALLER}@carrier.test>"])
    got = await asyncio.wait_for(recorder.arrived.get(), 40)
    assert got["ACD_QUEUE"] == "equality"
    channels = asterisk.cli("core show channels concise")
    carrier_legs = [line.split("!") for line in channels.splitlines() if line.startswith("PJSIP/carrier-")]
    assert [leg[7] for leg in carrier_legs] == [CALLER], channels          # CallerID, not From's "anonymous"
    recorder.hold.set()
    await asyncio.to_thread(citizen.wait, 30)


async def test_a_callback_dials_out_through_the_trunk_to_the_carrier(
        open_line: OpenLine, asterisk: AsteriskSandbox, phones: Phones) -> None:  # noqa: F811
    carrier = phones.agents(talk=0.5, name="carrier")    # answers whatever the trunk sends it
    await open_line("auto", server=f"127.0.0.1:{carrier.port}")
    assert "Dial(PJSIP/${EXTEN}@carrier,60," in asterisk.cli("dialplan show acd-callback")   # then the answer note's U()
    asterisk.cli("channel originate Local/2101234567@acd-callback application Wait 2")
    await eventually(lambda: any(e.event == "answer" for e in carrier.events()), timeout=20,
                     what="the carrier's side answered the callback")
    assert [e.phone for e in carrier.events() if e.event == "invite"] == ["2101234567"]


async def test_a_law_call_is_bridged_to_the_agent_without_transcoding(
        asterisk: AsteriskSandbox, phones: Phones) -> None:
    """A carrier's A-law call (A-law first in the offer, as European networks send it)
    reaches an agent's phone that answers A-law: both legs stay A-law, Asterisk
    transcodes nothing (here on the app_queue path, which needs no daemon)."""
    config = load_config_text(trunk_config_text("auto"), str(EXAMPLE))
    agent_port = free_port(16500, socket.SOCK_DGRAM)
    asterisk.apply(generate(config, Options(agi_port=closed_tcp_port(), agents_at=f"127.0.0.1:{agent_port}")))
    agents = phones.agents(talk=6.0, alaw=True, port=agent_port, name="alaw-agents")  # a European desk phone
    citizen = call(phones, DID, "citizen-alaw", digits="5", how="rfc4733", hold=30)

    def bridged() -> list[str]:
        lines = asterisk.cli("core show channels concise").splitlines()
        return [line.split("!")[0] for line in lines if "!Up!" in line and line.startswith("PJSIP/")]

    await eventually(lambda: len(bridged()) == 2 and any(e.event == "answer" for e in agents.events()),
                     timeout=40, what="the citizen bridged to an agent")
    legs = bridged()
    assert sorted(leg.split("-")[0] for leg in legs) == ["PJSIP/agent", "PJSIP/carrier"], legs
    for leg in legs:
        assert asterisk.channel_formats(leg) == {"NativeFormats": "(alaw)", "ReadFormat": "alaw",
                                                  "WriteFormat": "alaw", "ReadTranscode": "No",
                                                  "WriteTranscode": "No"}, leg
    bridges = asterisk.cli("bridge show all")
    assert re.search(r"\s2\s+basic\s+(native_rtp|simple_bridge)\s", bridges), bridges   # no translation step
    await asyncio.to_thread(citizen.wait, 30)
    assert [e.peer for e in citizen.events() if e.event == "answered"] == ["8"]
