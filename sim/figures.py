"""The planner's figures per interval and for the whole day, from one simulated day.

Every figure that live reports also show (service level, ASA, abandon rate, short
abandons, longest wait, AHT, occupancy) is computed by ``acd.metrics``, from the same
``CallOutcome`` and ``AgentTime`` records the live side builds, so a simulated day and a
real one mean the same thing. This module only turns simulated calls into those
records and adds what only a simulation knows (redials, escalations, calls still in
the system at midnight, Erlang C's agents needed).

Undefined ratios (``None`` in ``acd.metrics``: no call answered, nobody staffed) are
NaN here, so that averaging over replications can skip them.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from acd.metrics import AgentTime, CallOutcome, ServiceLevelMode, queue_figures
from sim.erlang import lines_needed
from sim.model import CallAttempt, DayResult


@dataclass(frozen=True, slots=True)
class Figures:
    """One row of the report: an interval (``start`` "HH:MM") or the day (``start`` "day")."""

    start: str
    #: calls offered: entered the queue, or got busy at the trunk, in this interval (not
    #: those who found their queue closed: ``closed``)
    offered: int
    blocked: int
    answered: int
    #: abandoned after the short-abandon grace
    abandoned: int
    short_abandoned: int
    exited: int
    #: still in the system at midnight (no outcome yet; in ``offered`` only)
    unfinished: int
    #: (these three are counts; NaN where a day cannot know them: a live day's redials)
    redials: float
    escalated: float
    #: answered after some wait (P(wait) = waited / answered when nobody abandons)
    waited: int
    service_level: float
    asa: float
    longest_wait: float
    aht: float
    #: share of offered calls that got busy
    blocking: float
    abandon_rate: float
    occupancy: float
    staffed_agents: float
    needed_agents: float
    #: erlangs offered to the trunk: lines held by the calls let in, plus what the callers
    #: turned away busy would have held (``trunk_load``)
    line_load: float = math.nan
    #: the fewest lines that turn away at most the target's ``max_blocking`` (Erlang B)
    lines_needed: float = math.nan
    #: callers whose queue was closed (opening hours, holidays): they took the closed
    #: path (message, callback offer), never an agent
    closed: float = 0
    #: of the ``closed``, those whose closed path offers a callback (the IVR's ``closed``
    #: exit): they leave a number to be rung back when the queue opens (NaN: not known,
    #: as in a live day's report)
    callbacks: float = 0

    def as_dict(self) -> dict[str, float | int | str]:
        return asdict(self)


FIGURE_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Figures))


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def outcome(call: CallAttempt, wrapup: Mapping[str, float]) -> CallOutcome | None:
    """The ``acd.metrics`` record of a finished call (None while it is still going on)."""
    if call.outcome == "blocked":
        return CallOutcome(call.id, call.queue, call.arrived, None, call.arrived, blocked=True)
    if call.outcome == "unfinished" or call.enqueued is None or call.wait is None:
        return None
    left_queue = call.enqueued + call.wait
    if call.outcome == "answered":
        return CallOutcome(call.id, call.queue, call.enqueued, left_queue, left_queue + call.talk,
                           handle_time=call.talk + wrapup[call.queue])
    return CallOutcome(call.id, call.queue, call.enqueued, None, left_queue,
                       abandoned=call.outcome == "abandoned", exited=call.outcome == "exited")


def line_seconds(call: CallAttempt) -> float | None:
    """How long a call held a trunk line, from dialling to hanging up (IVR, wait, talk);
    None for a caller turned away busy or still on the line at midnight."""
    if call.outcome in ("blocked", "unfinished") or call.enqueued is None or call.wait is None:
        return None
    return call.enqueued + call.wait + (call.talk if call.outcome == "answered" else 0.0) - call.arrived


def trunk_load(calls: Sequence[CallAttempt], seconds: float) -> float:
    """Erlangs offered to the trunk by ``calls`` over ``seconds``: the line time of those
    let in, and for each caller turned away the mean line time of those let in (they
    would have held a line as long). Offered, not carried: a trunk that blocks callers
    carries less than it is asked to, and lines are planned for what is asked."""
    held = [t for t in map(line_seconds, calls) if t is not None]
    if not held:
        return 0.0
    blocked = sum(1 for c in calls if c.outcome == "blocked")
    return sum(held) * (1 + blocked / len(held)) / seconds


def offered_at(call: CallAttempt) -> float:
    """When a call counts as offered: entering the queue, or being refused at the trunk
    (a call still in the IVR at midnight counts when it dialled)."""
    return call.enqueued if call.enqueued is not None else call.arrived


def _interval_of(call: CallAttempt, length: float, count: int) -> int:
    """The report interval a call counts in (one still open at midnight, in the last)."""
    return min(int(offered_at(call) // length), count - 1)


def figures(calls: Sequence[CallAttempt], start: str, *, threshold: float, short_abandon: float,
            wrapup: Mapping[str, float], busy_seconds: float, staffed_seconds: float,
            staffed_agents: float, needed_agents: float, line_load: float = math.nan,
            lines_needed: float = math.nan, mode: ServiceLevelMode = "answered_plus_abandoned") -> Figures:
    """Count and measure one group of calls (an interval's, or the day's)."""
    everyone = len(calls)
    closed = [c for c in calls if c.outcome == "closed"]
    calls = [c for c in calls if c.outcome != "closed"]
    records = [r for r in (outcome(c, wrapup) for c in calls) if r is not None]
    agents = [AgentTime("all agents", staffed_seconds, min(busy_seconds, staffed_seconds))]
    return figures_of(records, start, threshold=threshold, short_abandon=short_abandon, mode=mode, agents=agents,
                      unfinished=len(calls) - len(records), redials=sum(1 for c in calls if c.attempt > 1),
                      escalated=sum(1 for c in calls if c.escalated), closed=everyone - len(calls),
                      callbacks=sum(1 for c in closed if c.exit_action == "callback"), staffed_agents=staffed_agents, needed_agents=needed_agents, line_load=line_load,
                      lines_needed=lines_needed)


def figures_of(records: Sequence[CallOutcome], start: str, *, threshold: float, short_abandon: float,
               mode: ServiceLevelMode, agents: Sequence[AgentTime], unfinished: int, redials: float,
               escalated: float, closed: float, staffed_agents: float, needed_agents: float,
               line_load: float = math.nan, lines_needed: float = math.nan, callbacks: float = math.nan) -> Figures:
    """One row of figures from finished calls and agents' time, by ``acd.metrics``: the one
    place a row is made, for the simulated day (`figures`) and the live one
    (``acd.reports.day``), so ``acd report`` and ``acd-sim run`` write the same columns
    meaning the same things. What one side cannot know (a live day's redials, a simulated
    day's real tickets) is NaN, written as an empty cell."""
    row = queue_figures(records, threshold, short_abandon_s=short_abandon, mode=mode, agents=agents)
    offered = row.offered + unfinished
    return Figures(
        start=start,
        offered=offered,
        blocked=row.blocked,
        answered=row.answered,
        abandoned=row.abandoned,
        short_abandoned=row.short_abandoned,
        exited=row.exited,
        unfinished=unfinished,
        redials=redials,
        escalated=escalated,
        waited=sum(1 for r in records if r.answered_at is not None and r.answered_at > r.offered_at),
        service_level=_nan(row.service_level),
        asa=_nan(row.asa),
        longest_wait=_nan(row.longest_wait),
        aht=_nan(row.aht),
        blocking=row.blocked / offered if offered else math.nan,
        abandon_rate=_nan(row.abandon_rate),
        occupancy=_nan(row.occupancy),
        staffed_agents=staffed_agents,
        needed_agents=needed_agents,
        line_load=line_load,
        lines_needed=lines_needed,
        closed=closed,
        callbacks=callbacks,
    )


def day_report(day: DayResult, needed: Sequence[float] | None = None) -> tuple[list[Figures], Figures]:
    """The rows of every interval and the day's total row.

    ``needed`` is the analytic agent requirement per interval (Erlang C on the offered
    load), shown next to the simulated staffing; NaN when not computed. The day's
    staffed and needed agents, the trunk's load and the lines needed are the peak of
    the intervals.
    """
    settings = day.settings
    length = settings.interval_seconds
    count = settings.intervals
    buckets: list[list[CallAttempt]] = [[] for _ in range(count)]
    for call in day.attempts:
        buckets[_interval_of(call, length, count)].append(call)
    needed = list(needed) if needed is not None else [math.nan] * count
    common: dict[str, Any] = dict(threshold=settings.target.threshold, short_abandon=settings.target.short_abandon,
                                  mode=settings.target.counts, wrapup=day.wrapup)
    loads = [trunk_load(bucket, length) for bucket in buckets]
    lines = [float(lines_needed(load, settings.target.max_blocking)) for load in loads]
    rows = [
        figures(buckets[i], _clock(i * settings.interval), busy_seconds=day.busy_seconds[i],
                staffed_seconds=day.staffed_seconds[i], staffed_agents=day.staffed_agents[i],
                needed_agents=needed[i], line_load=loads[i], lines_needed=lines[i], **common)
        for i in range(count)
    ]
    total = figures(day.attempts, "day", busy_seconds=sum(day.busy_seconds),
                    staffed_seconds=sum(day.staffed_seconds), staffed_agents=max(day.staffed_agents, default=0),
                    needed_agents=max((n for n in needed if not math.isnan(n)), default=math.nan),
                    line_load=max(loads, default=0.0), lines_needed=max(lines, default=0.0), **common)
    return rows, total


def queue_report(day: DayResult) -> dict[str, Figures]:
    """The day's figures of each queue (topic), for the planner who sees the day miss its
    target and must know which team is short: a pooled figure hides a queue whose own
    agents cannot carry it. Agents serve several queues, so the per-queue rows have no
    occupancy or staffing (NaN). A queue with a threshold of its own
    (``sim.target.queues``) is counted within it."""
    by_queue: dict[str, list[CallAttempt]] = {}
    for call in day.attempts:
        by_queue.setdefault(call.queue, []).append(call)
    return {queue: _queue_row(calls, queue, queue, day) for queue, calls in sorted(by_queue.items())}


def _queue_row(calls: Sequence[CallAttempt], start: str, queue: str, day: DayResult) -> Figures:
    """One queue's row: within the queue's threshold, no agents' figures."""
    target = day.settings.target
    return figures(calls, start, threshold=target.queue_threshold(queue), short_abandon=target.short_abandon,
                   mode=target.counts, wrapup=day.wrapup, busy_seconds=0.0, staffed_seconds=0.0,
                   staffed_agents=math.nan, needed_agents=math.nan)


def queue_interval_report(day: DayResult) -> dict[str, list[Figures]]:
    """Each interval's figures of every queue with targets of its own (``sim.target.queues``),
    within the queue's threshold: what ``acd-sim plan`` checks those targets on."""
    settings = day.settings
    targeted = settings.target.queues
    if not targeted:
        return {}
    length, count = settings.interval_seconds, settings.intervals
    buckets: dict[str, list[list[CallAttempt]]] = {queue: [[] for _ in range(count)] for queue in targeted}
    for call in day.attempts:
        rows = buckets.get(call.queue)
        if rows is not None:
            rows[_interval_of(call, length, count)].append(call)
    return {queue: [_queue_row(calls, _clock(i * settings.interval), queue, day) for i, calls in enumerate(rows)]
            for queue, rows in buckets.items()}
