"""The service level is defined once (acd.metrics), chosen by the config, and every
figure carries its definition in words."""
from __future__ import annotations

import pytest

from acd.config import ConfigError
from acd.live_figures import LiveFigures
from acd.engine import Engine
from acd.engine import events as e
from acd.metrics import SERVICE_LEVEL_MODES, service_level_definition
from tests.engine_helpers import make_config

AGENT = "'11': {pin: '1234', skills: {topic:a: 1}}\n"


def _queue(counts: str | None) -> str:
    extra = f", counts: {counts}" if counts else ""
    return ("q:\n  requires: {topic:a: 1}\n  wrapup: 0\n  announcements: {first_after: 0, every: 0}\n"
            f"  service_level: {{threshold: 20, short_abandon: 5{extra}}}\n")


def test_each_mode_says_what_it_divides_by():
    assert service_level_definition(20, 5) == "answered within 20 s / (answered + abandoned after 5 s + exited)"
    assert service_level_definition(30, 5, "answered_only") == "answered within 30 s / answered"
    assert service_level_definition(15, 3, "offered").startswith("answered within 15 s / offered")
    assert len({service_level_definition(20, 5, mode) for mode in SERVICE_LEVEL_MODES}) == len(SERVICE_LEVEL_MODES)


def test_a_bad_definition_is_refused():
    with pytest.raises(ValueError, match="unknown service level mode"):
        service_level_definition(20, 5, "answered_twice")  # type: ignore[arg-type]


def test_the_config_chooses_the_division_and_defaults_to_abandons_counted():
    assert make_config(_queue(None), AGENT).queues["q"].service.counts == "answered_plus_abandoned"
    target = make_config(_queue("answered_only"), AGENT).queues["q"].service
    assert target.counts == "answered_only"
    assert target.definition == "answered within 20 s / answered"


def test_a_misspelt_division_names_the_file_line_and_choices():
    with pytest.raises(ConfigError, match="answered_only"):
        make_config(_queue("answered"), AGENT)


def test_live_figures_divide_as_the_config_says():
    """One call answered at once, one abandoned after 10 s: half the callers by the
    default division, all of them when only answered calls count."""
    engine = Engine(make_config(_queue(None), AGENT))
    figures = LiveFigures(engine.config)
    for event in (e.AgentLoggedIn(0, "11"), e.CallArrived(1, "fast", "q"), e.OfferAnswered(2, "fast", "11"),
                  e.CallArrived(3, "gone", "q"), e.CallerHungUp(13, "gone"), e.AgentHungUp(60, "fast")):
        figures(engine.handle(event))
    assert figures.figures(20).service_level == 0.5
    assert figures.figures(20, mode="answered_only").service_level == 1.0
    assert figures.figures(20, mode="answered_only") == figures.batch_figures(20, mode="answered_only")


def test_the_simulators_target_has_the_same_choice():
    from acd.config.sim import settings_for
    from tests.test_sim_config import config_with

    assert settings_for(config_with("seed: 1\n")).target.definition == service_level_definition(20, 5)
    target = settings_for(config_with("target: {threshold: 30, counts: answered_only}\n")).target
    assert target.counts == "answered_only" and target.definition == "answered within 30 s / answered"
