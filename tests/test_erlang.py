"""Erlang B, C and A: published worked examples, an independent Markov-chain oracle, and
properties every queue must have (more agents never hurt, probabilities stay
probabilities, a thousand agents are no harder than ten)."""
from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sim.erlang as erlang_module
from sim.erlang import erlang_b, erlang_c, lines_needed, offered_load, performance
from tests.markov_oracle import solve_queue

# --- published worked examples ------------------------------------------------------


def test_erlang_b_table_value_for_10_erlangs_on_15_lines():
    # Erlang B tables (e.g. J. R. Boucher, "Traffic System Design Handbook", IEEE Press
    # 1993, Erlang-B tables): A = 10 E, N = 15 lines -> blocking 0.0365.
    assert erlang_b(10.0, 15) == pytest.approx(0.0365, abs=5e-5)


def test_westbay_example_15_lines_at_1_percent_carry_8_108_erlangs():
    # Westbay Engineers, Erlang calculator manual, "How much traffic can a trunk group
    # handle?" (https://erlang.com/calculatormanual/howmuchtrafficcanatrunkgrouphandle.htm):
    # 15 lines at 1 % blocking can be offered at most 8.108 Erlangs in the busy hour.
    assert erlang_b(8.108, 15) == pytest.approx(0.01, abs=1e-5)
    assert erlang_b(8.107, 15) < 0.01 < erlang_b(8.109, 15)


def test_westbay_example_50000_minutes_a_day_need_168_lines_at_3_percent():
    # Westbay Engineers, Erlang calculator manual, "How many lines does a trunk group
    # need?" (https://erlang.com/calculatormanual/minutes_howmanylines.htm): 50,000
    # minutes a day, 19 % of them in the busiest hour (158.333 Erlangs), 3 % blocking
    # -> 168 lines.
    load = 50_000 * 0.19 / 60
    assert load == pytest.approx(158.333, abs=5e-4)
    lines = next(n for n in range(1, 1000) if erlang_b(load, n) <= 0.03)
    assert lines == 168


def test_wolfram_example_30_lines_at_25_erlangs_block_about_5_percent():
    # Wolfram Research, "New in Mathematica 9: Compute Loss Probabilities for a Queue"
    # (wolfram.com/mathematica/new-in-9/enhanced-core-algorithms/
    # compute-loss-probabilities-for-a-queue.html): 30 lines, 25 Erlangs -> "approximately
    # 0.05"; ErlangB[30, 25.] = 0.0526.
    assert erlang_b(25.0, 30) == pytest.approx(0.0526, abs=5e-5)


def test_lines_needed_match_the_published_one_percent_erlang_b_table():
    # the 1 % column of the Erlang B table: 18 lines carry up to 10.437 erlangs,
    # 100 lines up to 84.06 erlangs
    assert (lines_needed(10.4, 0.01), lines_needed(10.5, 0.01)) == (18, 19)
    assert (lines_needed(84.0, 0.01), lines_needed(84.2, 0.01)) == (100, 101)
    assert lines_needed(0.0) == 0


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.01, max_value=800.0), st.floats(min_value=0.001, max_value=0.3))
def test_lines_needed_is_the_fewest_lines_that_meet_the_target(load: float, target: float) -> None:
    lines = lines_needed(load, target)
    assert erlang_b(load, lines) <= target < erlang_b(load, lines - 1)


@pytest.mark.parametrize("target", [0.0, 1.0, -0.1, float("nan")])
def test_lines_needed_refuses_a_target_that_is_not_a_share(target: float) -> None:
    with pytest.raises(ValueError, match="max_blocking"):
        lines_needed(10.0, target)


def test_erlang_b_of_one_line_is_load_over_one_plus_load():
    # the textbook special case B(A, 1) = A / (1 + A)
    assert erlang_b(3.0, 1) == pytest.approx(0.75)


