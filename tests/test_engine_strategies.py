"""Routing strategies as units, and ``scarce_last``, which keeps scarce skills for the
callers who need them."""
from __future__ import annotations

import re

import pytest

from acd.config import ConfigError
from acd.engine import Engine, strategies
from acd.engine import events as e
from dialplan.generate import queues as queues_conf
from tests.engine_helpers import Recorder, make_config

#: app_queue's strategies in Asterisk 16 (the ``strategies[]`` table of apps/app_queue.c)
APP_QUEUE_STRATEGIES = {"ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "roundrobin", "linear",
                        "wrandom", "rrordered"}

#: one pensions queue; callers add their language (as the IVR does)
PENSIONS = """
pensions:
  requires: {topic:a: 2}
  wrapup: 0
  announcements: {first_after: 0, every: 0}
"""
#: a bilingual pensions specialist and four Greek-only desk agents
DESK = (
    "'21': {pin: '1234', skills: {topic:a: 5, lang:el: 5, lang:en: 3}}\n"
    + "".join(f"'{n}': {{pin: '1234', skills: {{topic:a: 3, lang:el: 5}}}}\n" for n in (31, 32, 33, 34))
)
GREEK, ENGLISH = {"lang:el": 1}, {"lang:en": 1}


def at_work(queues: str, agents: str) -> Recorder:
    """The specialist '21' and the desk '31'-'34' at work, after one English caller
    earlier in the day (so the engine has met English pensions callers, as it has at any
    busy hour)."""
    rec = Recorder(Engine(make_config(queues, agents)))
    for agent in ("21", "31", "32", "33", "34"):
        rec(e.AgentLoggedIn(0, agent))
    rec(e.CallArrived(1, "early", "pensions", ENGLISH))
    rec(e.OfferAnswered(2, "early", "21"))
    rec(e.AgentHungUp(3, "early"))
    return rec


def desk(strategy: str | None) -> Recorder:
    return at_work(PENSIONS + (f"  strategy: {strategy}\n" if strategy else ""), DESK)


def idle_agents(rec: Recorder) -> set[str]:
    return {a.id for a in rec.engine.agents.values() if a.idle}


def test_best_match_sends_the_greek_caller_to_the_only_english_speaker():
    """The bug: best-match ranking gives the Greek caller the bilingual specialist
    (higher levels), and the English caller after them waits while four Greek desk
    agents sit idle."""
    rec = desk(None)
    rec(e.CallArrived(10, "greek", "pensions", GREEK))
    rec(e.CallArrived(11, "english", "pensions", ENGLISH))
    assert ("greek", "21") in rec.offers()
    assert "english" not in dict(rec.offers())
    assert idle_agents(rec) == {"31", "32", "33", "34"}
    rec(e.OfferAnswered(12, "greek", "21"))
    rec(e.AgentHungUp(26.6, "greek"))
    assert ("english", "21") in rec.offers()    # 15.6 s later, four agents idle meanwhile


def test_scarce_last_gives_the_greek_caller_a_desk_agent_and_the_english_caller_the_specialist():
    rec = desk("scarce_last")
    rec(e.CallArrived(10, "greek", "pensions", GREEK))
    rec(e.CallArrived(11, "english", "pensions", ENGLISH))
    offers = dict(rec.offers())
    assert offers["greek"] in {"31", "32", "33", "34"}
    assert offers["english"] == "21"


def test_scarce_last_still_uses_the_specialist_when_the_desk_is_busy():
    rec = desk("scarce_last")
    for n in range(5):
        rec(e.CallArrived(10 + n, f"greek{n}", "pensions", GREEK))
    assert {agent for call, agent in rec.offers() if call.startswith("greek")} == {"21", "31", "32", "33", "34"}


def test_scarce_last_among_equals_takes_the_longest_idle():
    rec = desk("scarce_last")
    for t, agent in ((6, "31"), (7, "32"), (8, "33")):
        rec(e.AgentPaused(t - 0.5, agent, "break"))
        rec(e.AgentUnpaused(t, agent))
    rec(e.CallArrived(10, "greek", "pensions", GREEK))
    assert dict(rec.offers())["greek"] == "34"     # idle since 0, the others since 6-8


