"""The IVR tree walked without Asterisk (ivr.menu), on the 1555 example config."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from acd.config import load_config, load_config_text
from acd.config.ivr import ClosedExit
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


# ---------------------------------------------------------------------------- out-of-hours exits
def with_closed_exit(config: Config, **routes: ClosedExit) -> Config:
    import dataclasses

    return dataclasses.replace(config, ivr=dataclasses.replace(config.ivr, routes_closed=routes))


def test_closed_route_with_a_message_exit_says_the_hours_and_goodbye(config: Config) -> None:
    message = with_closed_exit(config, welfare=ClosedExit(("closed",), "goodbye"))
    _, step = walk(message, "13", at=SUNDAY_NIGHT)
    assert step == Goodbye(("closed", "goodbye"))


def test_closed_route_with_an_other_line_exit_goes_to_that_line(config: Config) -> None:
    other = with_closed_exit(config, welfare=ClosedExit(("closed",), "queue", "violence"))
    _, step = walk(other, "13", at=SUNDAY_NIGHT)
    assert isinstance(step, Route)
    assert (step.queue, step.priority, step.prompts[0]) == ("violence", 10, "closed")


def test_other_line_that_is_closed_too_takes_no_second_hop(config: Config) -> None:
    chained = with_closed_exit(config, welfare=ClosedExit(("closed",), "queue", "pensions"),
                               pensions=ClosedExit(("closed",), "queue", "welfare"))
    _, step = walk(chained, "13", at=SUNDAY_NIGHT)
    assert isinstance(step, Goodbye) and step.prompts[-1] == "goodbye"


def test_per_route_closed_exit_is_read_from_the_file() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  closed: {prompt: closed, exit: callback}",
        "  closed: {prompt: closed, exit: callback}\n  routes: {labour: {closed: {prompt: closed, exit: goodbye}}}", 1)
    per_route = load_config_text(text, str(EXAMPLE))
    _, labour = walk(per_route, "241", at=SUNDAY_NIGHT)
    assert labour == Goodbye(("closed", "goodbye"))
    _, pensions = walk(per_route, "211", at=SUNDAY_NIGHT)   # the others keep the general exit
    assert isinstance(pensions, AskNumber) and pensions.prompts[0] == "closed"


def test_open_again_on_saturday_morning_by_the_weekend_hours(config: Config) -> None:
    saturday = datetime(2025, 2, 15, 10, 0, tzinfo=ATHENS).timestamp()
    _, step = walk(config, "13", at=saturday)
    assert isinstance(step, Route) and step.queue == "welfare"


def test_may_day_in_holy_week_is_open_and_the_moved_holiday_is_closed(config: Config) -> None:
    holy_wednesday = datetime(2024, 5, 1, 12, 0, tzinfo=ATHENS).timestamp()
    easter_tuesday = datetime(2024, 5, 7, 12, 0, tzinfo=ATHENS).timestamp()
    assert isinstance(walk(config, "13", at=holy_wednesday)[1], Route)
    assert isinstance(walk(config, "13", at=easter_tuesday)[1], AskNumber)


# ---------------------------------------------------------------------------- IVR -> engine
def every_path(config: Config) -> list[str]:
    """The keys of every way through the tree to a queue (menu options only)."""
    paths: list[str] = []

    def visit(node_id: str, keys: str) -> None:
        for key, action in config.ivr.nodes[node_id].options.items():
            if action.hangup:
                continue
            if action.next is not None and len(keys) < 6:
                visit(action.next, keys + key)
            elif action.next is None:
                paths.append(keys + key)
        if config.ivr.nodes[node_id].type == "info":
            paths.append(keys + "0")

    visit(config.ivr.entry, "")
    return paths


def test_every_path_becomes_a_call_the_engine_routes_by_the_ivr_choices(config: Config) -> None:
    """What the IVR leaves on the channel is what the daemon reads back
    (``caller_attributes``) and what the engine queues: the queue's own skills plus the
    IVR's language and caller type, at the queue's priority."""
    from acd.daemon.waiting_room import caller_attributes
    from acd.engine import events as e
    from acd.engine.engine import Engine

    paths = every_path(config)
    assert {"111", "242", "13", "9", "19", "180"} <= set(paths)
    engine = Engine(config)
    for number, keys in enumerate(paths):
        menu, step = walk(config, keys)
        if isinstance(step, AskNumber):
            step = menu.entered("2101234567")
        assert isinstance(step, Route), keys
        attributes = caller_attributes(step.variables, default_call_id=f"c{number}", default_queue=None,
                                       config=config)
        engine.handle(e.CallArrived(0.0, f"c{number}", attributes.queue, dict(attributes.requirements),
                                    attributes.priority, None, attributes.language, attributes.caller_type,
                                    attributes.callback))
        call = engine.calls[f"c{number}"]
        queue = config.queues[step.queue]
        assert dict(call.requirements) == {**queue.requirements, **step.requirements}, keys
        assert f"lang:{step.language}" in call.requirements
        assert ("type:employer" in call.requirements) == (step.caller_type == "employer")
        assert (call.priority, call.language, call.caller_type) == (queue.priority, step.language, step.caller_type)


def test_config_can_take_a_computed_holiday_back_and_close_another_day_instead() -> None:
    """A ministerial decision that departs from the practice: Labour Day 2024 kept on
    Wednesday May 8, not on Easter Tuesday May 7 as ``labour_day`` computes."""
    text = EXAMPLE.read_text(encoding="utf-8")
    computed = "    builtin: greece            # fixed and Orthodox-Easter-based public holidays, computed\n"
    assert computed in text
    decided = load_config_text(text.replace(computed, computed + "    dates: [2024-05-08]\n"
                                                                 "    not_dates: [2024-05-07]\n"), str(EXAMPLE))
    easter_tuesday = datetime(2024, 5, 7, 12, 0, tzinfo=ATHENS).timestamp()
    wednesday = datetime(2024, 5, 8, 12, 0, tzinfo=ATHENS).timestamp()
    easter_monday = datetime(2024, 5, 6, 12, 0, tzinfo=ATHENS).timestamp()
    assert isinstance(walk(decided, "13", at=easter_tuesday)[1], Route)
    assert isinstance(walk(decided, "13", at=wednesday)[1], AskNumber)        # closed: the callback offer
    assert isinstance(walk(decided, "13", at=easter_monday)[1], AskNumber)    # the rest stays computed
    assert isinstance(walk(decided, "9", at=wednesday)[1], Route)             # the 24/7 line never closes