def test_mitan_erlang_c_example_360_calls_per_half_hour():
    # Mitan Ltd, "The Erlang-C formula" (http://www.mitan.co.uk/erlang/elgcmath.htm),
    # reproduced in the Maxima "erlang.mac" worked example: 360 calls per half hour,
    # 240 s calls, 55 agents -> E_C = 0.2387, mean wait 8.184 s, P(wait <= 15 s) = 0.8459.
    figures = performance(720, 240, 55, 15)
    assert figures.offered_load == pytest.approx(48.0)
    assert figures.p_wait == pytest.approx(0.2387, abs=5e-5)
    assert figures.asa == pytest.approx(8.184, abs=5e-4)
    assert figures.service_level == pytest.approx(0.8459, abs=5e-5)
    assert figures.occupancy == pytest.approx(48 / 55)


def test_call_centre_helper_example_100_calls_in_30_minutes_with_11_agents():
    # Call Centre Helper, "Erlang C Formula - Made Simple With an Easy Worked Example":
    # 100 calls per 30 minutes, AHT 180 s -> 10 Erlangs; 11 agents -> a call waits with
    # probability 68.21 %, service level within 20 s 39 %, ASA 122.8 s.
    figures = performance(200, 180, 11, 20)
    assert figures.offered_load == pytest.approx(10.0)
    assert figures.p_wait == pytest.approx(0.6821, abs=5e-5)
    assert figures.service_level == pytest.approx(0.39, abs=5e-3)
    assert figures.asa == pytest.approx(122.8, abs=0.05)


def test_offered_load_is_calls_per_hour_times_hours_per_call():
    assert offered_load(18_500 / 24, 270) == pytest.approx(18_500 * 270 / 86_400)


# --- against the Markov-chain oracle -------------------------------------------------

CASES = [
    dict(calls_per_hour=200, aht_s=180, agents=11, threshold_s=20, patience_s=60),
    dict(calls_per_hour=400, aht_s=180, agents=11, threshold_s=20, patience_s=120),  # overloaded
    dict(calls_per_hour=90, aht_s=240, agents=3, threshold_s=30, patience_s=30),
    dict(calls_per_hour=200, aht_s=180, agents=11, threshold_s=20, lines=15),
    dict(calls_per_hour=300, aht_s=180, agents=11, threshold_s=10, lines=11),  # lines == agents: pure loss
    dict(calls_per_hour=200, aht_s=180, agents=11, threshold_s=20, patience_s=60, lines=14),
    dict(calls_per_hour=200, aht_s=180, agents=11, threshold_s=0, patience_s=45),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()))
def test_every_figure_matches_the_markov_chain(case):
    figures = performance(**case)
    oracle = solve_queue(**case, cap=500)
    assert figures.p_wait == pytest.approx(oracle.p_wait, abs=1e-9)
    assert figures.service_level == pytest.approx(oracle.service_level, abs=1e-9)
    assert figures.asa == pytest.approx(oracle.asa, rel=1e-8, abs=1e-9)
    assert figures.occupancy == pytest.approx(oracle.occupancy, abs=1e-9)
    if "patience_s" in case:
        assert figures.p_abandon == pytest.approx(oracle.p_abandon, abs=1e-9)
    else:
        assert figures.p_abandon is None
    if "lines" in case:
        assert figures.p_block == pytest.approx(oracle.p_block, abs=1e-9)
    else:
        assert figures.p_block is None


def test_erlang_c_matches_the_markov_chain():
    figures = performance(250, 200, 16, 20)
    oracle = solve_queue(250, 200, 16, 20, cap=600)
    assert (figures.p_wait, figures.service_level, figures.asa) == pytest.approx(
        (oracle.p_wait, oracle.service_level, oracle.asa), rel=1e-7)


@settings(max_examples=25, deadline=None)
@given(agents=st.integers(1, 12), load_per_agent=st.floats(0.2, 1.6), aht=st.floats(60, 600),
       patience=st.floats(10, 900), threshold=st.floats(0, 120), spare_lines=st.none() | st.integers(0, 20))
