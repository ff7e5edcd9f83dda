"""DTMF as the world sends it, on the generated config in a real (sandboxed) Asterisk 16.

The citizens call the trunk's dialled number (a DID of the config's ``trunks:``) and
choose language and topic in the real IVR handler; agents log in with ``*11`` and their
PIN. The callers respect the SDP answer (rig.dtmf_calls): RFC 4733 events are sent only
after the 200 OK answered ``telephone-event``, else the call fails. That check is what
the suite lacked when the endpoints said ``dtmf_mode=info``: Asterisk 16 decodes RFC 4733
events it never negotiated, so playing events alone passed, while a real carrier
following the answer sent nothing. In-band tones (rig.dtmf_pcap) and SIP INFO are heard
too. What the IVR decided is what the waiting room got (the recording ``wait`` handler
of tests/test_ivr_end_to_end.py); what the agent typed is Asterisk's own AGI log.
"""
from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from acd.config import load_config_text
from acd.daemon.agents_phone import SOUNDS
from acd.engine import AgentState
from acd.protocol import FastAGIServer
from dialplan.generate import Options, generate
from ivr.agi_app import IvrApp
from rig import dtmf_calls
from rig.agi_trace import AgiSession
from rig.asterisk import AsteriskSandbox
from rig.sipp import Phones, SippProcess
from tests.test_ivr_end_to_end import RETRIES, Recorder, arrival, prompts_dir  # noqa: F401  (fixture)
from tests.test_live_agent_codes import PIN, Desk, answered_with, desk, typed  # noqa: F401  (fixture)
from tests.waiting import eventually

pytestmark = pytest.mark.asterisk

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
DID = "+302101555000"
_calls = itertools.count(1)


def trunk_config_text(dtmf_mode: str, server: str = "127.0.0.1:5999") -> str:
    """The 1555 example with one-second IVR timeouts and a carrier trunk in ``dtmf_mode``
    whose dialled number is ``DID`` (the sandbox's citizens come from 127.0.0.1) and
    whose calls out go to ``server``."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("  timeout: 5 ", "  timeout: 1 ", 1).replace("  retries: 3 ", f"  retries: {RETRIES} ", 1)
    text = text.replace('    dial: "PJSIP/{number}@citizens"\n', "", 1)
    return text + f"""
trunks:
  carrier:
    server: {server}
    match: [127.0.0.1]
    dids: ["{DID}"]
    dtmf_mode: {dtmf_mode}
"""


OpenLine = Callable[..., Awaitable[Recorder]]


@pytest.fixture
async def open_line(asterisk: AsteriskSandbox, prompts_dir: Path) -> AsyncIterator[OpenLine]:  # noqa: F811
    """Loads the generated config with the trunk in the given DTMF mode and serves the
    real IVR over FastAGI; returns the recorder of the waiting room's arrivals."""
    servers: list[FastAGIServer] = []

    async def start(dtmf_mode: str, server: str = "127.0.0.1:5999") -> Recorder:
        config = load_config_text(trunk_config_text(dtmf_mode, server), str(EXAMPLE))
        recorder = Recorder()
        app = IvrApp(config, now=lambda: recorder.clock[0], prompts_dir=str(prompts_dir))

        async def ivr(session: Any) -> None:
            await app.handle_ivr(session)

        agi = FastAGIServer({"ivr": ivr, "wait": recorder.wait}, port=0)
        await agi.start()
        servers.append(agi)
        asterisk.apply(generate(config, Options(agi_port=agi.port, prompts_dir=str(prompts_dir),
                                                agents_at="127.0.0.1:5999")))
        endpoint = asterisk.cli("pjsip show endpoint carrier")
        assert f"dtmf_mode                          : {dtmf_mode}" in endpoint, endpoint
        return recorder

    try:
        yield start
    finally:
        for server in servers:
            await server.stop()


def call(phones: Phones, number: str, from_user: str, **options: Any) -> SippProcess:
    name = f"dtmf-{next(_calls)}"
    process = dtmf_calls.caller(workdir=phones.workdir, sip_port=phones.sip_port, number=number,
                                from_user=from_user, name=name, **options)
    phones.started.append(process)
    return process.start()


