"""The IVR end to end: sipp citizens press keys (SIP INFO) into a real Asterisk running
the generated dialplan, which runs our ``ivr`` handler over FastAGI.

The waiting room belongs to the daemon; here a recording ``wait`` handler stands in for
it, reads the ACD_* channel variables the IVR left (what the daemon would queue the
caller by) and hangs up. The IVR gets a fixed clock, so a test is on a Wednesday
morning, a Sunday night or Good Friday as it chooses.

The prompts are rendered by the real builder, but from one short word each (the
menus' long texts would only make every call slower), with timeouts of one second.
"""
from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from acd.config import load_config_text
from acd.config.model import Config
from acd.protocol import AGIHangup, FastAGIServer
from dialplan.generate import Options, generate
from ivr.agi_app import IvrApp
from ivr.prompts import build
from rig.asterisk import AsteriskSandbox
from rig.sipp import Phones

pytestmark = pytest.mark.asterisk

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
ATHENS = ZoneInfo("Europe/Athens")
WEDNESDAY_MORNING = datetime(2025, 2, 12, 10, 0, tzinfo=ATHENS).timestamp()
SUNDAY_NIGHT = datetime(2025, 2, 16, 23, 30, tzinfo=ATHENS).timestamp()
GOOD_FRIDAY_NOON = datetime(2025, 4, 18, 12, 0, tzinfo=ATHENS).timestamp()
MOVED_LABOUR_DAY = datetime(2024, 5, 7, 12, 0, tzinfo=ATHENS).timestamp()   # May 1 2024 was Holy Wednesday
RETRIES = 2


def short_config() -> Config:
    """The 1555 example with one-second timeouts and two retries."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("  timeout: 5 ", "  timeout: 1 ", 1).replace("  retries: 3 ", f"  retries: {RETRIES} ", 1)
    config = load_config_text(text, str(EXAMPLE))
    assert config.ivr.timeout == 1 and config.ivr.retries == RETRIES
    return config


@dataclass
class Recorder:
    """Stands in for the daemon: records how each call reached the waiting room."""

    arrived: asyncio.Queue[dict[str, str]] = field(default_factory=asyncio.Queue)
    ivr_endings: asyncio.Queue[str] = field(default_factory=asyncio.Queue)
    hold: asyncio.Event | None = None
    clock: list[float] = field(default_factory=lambda: [WEDNESDAY_MORNING])
    #: the agent answered and hung up at once: the dialplan goes on to the survey
    answered_by_agent: bool = False
    scores: asyncio.Queue[tuple[str, int]] = field(default_factory=asyncio.Queue)

    async def wait(self, session: Any) -> None:
        names = ("ACD_CALLID", "ACD_QUEUE", "ACD_SKILLS", "ACD_PRIORITY", "ACD_LANG", "ACD_CALLER_TYPE",
                 "ACD_CALLBACK", "ACD_IVR_RESULT", "UNIQUEID")
        values = {name: await session.get_variable(name) or "" for name in names}
        self.arrived.put_nowait(values)
        if self.hold is not None:
            await self.hold.wait()
        if self.answered_by_agent:
            await session.set_variable("ACD_WAIT_RESULT", "answered")
            return
        await session.hangup()


@dataclass
class Line:
    asterisk: AsteriskSandbox
    recorder: Recorder
    config: Config
    agi_port: int
    apps: list[IvrApp]

    def reconfigure(self, config: Config) -> None:
        """The next call walks ``config``'s IVR (same dialplan, same clock and prompts)."""
        old = self.apps[0]
        self.apps[0] = IvrApp(config, now=old.now, on_satisfaction=old.on_satisfaction, prompts_dir=old.prompts_dir)


@pytest.fixture(scope="module")
def prompts_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("prompts")
    config = short_config()
    build({prompt_id: {lang: prompt_id.split("_")[0] for lang in texts} for prompt_id, texts in config.prompts.items()},
          out)
    return out


