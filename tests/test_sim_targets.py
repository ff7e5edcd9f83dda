"""Targets planners use (issue 13): the service level, ASA, abandonment and occupancy of
the line, alone or together, and queues with targets of their own, met by ``acd-sim
plan`` together with the line's."""
from __future__ import annotations

import re
from dataclasses import replace

import pytest

from acd.config import ConfigError, load_config_text
from acd.config.sim import settings_for
from bench.plan import flat_config_text
from sim.isa import isa
from sim.needed import erlang_c_agents
from sim.plan import search
from sim.plan_command import chosen_method, describe
from sim.staffing import StaffingTarget, agents_needed

HOURS = 3
FLAT = flat_config_text(HOURS)

#: two topics of equal load (385 calls an hour each), each with a team of its own: the
#: flat day's queue split in two
TWO = (FLAT.replace("skills: {topic:a: only topic}", "skills: {topic:a: A, topic:b: B}")
       .replace("  q: {requires: {topic:a: 1}, wrapup: 0, announcements: {first_after: 0, every: 0}}\n",
                "  q: {requires: {topic:a: 1}, wrapup: 0, announcements: {first_after: 0, every: 0}}\n"
                "  v: {requires: {topic:b: 1}, wrapup: 0, announcements: {first_after: 0, every: 0}}\n")
       .replace("  all: {ids: 1000-1119, skills: {topic:a: 1}}\n",
                "  a: {ids: 1000-1059, skills: {topic:a: 1}}\n  b: {ids: 2000-2059, skills: {topic:b: 1}}\n")
       .replace("topics: {q: 1}", "topics: {q: 0.5, v: 0.5}"))
assert "topic:b: 1" in TWO and "v: 0.5" in TWO


def with_target(text: str, target: str) -> str:
    return text.replace("target: {threshold: 20, service_level: 0.8, short_abandon: 0}", f"target: {target}")


def test_a_queue_target_is_read_with_the_lines_threshold_unless_it_has_its_own():
    config = load_config_text(with_target(TWO, "{threshold: 20, service_level: 0.8, queues: "
                                               "{v: {service_level: 0.95, threshold: 10}, q: {asa: 30}}}"), "two.yaml")
    target = settings_for(config).target
    assert (target.queues["v"].service_level, target.queue_threshold("v")) == (0.95, 10.0)
    assert (target.queues["q"].asa, target.queue_threshold("q")) == (30.0, 20.0)


@pytest.mark.parametrize(("target", "reason"), [
    ("{queues: {w: {service_level: 0.9}}}", "no queue 'w' in the config's queues (known: q, v)"),
    ("{queues: {v: {threshold: 10}}}", "queue 'v': give its service_level, asa or max_abandon"),
    ("{queues: {v: {max_occupancy: 0.8}}}", "unknown key 'max_occupancy'"),
    ("{service_level: null}", "service_level is null and no other target is given"),
])
def test_a_wrong_target_names_the_file_line_and_reason(target, reason):
    with pytest.raises(ConfigError, match=re.escape(reason)) as error:
        load_config_text(with_target(TWO, target), "two.yaml")
    assert "two.yaml:" in str(error.value)


def test_an_asa_target_alone_is_planned_without_a_service_level():
    config = load_config_text(with_target(FLAT, "{threshold: 20, service_level: null, asa: 8, short_abandon: 0}"),
                              "flat.yaml")
    settings = settings_for(config)
    assert settings.target.service_level is None
    needed = agents_needed(770, 270, StaffingTarget(20, asa_s=8.0)).agents
    assert erlang_c_agents(config, settings)[:HOURS] == [float(needed)] * HOURS
    plan = search(config, settings, 5)
    assert all(needed <= agents <= needed + 1 for agents in plan.staffing[:HOURS]), (needed, plan.staffing)
    text = describe(plan, settings.interval, settings.target)
    assert "line: ASA" in text and "target 80%" not in text


@pytest.fixture(scope="module")
def two_plans():
    plain = load_config_text(TWO, "two.yaml")
    strict = load_config_text(with_target(TWO, "{threshold: 20, service_level: 0.8, short_abandon: 0, "
                                               "queues: {v: {service_level: 0.95}}}"), "two.yaml")
    return (plain, search(plain, settings_for(plain), 5)), (strict, search(strict, settings_for(strict), 5))


def test_a_queue_with_a_stricter_target_of_its_own_gets_it_met(two_plans):
    (_, plain), (strict_config, strict) = two_plans
    assert strict.converged
    assert sum(strict.staffing[:HOURS]) > sum(plain.staffing[:HOURS])
    for interval in range(HOURS):
        level = strict.check.queue_intervals["v"][interval]["service_level"]
        assert level.high >= 0.95, (interval, level)        # not missed beyond doubt
    assert plain.check.queues["v"]["service_level"].mean < 0.95 <= strict.check.queues["v"]["service_level"].high
    settings = settings_for(strict_config)
    assert "queue v: within 20 s" in describe(strict, settings.interval, settings.target)


def test_queue_targets_are_planned_by_the_offered_load_search_not_the_isa(two_plans):
    (_, _), (strict_config, _) = two_plans
    settings = settings_for(strict_config)
    assert chosen_method("auto", settings, 12)[0] == "offered-load"
    with pytest.raises(ValueError, match="--method offered-load"):
        isa(strict_config, settings, 2)
    assert chosen_method("auto", replace(settings, target=replace(settings.target, queues={})), 12)[0] == "isa"


def test_a_day_short_beyond_doubt_gives_its_intervals_below_the_target_an_agent():
    # 20 days pin the day's service level within about 4 points: the pooled formula's 65
    # leave it near 75 %, beyond doubt below 80 %, though every hour alone is within its
    # +- 7 points of 80 %; the search adds an agent to the hours below on the mean
    config = load_config_text(TWO, "two.yaml")
    settings = settings_for(config)
    rounds: list[tuple[int, ...]] = []
    plan = search(config, settings, 20, on_round=lambda n, staffing, r: rounds.append(staffing[:HOURS]))
    assert rounds[0] == (65,) * HOURS and max(plan.staffing[:HOURS]) > 65
    assert plan.check.day["service_level"].high >= 0.8
