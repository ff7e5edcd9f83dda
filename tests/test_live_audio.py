"""Audio both ways, measured where the phones are: RTP that really arrives at the citizen
and at the agent, through the IVR, the music on hold and the conversation; and no
transcoding on a plain A-law call.

The sandboxed Asterisk runs exactly what ``python -m dialplan`` writes for this config
(an IVR of one spoken prompt, one queue, one agent whose phone is at a fixed address),
with the daemon. sipp does the signalling of both phones with A-law in their SDP; each
phone's media is a ``rig.rtp.RtpPeer``: the citizen plays the A-law audio of sipp's
``g711a.pcap``, the agent a 1 kHz A-law tone, and each counts what it receives. A
packet counts as heard across the bridge only if its payload is, byte for byte, audio
the other phone sent, so the music or a prompt cannot pass for the other side's voice,
and one-way audio in either direction fails its own assertion.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from acd.config import load_config_text
from acd.engine import AgentState
from acd.engine import events as e
from dialplan.__main__ import main as generate_cli
from dialplan.generate import FILES
from ivr.prompts import PromptBuildError, build, config_texts
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.rtp import PCMA, SIPP_ALAW_PCAP, RtpPeer, alaw_tone, pcap_rtp_payloads
from rig.sipp import Phones, SippProcess
from tests.needs import missing
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

AGENT = "74"
ENDPOINT = f"agent-{AGENT}"
TALK = 6.0
CONFIG = """\
service: {{name: '1555', languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  qa: {{requires: {{topic:a: 1}}, wrapup: 1, ring_timeout: 10, announcements: {{first_after: 0, every: 0}}}}
agents:
  '{agent}': {{pin: '7474', skills: {{topic:a: 1}}}}
prompts:
  welcome: {{el: "Καλωσορίσατε στη γραμμή ένα πέντε πέντε πέντε.", en: "Welcome to the line."}}
  other: {{el: "Ευχαριστούμε.", en: "Thank you."}}
ivr:
  entry: language
  timeout: 1
  retries: 1
  on_failure: agent
  agent_queue: qa
  prompts_dir: {prompts}
  sounds: {{invalid: other, no_input: other, goodbye: other, info_options: other, transfer: other}}
  closed: {{prompt: other, exit: goodbye}}
  nodes:
    language: {{type: menu, prompt: [welcome], default: "1", options: {{"1": {{language: el, queue: qa}}}}}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, api_port: {api_port}, queue_log: {var}/queue_log,
         recordings_dir: {var}/rec, database_url: ''}}
"""


@dataclass
class Line:
    asterisk: AsteriskSandbox
    daemon: Any
    agent_phone: SippProcess
    citizen_media: RtpPeer
    agent_media: RtpPeer


@pytest.fixture
async def line(asterisk: AsteriskSandbox, phones: Phones, tmp_path: Path) -> AsyncIterator[Line]:
    """The generated config loaded, the daemon running, the agent's phone listening (logged
    out), and both phones' media sockets open."""
    from acd.daemon.app import Daemon

    if not SIPP_ALAW_PCAP.is_file():
        missing(f"{SIPP_ALAW_PCAP} is missing (Debian package sip-tester)")
    citizen_media = RtpPeer(pcap_rtp_payloads()).start()
    agent_media = RtpPeer(alaw_tone()).start()
    agent_phone = phones.agents(talk=TALK, alaw=True, rtp_port=agent_media.port, name="agent")
    config = tmp_path / "acd.yaml"
    config.write_text(CONFIG.format(agent=AGENT, prompts=tmp_path / "prompts", ami_port=asterisk.ami_port,
                                    ami_user=asterisk.ami_username, ami_secret=asterisk.ami_secret,
                                    agi_port=free_port(14800), api_port=free_port(18800), var=tmp_path / "var"),
                      encoding="utf-8")
    try:
        build(config_texts(load_config_text(config.read_text(encoding="utf-8"), str(config))), tmp_path / "prompts")
    except PromptBuildError as error:
        missing(str(error))
    generated = tmp_path / "generated"
    assert generate_cli(["--config", str(config), "--out", str(generated),
                         "--agents-at", f"127.0.0.1:{agent_phone.port}"]) == 0
    asterisk.apply({name: (generated / name).read_text(encoding="utf-8") for name in FILES})
    daemon = Daemon(config)
    await daemon.start()
    try:
        yield Line(asterisk, daemon, agent_phone, citizen_media, agent_media)
    finally:
        await daemon.stop()
        citizen_media.stop()
        agent_media.stop()


