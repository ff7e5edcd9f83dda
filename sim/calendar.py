"""A week or a month of simulated days: ``acd-sim run --days N --from DATE``.

Each date is simulated as its own day: its day type (weekday, saturday, sunday,
holiday by the config's calendars, ``sim.opening``), that type's volume and arrival
profile (``sim.day_volumes``, ``sim.day_profiles``) and that date's opening hours, so a holiday Tuesday sends its
callers down the closed path as the live IVR would. Date k replays seeds
``seed + SEED_STRIDE * k ...``: the days differ from one another, and every run of the
same command gives the same figures.

The period's total pools the calls of its days (a week's service level is its answered
within the threshold over its callers, not the mean of seven percentages), once per
replication, so it carries a confidence interval like a day's figures do.
"""
from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path

from acd.config.model import Config
from acd.config.sim import SimSettings
from sim.confidence import estimate
from sim.figures import Figures
from sim.needed import erlang_c_agents
from sim.opening import day_type, open_minutes, settings_on
from sim.replications import Replicated, run_days

#: seeds of consecutive dates lie this far apart (more than any replication count)
SEED_STRIDE = 1000
#: the columns of days.csv, with their units
COLUMNS: tuple[str, ...] = ("date", "weekday", "day_type", "calls_per_day", "offered", "answered", "abandoned",
                            "closed", "callbacks", "service_level_pct", "asa_s", "abandon_rate_pct",
                            "occupancy_pct", "agent_hours")


@dataclass(frozen=True, slots=True)
class Totals:
    """The additive parts of one replication's day (or period): a total is a sum of these."""

    offered: float
    answered: float
    abandoned: float
    closed: float
    callbacks: float
    within: float           # answered within the threshold
    counted: float          # the service level's denominator: answered + abandoned + exited
    waiting: float          # seconds the answered callers waited in all
    busy_s: float
    staffed_s: float

    @classmethod
    def of(cls, day: Figures, busy_s: float, staffed_s: float) -> "Totals":
        counted = day.answered + day.abandoned + day.exited
        level = 0.0 if math.isnan(day.service_level) else day.service_level
        asa = 0.0 if math.isnan(day.asa) else day.asa
        return cls(day.offered, day.answered, day.abandoned, day.closed, day.callbacks, level * counted, counted,
                   asa * day.answered, busy_s, staffed_s)

    def __add__(self, other: "Totals") -> "Totals":
        return Totals(*(a + b for a, b in zip(_values(self), _values(other))))

    def figures(self) -> dict[str, float]:
        return {"offered": self.offered, "answered": self.answered, "abandoned": self.abandoned,
                "closed": self.closed, "callbacks": self.callbacks,
                "service_level_pct": 100 * self.within / self.counted if self.counted else math.nan,
                "asa_s": self.waiting / self.answered if self.answered else math.nan,
                "abandon_rate_pct": 100 * self.abandoned / self.counted if self.counted else math.nan,
                "occupancy_pct": 100 * self.busy_s / self.staffed_s if self.staffed_s else math.nan,
                "agent_hours": self.staffed_s / 3600}


def _values(totals: Totals) -> tuple[float, ...]:
    return tuple(getattr(totals, name) for name in Totals.__slots__)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SimulatedDate:
    date: date
    day_type: str
    settings: SimSettings
    result: Replicated
    #: per replication
    totals: tuple[Totals, ...]

    def row(self) -> dict[str, float | str]:
        return _row(self.date.isoformat(), self.date.strftime("%A"), self.day_type,
                    self.settings.calls_per_day, self.totals)


def _row(label: str, weekday: str, kind: str, calls: float, totals: tuple[Totals, ...]) -> dict[str, float | str]:
    per = [t.figures() for t in totals]
    row: dict[str, float | str] = {"date": label, "weekday": weekday, "day_type": kind, "calls_per_day": calls}
    for name in per[0]:
        values = [p[name] for p in per if not math.isnan(p[name])]
        row[name] = estimate(values).mean if values else math.nan
    return row


def total_row(days: list[SimulatedDate]) -> dict[str, float | str]:
    """The period pooled, replication by replication (module doc)."""
    replications = len(days[0].totals)
    pooled = []
    for r in range(replications):
        total = days[0].totals[r]
        for simulated in days[1:]:
            total = total + simulated.totals[r]
        pooled.append(total)
    return _row("total", f"{len(days)} days", "", sum(d.settings.calls_per_day for d in days), tuple(pooled))


def simulate_days(config: Config, settings: SimSettings, first: date, count: int, replications: int, *,
                  calls_per_day: float | None = None, processes: int = 1,
                  progress: Callable[[float], None] | None = None) -> list[SimulatedDate]:
    """Simulate ``count`` dates from ``first`` (module doc); ``calls_per_day`` overrides
    every day type's volume. ``settings`` are the config's, not one date's."""
    days = []
    for k in range(count):
        when = first + timedelta(days=k)
        today = replace(settings_on(settings, config, when, calls_per_day), seed=settings.seed + SEED_STRIDE * k)
        needed = erlang_c_agents(config, today, opening=open_minutes(config, when))
        report = None if progress is None else (lambda f, k=k: progress((k + f) / count))
        result = run_days(config, today, replications, today.seed, needed=needed, progress=report,
                          keep_results=True, day=when, jobs=processes)
        totals = tuple(Totals.of(total, sum(run.busy_seconds), sum(run.staffed_seconds))
                       for (_, total), run in zip(result.days, result.results))
        result.results.clear()     # a month of calls would not fit in memory
        days.append(SimulatedDate(when, day_type(config, when), today, result, totals))
    return days


def write_days(days: list[SimulatedDate], path: Path) -> Path:
    """days.csv: one row per date and the period's total (means over the replications)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in [*(d.row() for d in days), total_row(days)]:
            writer.writerow({k: (round(v, 2) if isinstance(v, float) and not math.isnan(v) else
                                 "" if isinstance(v, float) else v) for k, v in row.items()})
    return path
