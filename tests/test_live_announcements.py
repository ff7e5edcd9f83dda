"""End-to-end: a waiting caller hears its place in line and its estimated wait, in its
own language, from prompts the real builder rendered, through a real (sandboxed)
Asterisk.

The prompts come from ``ivr.prompts.build`` with ``config_texts(config)`` into a
temporary directory that the config names as its ``ivr.prompts_dir``; the Asterisk
side is the generator's dialplan and endpoints for that config; sipp plays the
citizens (choosing Greek or English in the IVR by SIP INFO) and the agent's phone. What
the callers heard is Asterisk's word, not the daemon's: res_agi's debug log
(``rig.agi_trace``) has each ``STREAM FILE`` and its reply, ``result=0 endpos=<samples>``
for a file played through (``result=-1 endpos=0`` had the file been missing). A sentence
the daemon stopped when the agent was offered (AMI ``ControlPlayback``, ``Control: stop``)
is answered ``result=0`` too, but its ``endpos`` falls short of the file's samples: that
is Asterisk's word that the caller was taken out of the sentence, not after it.
"""
from __future__ import annotations

import asyncio
import math
import wave
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from acd.config import load_config
from acd.config.model import ANNOUNCE_WAIT, Config
from acd.engine import AgentState, CallState
from acd.engine import decisions as d
from acd.engine import events as e
from dialplan.generate import Options, generate
from ivr.prompts import build, config_texts
from rig.agi_trace import AgiExchange, AgiSession, AgiTrace
from rig.asterisk import AsteriskSandbox
from rig.ports import free_port
from rig.sipp import Phones, SippProcess
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

AGENT = "11"
#: the agent's wrap-up after each call: long, so that while it lasts no agent is free
#: but one is staffed (the estimated wait needs one); the test ends it with AgentReady
WRAPUP = 50
CONFIG = """\
service: {{name: '1555', languages: [el, en]}}
skills: {{topic:a: A}}
queues:
  qa: {{requires: {{topic:a: 1}}, wrapup: {wrapup}, ring_timeout: 5,
        announcements: {{first_after: 1, every: 5}}}}
routing: {{default_handle_time: 60}}
agents:
  '{agent}': {{pin: '1111', skills: {{topic:a: 1}}}}
prompts:
  choose_language: {{el: "Ελληνικά, ένα.", en: "English, two."}}
  goodbye: {{el: "Αντίο.", en: "Goodbye."}}
  announce_position:
    up_to: 3
    el: {{other: "Η θέση σας είναι {{n}}.", over: "Είστε μετά τη θέση {{n}}."}}
    en: {{other: "You are number {{n}} in line.", over: "You are behind number {{n}}."}}
  announce_wait:
    up_to: 3
    el: {{one: "Αναμονή περίπου ένα λεπτό.", other: "Αναμονή περίπου {{n}} λεπτά.",
          over: "Αναμονή πάνω από {{n}} λεπτά."}}
    en: {{one: "About one minute.", other: "About {{n}} minutes.", over: "More than {{n}} minutes."}}
ivr:
  entry: language
  timeout: 2
  retries: 1
  agent_queue: qa
  prompts_dir: {prompts}
  sounds: {{invalid: goodbye, no_input: goodbye, goodbye: goodbye}}
  closed: {{prompt: goodbye, exit: goodbye}}
  nodes:
    language:
      prompt: [choose_language@el, choose_language@en]
      default: "1"
      options:
        "1": {{language: el, queue: qa}}
        "2": {{language: en, queue: qa}}
daemon: {{ami_host: 127.0.0.1, ami_port: {ami_port}, ami_username: {ami_user}, ami_secret: '{ami_secret}',
         agi_host: 127.0.0.1, agi_port: {agi_port}, queue_log: {var}/queue_log, recordings_dir: {var}/rec}}
"""


@dataclass
class Line:
    """The daemon on the session's Asterisk, with the prompts it plays and a trace of
    what Asterisk's AGI did."""

    daemon: Any
    config: Config
    prompts: Path
    agent_phone: SippProcess
    trace: AgiTrace
    announcements: list[d.Announce] = field(default_factory=list)

    def record(self, decisions: Sequence[d.Decision]) -> None:
        self.announcements += [x for x in decisions if isinstance(x, d.Announce)]