def from_asterisk(media: RtpPeer, since: float, until: float) -> int:
    """A-law packets that arrived in [since, until)."""
    return sum(1 for p in media.received(since) if p.at < until and p.payload_type == PCMA)


async def test_citizen_hears_the_ivr_and_the_music_then_both_sides_hear_each_other_without_transcoding(
        line: Line, phones: Phones) -> None:
    daemon, agent = line.daemon, line.daemon.live.engine.agents[AGENT]
    await eventually(lambda: daemon.ami.connected, what="the daemon's AMI login")
    started = time.monotonic()
    citizen = phones.citizens("1555", alaw=True, rtp_port=line.citizen_media.port, caller_prefix="audio-caller-")

    # the IVR: its prompt reaches the caller, then the caller waits in the room
    await eventually(lambda: len(daemon.room.callers) == 1, timeout=20, what="the caller through the IVR")
    queued = time.monotonic()
    assert from_asterisk(line.citizen_media, started, queued) >= 25, \
        f"the IVR's prompt did not reach the caller: {len(line.citizen_media.received())} packets"

    # the waiting room: music on hold reaches the caller (no agent logged in yet)
    await asyncio.sleep(3.0)
    on_hold = from_asterisk(line.citizen_media, queued + 0.5, time.monotonic())
    assert on_hold >= 60, f"{on_hold} packets of music on hold in 2.5 s (50 a second expected)"
    assert line.agent_media.received() == []

    # the agent logs in and the call is routed to its phone; both sides talk
    daemon.live.feed(e.AgentLoggedIn(daemon.live.now(), AGENT))
    await eventually(lambda: agent.state is AgentState.ON_CALL, timeout=15, what="the call answered by the agent")
    answered = time.monotonic()
    await eventually(lambda: line.agent_media.heard(line.citizen_media, answered) >= 50
                     and line.citizen_media.heard(line.agent_media, answered) >= 50,
                     timeout=TALK - 1, what="50 packets of each side's audio heard by the other")

    # a plain A-law call: both legs alaw, no translation path, a two-party bridge
    channels = [row.split("!")[0] for row in line.asterisk.cli("core show channels concise").splitlines() if "!" in row]
    legs = {kind: next((c for c in channels if c.startswith(f"PJSIP/{kind}-")), None)
            for kind in ("citizens", ENDPOINT)}
    assert None not in legs.values(), channels
    for leg in legs.values():
        assert leg is not None
        assert line.asterisk.channel_formats(leg) == {
            "NativeFormats": "(alaw)", "WriteFormat": "alaw", "ReadFormat": "alaw",
            "WriteTranscode": "No", "ReadTranscode": "No"}, leg
    technologies = line.asterisk.bridge_technologies()
    assert technologies and set(technologies) <= {"simple_bridge", "native_rtp"}, technologies

    # the agent hangs up after TALK seconds; the caller had the agent's audio, the agent the caller's
    assert (await asyncio.to_thread(citizen.wait, 20)).all_successful, citizen.diagnostics()
    ended = time.monotonic()
    agent_heard = line.agent_media.heard(line.citizen_media, answered)
    citizen_heard = line.citizen_media.heard(line.agent_media, answered)
    expected = (ended - answered - 2.0) / 0.02 * 0.5       # half of the 50 a second, allowing for the set-up
    assert agent_heard >= expected, f"agent heard {agent_heard} packets of the caller (expected {expected:.0f})"
    assert citizen_heard >= expected, f"caller heard {citizen_heard} packets of the agent (expected {expected:.0f})"
    # and nothing of its own voice came back: what each heard is the other's, not an echo
    assert line.citizen_media.heard(line.citizen_media) == 0
    assert line.agent_media.heard(line.agent_media) == 0
