"""The fewest agents that meet a target: the published answer, minimality (one agent
fewer misses), every kind of target, and the limits."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.staffing as staffing_module
from sim.erlang import performance
from sim.staffing import StaffingTarget, TargetUnreachable, agents_needed


def test_call_centre_helper_example_needs_14_agents_for_80_percent_in_20_seconds():
    # Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example":
    # 100 calls per 30 minutes, AHT 180 s, 80 % within 20 s -> 14 agents (before
    # shrinkage).
    staffing = agents_needed(200, 180, StaffingTarget(threshold_s=20, service_level=0.8))
    assert staffing.agents == 14
    assert staffing.performance.service_level >= 0.8


def test_one_agent_fewer_misses_the_target():
    target = StaffingTarget(threshold_s=20, service_level=0.8)
    staffing = agents_needed(200, 180, target)
    assert performance(200, 180, staffing.agents - 1, 20).service_level < 0.8


@settings(max_examples=40, deadline=None)
@given(calls_per_hour=st.floats(1, 20_000), aht=st.floats(30, 900), level=st.floats(0.5, 0.95),
       threshold=st.floats(0, 60), patience=st.none() | st.floats(20, 600))
def test_the_answer_is_the_fewest_agents_that_meet_the_target(calls_per_hour, aht, level, threshold, patience):
    target = StaffingTarget(threshold_s=threshold, service_level=level)
    staffing = agents_needed(calls_per_hour, aht, target, patience_s=patience)
    assert target.met_by(staffing.performance)
    if staffing.agents > 1:
        fewer = performance(calls_per_hour, aht, staffing.agents - 1, threshold, patience_s=patience)
        assert not target.met_by(fewer)


def test_asa_target_alone():
    staffing = agents_needed(200, 180, StaffingTarget(asa_s=16))
    assert staffing.performance.asa <= 16
    assert performance(200, 180, staffing.agents - 1, 20).asa > 16


def test_erlang_c_staffing_at_1555_peak_meets_80_in_20_and_one_fewer_does_not():
    # the 1555 line's average hour: 18,500 calls a day spread over 24 h (770.8 an hour),
    # 270 s handle time, 80 % within 20 s
    target = StaffingTarget(threshold_s=20, service_level=0.8)
    staffing = agents_needed(770, 270, target)
    assert staffing.agents == 65
    assert staffing.performance.service_level == pytest.approx(0.8480, abs=5e-5)
    assert performance(770, 270, 64, 20).service_level < 0.8


def test_all_targets_together_take_the_strictest():
    kwargs = dict(patience_s=180)
    parts = [StaffingTarget(service_level=0.8), StaffingTarget(asa_s=10), StaffingTarget(max_occupancy=0.85),
             StaffingTarget(max_abandon=0.02)]
    each = [agents_needed(2000, 180, part, **kwargs).agents for part in parts]
    together = StaffingTarget(service_level=0.8, asa_s=10, max_occupancy=0.85, max_abandon=0.02)
    assert agents_needed(2000, 180, together, **kwargs).agents == max(each)


def test_occupancy_cap_adds_agents_beyond_the_service_level():
    level_only = agents_needed(2000, 180, StaffingTarget(service_level=0.8))
    capped = agents_needed(2000, 180, StaffingTarget(service_level=0.8, max_occupancy=0.85))
    assert capped.agents > level_only.agents
    assert capped.performance.occupancy <= 0.85
    assert performance(2000, 180, capped.agents - 1, 20).occupancy > 0.85


def test_abandonment_target_with_patience():
    target = StaffingTarget(max_abandon=0.02)
    staffing = agents_needed(200, 180, target, patience_s=60)
    assert staffing.performance.p_abandon <= 0.02
    assert performance(200, 180, staffing.agents - 1, 20, patience_s=60).p_abandon > 0.02


def test_abandonment_target_without_patience_is_refused():
    with pytest.raises(ValueError, match="patience"):
        agents_needed(200, 180, StaffingTarget(max_abandon=0.05))


def test_impatient_callers_need_fewer_agents_than_erlang_c_says():
    target = StaffingTarget(service_level=0.8)
    assert agents_needed(200, 180, target, patience_s=60).agents <= agents_needed(200, 180, target).agents


def test_a_target_beyond_the_trunk_is_unreachable_with_the_reason():
    with pytest.raises(TargetUnreachable, match="with all 12 lines staffed: blocking"):
        agents_needed(400, 180, StaffingTarget(service_level=0.8, max_block=0.05), lines=12)


def test_on_a_trunk_the_service_level_alone_is_met_by_busy_signals():
    # 20 Erlangs on 12 lines: with 12 agents nobody who gets a line waits, so the
    # service level target is met while most callers get busy; max_block exposes it
    alone = agents_needed(400, 180, StaffingTarget(service_level=0.8), lines=12)
    assert alone.performance.p_block > 0.4


def test_blocking_target_without_lines_is_refused():
    with pytest.raises(ValueError, match="lines"):
        agents_needed(200, 180, StaffingTarget(max_block=0.01))


def test_blocking_target_adds_agents_until_the_trunk_rarely_blocks():
    staffing = agents_needed(200, 180, StaffingTarget(service_level=0.8, max_block=0.01), lines=20)
    assert staffing.performance.p_block <= 0.01
    assert performance(200, 180, staffing.agents - 1, 20, lines=20).p_block > 0.01


def test_with_impatient_callers_service_level_alone_can_be_met_below_the_load():
    # 1000 Erlangs, patience 120 s: abandonment sheds the excess and the survivors are
    # answered in about 120 ln(1000 / n) s < 20 s, so 80/20 holds with n < 1000 while
    # about one caller in ten hangs up; an abandonment cap restores a sane answer
    level_only = agents_needed(20_000, 180, StaffingTarget(service_level=0.8), patience_s=120)
    assert level_only.agents < 1000 and level_only.performance.p_abandon > 0.05
    capped = agents_needed(20_000, 180, StaffingTarget(service_level=0.8, max_abandon=0.01), patience_s=120)
    assert capped.agents > 1000 and capped.performance.p_abandon <= 0.01


def test_no_calls_need_no_agents():
    staffing = agents_needed(0, 180, StaffingTarget(service_level=0.8))
    assert staffing.agents == 0 and staffing.performance is None


def test_a_thousand_agents_are_found_exactly_in_a_few_dozen_evaluations(monkeypatch):
    # the search's cost is its number of queue evaluations (each O(n)), not a wall-clock
    # time a busy CI machine could miss: doubling then bisection, about 2 log2(n)
    evaluated: list[int] = []

    def counting(calls_per_hour, aht_s, agents, threshold_s, **kwargs):
        evaluated.append(agents)
        return performance(calls_per_hour, aht_s, agents, threshold_s, **kwargs)

    monkeypatch.setattr(staffing_module, "performance", counting)
    target = StaffingTarget(service_level=0.8, threshold_s=20, max_abandon=0.01)
    staffing = agents_needed(20_000, 180, target, patience_s=120)  # 1000 Erlangs
    assert 1000 < staffing.agents < 1100
    assert len(evaluated) <= 2 * math.log2(staffing.agents) + 2
    assert not target.met_by(performance(20_000, 180, staffing.agents - 1, 20, patience_s=120))
    assert target.met_by(performance(20_000, 180, staffing.agents, 20, patience_s=120))


@pytest.mark.parametrize("kwargs, message", [
    (dict(), "at least one target"),
    (dict(service_level=1.0), "strictly between 0 and 1"),
    (dict(service_level=80), "strictly between 0 and 1"),
    (dict(asa_s=0), "ASA"),
    (dict(max_occupancy=1.2), "occupancy"),
    (dict(max_abandon=0), "abandonment"),
    (dict(service_level=0.8, threshold_s=-1), "threshold"),
])
def test_a_nonsensical_target_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StaffingTarget(**kwargs)