def logged(phone: SippProcess, event: str) -> list[str]:
    return [e.peer for e in phone.events() if e.event == event]


# ---------------------------------------------------------------------------- citizens
@pytest.mark.parametrize("trunk_mode", ["auto", "rfc4733"])
@pytest.mark.parametrize(("keys", "queue", "language", "caller_type", "priority"), [
    ("26", "equality", "en", "citizen", "0"),
    ("242", "labour", "en", "employer", "0"),      # a key again, after a higher one
    ("9", "violence", "el", "citizen", "10"),       # the 24/7 line's key
])
async def test_rfc4733_keys_reach_the_ivr_once_telephone_event_is_answered(
        open_line: OpenLine, phones: Phones, trunk_mode: str, keys: str, queue: str, language: str,
        caller_type: str, priority: str) -> None:
    recorder = await open_line(trunk_mode)
    citizen = call(phones, DID, "citizen-4733", digits=keys, how="rfc4733")
    got = await arrival_of(recorder)
    assert (got["ACD_QUEUE"], got["ACD_LANG"], got["ACD_CALLER_TYPE"], got["ACD_PRIORITY"]) == \
        (queue, language, caller_type, priority)
    result = await asyncio.to_thread(citizen.wait, 30)
    assert result.all_successful, citizen.diagnostics()
    # the answer negotiated telephone-event on the payload type sipp's captures use, A-law first
    assert logged(citizen, "telephone-event") == [str(dtmf_calls.TELEPHONE_EVENT_PT)]
    assert logged(citizen, "answered") == ["8"]
    assert logged(citizen, "dtmf") == list(keys)


async def arrival_of(recorder: Recorder, timeout: float = 40.0) -> dict[str, str]:
    return await asyncio.wait_for(recorder.arrived.get(), timeout)


async def test_in_band_tones_are_heard_on_an_auto_trunk_that_offers_no_telephone_event(
        open_line: OpenLine, phones: Phones) -> None:
    recorder = await open_line("auto")
    citizen = call(phones, DID, "citizen-inband", digits="26", how="inband", offer=("alaw",),
                   telephone_event=False, expect_telephone_event=False)
    got = await arrival_of(recorder)
    assert (got["ACD_QUEUE"], got["ACD_LANG"]) == ("equality", "en")
    assert (await asyncio.to_thread(citizen.wait, 30)).all_successful, citizen.diagnostics()
    assert logged(citizen, "answered") == ["8"]


async def test_in_band_tones_go_unheard_with_rfc4733_only(
        open_line: OpenLine, phones: Phones) -> None:
    """Why the trunk's default is ``auto``: with ``rfc4733`` Asterisk runs no tone
    detector, the IVR hears nothing and the caller ends at the agents' desk in Greek."""
    recorder = await open_line("rfc4733")
    citizen = call(phones, DID, "citizen-inband", digits="26", how="inband", offer=("alaw",),
                   telephone_event=False, expect_telephone_event=False)
    got = await arrival_of(recorder, timeout=60)
    assert (got["ACD_QUEUE"], got["ACD_LANG"]) == ("pensions", "el")      # ivr.agent_queue, the default language
    await asyncio.to_thread(citizen.wait, 30)


async def test_sip_info_is_still_heard_on_the_auto_trunk(open_line: OpenLine, phones: Phones) -> None:
    recorder = await open_line("auto")
    citizen = phones.citizens(DID, digits="26", first_digit_after=0.8, digit_gap=0.7)    # u-law, SIP INFO
    got = await arrival_of(recorder)
    assert (got["ACD_QUEUE"], got["ACD_LANG"]) == ("equality", "en")
    assert (await asyncio.to_thread(citizen.wait, 30)).all_successful, citizen.diagnostics()
    assert logged(citizen, "dtmf") == ["2", "6"]


async def test_the_old_info_mode_answers_without_telephone_event_and_the_caller_fails(
        open_line: OpenLine, phones: Phones) -> None:
    """The check can fail: with ``dtmf_mode=info`` (the generator's old contract) the
    200 OK has no telephone-event, and a caller following it sends no key."""
    await open_line("info")
    citizen = call(phones, DID, "citizen-old", digits="26", how="rfc4733")
    result = await asyncio.to_thread(citizen.wait, 30)
    assert result.failed == 1 and result.successful == 0
    assert logged(citizen, "answered") == ["8"] and logged(citizen, "telephone-event") == []
    assert logged(citizen, "dtmf") == [] and logged(citizen, "hangup") == [DID]      # no key, hung up
    assert "Failed regexp match" in citizen.errors_path.read_text(errors="replace"), citizen.diagnostics()


