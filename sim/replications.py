"""Several independent days of the same plan, and the confidence in their figures.

One simulated day is one sample: a planner needs to know how far its figures could be
from the truth, so we run R days with seeds ``seed, seed+1, ...`` (the same seed always
gives the same day) and report each figure's mean with a t interval.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from acd.config.model import Config
from acd.config.sim import SimSettings
from sim.confidence import Estimate, estimate
from sim.figures import FIGURE_NAMES, Figures, day_report, queue_report
from sim.model import CallCentreDay, DayResult

#: figures averaged over replications (the rest, like ``start``, are labels)
NUMERIC_FIGURES: tuple[str, ...] = tuple(name for name in FIGURE_NAMES if name != "start")


@dataclass(frozen=True, slots=True)
class Replicated:
    """Figures of R days: per replication, and as estimates per interval and for the day."""

    days: list[tuple[list[Figures], Figures]]
    intervals: list[dict[str, Estimate]]
    day: dict[str, Estimate]
    starts: list[str]
    level: float
    #: queue -> the day's estimates of that queue alone (empty when not computed)
    queues: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    #: the simulated days themselves, when asked for (``keep_results``)
    results: list[DayResult] = field(default_factory=list)


def run_days(config: Config, settings: SimSettings, replications: int, seed: int, *,
             calls_per_day: float | None = None, staffing: Sequence[int] | None = None,
             needed: Sequence[float] | None = None, level: float = 0.95,
             progress: Callable[[float], None] | None = None, keep_results: bool = False,
             day: date | None = None) -> Replicated:
    """Simulate ``replications`` days (of the date ``day``'s opening hours; None: every
    queue open all day); ``progress`` is told the fraction done (0..1)."""
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    days: list[tuple[list[Figures], Figures]] = []
    queue_days: list[dict[str, Figures]] = []
    results: list[DayResult] = []
    for r in range(replications):
        model = CallCentreDay(config, settings, seed + r, calls_per_day=calls_per_day,
                              staffing=tuple(staffing) if staffing is not None else None, day=day)
        report: Callable[[float], None] | None = None
        if progress is not None:
            report = (lambda seconds, r=r: progress((r + seconds / 86_400.0) / replications))
        result: DayResult = model.run(report)
        days.append(day_report(result, needed))
        queue_days.append(queue_report(result))
        if keep_results:
            results.append(result)
    summary = summarise(days, level, queue_days)
    summary.results.extend(results)
    return summary


def summarise(days: list[tuple[list[Figures], Figures]], level: float = 0.95,
              queue_days: list[dict[str, Figures]] | None = None) -> Replicated:
    count = len(days[0][0])
    intervals = [
        {name: estimate([float(getattr(rows[i], name)) for rows, _ in days], level) for name in NUMERIC_FIGURES}
        for i in range(count)
    ]
    day = {name: estimate([float(getattr(total, name)) for _, total in days], level) for name in NUMERIC_FIGURES}
    queues: dict[str, dict[str, Estimate]] = {}
    for queue in sorted({name for per_day in queue_days or [] for name in per_day}):
        # a day without a single call for the queue (tiny runs only) is left out
        rows = [per_day[queue] for per_day in queue_days or [] if queue in per_day]
        queues[queue] = {name: estimate([float(getattr(row, name)) for row in rows], level) for name in NUMERIC_FIGURES}
    return Replicated(days, intervals, day, [row.start for row in days[0][0]], level, queues)