@pytest.fixture
async def line(asterisk: AsteriskSandbox, prompts_dir: Path) -> AsyncIterator[Line]:
    """Our FastAGI server (ivr, survey and the recording wait) and the generated
    dialplan pointing at it."""
    config = short_config()
    recorder = Recorder()
    apps = [IvrApp(config, now=lambda: recorder.clock[0], prompts_dir=str(prompts_dir),
                   on_satisfaction=lambda call_id, score: recorder.scores.put_nowait((call_id, score)))]

    async def ivr(session: Any) -> None:
        try:
            await apps[0].handle_ivr(session)
            recorder.ivr_endings.put_nowait("finished")
        except AGIHangup:
            recorder.ivr_endings.put_nowait("hangup")
            raise

    async def survey(session: Any) -> None:
        await apps[0].handle_survey(session)

    server = FastAGIServer({"ivr": ivr, "survey": survey, "wait": recorder.wait}, port=0)
    await server.start()
    files = generate(config, Options(agi_port=server.port, prompts_dir=str(prompts_dir), agents_at="127.0.0.1:5999"))
    asterisk.apply(files)
    try:
        yield Line(asterisk, recorder, config, server.port, apps)
    finally:
        await server.stop()


async def call(phones: Phones, keys: str, *, gap: float = 0.7, hold: float | None = None, number: str = "1555") -> Any:
    return phones.citizens(number, digits=keys, first_digit_after=0.8, digit_gap=gap, hold=hold)


async def arrival(line: Line, timeout: float = 30.0) -> dict[str, str]:
    return await asyncio.wait_for(line.recorder.arrived.get(), timeout)


async def finished(citizen: Any, timeout: float = 30.0) -> list[str]:
    await asyncio.to_thread(citizen.wait, timeout)
    return [e.event for e in citizen.events()]


# ---------------------------------------------------------------------------- menu paths
@pytest.mark.parametrize(("keys", "queue", "skills", "language", "caller_type"), [
    ("111", "pensions", "lang:el=1", "el", "citizen"),
    ("242", "labour", "lang:en=1,type:employer=1", "en", "employer"),
    ("13", "welfare", "lang:el=1", "el", "citizen"),
    ("26", "equality", "lang:en=1", "en", "citizen"),
    ("121", "unemployment", "lang:el=1", "el", "citizen"),
    ("15", "solidarity", "lang:el=1", "el", "citizen"),
    ("1#3", "welfare", "lang:el=1", "el", "citizen"),          # '#' repeats the topic menu
    ("240", "labour", "lang:en=1", "en", "citizen"),           # '0': an agent of the chosen topic
    ("180", "pensions", "lang:el=1", "el", "citizen"),         # information node, then '0'
])
async def test_each_menu_path_lands_in_its_queue_with_its_requirements(
        line: Line, phones: Phones, keys: str, queue: str, skills: str, language: str, caller_type: str) -> None:
    citizen = await call(phones, keys)
    got = await arrival(line)
    assert (got["ACD_QUEUE"], got["ACD_SKILLS"], got["ACD_LANG"], got["ACD_CALLER_TYPE"]) == \
        (queue, skills, language, caller_type)
    assert got["ACD_CALLID"] == got["UNIQUEID"] and got["ACD_PRIORITY"] == "0"
    assert got["ACD_CALLBACK"] == ""
    assert "bye" in await finished(citizen)


async def test_emergency_key_reaches_the_violence_line_with_its_priority(line: Line, phones: Phones) -> None:
    citizen = await call(phones, "9")
    got = await arrival(line)
    assert (got["ACD_QUEUE"], got["ACD_PRIORITY"]) == ("violence", "10")
    await finished(citizen)


async def test_star_goes_back_to_the_topic_menu(line: Line, phones: Phones) -> None:
    citizen = await call(phones, "11*3")
    got = await arrival(line)
    assert got["ACD_QUEUE"] == "welfare"
    await finished(citizen)


# ---------------------------------------------------------------------------- bad input
async def test_invalid_keys_are_retried_then_the_caller_gets_an_agent(line: Line, phones: Phones) -> None:
    citizen = await call(phones, "1" + "7" * (RETRIES + 1))
    got = await arrival(line)
    assert got["ACD_QUEUE"] == line.config.ivr.agent_queue
    await finished(citizen)