@pytest.fixture
async def line(asterisk: AsteriskSandbox, phones: Phones, tmp_path: Path) -> AsyncIterator[Line]:
    from acd.daemon.app import Daemon

    prompts = tmp_path / "prompts"
    config_path = tmp_path / "acd.yaml"
    config_path.write_text(CONFIG.format(
        wrapup=WRAPUP, agent=AGENT, prompts=prompts, ami_port=asterisk.ami_port, ami_user=asterisk.ami_username,
        ami_secret=asterisk.ami_secret, agi_port=free_port(14600), var=tmp_path / "var"), encoding="utf-8")
    config = load_config(config_path)
    assert config.ivr.prompts_dir == str(prompts) and prompts.is_absolute()
    build(config_texts(config), prompts)
    agent_phone = phones.agents(talk=0.5, name="agent-phone")
    daemon = Daemon(config_path, extras=False)
    running = Line(daemon, config, prompts, agent_phone, AgiTrace(asterisk, tmp_path / "agi.log"))
    daemon.live.subscribe(running.record)
    await daemon.start()
    try:
        asterisk.apply(generate(config, Options(agi_port=daemon.agi_port,
                                                agents_at=f"127.0.0.1:{agent_phone.port}")))
        await eventually(lambda: daemon.ami.connected)
        with running.trace:
            yield running
    finally:
        await daemon.stop()


def waiting_session(trace: AgiTrace, caller: str) -> AgiSession | None:
    """The waiting room's AGI session of the citizen whose SIP user is ``caller``."""
    found = [s for s in trace.sessions() if s.script == "wait" and s.caller == caller]
    return found[-1] if found else None


def announced(session: AgiSession | None) -> list[AgiExchange]:
    """The announcement files streamed in a waiting session (not the IVR's menu)."""
    if session is None:
        return []
    return [x for x in session.streamed() if "/announce_" in (x.streamed_file or "")]


def heard_position_and_wait(session: AgiSession | None) -> bool:
    files = [x for x in announced(session) if x.reply is not None]
    return any("announce_position" in (a.streamed_file or "") and "announce_wait" in (b.streamed_file or "")
               for a, b in zip(files, files[1:]))


def position_playing(session: AgiSession | None) -> bool:
    """A position sentence is being streamed right now (Asterisk has not answered it)."""
    files = announced(session)
    return bool(files) and files[-1].reply is None and "announce_position" in (files[-1].streamed_file or "")


def samples(exchange: AgiExchange) -> int:
    """The samples of the file a ``STREAM FILE`` named: what ``endpos`` is once it has
    played to its end (res_agi's ``max_length``; the builder writes 8 kHz 16-bit WAV)."""
    with wave.open(f"{exchange.streamed_file}.wav") as sound:
        return sound.getnframes()


def cut_short(exchange: AgiExchange) -> bool:
    """A sentence stopped in mid-play: opened (``result=0``), ended before its last sample."""
    return exchange.result == 0 and exchange.endpos is not None and exchange.endpos < samples(exchange)


def queue_log(daemon: Any) -> list[list[str]]:
    writer = daemon.queue_log
    writer._file.flush()
    return [row.split("|") for row in writer.path.read_text().splitlines()]


def expected_files(line: Line, announce: d.Announce, language: str) -> list[str]:
    """The two sentences of one announcement, as the config names their files."""
    prompts = line.config.number_prompts
    assert announce.estimated_wait is not None, "an agent is staffed: the wait has an estimate"
    minutes = max(1, math.ceil(announce.estimated_wait / 60))
    folder = f"{line.prompts}/{language}"
    return [f"{folder}/{prompts['announce_position'].file_id(announce.position)}",
            f"{folder}/{prompts[ANNOUNCE_WAIT].file_id(minutes)}"]


