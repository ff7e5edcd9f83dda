"""Several independent days of the same plan, and the confidence in their figures.

One simulated day is one sample: a planner needs to know how far its figures could be
from the truth, so we run R days with seeds ``seed, seed+1, ...`` (the same seed always
gives the same day) and report each figure's mean with a t interval.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date

from acd.config.model import Config
from acd.config.sim import SimSettings
from sim.confidence import Estimate, estimate
from sim.figures import FIGURE_NAMES, Figures, day_report, queue_interval_report, queue_report
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
    #: queue -> its estimates per interval, for the queues with targets of their own
    #: (``sim.target.queues``; empty without)
    queue_intervals: dict[str, list[dict[str, Estimate]]] = field(default_factory=dict)


def run_days(config: Config, settings: SimSettings, replications: int, seed: int, *,
             calls_per_day: float | None = None, staffing: Sequence[int] | None = None,
             needed: Sequence[float] | None = None, level: float = 0.95,
             progress: Callable[[float], None] | None = None, keep_results: bool = False,
             day: date | None = None, jobs: int = 1) -> Replicated:
    """Simulate ``replications`` days (of the date ``day``'s opening hours; None: every
    queue open all day); ``progress`` is told the fraction done (0..1). With ``jobs``
    above 1 the days run in that many processes (each day is independent and fully
    determined by its seed, so the figures are the same as in one process)."""
    if replications < 1:
        raise ValueError(f"replications must be at least 1, got {replications}")
    if jobs < 1:
        raise ValueError(f"jobs must be at least 1, got {jobs}")
    task = _Day(config, settings, calls_per_day, tuple(staffing) if staffing is not None else None,
                tuple(needed) if needed is not None else None, day, keep_results)
    if jobs == 1 or replications == 1:
        outcomes = []
        for r in range(replications):
            report: Callable[[float], None] | None = None
            if progress is not None:
                report = (lambda seconds, r=r: progress((r + seconds / 86_400.0) / replications))
            outcomes.append(task(seed + r, report))
    else:
        with ProcessPoolExecutor(max_workers=min(jobs, replications)) as pool:
            futures = [pool.submit(task, seed + r) for r in range(replications)]
            for done, _ in enumerate(as_completed(futures), 1):
                if progress is not None:
                    progress(done / replications)
            outcomes = [future.result() for future in futures]
    summary = summarise([o[0] for o in outcomes], level, [o[1] for o in outcomes], [o[3] for o in outcomes])
    summary.results.extend(o[2] for o in outcomes if o[2] is not None)
    return summary


@dataclass(frozen=True, slots=True)
class _Day:
    """One replication's work, picklable for a process pool."""

    config: Config
    settings: SimSettings
    calls_per_day: float | None
    staffing: tuple[int, ...] | None
    needed: tuple[float, ...] | None
    day: date | None
    keep: bool

    def __call__(self, seed: int, progress: Callable[[float], None] | None = None
                 ) -> tuple[tuple[list[Figures], Figures], dict[str, Figures], DayResult | None,
                            dict[str, list[Figures]]]:
        model = CallCentreDay(self.config, self.settings, seed, calls_per_day=self.calls_per_day,
                              staffing=self.staffing, day=self.day)
        result = model.run(progress)
        return (day_report(result, self.needed), queue_report(result), result if self.keep else None,
                queue_interval_report(result))


def summarise(days: list[tuple[list[Figures], Figures]], level: float = 0.95,
              queue_days: list[dict[str, Figures]] | None = None,
              queue_interval_days: list[dict[str, list[Figures]]] | None = None) -> Replicated:
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
    queue_intervals = {
        queue: [{name: estimate([float(getattr(per_day[queue][i], name)) for per_day in queue_interval_days or []],
                                level) for name in NUMERIC_FIGURES}
                for i in range(count)]
        for queue in sorted({name for per_day in queue_interval_days or [] for name in per_day})
    }
    return Replicated(days, intervals, day, [row.start for row in days[0][0]], level, queues,
                      queue_intervals=queue_intervals)
