"""The figures of a simulated day and their confidence intervals.

The definitions themselves (service level, ASA, short abandons, ...) are acd.metrics'
and tested there; here: that simulated calls become the right records (when a call
counts as offered, what an unfinished call is) and that the intervals are sound."""
from __future__ import annotations

import math
import random
from statistics import NormalDist

import pytest

from sim.confidence import estimate, t_quantile
from sim.figures import figures, line_seconds, offered_at, outcome, trunk_load
from sim.model import CallAttempt

WRAPUP = {"q": 10.0}


def call(outcome_: str, wait: float | None = None, *, arrived: float = 0.0, ivr: float = 30.0, talk: float = 0.0,
         attempt: int = 1, escalated: bool = False) -> CallAttempt:
    queued = outcome_ != "blocked" and not (outcome_ == "unfinished" and wait is None)
    return CallAttempt(id=f"c{random.random()}", arrived=arrived, queue="q", language="el", employer=False,
                       attempt=attempt, outcome=outcome_, enqueued=arrived + ivr if queued else None,
                       wait=wait, talk=talk, escalated=escalated)


def measure(calls, **kwargs):
    defaults = dict(threshold=20.0, short_abandon=5.0, wrapup=WRAPUP, busy_seconds=30.0, staffed_seconds=60.0,
                    staffed_agents=2, needed_agents=3)
    return figures(calls, "10:00", **{**defaults, **kwargs})


def test_a_call_counts_as_offered_when_it_enters_the_queue_after_the_ivr():
    answered = call("answered", 12, arrived=100, ivr=40, talk=200)
    assert offered_at(answered) == 140
    record = outcome(answered, WRAPUP)
    assert (record.offered_at, record.answered_at, record.ended_at) == (140, 152, 352)
    assert record.handle_time == 210, "AHT is talk plus the queue's wrap-up"


def test_a_blocked_call_counts_when_it_was_refused():
    blocked = call("blocked", arrived=500)
    assert offered_at(blocked) == 500 and outcome(blocked, WRAPUP).blocked


def test_calls_still_going_at_midnight_are_offered_but_have_no_outcome():
    in_queue = call("unfinished", None, arrived=86_000)
    in_queue.enqueued = 86_030
    assert outcome(in_queue, WRAPUP) is None
    row = measure([in_queue, call("answered", 3, talk=60)])
    assert row.offered == 2 and row.unfinished == 1 and row.answered == 1


def test_row_counts_what_only_a_simulation_knows():
    row = measure([call("answered", 0, talk=60), call("answered", 30, talk=60, attempt=2, escalated=True),
                   call("abandoned", 50), call("abandoned", 2), call("exited", 600), call("blocked")])
    assert (row.offered, row.blocked, row.answered, row.abandoned, row.short_abandoned, row.exited) == (6, 1, 2, 1, 1, 1)
    assert row.redials == 1 and row.escalated == 1 and row.waited == 1
    assert row.service_level == pytest.approx(1 / 4)   # 1 within 20 s / (2 answered + 1 late abandon + 1 exit)
    assert row.asa == pytest.approx(15.0) and row.longest_wait == 600
    assert row.blocking == pytest.approx(1 / 6) and row.occupancy == pytest.approx(0.5)
    assert row.aht == pytest.approx(70.0)


def test_an_interval_without_calls_has_no_service_level_or_asa_rather_than_a_made_up_one():
    row = measure([], busy_seconds=0.0, staffed_seconds=0.0)
    assert row.offered == 0
    assert math.isnan(row.service_level) and math.isnan(row.asa) and math.isnan(row.occupancy)


def test_t_quantiles_match_the_tables_and_approach_the_normal():
    assert t_quantile(0.95, 1) == pytest.approx(12.706, abs=1e-3)
    assert t_quantile(0.95, 9) == pytest.approx(2.262, abs=1e-3)
    assert t_quantile(0.99, 4) == pytest.approx(4.604, abs=1e-3)
    assert t_quantile(0.95, 60) == pytest.approx(2.000, abs=2e-3)
    assert t_quantile(0.99, 120) == pytest.approx(2.617, abs=2e-3)
    assert t_quantile(0.95, 10_000) == pytest.approx(NormalDist().inv_cdf(0.975), abs=1e-3)
    with pytest.raises(ValueError):
        t_quantile(0.95, 0)
    with pytest.raises(ValueError):
        t_quantile(1.5, 3)


def test_95_percent_intervals_cover_the_true_mean_about_95_percent_of_the_time():
    rng = random.Random(8)
    trials = 2000
    covered = sum(estimate([rng.gauss(10, 3) for _ in range(5)], 0.95).covers(10) for _ in range(trials))
    assert 0.93 < covered / trials < 0.97


def test_estimates_skip_undefined_values_and_admit_ignorance_with_one_day():
    assert estimate([1.0, math.nan, 3.0]).mean == 2.0
    single = estimate([4.0])
    assert single.mean == 4.0 and math.isnan(single.half_width)
    assert estimate([math.nan]).replications == 0


def test_the_trunk_is_asked_for_the_lines_callers_held_and_would_have_held():
    answered = call("answered", 20, arrived=0, ivr=40, talk=240)     # IVR, wait, talk: 300 s
    abandoned = call("abandoned", 60, arrived=0, ivr=40)             # IVR, wait: 100 s
    busy = call("blocked", arrived=10)
    still_there = call("unfinished", arrived=0)
    assert (line_seconds(answered), line_seconds(abandoned), line_seconds(busy), line_seconds(still_there)) == (
        300, 100, None, None)
    # 400 line-seconds held, and the busy caller would have held the mean, 200: 600 s in 1800 s
    assert trunk_load([answered, abandoned, busy, still_there], 1800) == pytest.approx(600 / 1800)
    assert trunk_load([busy], 1800) == 0.0