async def test_waiting_callers_hear_their_place_and_wait_in_their_language_until_an_agent_is_free(
        line: Line, phones: Phones) -> None:
    daemon = line.daemon
    live = daemon.live
    agent = live.engine.agents[AGENT]
    # The only agent takes a first call and goes into a long wrap-up: staffed, not free.
    live.feed(e.AgentLoggedIn(live.now(), AGENT))
    warm_up = phones.citizens("q-qa", caller_prefix="warmup-", name="warm-up")
    assert (await asyncio.to_thread(warm_up.wait, 20)).all_successful
    await eventually(lambda: agent.state is AgentState.WRAP_UP, what="the agent in wrap-up")

    # A Greek caller (1 in the IVR), then an English one (2): both wait.
    greek = phones.citizens("1555", digits="1", first_digit_after=0.8, caller_prefix="greek-", name="greek")
    await eventually(lambda: waiting_session(line.trace, "greek-1") is not None
                     and len(live.engine.calls) == 1, what="the Greek caller queued")
    english = phones.citizens("1555", digits="2", first_digit_after=0.8, caller_prefix="english-", name="english")
    await eventually(lambda: len(live.engine.calls) == 2, what="the English caller queued")
    greek_done = asyncio.ensure_future(asyncio.to_thread(greek.wait, 40))
    english_done = asyncio.ensure_future(asyncio.to_thread(english.wait, 40))

    # Both hear a whole announcement; then, while the Greek caller hears its place again,
    # the agent ends its wrap-up: that very sentence is stopped (ControlPlayback) and the
    # agent rung at once, rather than idling, reserved, until the sentence ends.
    await eventually(lambda: heard_position_and_wait(waiting_session(line.trace, "english-1"))
                     and position_playing(waiting_session(line.trace, "greek-1")),
                     timeout=20, what="the English caller's announcement, then the Greek caller's next one")
    live.feed(e.AgentReady(live.now(), AGENT))
    assert (await greek_done).all_successful
    await eventually(lambda: agent.state is AgentState.WRAP_UP, what="the agent in wrap-up after the Greek call")
    assert [c.state for c in live.engine.calls.values()] == [CallState.WAITING]
    live.feed(e.AgentReady(live.now(), AGENT))
    assert (await english_done).all_successful

    greek_session = waiting_session(line.trace, "greek-1")
    english_session = waiting_session(line.trace, "english-1")
    assert greek_session is not None and english_session is not None
    by_call = {greek_session.environment["agi_uniqueid"]: ("el", greek_session),
               english_session.environment["agi_uniqueid"]: ("en", english_session)}

    for call_id, (language, session) in by_call.items():
        decisions = [a for a in line.announcements if a.call_id == call_id]
        heard = announced(session)
        replies = [(x.command, x.reply) for x in heard]
        # every announcement file was opened and played in the caller's language: through to
        # its last sample, but for a sentence an offer stopped (only ever the last one heard)
        assert heard and all(x.result == 0 for x in heard), replies
        assert all(x.played and x.endpos == samples(x) for x in heard[:-1]), replies
        assert all(f"{line.prompts}/{language}/" in (x.streamed_file or "") for x in heard)
        expected = [name for announce in decisions for name in expected_files(line, announce, language)]
        files = [x.streamed_file for x in heard]
        if language == "el":
            # the last announcement ended in its first sentence: the offer came in, and
            # Asterisk stopped that sentence short of its end (endpos below its samples)
            assert files == expected[:-1]
            assert cut_short(heard[-1]), replies
        else:
            # its first announcement whole; the last one may have been cut by its own offer
            assert files[:2] == expected[:2] and files == expected[:len(files)] and len(files) >= len(expected) - 2
            assert cut_short(heard[-1]) or heard[-1].endpos == samples(heard[-1]), replies

    positions = {language: [a.position for a in line.announcements if a.call_id == call_id]
                 for call_id, (language, _) in by_call.items()}
    assert set(positions["el"]) == {1}
    assert positions["en"][0] == 2        # behind the Greek caller (first again once it is served)

    # the Greek caller went from its cut sentence straight to the agent's phone
    commands = [x.command for x in greek_session.exchanges]
    last_position = max(i for i, c in enumerate(commands) if "/announce_position-" in c)
    dial = next(i for i, c in enumerate(commands) if c.startswith("EXEC Dial"))
    assert last_position < dial
    assert not any(c.startswith("STREAM FILE") for c in commands[last_position + 1:dial])
    assert f"PJSIP/agent-{AGENT}," in commands[dial]

    invites = [ev.peer for ev in line.agent_phone.events() if ev.event == "invite"]
    assert invites == ["warmup-1", "greek-1", "english-1"]
    connects = [(row[1], row[3]) for row in queue_log(daemon) if row[4] == "CONNECT"]
    assert [call for call, _ in connects][1:] == [greek_session.environment["agi_uniqueid"],
                                                  english_session.environment["agi_uniqueid"]]
    assert {peer for _, peer in connects} == {AGENT}   # the member name: the agent's name, its id here
