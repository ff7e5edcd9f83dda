"""A real day's figures per interval, per queue and for the whole day, in exactly the
columns of ``acd-sim run``'s ``figures.csv``: each row is made by
``sim.figures.figures_of`` from ``acd.metrics`` records, the one place both the
simulator and this report make a row, and written by the simulator's own writers
(``sim.output``, ``sim.plots``), so a forecast and the day it forecast line up column
by column.

What the records say and how it maps:

- a call's handle time is its talk time plus its queue's configured wrap-up, as the
  simulator counts it (AHT = talk + wrap-up);
- occupancy and staffed agents come from the agents' state changes (``agent_events``):
  staffed = logged in and not paused, busy = ringing, talking or in wrap-up
  (``acd.metrics.time_kind``); ``staffed_agents`` is the interval's mean number of
  staffed agents (staffed seconds / interval seconds), the day's row the peak;
- ``needed_agents`` is Erlang C for the calls that came (offered per hour, the
  interval's AHT, the plan's service-level target): what the interval needed;
- ``escalated`` counts calls with a back-office ticket;
- not known from the records, so NaN (an empty cell): ``redials`` (the records have
  no caller numbers), ``closed`` (the closed path writes no call row), ``line_load``
  and ``lines_needed`` (no busy signals are recorded). ``blocked`` and ``unfinished``
  are 0: a call still going on has no row yet.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from acd.config.model import Config
from acd.config.sim import PlanTarget
from acd.metrics import AgentTime, CallOutcome
from acd.reports.real_day import RealCall, RealDay, agent_times, boundaries, interval_of, labels
from sim.figures import Figures, figures_of
from sim.replications import Replicated, summarise
from sim.needed import formula_target
from sim.staffing import TargetUnreachable, agents_needed

#: figures the records cannot give (see the module's docstring)
NOT_RECORDED = ("redials", "closed", "line_load", "lines_needed")


class BrokenRow(ValueError):
    """A call row whose times contradict each other."""


def outcome(call: RealCall, wrapup: Mapping[str, float]) -> CallOutcome:
    """The ``acd.metrics`` record of a real call; `BrokenRow` when its times do not add up."""
    try:
        if call.outcome == "answered":
            if call.answered_at is None:
                raise BrokenRow(f"call {call.call_id}: answered, but no answered_at")
            handle = None if call.talk_time is None else call.talk_time + wrapup.get(call.queue, 0.0)
            return CallOutcome(call.call_id, call.queue, call.enqueued_at, call.answered_at,
                               max(call.ended_at, call.answered_at), handle_time=handle)
        if call.outcome not in ("abandoned", "exited"):
            raise BrokenRow(f"call {call.call_id}: unknown outcome {call.outcome!r}")
        return CallOutcome(call.call_id, call.queue, call.enqueued_at, None, max(call.ended_at, call.enqueued_at),
                           abandoned=call.outcome == "abandoned", exited=call.outcome == "exited")
    except ValueError as error:
        raise BrokenRow(str(error)) from error


def _needed(offered: int, aht: float, seconds: float, target: PlanTarget) -> float:
    if offered == 0:
        return 0.0
    if math.isnan(aht) or seconds <= 0:
        return math.nan
    try:
        formula = formula_target(target)
        return math.nan if formula is None else float(agents_needed(offered * 3600 / seconds, aht, formula).agents)
    except TargetUnreachable:
        return math.nan


def _row(calls: Sequence[tuple[RealCall, CallOutcome]], start: str, target: PlanTarget,
         agents: Sequence[AgentTime] | None, seconds: float, staffed_agents: float | None = None,
         queue: str | None = None) -> Figures:
    """One row; ``agents`` None: no agents' figures (a queue's row: agents serve several);
    ``queue``: one queue's calls, counted within its own threshold (``sim.target.queues``)."""
    threshold = target.threshold if queue is None else target.queue_threshold(queue)
    row = figures_of([o for _, o in calls], start, threshold=threshold, short_abandon=target.short_abandon,
                     mode=target.counts, agents=agents or [], unfinished=0,
                     redials=math.nan, escalated=sum(1 for c, _ in calls if c.escalated), closed=math.nan,
                     staffed_agents=math.nan, needed_agents=math.nan)
    if agents is None:
        return row
    staffed = sum(a.staffed_s for a in agents) / seconds if seconds > 0 else 0.0
    return replace(row, staffed_agents=staffed if staffed_agents is None else staffed_agents,
                   needed_agents=_needed(row.answered + row.abandoned + row.exited + row.short_abandoned,
                                         row.aht, seconds, target))


def day_figures(day: RealDay, config: Config, target: PlanTarget, minutes: int = 30, queue: str | None = None,
                warn: Callable[[str], None] = lambda _: None) -> Replicated:
    """The day's rows as a one-day ``Replicated`` (no confidence interval: one real day),
    with each queue's day row; ``queue`` keeps that queue's calls only, and then no
    agents' figures (agents serve several queues). Rows the records contradict are left
    out, each told to ``warn``."""
    wrapup = {name: q.wrapup for name, q in config.queues.items()}
    edges = boundaries(day.day, day.timezone, minutes)
    count = len(edges) - 1
    buckets: list[list[tuple[RealCall, CallOutcome]]] = [[] for _ in range(count)]
    for call in day.calls:
        if queue is not None and call.queue != queue:
            continue
        try:
            record = outcome(call, wrapup)
        except BrokenRow as error:
            warn(f"left out: {error}")
            continue
        buckets[interval_of(call.enqueued_at, edges)].append((call, record))
    times = agent_times(day.changes, edges, day.until) if queue is None else [None] * count
    names = labels(minutes)
    rows = [_row(buckets[i], names[i], target, times[i], edges[i + 1] - edges[i], queue=queue) for i in range(count)]
    everyone = [pair for bucket in buckets for pair in bucket]
    whole_day: list[AgentTime] | None = None
    if queue is None:
        whole_day = [AgentTime("all agents", sum(a.staffed_s for t in times for a in t or []),
                               sum(a.busy_s for t in times for a in t or []))]
    peak = max((r.staffed_agents for r in rows if not math.isnan(r.staffed_agents)), default=math.nan)
    total = _row(everyone, "day", target, whole_day, edges[-1] - edges[0], staffed_agents=peak, queue=queue)
    if whole_day is not None:
        needed = [r.needed_agents for r in rows if not math.isnan(r.needed_agents)]
        total = replace(total, needed_agents=max(needed, default=math.nan))
    by_queue: dict[str, list[tuple[RealCall, CallOutcome]]] = {}
    for pair in everyone:
        by_queue.setdefault(pair[0].queue, []).append(pair)
    queues = {name: _row(pairs, name, target, None, 0.0, queue=name) for name, pairs in sorted(by_queue.items())}
    return summarise([(rows, total)], queue_days=[queues])