def test_erlang_a_agrees_with_the_markov_chain_anywhere(agents, load_per_agent, aht, patience, threshold,
                                                        spare_lines):
    calls_per_hour = load_per_agent * agents * 3600 / aht
    lines = None if spare_lines is None else agents + spare_lines
    figures = performance(calls_per_hour, aht, agents, threshold, patience_s=patience, lines=lines)
    oracle = solve_queue(calls_per_hour, aht, agents, threshold, patience_s=patience, lines=lines, cap=350)
    assert figures.service_level == pytest.approx(oracle.service_level, abs=1e-7)
    assert figures.p_abandon == pytest.approx(oracle.p_abandon, abs=1e-7)
    assert figures.asa == pytest.approx(oracle.asa, rel=1e-6, abs=1e-7)


def test_the_summation_window_changes_nothing_but_speed(monkeypatch):
    # A heavily overloaded queue with patient callers: the number ahead of an arriving
    # caller peaks in the thousands, so the window skips the first terms; summing
    # every term from zero must give the same figures.
    case = dict(calls_per_hour=3600, aht_s=180, agents=1, threshold_s=20_000, patience_s=3600)
    windowed = performance(**case)
    monkeypatch.setattr(erlang_module, "_WINDOW_SIGMAS", 1e4)  # window reaches back to q = 0
    summed = performance(**case)
    for name in ("p_wait", "service_level", "asa", "occupancy", "p_abandon"):
        assert getattr(windowed, name) == pytest.approx(getattr(summed, name), rel=1e-9, abs=1e-12), name
    assert windowed.asa > 2000  # the case really does queue thousands deep


# --- limits that tie the models together --------------------------------------------


def test_erlang_c_with_as_many_lines_as_agents_blocks_like_erlang_b():
    figures = performance(300, 180, 12, 20, lines=12)
    assert figures.p_block == pytest.approx(erlang_b(15.0, 12), rel=1e-12)
    assert figures.p_wait == 0.0 and figures.service_level == 1.0


def test_very_patient_callers_behave_like_erlang_c():
    # mean patience of 30 years: about 4e-8 of callers give up, and the rest see
    # Erlang C's queue to within the same order
    patient = performance(200, 180, 12, 20, patience_s=1e9)
    classic = performance(200, 180, 12, 20)
    assert patient.service_level == pytest.approx(classic.service_level, abs=1e-6)
    assert patient.asa == pytest.approx(classic.asa, rel=1e-5)
    assert patient.p_abandon < 1e-7


def test_a_trunk_with_many_spare_lines_behaves_like_an_unlimited_queue():
    trunk = performance(200, 180, 12, 20, lines=400)
    classic = performance(200, 180, 12, 20)
    assert trunk.p_block < 1e-12
    assert trunk.service_level == pytest.approx(classic.service_level, abs=1e-10)


def test_erlang_c_with_too_few_agents_is_reported_unstable():
    figures = performance(400, 180, 20, 20)  # 20 Erlangs on 20 agents
    assert not figures.stable
    assert (figures.p_wait, figures.service_level, figures.occupancy) == (1.0, 0.0, 1.0)
    assert math.isinf(figures.asa)


def test_impatient_callers_keep_an_overloaded_queue_stable():
    figures = performance(400, 180, 11, 20, patience_s=120)  # 20 Erlangs on 11 agents
    assert figures.stable
    # abandonment sheds exactly the excess: carried load is at most the 11 agents
    assert figures.p_abandon == pytest.approx(1 - 11 * figures.occupancy / 20, rel=1e-9)
    assert figures.p_abandon > 0.4


def test_no_calls_means_no_waiting():
    figures = performance(0, 180, 3, 20, patience_s=60, lines=5)
    assert (figures.p_wait, figures.service_level, figures.asa, figures.occupancy) == (0.0, 1.0, 0.0, 0.0)
    assert figures.p_abandon == 0.0 and figures.p_block == 0.0


