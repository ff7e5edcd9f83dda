"""The simulator against queueing theory: with the assumptions of Erlang C (Poisson
arrivals, exponential handling, no abandonment, one skill) and of Erlang A (the same
with exponential patience), the exact values lie inside the simulation's 99 %
confidence intervals from independent replications (fixed seed: the test repeats).

The exact values come from the birth-death chain of M/M/n(+M) solved numerically here,
independently of the project's own Erlang formulas, and from those formulas
(``sim.erlang``) too: the simulator, the chain and the closed forms must all agree.
"""
from __future__ import annotations

import math

import pytest

from acd.config import load_config_text
from acd.config.sim import settings_for
from sim.confidence import estimate
from sim.erlang import performance
from sim.replications import Replicated, run_days

AGENTS = 5
MEAN_HANDLE = 100.0
ARRIVALS_PER_SECOND = 0.04          # offered load 4 Erlangs on 5 agents: 80 % busy
THRESHOLD = 20.0
PATIENCE = 200.0                    # Erlang A: mean of the exponential patience
CALLS_PER_HOUR = ARRIVALS_PER_SECOND * 3600
REPLICATIONS = 8
LEVEL = 0.99


def single_skill_config(patience: str) -> str:
    agents = "\n".join(f"  '{10 + n}': {{pin: '1234', skills: {{topic:a: 1}}}}" for n in range(AGENTS))
    return f"""\
service: {{name: theory, languages: [el], lines: 10000}}
skills: {{topic:a: only topic}}
queues:
  q:
    requires: {{topic:a: 1}}
    wrapup: 0
    announcements: {{first_after: 0, every: 0}}
agents:
{agents}
sim:
  calls_per_day: {ARRIVALS_PER_SECOND * 86_400}
  interval: 60
  profile: {{"00:00": 1}}
  topics: {{q: 1}}
  ivr_time: {{distribution: constant, mean: 0}}
  talk_time: {{distribution: exponential, mean: {MEAN_HANDLE}}}
  patience: {patience}
  answer_delay: 0
  redial: {{probability: 0}}
  first_contact: 1
  target: {{threshold: {THRESHOLD}, short_abandon: 0}}
"""


def birth_death(n: int, lam: float, mu: float, theta: float, states: int = 600) -> list[float]:
    """Stationary distribution of M/M/n+M (theta = 0: M/M/n) on 0..states-1."""
    weights = [1.0]
    for k in range(1, states):
        death = min(k, n) * mu + max(k - n, 0) * theta
        weights.append(weights[-1] * lam / death)
    total = sum(weights)
    return [w / total for w in weights]


def simulate(patience: str) -> Replicated:
    config = load_config_text(single_skill_config(patience), "<theory>")
    return run_days(config, settings_for(config), REPLICATIONS, seed=11, level=LEVEL)


@pytest.fixture(scope="module")
def erlang_c_days() -> Replicated:
    return simulate("none")


@pytest.fixture(scope="module")
def erlang_a_days() -> Replicated:
    return simulate(f"{{distribution: exponential, mean: {PATIENCE}}}")


def _exact_erlang_c() -> tuple[float, float, float]:
    mu = 1 / MEAN_HANDLE
    p = birth_death(AGENTS, ARRIVALS_PER_SECOND, mu, 0.0)
    p_wait = sum(p[AGENTS:])
    drain = AGENTS * mu - ARRIVALS_PER_SECOND
    return p_wait, p_wait / drain, 1 - p_wait * math.exp(-drain * THRESHOLD)


def test_the_chain_and_the_erlang_module_agree_on_the_exact_values():
    figures = performance(CALLS_PER_HOUR, MEAN_HANDLE, AGENTS, THRESHOLD)
    assert (figures.p_wait, figures.asa, figures.service_level) == pytest.approx(_exact_erlang_c(), rel=1e-9)


def test_probability_of_waiting_matches_erlang_c(erlang_c_days: Replicated):
    p_wait, _, _ = _exact_erlang_c()
    per_day = [total.waited / total.answered for _, total in erlang_c_days.days]
    measured = estimate(per_day, LEVEL)
    assert measured.covers(p_wait), (measured, p_wait)
    assert 0.5 < p_wait < 0.65   # the case is one where waiting is common, so the check has teeth


def test_average_speed_of_answer_matches_erlang_c(erlang_c_days: Replicated):
    _, asa, _ = _exact_erlang_c()
    measured = erlang_c_days.day["asa"]
    assert measured.covers(asa), (measured, asa)


def test_service_level_matches_erlang_c(erlang_c_days: Replicated):
    _, _, service_level = _exact_erlang_c()
    measured = erlang_c_days.day["service_level"]
    assert measured.covers(service_level), (measured, service_level)


def test_nobody_abandons_without_a_patience_limit(erlang_c_days: Replicated):
    assert all(total.abandoned == 0 and total.short_abandoned == 0 for _, total in erlang_c_days.days)


def test_abandonment_matches_erlang_a(erlang_a_days: Replicated):
    theta = 1 / PATIENCE
    p = birth_death(AGENTS, ARRIVALS_PER_SECOND, 1 / MEAN_HANDLE, theta)
    queue_length = sum(max(k - AGENTS, 0) * pk for k, pk in enumerate(p))
    p_abandon = theta * queue_length / ARRIVALS_PER_SECOND
    measured = erlang_a_days.day["abandon_rate"]
    assert measured.covers(p_abandon), (measured, p_abandon)
    assert p_abandon > 0.03


def test_probability_of_waiting_matches_erlang_a(erlang_a_days: Replicated):
    p = birth_death(AGENTS, ARRIVALS_PER_SECOND, 1 / MEAN_HANDLE, 1 / PATIENCE)
    p_wait = sum(p[AGENTS:])
    per_day = [(total.waited + total.abandoned) / (total.offered - total.unfinished) for _, total in erlang_a_days.days]
    measured = estimate(per_day, LEVEL)
    assert measured.covers(p_wait), (measured, p_wait)


def test_service_level_asa_and_occupancy_match_erlang_a(erlang_a_days: Replicated):
    # with short_abandon 0 the report's service level is answered within T / (answered
    # + abandoned), the Erlang A definition of sim.erlang
    exact = performance(CALLS_PER_HOUR, MEAN_HANDLE, AGENTS, THRESHOLD, patience_s=PATIENCE)
    for name, value in (("service_level", exact.service_level), ("asa", exact.asa),
                        ("abandon_rate", exact.p_abandon), ("occupancy", exact.occupancy)):
        measured = erlang_a_days.day[name]
        assert measured.covers(value), (name, measured, value)
    assert exact.service_level < 0.75 and exact.asa > 10, "a case where waiting is common"


def test_occupancy_matches_erlang_c(erlang_c_days: Replicated):
    measured = erlang_c_days.day["occupancy"]
    assert measured.covers(ARRIVALS_PER_SECOND * MEAN_HANDLE / AGENTS), measured
