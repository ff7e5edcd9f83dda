"""The FastAGI handlers (ivr.agi_app) against a scripted session: what they play, what
they leave on the channel. The real Asterisk runs them in test_ivr_end_to_end."""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from acd.config import load_config
from acd.protocol import AGIHangup
from ivr.agi_app import IvrApp, handlers

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
OPEN = datetime(2025, 2, 12, 10, 0, tzinfo=ZoneInfo("Europe/Athens")).timestamp()


class ScriptedCaller:
    """A session whose caller presses ``keys`` in order: one per prompt or wait, where
    '.' lets that prompt play through or that wait time out."""

    def __init__(self, keys: str, variables: dict[str, str] | None = None, args: Iterable[str] = (),
                 hang_up_after: int | None = None) -> None:
        self.keys = list(keys)
        self.vars = dict(variables or {})
        self.env = SimpleNamespace(args=tuple(args), query={}, get={"agi_uniqueid": "1700.1", "agi_callerid": "2101111111",
                                                                     "agi_channel": "PJSIP/citizens-1"}.get)
        self.played: list[str] = []
        self.hang_up_after = hang_up_after

    def _key(self) -> str | None:
        if self.hang_up_after is not None and len(self.played) >= self.hang_up_after:
            raise AGIHangup("caller hung up")
        key = self.keys.pop(0) if self.keys else "."
        return None if key == "." else key

    async def answer(self) -> None: ...

    async def stream_file(self, name: str, escape_digits: str = "") -> str | None:
        self.played.append(name)
        if not escape_digits:
            return None
        return self._key()

    async def wait_for_digit(self, timeout_ms: int = -1) -> str | None:
        return self._key()

    async def set_variable(self, name: str, value: str) -> None:
        self.vars[name] = value

    async def get_variable(self, name: str) -> str | None:
        return self.vars.get(name) or None


@pytest.fixture(scope="module")
def app() -> IvrApp:
    return IvrApp(load_config(EXAMPLE), now=lambda: OPEN, prompts_dir="/snd")


async def test_route_leaves_the_contract_variables_on_the_channel(app: IvrApp) -> None:
    caller = ScriptedCaller("242")
    await app.handle_ivr(caller)
    assert caller.vars["ACD_IVR_RESULT"] == "queue"
    assert caller.vars["ACD_CALLID"] == "1700.1"
    assert {k: caller.vars[k] for k in ("ACD_QUEUE", "ACD_SKILLS", "ACD_LANG", "ACD_CALLER_TYPE")} == \
        {"ACD_QUEUE": "labour", "ACD_SKILLS": "lang:en=1,type:employer=1", "ACD_LANG": "en",
         "ACD_CALLER_TYPE": "employer"}
    assert caller.played[0] == "/snd/el/welcome" and caller.played[-1] == "/snd/en/transfer"


async def test_a_key_during_a_prompt_stops_the_rest_of_the_menu(app: IvrApp) -> None:
    caller = ScriptedCaller("1")
    caller.keys = ["1", "3"]
    await app.handle_ivr(caller)
    assert caller.played[:2] == ["/snd/el/welcome", "/snd/el/topic_menu"]
    assert caller.vars["ACD_QUEUE"] == "welfare"


async def test_existing_call_id_is_kept(app: IvrApp) -> None:
    caller = ScriptedCaller("13", {"ACD_CALLID": "first.1"})
    await app.handle_ivr(caller)
    assert caller.vars["ACD_CALLID"] == "first.1"


async def test_hang_up_mid_menu_leaves_no_route(app: IvrApp) -> None:
    caller = ScriptedCaller("1....", hang_up_after=3)
    with pytest.raises(AGIHangup):
        await app.handle_ivr(caller)
    assert caller.vars.get("ACD_IVR_RESULT") == "" and "ACD_QUEUE" not in caller.vars


async def test_callback_after_max_wait_asks_only_the_number(app: IvrApp) -> None:
    caller = ScriptedCaller("2107777777#", {"ACD_QUEUE": "labour", "ACD_LANG": "en"}, args=["callback"])
    await app.handle_ivr(caller)
    assert caller.played[0] == "/snd/en/callback_number"
    assert (caller.vars["ACD_QUEUE"], caller.vars["ACD_CALLBACK"]) == ("labour", "2107777777")


async def test_survey_stores_the_score_with_the_call() -> None:
    stored: list[tuple[str, int]] = []
    app = IvrApp(load_config(EXAMPLE), now=lambda: OPEN, on_satisfaction=lambda c, s: stored.append((c, s)))
    caller = ScriptedCaller("4", {"ACD_CALLID": "call-9", "ACD_LANG": "en"})
    await app.handle_survey(caller)
    assert stored == [("call-9", 4)] and caller.vars["ACD_SATISFACTION"] == "4"
    assert caller.played == ["acd/en/survey_question", "acd/en/survey_thanks"]


async def test_survey_without_answer_stores_nothing() -> None:
    stored: list[Any] = []
    app = IvrApp(load_config(EXAMPLE), now=lambda: OPEN, on_satisfaction=lambda c, s: stored.append((c, s)))
    caller = ScriptedCaller("........", {"ACD_CALLID": "call-9"})
    await app.handle_survey(caller)
    assert stored == [] and "ACD_SATISFACTION" not in caller.vars


def test_daemon_gets_the_ivr_and_survey_handlers() -> None:
    assert sorted(handlers(load_config(EXAMPLE))) == ["ivr", "survey"]


async def test_a_callback_is_stored_before_its_confirmation_plays(app: IvrApp) -> None:
    """Issue 9: the promise is durable the moment the caller hears it."""
    caller = ScriptedCaller("2107777777#", {"ACD_QUEUE": "labour", "ACD_LANG": "en", "ACD_CALLID": "c-1",
                                            "ACD_ENQUEUED_AT": "1700000000.500"}, args=["callback"])
    stored: list[tuple] = []

    async def keep(call_id, route, enqueued_at) -> float:
        stored.append((call_id, route.callback, enqueued_at, len(caller.played)))
        return enqueued_at

    keeping = IvrApp(app.config, now=lambda: OPEN, prompts_dir="/snd", on_callback=keep)
    await keeping.handle_ivr(caller)
    [(call_id, number, place, played_before)] = stored
    assert (call_id, number, place) == ("c-1", "2107777777", 1700000000.5)
    assert caller.played[played_before:] == ["/snd/en/callback_confirmed"]   # confirmed after the store
    assert caller.vars["ACD_CALLBACK"] == "2107777777" and caller.vars["ACD_IVR_RESULT"] == "queue"


async def test_a_callback_that_cannot_be_stored_is_not_confirmed_and_the_caller_stays_in_line(app: IvrApp) -> None:
    caller = ScriptedCaller("2107777777#", {"ACD_QUEUE": "labour", "ACD_LANG": "en"}, args=["callback"])

    async def database_down(call_id, route, enqueued_at) -> float:
        raise ConnectionError("database down")

    failing = IvrApp(app.config, now=lambda: OPEN, prompts_dir="/snd", on_callback=database_down)
    await failing.handle_ivr(caller)
    assert "/snd/en/callback_confirmed" not in caller.played and caller.played[-1] == "/snd/en/callback_failed"
    assert "ACD_CALLBACK" not in caller.vars and caller.vars["ACD_IVR_RESULT"] == "queue"