#: pensions and a second queue only the desk takes, both under scarce_last
TWO_TOPICS = PENSIONS + "  strategy: scarce_last\n" + """
unemployment:
  requires: {topic:b: 2}
  wrapup: 0
  announcements: {first_after: 0, every: 0}
  strategy: scarce_last
"""
DESK_OF_TWO = (
    "'21': {pin: '1234', skills: {topic:a: 5, lang:el: 5, lang:en: 3}}\n"
    + "".join(f"'{n}': {{pin: '1234', skills: {{topic:a: 3, topic:b: 3, lang:el: 5}}}}\n" for n in (31, 32, 33, 34))
)


def test_scarce_last_follows_the_load_when_the_desk_is_busy_the_specialist_takes_greek_callers():
    """With three of four desk agents on unemployment calls, the last free one is the
    scarce agent: the Greek pensions caller goes to the specialist, and the next
    unemployment caller finds the desk agent free."""
    rec = at_work(TWO_TOPICS, DESK_OF_TWO)
    for n in range(3):
        rec(e.CallArrived(4 + n, f"u{n}", "unemployment", GREEK))
        rec(e.OfferAnswered(4.5 + n, f"u{n}", dict(rec.offers())[f"u{n}"]))
    rec(e.CallArrived(10, "greek", "pensions", GREEK))
    assert dict(rec.offers())["greek"] == "21"
    rec(e.CallArrived(11, "u3", "unemployment", GREEK))
    assert dict(rec.offers())["u3"] in {"31", "32", "33", "34"}


def test_scarce_last_with_the_desk_quiet_keeps_the_specialist():
    """The same desk before the unemployment callers: the desk takes the Greek caller."""
    rec = at_work(TWO_TOPICS, DESK_OF_TWO)
    rec(e.CallArrived(10, "greek", "pensions", GREEK))
    assert dict(rec.offers())["greek"] in {"31", "32", "33", "34"}


# -- a strategy is one unit ---------------------------------------------------------------

@pytest.mark.parametrize("name", strategies.NAMES)
def test_every_strategy_names_an_app_queue_strategy(name):
    assert strategies.strategy_of(name).app_queue in APP_QUEUE_STRATEGIES


@pytest.mark.parametrize("name", strategies.NAMES)
def test_the_config_takes_every_strategy_of_the_registry(name):
    config = make_config(PENSIONS + f"  strategy: {name}\n", DESK)
    assert config.queues["pensions"].strategy == name


def test_an_unknown_strategy_is_refused_with_its_line_and_the_known_ones():
    with pytest.raises(ConfigError) as info:
        make_config(PENSIONS + "  strategy: scarce_first\n", DESK)
    assert info.value.line == 14       # the strategy line, after 8 lines of header, a blank and 4 of queue
    assert "scarce_first" in str(info.value) and "scarce_last" in str(info.value)
    assert "did you mean 'scarce_last'" in str(info.value)


@pytest.mark.parametrize("name, words", [("ringall", "one agent at a time"), ("roundrobin", "'rrmemory'")])
def test_an_app_queue_strategy_the_engine_lacks_is_refused_saying_why(name, words):
    with pytest.raises(ConfigError) as info:
        make_config(PENSIONS + f"  strategy: {name}\n", DESK)
    assert info.value.line == 14
    assert "app_queue's strategy" in str(info.value) and words in str(info.value)
    assert "longest_idle" in str(info.value)


@pytest.mark.parametrize("always_open", [True, False])
@pytest.mark.parametrize("name", strategies.NAMES)
def test_the_degraded_path_queue_of_a_queue_gets_the_app_queue_name(name, always_open):
    # a 24/7 line's and a topic's app_queue queue alike are named as the queue
    config = make_config(PENSIONS + f"  strategy: {name}\n  always_open: {str(always_open).lower()}\n", DESK)
    text = queues_conf(config)
    section = text[text.index("[pensions]"):]
    assert re.search(r"^strategy=(\w+)$", section, flags=re.M)[1] == strategies.strategy_of(name).app_queue

