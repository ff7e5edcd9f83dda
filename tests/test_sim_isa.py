"""The iterative staffing algorithm (Feldman, Mandelbaum, Massey and Whitt 2008,
``sim.isa``) on loads whose answer is known: a flat M/M/s day (770 calls an hour x
270 s = 57.75 erlangs: Erlang C says 65 agents for 80 % within 20 s), and a day whose
load steps up, where no interval may be staffed below its own need."""
from __future__ import annotations

from dataclasses import replace

import pytest

from acd.config import load_config_text
from acd.config.sim import settings_for
from bench.plan import flat_config_text
from sim.isa import first_call_busy, in_system, isa, minute_moments
from sim.model import CallAttempt, DayResult
from sim.staffing import StaffingTarget, agents_needed

HOURS = 4
FLAT = flat_config_text(HOURS)


@pytest.fixture(scope="module")
def flat():
    config = load_config_text(FLAT, "flat.yaml")
    return config, settings_for(config)


@pytest.fixture(scope="module")
def five_and_twenty(flat):
    config, settings = flat
    return isa(config, settings, 5), isa(config, settings, 20)


def test_the_isa_staffs_a_flat_day_as_erlang_c_within_one(five_and_twenty):
    for plan in five_and_twenty:
        loaded = plan.staffing[:HOURS]
        assert plan.converged and all(64 <= n <= 66 for n in loaded), loaded
        # the last callers still talk after 04:00 (the offered load lags); from 05:00 nobody
        assert 0 < plan.staffing[HOURS] < 40 and all(n == 0 for n in plan.staffing[HOURS + 1:]), plan.staffing


def test_five_or_twenty_replications_give_the_same_plan_within_one(five_and_twenty):
    five, twenty = five_and_twenty
    assert all(abs(a - b) <= 1 for a, b in zip(five.staffing, twenty.staffing)), (five.staffing, twenty.staffing)


def test_the_first_round_is_ample_staffing_and_the_rounds_are_kept(five_and_twenty):
    five, _ = five_and_twenty
    assert five.history[0] == (120,) * 24
    assert five.history[-1] == five.staffing and len(five.history) == five.rounds >= 2


def test_another_seed_gives_the_same_plan_within_one(flat):
    config, settings = flat
    plan = isa(config, replace(settings, seed=77), 5)
    assert all(64 <= n <= 66 for n in plan.staffing[:HOURS]), plan.staffing


def test_no_interval_is_below_its_own_need_when_the_load_steps_up():
    # 385 calls an hour for two hours, then 770: the step's interval needs 65 from its start
    text = flat_config_text(HOURS).replace('profile: {"00:00": 1, "04:00": 0}',
                                           'profile: {"00:00": 1, "02:00": 2, "04:00": 0}').replace(
        f"calls_per_day: {770 * HOURS}", f"calls_per_day: {385 * 2 + 770 * 2}")
    config = load_config_text(text, "step.yaml")
    plan = isa(config, settings_for(config), 5)
    low = agents_needed(385, 270, StaffingTarget(20, service_level=0.8)).agents
    assert all(low - 1 <= n <= low + 2 for n in plan.staffing[:2]), plan.staffing
    assert all(64 <= n <= 66 for n in plan.staffing[2:4]), plan.staffing


def test_the_isa_meets_an_asa_target_too(flat):
    config, settings = flat
    needed = agents_needed(770, 270, StaffingTarget(20, service_level=0.8, asa_s=8.0)).agents
    plan = isa(config, replace(settings, target=replace(settings.target, asa=8.0)), 5)
    assert all(needed - 1 <= n <= needed + 1 for n in plan.staffing[:HOURS]), (needed, plan.staffing)


def test_the_isa_refuses_an_abandonment_target_it_cannot_meet(flat):
    config, settings = flat
    with pytest.raises(ValueError, match="offered-load"):
        isa(config, replace(settings, target=replace(settings.target, max_abandon=0.05)), 2)


def _call(enqueued: float, wait: float | None, talk: float, outcome: str, attempt: int = 1) -> CallAttempt:
    call = CallAttempt("c", enqueued, "q", "el", False, attempt, outcome=outcome, enqueued=enqueued, wait=wait,
                       talk=talk if outcome == "answered" else 0.0)
    call.talk_needed = talk
    return call


def test_the_number_in_system_counts_waiting_talking_and_wrapup(flat):
    config, settings = flat
    calls = [_call(0, 100, 300, "answered"),        # in the system 0 .. 400 (+ 20 s wrap-up)
             _call(50, 40, 999, "abandoned"),       # 50 .. 90
             _call(60, None, 100, "unfinished"),    # 60 .. midnight
             _call(10, 0, 30, "answered", attempt=2)]  # a redial: in N, not in X
    day = DayResult(replace(settings, answer_delay=0), 100, calls, [], [], [], {"q": 20.0})
    moments = [30.0, 80.0, 95.0, 410.0, 430.0]
    assert in_system(day, moments) == [2, 3, 2, 2, 1]
    # X: as if answered at once: 0 .. 320, 50 .. 1069, 60 .. 180
    assert first_call_busy(day, moments) == [1, 3, 3, 1, 1]
    assert len(minute_moments()) == 1440


def test_plan_method_isa_writes_the_plan_and_says_its_method(tmp_path, capsys):
    import json

    from sim.cli import main

    path = tmp_path / "flat.yaml"
    path.write_text(flat_config_text(2), encoding="utf-8")
    out = tmp_path / "plan"
    assert main(["plan", "--config", str(path), "--method", "isa", "--replications", "2", "--out", str(out),
                 "--quiet", "--no-plots"]) == 0
    document = json.loads((out / "figures.json").read_text())
    assert document["method"] == "isa" and document["rounds"] >= 2
    assert all(60 <= n <= 70 for n in document["planned_staffing"][:2])
    assert "round 1: peak 120 agents" in capsys.readouterr().out
    abandon = tmp_path / "abandon.yaml"
    abandon.write_text(flat_config_text(2).replace("short_abandon: 0}", "short_abandon: 0, max_abandon: 0.05}"),
                       encoding="utf-8")
    assert main(["plan", "--config", str(abandon), "--method", "isa", "--out", str(out), "--quiet"]) == 2
    assert "--method offered-load" in capsys.readouterr().err


def test_the_default_method_is_the_isa_unless_the_plan_needs_the_other(flat):
    from sim.plan_command import chosen_method

    _, settings = flat
    assert chosen_method("auto", settings, 12)[0] == "isa"
    assert chosen_method("offered-load", settings, 12) == ("offered-load", "asked for")
    abandon = replace(settings, target=replace(settings.target, max_abandon=0.05))
    method, why = chosen_method("auto", abandon, 12)
    assert method == "offered-load" and "max_abandon" in why
    assert chosen_method("auto", settings, 1)[0] == "offered-load"
