"""Today's figures kept one call at a time equal the batch computation over the same
calls (acd.metrics.queue_figures), on random days, so a wallboard's cheap read tells the
same story as the report."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acd.live_figures import LiveFigures
from acd.metrics import CallOutcome, RunningFigures, queue_figures
from tests.engine_helpers import make_config

DAY = 86_400.0
QUEUES = ("pensions", "labour")
#: the queues' config: these tests add finished calls, whose handle time they carry
CONFIG = make_config("".join(f"{q}: {{requires: {{topic:a: 1}}}}\n" for q in QUEUES),
                     "'11': {pin: '1234', skills: {topic:a: 1}}\n")


@st.composite
def outcomes(draw: st.DrawFn, start: float = 0.0, length: float = DAY) -> CallOutcome:
    offered = draw(st.floats(start, start + length, allow_nan=False))
    wait = draw(st.floats(0, 600, allow_nan=False))
    fate = draw(st.sampled_from(("answered", "abandoned", "exited", "blocked")))
    queue = draw(st.sampled_from(QUEUES))
    call_id = f"c{draw(st.integers(0, 10**9))}"
    if fate == "answered":
        handle = draw(st.one_of(st.none(), st.floats(0, 900, allow_nan=False)))
        return CallOutcome(call_id, queue, offered, offered + wait, offered + wait + (handle or 0.0), handle_time=handle)
    if fate == "blocked":
        return CallOutcome(call_id, queue, offered, None, offered, blocked=True)
    return CallOutcome(call_id, queue, offered, None, offered + wait, abandoned=fate == "abandoned",
                       exited=fate == "exited")


@given(st.lists(outcomes(), max_size=200), st.floats(0, 120), st.floats(0, 30),
       st.sampled_from(("answered_plus_abandoned", "answered_only", "offered")))
def test_running_figures_equal_the_batch_ones(calls, threshold, grace, mode):
    running = RunningFigures(threshold, short_abandon_s=grace, mode=mode)
    for call in calls:
        running.add(call)
    assert running.figures() == queue_figures(calls, threshold, short_abandon_s=grace, mode=mode)


def test_running_figures_refuse_what_the_batch_refuses():
    for bad in ({"threshold_s": -1}, {"threshold_s": 20, "short_abandon_s": float("nan")},
                {"threshold_s": 20, "mode": "median"}):
        with pytest.raises(ValueError):
            RunningFigures(**bad)  # type: ignore[arg-type]


@settings(max_examples=60)
@given(st.lists(st.tuples(outcomes(0, 2 * DAY), st.booleans()), max_size=150), st.floats(5, 60))
def test_todays_live_figures_follow_the_day_and_reset_at_midnight(steps, threshold):
    """Calls finish over two days, in order of their end; the wallboard reads at random
    moments with the last midnight; each read equals the batch figures over the calls
    offered since that midnight."""
    live = LiveFigures(CONFIG)
    steps = sorted(steps, key=lambda step: step[0].ended_at)
    for done, (call, read) in enumerate(steps, 1):
        live.add(call)
        if not read:
            continue
        midnight = (call.ended_at // DAY) * DAY
        live.forget_before(midnight)
        for queue in (*QUEUES, None):
            expected = queue_figures([c for c, _ in steps[:done] if queue is None or c.queue == queue],
                                     threshold, start=midnight, end=float("inf"))
            assert live.figures(threshold, queue, since=midnight) == expected
            assert live.batch_figures(threshold, queue, since=midnight) == expected


class _NoPass(list[CallOutcome]):
    """The day's calls, refusing to be walked: a read that recomputes would fail."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        raise AssertionError("a read walked over the whole day")


def test_a_read_does_not_walk_the_day():
    live = LiveFigures(CONFIG)
    calls = [CallOutcome(f"c{i}", "pensions", i * 4.0, i * 4.0 + i % 30, i * 4.0 + 200) for i in range(18_000)]
    for call in calls[:-1]:
        live.add(call)
    live.forget_before(0.0)
    live.figures(20, "pensions", since=0.0)            # the first read builds the running figure
    live.outcomes = _NoPass(live.outcomes)
    live.add(calls[-1])
    live.forget_before(0.0)                             # same midnight: nothing to drop
    assert live.figures(20, "pensions", since=0.0) == queue_figures(calls, 20)