# --- properties ----------------------------------------------------------------------

models = st.sampled_from([{}, {"patience_s": 90.0}, {"patience_s": 30.0, "lines_spare": 5},
                          {"lines_spare": 3}])


def _evaluate(calls_per_hour: float, agents: int, model: dict, threshold: float = 20.0):
    lines = agents + model["lines_spare"] if "lines_spare" in model else None
    return performance(calls_per_hour, 180, agents, threshold, patience_s=model.get("patience_s"), lines=lines)


@settings(max_examples=60, deadline=None)
@given(calls_per_hour=st.floats(1, 5000), agents=st.integers(1, 150), model=models)
def test_another_agent_never_makes_the_queue_worse(calls_per_hour, agents, model):
    fewer, more = _evaluate(calls_per_hour, agents, model), _evaluate(calls_per_hour, agents + 1, model)
    tolerance = 1e-12
    assert more.service_level >= fewer.service_level - tolerance
    assert more.p_wait <= fewer.p_wait + tolerance
    assert more.asa <= fewer.asa * (1 + 1e-9) + tolerance
    assert more.occupancy <= fewer.occupancy + tolerance
    if more.p_abandon is not None:
        assert more.p_abandon <= fewer.p_abandon + tolerance


@settings(max_examples=60, deadline=None)
@given(calls_per_hour=st.floats(1, 5000), extra=st.floats(1, 500), agents=st.integers(1, 150), model=models)
def test_more_calls_never_make_the_queue_better(calls_per_hour, extra, agents, model):
    calm, busy = _evaluate(calls_per_hour, agents, model), _evaluate(calls_per_hour + extra, agents, model)
    tolerance = 1e-12
    assert busy.service_level <= calm.service_level + tolerance
    assert busy.p_wait >= calm.p_wait - tolerance
    assert busy.asa >= calm.asa * (1 - 1e-9) - tolerance
    if busy.p_block is not None:
        assert busy.p_block >= calm.p_block - tolerance


@settings(max_examples=40, deadline=None)
@given(agents=st.integers(1000, 3000), load_per_agent=st.floats(0.5, 1.5), threshold=st.floats(0, 300),
       model=models)
def test_thousands_of_agents_give_finite_probabilities(agents, load_per_agent, threshold, model):
    figures = _evaluate(load_per_agent * agents * 20, agents, model, threshold)  # 180 s AHT: 20 calls/h per Erlang
    for value in (figures.p_wait, figures.service_level, figures.occupancy, figures.p_abandon, figures.p_block):
        assert value is None or 0.0 <= value <= 1.0
    assert not math.isnan(figures.asa) and figures.asa >= 0
    if figures.stable:
        assert figures.service_level >= 1 - figures.p_wait - 1e-12


def _exact_erlang_b_and_c(load: Fraction, agents: int) -> tuple[Fraction, Fraction]:
    """Erlang B and C in exact rational arithmetic: no rounding at all, whatever the size."""
    blocking = Fraction(1)
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking, agents * blocking / (agents - load * (1 - blocking))


@pytest.mark.parametrize("load", [Fraction(900), Fraction(9805, 10), Fraction(999)])
def test_a_thousand_agents_match_exact_rational_arithmetic(load):
    # 1,000 agents: the textbook form A**n / n! overflows a double (1000**1000 / 1000!
    # is about 10**432, a double stops near 10**308) and returns NaN; the recursion
    # must stay exact to the last digits
    agents = 1000
    blocking, waiting = _exact_erlang_b_and_c(load, agents)
    erlangs = float(load)
    assert erlang_b(erlangs, agents) == pytest.approx(float(blocking), rel=1e-12)
    assert erlang_c(erlangs, agents) == pytest.approx(float(waiting), rel=1e-12)
    figures = performance(erlangs * 20, 180, agents, 20)  # 180 s AHT: 20 calls/h per Erlang
    asa = waiting * 180 / (agents - load)
    assert figures.p_wait == pytest.approx(float(waiting), rel=1e-12)
    assert figures.asa == pytest.approx(float(asa), rel=1e-12)
    assert figures.service_level == pytest.approx(
        1 - float(waiting) * math.exp(-float(agents - load) * 20 / 180), rel=1e-12)
    assert 0.0 < figures.p_wait < 1.0 and math.isfinite(figures.asa)


