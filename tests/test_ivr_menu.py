"""The IVR tree walked without Asterisk (ivr.menu), on the 1555 example config."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.config import load_config
from acd.config.model import Config
from ivr.menu import AskNumber, Goodbye, Listen, MenuWalk, Route, Step, sound_file
from ivr.survey import Answered, SurveyQuestion

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
ATHENS = ZoneInfo("Europe/Athens")

WEDNESDAY_MORNING = datetime(2025, 2, 12, 10, 0, tzinfo=ATHENS).timestamp()
SUNDAY_NIGHT = datetime(2025, 2, 16, 23, 30, tzinfo=ATHENS).timestamp()
GOOD_FRIDAY_NOON = datetime(2025, 4, 18, 12, 0, tzinfo=ATHENS).timestamp()


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(EXAMPLE)


def walk(config: Config, keys: str, *, at: float = WEDNESDAY_MORNING, caller: str = "") -> tuple[MenuWalk, Step]:
    """Press ``keys`` one by one ('.' = no input) from the start; the last step."""
    menu = MenuWalk(config, lambda: at, caller_number=caller)
    step = menu.start()
    for key in keys:
        assert isinstance(step, Listen), f"expected to be listening before {key!r}, got {step}"
        step = menu.no_input() if key == "." else menu.press(key)
    return menu, step


def test_greek_pensioner_lands_in_pensions_with_greek_required(config: Config) -> None:
    _, step = walk(config, "111")
    assert isinstance(step, Route)
    assert (step.queue, step.language, step.caller_type) == ("pensions", "el", "citizen")
    assert step.requirements == {"lang:el": 1}
    assert step.variables["ACD_SKILLS"] == "lang:el=1"
    assert step.variables["ACD_PRIORITY"] == "0"
    assert "ACD_CALLBACK" not in step.variables


def test_english_employer_needs_english_and_the_employer_skill(config: Config) -> None:
    _, step = walk(config, "242")
    assert isinstance(step, Route)
    assert step.queue == "labour"
    assert step.requirements == {"lang:en": 1, "type:employer": 1}
    assert step.variables == {"ACD_QUEUE": "labour", "ACD_SKILLS": "lang:en=1,type:employer=1",
                              "ACD_PRIORITY": "0", "ACD_LANG": "en", "ACD_CALLER_TYPE": "employer"}


def test_topic_without_caller_type_question_routes_at_once(config: Config) -> None:
    _, step = walk(config, "13")
    assert isinstance(step, Route) and step.queue == "welfare"


def test_no_key_at_the_language_menu_means_greek(config: Config) -> None:
    menu, step = walk(config, ".")
    assert isinstance(step, Listen) and menu.node.id == "topic" and menu.language == "el"


def test_prompts_follow_the_chosen_language(config: Config) -> None:
    menu, step = walk(config, "2")
    assert isinstance(step, Listen)
    assert [sound_file(p, menu.language, "acd") for p in step.prompts] == ["acd/en/topic_menu", "acd/en/emergency_hint"]
    first = MenuWalk(config, lambda: WEDNESDAY_MORNING).start()
    assert "choose_language@en" in first.prompts and "choose_language@el" in first.prompts


def test_emergency_line_takes_priority_from_its_queue(config: Config) -> None:
    _, step = walk(config, "9")
    assert isinstance(step, Route)
    assert (step.queue, step.priority) == ("violence", 10)


def test_emergency_route_is_open_outside_hours_and_on_holidays(config: Config) -> None:
    for moment in (SUNDAY_NIGHT, GOOD_FRIDAY_NOON):
        _, step = walk(config, "19", at=moment)
        assert isinstance(step, Route) and step.queue == "violence"


def test_out_of_hours_caller_hears_the_hours_and_is_offered_a_callback(config: Config) -> None:
    menu, step = walk(config, "111", at=SUNDAY_NIGHT)
    assert isinstance(step, AskNumber)
    assert step.prompts[0] == "closed" and "callback_number" in step.prompts
    route = menu.entered("2101234567")
    assert isinstance(route, Route)
    assert (route.queue, route.callback) == ("pensions", "2101234567")
    assert route.variables["ACD_CALLBACK"] == "2101234567"
    assert route.prompts == ("callback_confirmed",)


def test_holiday_closes_a_business_hours_route(config: Config) -> None:
    _, step = walk(config, "13", at=GOOD_FRIDAY_NOON)
    assert isinstance(step, AskNumber) and step.prompts[0] == "closed"


def test_callback_without_typing_uses_the_callers_own_number(config: Config) -> None:
    menu, step = walk(config, "113", caller="2107654321")
    assert isinstance(step, AskNumber)
    route = menu.entered("")
    assert isinstance(route, Route) and route.callback == "2107654321"


def test_callback_number_too_short_is_asked_again_then_goodbye(config: Config) -> None:
    menu, step = walk(config, "113")
    retries = config.ivr.retries
    for _ in range(retries):
        step = menu.entered("123")
        assert isinstance(step, AskNumber) and step.prompts[0] == "invalid"
    step = menu.entered("123")
    assert isinstance(step, Goodbye) and step.prompts[-1] == "goodbye"


def test_invalid_key_is_retried_with_a_message(config: Config) -> None:
    menu, step = walk(config, "17")
    assert isinstance(step, Listen)
    assert step.prompts[0] == "invalid" and menu.node.id == "topic"


def test_too_many_invalid_keys_send_the_caller_to_an_agent(config: Config) -> None:
    retries = config.ivr.retries
    _, step = walk(config, "1" + "7" * (retries + 1))
    assert isinstance(step, Route)
    assert step.queue == config.ivr.agent_queue
    assert step.prompts[0] == "invalid"


def test_silence_counts_like_invalid_input(config: Config) -> None:
    retries = config.ivr.retries
    menu, step = walk(config, "1" + "." * retries)
    assert isinstance(step, Listen) and step.prompts[0] == "no_input"
    step = menu.no_input()
    assert isinstance(step, Route) and step.queue == config.ivr.agent_queue


def test_goodbye_instead_of_agent_when_configured(config: Config) -> None:
    import dataclasses

    polite = dataclasses.replace(config, ivr=dataclasses.replace(config.ivr, on_failure="goodbye"))
    _, step = walk(polite, "1" + "." * (config.ivr.retries + 1))
    assert isinstance(step, Goodbye) and step.prompts == ("no_input", "goodbye")


def test_star_goes_back_and_undoes_the_choice(config: Config) -> None:
    menu, step = walk(config, "11*")       # pensions chosen, then back to the topic menu
    assert isinstance(step, Listen) and menu.node.id == "topic" and menu.choices.queue is None
    _, step = walk(config, "11*3")
    assert isinstance(step, Route) and step.queue == "welfare"


def test_star_at_the_first_menu_repeats_it(config: Config) -> None:
    menu, step = walk(config, "*")
    assert isinstance(step, Listen) and menu.node.id == "language"


def test_hash_repeats_without_counting_as_a_mistake(config: Config) -> None:
    retries = config.ivr.retries
    menu, step = walk(config, "1" + "#" * (retries + 3))
    assert isinstance(step, Listen) and menu.node.id == "topic" and menu.failures == 0


def test_zero_reaches_an_agent_of_the_chosen_topic(config: Config) -> None:
    _, step = walk(config, "240")            # English, labour, then 0 at the caller-type menu
    assert isinstance(step, Route) and (step.queue, step.language) == ("labour", "en")


def test_zero_before_a_topic_goes_to_the_general_queue(config: Config) -> None:
    _, step = walk(config, "10")
    assert isinstance(step, Route) and step.queue == config.ivr.agent_queue


def test_information_node_plays_its_message_and_offers_repeat_back_agent(config: Config) -> None:
    menu, step = walk(config, "18")
    assert isinstance(step, Listen) and step.prompts == ("info_documents", "info_options")
    assert walk(config, "18#")[1] == step
    menu, back = walk(config, "18*")
    assert menu.node.id == "topic"
    _, agent = walk(config, "180")
    assert isinstance(agent, Route) and agent.queue == config.ivr.agent_queue


def test_keys_outside_the_phone_are_refused(config: Config) -> None:
    menu = MenuWalk(config, lambda: WEDNESDAY_MORNING)
    menu.start()
    with pytest.raises(ValueError, match="not a phone key"):
        menu.press("x")


def test_survey_takes_one_score_and_thanks() -> None:
    config = load_config(EXAMPLE)
    question = SurveyQuestion(config.ivr.survey, invalid=("invalid",), timeout=3, retries=2)
    assert question.start().prompts == ("survey_question",)
    assert question.press("7") == Listen(("invalid", "survey_question"), 3)
    assert question.press("4") == Answered(("survey_thanks",), 4)


def test_survey_without_answer_stores_no_score() -> None:
    config = load_config(EXAMPLE)
    question = SurveyQuestion(config.ivr.survey, invalid=("invalid",), timeout=3, retries=1)
    question.start()
    assert isinstance(question.no_input(), Listen)
    assert question.no_input() == Answered((), None)
