"""The live benchmark's ruler: figures read from the phones' event logs."""
from __future__ import annotations

import math

from bench.phone_figures import answered_callers, call_intervals, peak_concurrency, percentile, routing_latencies
from rig.sipp import PhoneEvent


def agent(at: float, event: str, phone: str, caller: str = "citizen-1", call_id: str = "x") -> PhoneEvent:
    return PhoneEvent(at, event, phone, caller, call_id)


def test_latency_runs_from_the_agents_hang_up_to_the_same_agents_next_invite():
    events = [agent(0.0, "invite", "agent-1"), agent(0.1, "invite", "agent-2"),
              agent(5.0, "hangup", "agent-1"), agent(5.5, "hangup", "agent-2"),
              agent(5.512, "invite", "agent-2"),      # agent-2 rung 12 ms after its own hang-up
              agent(5.520, "invite", "agent-1")]      # agent-1 520 ms after its own
    latencies = routing_latencies(events, waiting_from=1.0, waiting_until=6.0)
    assert sorted(round(x) for x in latencies) == [12, 520]


def test_hang_ups_while_nobody_waited_do_not_count():
    events = [agent(0.5, "hangup", "agent-1"), agent(30.0, "invite", "agent-1")]
    assert routing_latencies(events, waiting_from=1.0, waiting_until=60.0) == []


def test_answered_counts_each_citizen_once_and_only_when_an_agent_answered():
    events = [agent(0.0, "invite", "agent-1", "c-1"), agent(0.2, "answer", "agent-1", "c-1"),
              agent(0.0, "invite", "agent-2", "c-2"),                                   # rang only
              agent(9.0, "invite", "agent-3", "c-1"), agent(9.2, "answer", "agent-3", "c-1")]
    assert answered_callers(events) == {"c-1"}


def test_peak_concurrency_counts_calls_up_at_the_same_moment():
    assert peak_concurrency([(0, 10), (1, 2), (3, 11), (10, 12)]) == 2
    assert peak_concurrency([(0, 10), (1, 5), (3, 11)]) == 3
    assert peak_concurrency([(0, 1), (1, 2)]) == 1
    assert peak_concurrency([]) == 0


def test_citizen_call_lasts_from_dialling_to_either_side_hanging_up():
    events = [PhoneEvent(0.0, "invite", "citizen-1", "q-x", "a"), PhoneEvent(9.0, "bye", "citizen-1", "q-x", "a"),
              PhoneEvent(1.0, "invite", "citizen-2", "q-x", "b"), PhoneEvent(4.0, "hangup", "citizen-2", "q-x", "b"),
              PhoneEvent(2.0, "invite", "citizen-3", "q-x", "c")]
    assert sorted(call_intervals(events)) == [(0.0, 9.0), (1.0, 4.0), (2.0, math.inf)]


def test_percentile_is_a_measured_value_by_nearest_rank():
    values = list(range(1, 101))
    assert percentile(values, 0.99) == 99 and percentile(values, 0.5) == 50
    assert math.isnan(percentile([], 0.99))
