"""The call contract (acd/call_contract.py): the skills a caller carries out of the IVR
are the same whoever computes them, the production IVR or the planners' simulator, and
the skills text on the channel reads back as written."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.call_contract import (
    CALLER_TYPES,
    EMPLOYER,
    EMPLOYER_SKILL,
    CallVariablesError,
    caller_skills,
    format_skills,
    language_skill,
    parse_skills,
)
from acd.config import load_config
from acd.config.model import Config
from acd.config.sim import settings_for
from ivr.menu import AskNumber, MenuWalk, Route
from sim.model import CallAttempt, CallCentreDay

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
CONFIG: Config = load_config(EXAMPLE)
SKILL_NAMES = st.from_regex(r"[a-z][a-z0-9_-]{0,6}(:[a-z0-9_-]{1,6})?", fullmatch=True)


def ivr_skills(queue: str, language: str, caller_type: str) -> dict[str, int]:
    """What the production IVR leaves on the channel for a caller of these choices."""
    walk = MenuWalk(CONFIG, lambda: 0.0)
    asked = walk.request_callback(queue, language, caller_type)
    assert isinstance(asked, AskNumber)
    route = walk.entered("2101234567")
    assert isinstance(route, Route)
    return parse_skills(route.variables["ACD_SKILLS"])


@settings(max_examples=60, deadline=None)
@given(queue=st.sampled_from(sorted(CONFIG.queues)), language=st.sampled_from(CONFIG.languages),
       caller_type=st.sampled_from(CALLER_TYPES))
def test_the_simulator_gives_a_caller_the_skills_the_production_ivr_gives(queue: str, language: str,
                                                                        caller_type: str) -> None:
    day = CallCentreDay(CONFIG, settings_for(CONFIG), 1)
    call = CallAttempt("c1", 0.0, queue, language, caller_type == EMPLOYER)
    assert day._requirements(call) == ivr_skills(queue, language, caller_type)


def test_on_the_1555_line_an_english_employer_needs_english_and_the_employer_skill() -> None:
    """The rule applied, not only agreed on: both sides give the declared skills."""
    assert ivr_skills("labour", "en", "employer") == {"lang:en": 1, "type:employer": 1}
    assert ivr_skills("labour", "el", "citizen") == {"lang:el": 1}


@given(chosen=st.dictionaries(SKILL_NAMES, st.integers(1, 10), max_size=4), language=st.sampled_from(["el", "en", "fr"]),
       caller_type=st.sampled_from(CALLER_TYPES), declared=st.sets(st.sampled_from(
           ["lang:el", "lang:en", "lang:fr", EMPLOYER_SKILL, "topic:a"])))
def test_caller_skills_add_only_declared_skills_and_keep_what_a_choice_set(
        chosen: dict[str, int], language: str, caller_type: str, declared: set[str]) -> None:
    result = caller_skills(chosen, language, caller_type, declared)
    assert {k: v for k, v in result.items() if k in chosen} == chosen
    added = set(result) - set(chosen)
    expected = {language_skill(language)} & declared
    if caller_type == EMPLOYER:
        expected |= {EMPLOYER_SKILL} & declared
    assert added == expected - set(chosen)
    assert all(result[skill] == 1 for skill in added)


@given(st.dictionaries(SKILL_NAMES, st.integers(0, 99), max_size=6))
def test_skills_written_on_the_channel_read_back_as_written(skills: dict[str, int]) -> None:
    assert parse_skills(format_skills(skills)) == skills


def test_a_skills_item_without_a_level_is_refused_naming_the_variable() -> None:
    with pytest.raises(CallVariablesError, match="ACD_SKILLS item 'lang:el'"):
        parse_skills("lang:el")