# ---------------------------------------------------------------------------- agents
async def test_agent_logs_in_with_its_pin_over_rfc4733_from_a_phone_that_checks_the_answer(desk: Desk) -> None:  # noqa: F811
    agent = desk.daemon.live.engine.agents["41"]
    before = len(desk.agent_sessions())
    phone = call(desk.phones, "*11", "agent-41", digits=PIN + "#", how="rfc4733")
    result = await asyncio.to_thread(phone.wait, 30)
    assert result.all_successful, phone.diagnostics()
    assert logged(phone, "telephone-event") == [str(dtmf_calls.TELEPHONE_EVENT_PT)]
    await eventually(lambda: agent.state is AgentState.AVAILABLE, what="the agent logged in over RFC 4733")
    await eventually(lambda: len(desk.agent_sessions()) > before and desk.agent_sessions()[-1].streamed(),
                     what="*11 in Asterisk's log")
    assert typed(desk.agent_sessions()[-1]) == [PIN]


#: an old desk phone or analogue gateway: A-law only, no telephone-event, keys as tones
_IN_BAND_PHONE = dict(how="inband", offer=("alaw",), telephone_event=False, expect_telephone_event=False)


async def in_band_login(desk: Desk, dtmf_mode: str) -> tuple[SippProcess, AgiSession]:  # noqa: F811
    """The agent's phone, which offers no telephone-event, dials ``*11`` and sounds its
    PIN as in-band tones, on agents' endpoints in ``dtmf_mode``; returns the phone and
    the ``agent`` AGI session as Asterisk logged it."""
    endpoint = desk.asterisk.cli("pjsip show endpoint agent-41")
    assert f"dtmf_mode                          : {dtmf_mode}" in endpoint, endpoint
    before = len(desk.agent_sessions())
    phone = call(desk.phones, "*11", "agent-41", digits=PIN + "#", **_IN_BAND_PHONE)
    result = await asyncio.to_thread(phone.wait, 40)
    assert result.all_successful, phone.diagnostics()
    assert logged(phone, "answered") == ["8"] and logged(phone, "telephone-event") == []
    assert logged(phone, "dtmf") == list(PIN + "#")        # the tones were sent
    await eventually(lambda: len(desk.agent_sessions()) > before and desk.agent_sessions()[-1].streamed(),
                     what="*11 in Asterisk's log")
    return phone, desk.agent_sessions()[-1]


@pytest.mark.parametrize("desk", ["phones: {dtmf_mode: auto}\n"], indirect=True)
async def test_agent_logs_in_with_in_band_tones_from_a_phone_without_telephone_event_when_phones_are_auto(
        desk: Desk) -> None:  # noqa: F811
    agent = desk.daemon.live.engine.agents["41"]
    _, session = await in_band_login(desk, "auto")
    assert typed(session) == [PIN]
    assert answered_with(session) == [SOUNDS["logged_in"]]
    await eventually(lambda: agent.state is AgentState.AVAILABLE, what="the agent logged in by in-band tones")
    assert desk.member_events() == ["ADDMEMBER"]


async def test_in_band_pin_goes_unheard_on_the_default_rfc4733_phones(desk: Desk) -> None:  # noqa: F811
    """Why ``phones: {dtmf_mode: auto}`` exists: with the default ``rfc4733`` Asterisk runs
    no tone detector on the agents' endpoints, the PIN prompt times out with nothing typed
    and the agent stays logged out."""
    agent = desk.daemon.live.engine.agents["41"]
    _, session = await in_band_login(desk, "rfc4733")
    assert typed(session) == ["(timeout)"]     # Asterisk's "200 result= (timeout)": no key heard
    assert answered_with(session) == [SOUNDS["bad_pin"]]
    assert agent.state is AgentState.LOGGED_OUT
    assert desk.member_events() == []