async def test_invalid_keys_end_in_a_polite_goodbye_when_configured(line: Line, phones: Phones) -> None:
    line.reconfigure(dataclasses.replace(line.config, ivr=dataclasses.replace(line.config.ivr, on_failure="goodbye")))
    citizen = await call(phones, "1" + "7" * (RETRIES + 1))
    assert await asyncio.wait_for(line.recorder.ivr_endings.get(), 30) == "finished"
    assert "bye" in await finished(citizen)          # Asterisk hung up after the goodbye
    assert line.recorder.arrived.empty()


async def test_silent_caller_is_greek_by_default_then_goes_to_an_agent(line: Line, phones: Phones) -> None:
    citizen = await call(phones, "")
    got = await arrival(line, timeout=40)
    assert (got["ACD_QUEUE"], got["ACD_LANG"]) == (line.config.ivr.agent_queue, "el")
    await finished(citizen)


async def test_caller_hanging_up_mid_menu_never_reaches_a_queue(line: Line, phones: Phones) -> None:
    citizen = await call(phones, "2", hold=2.0)
    assert await asyncio.wait_for(line.recorder.ivr_endings.get(), 20) == "hangup"
    assert "hangup" in await finished(citizen)
    await asyncio.sleep(0.3)
    assert line.recorder.arrived.empty()


# ---------------------------------------------------------------------------- hours
@pytest.mark.parametrize(("moment", "keys", "queue"), [
    (SUNDAY_NIGHT, "111", "pensions"),        # outside the weekly hours
    (GOOD_FRIDAY_NOON, "13", "welfare"),      # a movable Greek holiday
    (MOVED_LABOUR_DAY, "13", "welfare"),      # Labour Day kept on Easter Tuesday
])
async def test_closed_route_hears_the_hours_and_leaves_a_number_keeping_a_place(
        line: Line, phones: Phones, moment: float, keys: str, queue: str) -> None:
    line.recorder.clock[0] = moment
    citizen = await call(phones, keys + "2101234567#", gap=0.4)
    got = await arrival(line)
    assert (got["ACD_QUEUE"], got["ACD_CALLBACK"]) == (queue, "2101234567")
    await finished(citizen)


@pytest.mark.parametrize(("moment", "keys"), [
    (SUNDAY_NIGHT, "19"),          # from the topic menu, outside the weekly hours
    (GOOD_FRIDAY_NOON, "9"),       # from the first menu, on a holiday
])
async def test_emergency_route_answers_outside_hours(line: Line, phones: Phones, moment: float, keys: str) -> None:
    line.recorder.clock[0] = moment
    citizen = await call(phones, keys)
    got = await arrival(line)
    assert (got["ACD_QUEUE"], got["ACD_PRIORITY"], got["ACD_CALLBACK"]) == ("violence", "10", "")
    await finished(citizen)


async def test_closed_route_with_an_other_line_exit_lands_in_that_line(line: Line, phones: Phones) -> None:
    from acd.config.ivr import ClosedExit

    line.recorder.clock[0] = SUNDAY_NIGHT
    other = ClosedExit(("closed",), "queue", "violence")
    line.reconfigure(dataclasses.replace(line.config, ivr=dataclasses.replace(line.config.ivr,
                                                                              routes_closed={"welfare": other})))
    citizen = await call(phones, "13")
    got = await arrival(line)
    assert (got["ACD_QUEUE"], got["ACD_CALLBACK"]) == ("violence", "")
    await finished(citizen)


# ---------------------------------------------------------------------------- callback and survey
async def test_callback_request_in_hours_keeps_the_topic_and_the_number(line: Line, phones: Phones) -> None:
    citizen = await call(phones, "113" + "2101234567#", gap=0.4)
    got = await arrival(line)
    assert (got["ACD_QUEUE"], got["ACD_CALLER_TYPE"], got["ACD_CALLBACK"]) == ("pensions", "citizen", "2101234567")
    assert got["ACD_IVR_RESULT"] == "queue"
    await finished(citizen)


async def test_satisfaction_answer_after_the_call_is_stored_with_the_call(line: Line, phones: Phones) -> None:
    line.recorder.answered_by_agent = True
    citizen = await call(phones, "134", gap=2.0)      # welfare, then 4 at the survey question
    got = await arrival(line)
    call_id, score = await asyncio.wait_for(line.recorder.scores.get(), 30)
    assert (call_id, score) == (got["ACD_CALLID"], 4)
    assert "bye" in await finished(citizen)
