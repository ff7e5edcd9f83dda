"""The staffing search on a load whose answer is known: a flat single-queue day of
Poisson callers, exponential talk and no wrap-up is M/M/s, where Erlang C is exact.
770 calls an hour x 270 s = 57.75 erlangs; 80 % within 20 s needs 65 agents (issue 13:
the old search gave a jagged 60-78 table that depended on the replications)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from acd.config import load_config_text
from acd.config.sim import settings_for
from bench.plan import flat_config_text
from sim.needed import erlang_c_agents
from sim.plan import search
from sim.staffing import StaffingTarget, agents_needed

HOURS = 4   # a short day keeps the test quick; every interval is loaded from its first minute on

FLAT = flat_config_text(HOURS)


@pytest.fixture(scope="module")
def flat():
    config = load_config_text(FLAT, "flat.yaml")
    return config, settings_for(config)


def test_erlang_c_says_65_agents_for_the_flat_day(flat):
    config, settings = flat
    assert erlang_c_agents(config, settings)[:HOURS] == [65.0] * HOURS


@pytest.mark.parametrize(("seed", "replications"), [(1, 5), (77, 5), (77, 20)])
def test_the_plan_of_a_flat_day_is_erlang_c_within_one_in_every_interval(flat, seed, replications):
    config, settings = flat
    plan = search(config, replace(settings, seed=seed), replications)
    loaded = plan.staffing[:HOURS]
    assert plan.converged
    assert all(64 <= agents <= 66 for agents in loaded), loaded
    assert max(loaded) - min(loaded) <= 1, loaded


def test_the_plan_does_not_depend_on_the_replications_or_the_seed(flat):
    config, settings = flat
    few = search(config, settings, 5).staffing[:HOURS]
    other_seed = search(config, replace(settings, seed=77), 5).staffing[:HOURS]
    assert all(abs(a - b) <= 1 for a, b in zip(few, other_seed)), (few, other_seed)


def test_the_plan_holds_an_asa_target_with_the_service_level(flat):
    # a planner who must hold an average wait of 8 s: Erlang C wants more than the 65
    config, settings = flat
    target = replace(settings.target, asa=8.0)
    needed = agents_needed(770, 270, StaffingTarget(20, service_level=0.8, asa_s=8.0)).agents
    assert needed > 65
    plan = search(config, replace(settings, target=target), 5)
    assert all(needed <= agents <= needed + 1 for agents in plan.staffing[:HOURS]), (needed, plan.staffing)
    assert plan.check.day["asa"].mean <= 8.0 + plan.check.day["asa"].half_width


def test_an_asa_target_is_read_from_the_config():
    config = load_config_text(FLAT.replace("short_abandon: 0}", "short_abandon: 0, asa: 16, max_abandon: 0.05}"),
                              "flat.yaml")
    target = settings_for(config).target
    assert (target.asa, target.max_abandon, target.max_occupancy) == (16.0, 0.05, None)


def test_noisy_redials_raise_the_replications_at_most_fourfold():
    # a day where many callers hang up and redial: their load is measured, and noisy
    text = FLAT.replace("patience: none", "patience: {distribution: exponential, mean: 30}").replace(
        "redial: {probability: 0}", "redial: {probability: 0.9, delay: {distribution: exponential, mean: 60}}")
    config = load_config_text(text, "redials.yaml")
    seen: list[int] = []
    plan = search(config, settings_for(config), 2, max_rounds=5, on_round=lambda n, s, r: seen.append(r))
    assert seen[0] == 2 and max(seen) <= 8 and plan.replications == seen[-1]


def test_the_plan_is_the_same_with_replications_in_two_processes(flat):
    config, settings = flat
    alone, pooled = search(config, settings, 4), search(config, settings, 4, jobs=2)
    assert alone.staffing == pooled.staffing
    assert alone.check.day["service_level"] == pooled.check.day["service_level"]
