"""The metric definitions on small hand-built days, where the right answer can be
counted on one's fingers."""
from __future__ import annotations

import pytest

from acd.metrics import (
    AgentTime,
    CallOutcome,
    abandon_rate,
    average_handle_time,
    average_speed_of_answer,
    is_short_abandon,
    longest_wait,
    occupancy,
    queue_figures,
    service_level,
    short_abandons,
    wait_time,
)


def answered(call_id: str, offered: float, wait: float, handle: float | None = 200.0) -> CallOutcome:
    return CallOutcome(call_id, "pensions", offered, offered + wait, offered + wait + (handle or 100.0),
                       handle_time=handle)


def abandoned(call_id: str, offered: float, after: float) -> CallOutcome:
    return CallOutcome(call_id, "pensions", offered, None, offered + after, abandoned=True)


def exited(call_id: str, offered: float, after: float) -> CallOutcome:
    return CallOutcome(call_id, "pensions", offered, None, offered + after, exited=True)


def blocked(call_id: str, offered: float) -> CallOutcome:
    return CallOutcome(call_id, "pensions", offered, None, offered, blocked=True)


# 10 offered: 5 answered (waits 0, 10, 20, 21, 60), 2 late abandons (30 s, 90 s),
# 1 short abandon (4 s), 1 exited after 120 s, 1 blocked.
DAY = [
    answered("a1", 0, 0, 180), answered("a2", 5, 10, 240), answered("a3", 10, 20, 300),
    answered("a4", 15, 21, 120), answered("a5", 20, 60, None),
    abandoned("b1", 25, 30), abandoned("b2", 30, 90), abandoned("b3", 35, 4),
    exited("c1", 40, 120), blocked("d1", 45),
]


def test_service_level_counts_late_abandons_and_exits_but_not_short_abandons():
    # answered within 20 s (0, 10, 20) = 3; denominator 5 answered + 2 late + 1 exited
    assert service_level(DAY, 20) == pytest.approx(3 / 8)


def test_a_call_answered_exactly_at_the_threshold_is_within_it():
    assert service_level([answered("x", 0, 20)], 20) == 1.0
    assert service_level([answered("x", 0, 20.001)], 20) == 0.0


def test_service_level_answered_only_mode_ignores_everyone_who_gave_up():
    assert service_level(DAY, 20, mode="answered_only") == pytest.approx(3 / 5)


def test_service_level_offered_mode_divides_by_everyone_who_dialled():
    assert service_level(DAY, 20, mode="offered") == pytest.approx(3 / 10)


def test_short_abandon_grace_is_configurable_and_inclusive():
    assert is_short_abandon(abandoned("x", 0, 5), 5)
    assert not is_short_abandon(abandoned("x", 0, 5.5), 5)
    # a 40 s grace turns the 30 s abandon into a short one as well
    assert short_abandons(DAY, 40) == 2
    assert service_level(DAY, 20, short_abandon_s=40) == pytest.approx(3 / 7)
    # no grace at all: every abandon counts against the line
    assert service_level(DAY, 20, short_abandon_s=0) == pytest.approx(3 / 9)


def test_abandon_rate_is_late_abandons_over_callers_who_had_a_chance():
    assert abandon_rate(DAY) == pytest.approx(2 / 8)
    assert short_abandons(DAY) == 1


def test_asa_is_the_mean_wait_of_answered_calls_only():
    assert average_speed_of_answer(DAY) == pytest.approx((0 + 10 + 20 + 21 + 60) / 5)


def test_aht_averages_the_calls_whose_handle_time_is_known():
    assert average_handle_time(DAY) == pytest.approx((180 + 240 + 300 + 120) / 4)


def test_longest_wait_includes_callers_who_were_never_answered():
    assert longest_wait(DAY) == 120  # the exited caller
    assert wait_time(blocked("d", 0)) is None


def test_occupancy_weighs_agents_by_their_staffed_time():
    agents = [AgentTime("1001", staffed_s=3600, busy_s=3000), AgentTime("1002", staffed_s=600, busy_s=0)]
    assert occupancy(agents) == pytest.approx(3000 / 4200)


@pytest.mark.parametrize("figure", [
    lambda calls: service_level(calls, 20),
    lambda calls: service_level(calls, 20, mode="answered_only"),
    lambda calls: service_level(calls, 20, mode="offered"),
    average_speed_of_answer, abandon_rate, average_handle_time, longest_wait,
])
def test_every_ratio_of_nothing_is_undefined_not_zero(figure):
    assert figure([]) is None


def test_only_short_abandons_leave_service_level_undefined():
    assert service_level([abandoned("x", 0, 2)], 20) is None
    assert occupancy([]) is None
    assert occupancy([AgentTime("1001", 0, 0)]) is None


def test_queue_figures_summarise_an_interval_by_offer_time():
    agents = [AgentTime("1001", 1800, 1500)]
    row = queue_figures(DAY, 20, start=0, end=30, agents=agents)  # offered at 0, 5, 10, 15, 20, 25
    assert (row.offered, row.answered, row.abandoned, row.short_abandoned, row.exited, row.blocked) == (6, 5, 1, 0, 0, 0)
    assert row.answered_within_threshold == 3
    assert row.service_level == pytest.approx(3 / 6)
    assert row.abandon_rate == pytest.approx(1 / 6)
    assert row.asa == pytest.approx(111 / 5)
    assert row.longest_wait == 60
    assert row.occupancy == pytest.approx(1500 / 1800)
    assert queue_figures(DAY, 20).as_dict()["offered"] == 10


def test_an_empty_interval_has_counts_of_zero_and_undefined_ratios():
    row = queue_figures(DAY, 20, start=1000, end=2000)
    assert row.offered == 0 and row.answered == 0
    assert row.service_level is None and row.asa is None and row.occupancy is None


@pytest.mark.parametrize("build, message", [
    (lambda: CallOutcome("x", "q", 10, None, 20), "exactly one of"),
    (lambda: CallOutcome("x", "q", 10, 15, 20, abandoned=True), "exactly one of"),
    (lambda: CallOutcome("x", "q", 10, 5, 20), "answered_at"),
    (lambda: CallOutcome("x", "q", 10, None, 5, abandoned=True), "before offered_at"),
    (lambda: CallOutcome("x", "q", 10, None, 20, exited=True, handle_time=30), "only an answered call"),
    (lambda: CallOutcome("x", "q", float("nan"), None, 20, blocked=True), "finite"),
    (lambda: AgentTime("1001", 100, 200), "busy_s"),
])
def test_impossible_outcomes_are_refused(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_bad_report_parameters_are_refused():
    with pytest.raises(ValueError, match="mode"):
        service_level(DAY, 20, mode="answered")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="threshold"):
        service_level(DAY, -1)
    with pytest.raises(ValueError, match="short_abandon"):
        abandon_rate(DAY, -5)
    with pytest.raises(ValueError, match="before its start"):
        queue_figures(DAY, 20, start=10, end=0)