@pytest.mark.parametrize("case", [
    dict(calls_per_hour=20_000, patience_s=120),  # 1000 Erlangs on 1000 agents, critically loaded
    dict(calls_per_hour=21_000, patience_s=300),  # 1050 Erlangs: overloaded, abandonment sheds the excess
    dict(calls_per_hour=20_000, patience_s=120, lines=1100),
])
def test_a_thousand_agents_with_impatient_callers_match_the_markov_chain(case):
    figures = performance(aht_s=180, agents=1000, threshold_s=20, **case)
    oracle = solve_queue(aht_s=180, agents=1000, threshold_s=20, cap=1400, **case)
    assert figures.p_wait == pytest.approx(oracle.p_wait, abs=1e-8)
    assert figures.service_level == pytest.approx(oracle.service_level, abs=1e-8)
    assert figures.asa == pytest.approx(oracle.asa, rel=1e-6)
    assert figures.p_abandon == pytest.approx(oracle.p_abandon, abs=1e-8)
    assert figures.occupancy == pytest.approx(oracle.occupancy, abs=1e-8)
    if "lines" in case:
        assert figures.p_block == pytest.approx(oracle.p_block, abs=1e-8)
    assert 0.01 < figures.p_wait < 0.99, "a case where waiting is neither rare nor certain"


def test_a_large_centre_near_full_load_matches_the_square_root_staffing_picture():
    # Halfin-Whitt: with n = A + beta sqrt(A) agents, P(wait) tends to
    # 1 / (1 + beta Phi(beta) / phi(beta)); at A = 2000 E, beta = 1 that is 0.217.
    load = 2000.0
    figures = performance(load * 20, 180, int(load + math.sqrt(load)), 20)
    beta = 1.0
    phi = math.exp(-beta * beta / 2) / math.sqrt(2 * math.pi)
    cdf = 0.5 * (1 + math.erf(beta / math.sqrt(2)))
    assert figures.p_wait == pytest.approx(1 / (1 + beta * cdf / phi), abs=0.01)
    assert erlang_c(load, int(load + math.sqrt(load))) == figures.p_wait


# --- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("agents", [10.5, -1, 0, True, "11"])
def test_agents_must_be_a_whole_number_of_at_least_one(agents):
    with pytest.raises(ValueError, match="agents"):
        performance(200, 180, agents, 20)


@pytest.mark.parametrize("kwargs, word", [
    (dict(calls_per_hour=-1), "calls_per_hour"),
    (dict(calls_per_hour=math.nan), "calls_per_hour"),
    (dict(aht_s=0), "aht_s"),
    (dict(threshold_s=math.inf), "threshold_s"),
    (dict(patience_s=0), "patience_s"),
    (dict(lines=2.0), "lines"),
])
def test_invalid_traffic_is_refused_naming_the_culprit(kwargs, word):
    arguments = dict(calls_per_hour=200, aht_s=180, agents=11, threshold_s=20) | kwargs
    with pytest.raises(ValueError, match=word):
        performance(**arguments)


def test_fewer_lines_than_agents_is_refused():
    with pytest.raises(ValueError, match="lines .* at least agents"):
        performance(200, 180, 11, 20, lines=10)


def test_erlang_b_refuses_fractional_lines_and_negative_load():
    with pytest.raises(ValueError, match="lines"):
        erlang_b(10.0, 15.5)
    with pytest.raises(ValueError, match="load"):
        erlang_b(-1.0, 15)
