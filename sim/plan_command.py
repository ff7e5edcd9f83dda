"""``acd-sim plan``: the agents per interval that meet the target, checked by simulation.

    acd-sim plan --config examples/1555.yaml [--calls-per-day N] [--replications R]
                 [--seed S] [--lines L] [--rounds K] --out DIR

writes the figures of the checked plan like ``acd-sim run`` does, plus
``DIR/plan.csv`` (interval, Erlang C agents, planned agents, simulated service level),
``DIR/teams.csv`` (the planned agents per team and interval) and ``DIR/staffing.yaml``, a
``staffing:`` table to paste into the config's ``sim:``
section (then ``acd-sim run`` simulates that staffing).
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from acd.config.model import Config
from acd.config.sim import PlanTarget, SimSettings
from sim.cli_options import whole_number
from sim.confidence import Estimate
from sim.isa import isa
from sim.plan import Goal, Plan, figures_for, goals, missed_on_the_day, search
from sim.opening import open_minutes, serving
from sim.roster import by_team, on_duty
from sim.run_command import (add_arguments, jobs, plural, prepare, summary,
                              write_outputs)


#: ``--method`` -> the search; both take the same arguments and return a ``Plan``
METHODS = {"offered-load": search, "isa": isa}
#: ``--method auto`` (the default): the ISA, unless the plan asks what only the
#: offered-load search can do (docs/planning.md, "Which one")
AUTO = "auto"


def chosen_method(requested: str, settings: SimSettings, rounds: int) -> tuple[str, str]:
    """The method ``--method requested`` runs, and why (for the printout)."""
    if requested != AUTO:
        return requested, "asked for"
    if settings.target.max_abandon is not None:
        return "offered-load", "the default; the ISA has no abandonment target (max_abandon)"
    if settings.target.queues:
        return "offered-load", "the default; the ISA reads the whole line, not a queue's own targets"
    if rounds < 2:
        return "offered-load", "the default; the ISA needs 2 rounds (--rounds)"
    return "isa", "the default: time-stable service at the same agent-hours (docs/planning.md)"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("plan", help="find the agents per interval that meet the service-level target",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--rounds", type=whole_number, default=12, help="at most this many simulate-and-correct rounds")
    parser.add_argument("--method", choices=(AUTO, *METHODS), default=AUTO,
                        help="isa: the iterative staffing algorithm of Feldman, Mandelbaum, Massey and Whitt "
                             "(2008) on the simulated number in system; offered-load: the stationary formula at "
                             "the simulated offered load, corrected by simulation; auto (default): isa, or "
                             "offered-load for a max_abandon target or targets of queues (docs/planning.md says why)")
    parser.set_defaults(handler=main, replications=3)


def write_plan(plan: Plan, out: Path, interval_minutes: int, config: Config, day: date | None = None) -> list[Path]:
    """plan.csv (per interval: Erlang C, planned, simulated service level), teams.csv
    (the planned head count per team, as the simulation put them on duty) and
    staffing.yaml (the table to paste into the config)."""
    out.mkdir(parents=True, exist_ok=True)
    table_path = out / "plan.csv"
    with table_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["interval", "erlang_c_agents", "planned_agents", "service_level_pct", "service_level_pct_ci"])
        for start, erlang, planned, figures in zip(plan.check.starts, plan.erlang_c, plan.staffing, plan.check.intervals):
            level = figures["service_level"]
            writer.writerow([start, int(erlang), planned,
                             "" if math.isnan(level.mean) else round(level.mean * 100, 2),
                             "" if math.isnan(level.half_width) else round(level.half_width * 100, 2)])
    teams_path = out / "teams.csv"
    first = serving(config, open_minutes(config, day), interval_minutes) if day is not None else None
    rows = by_team(config.agents, on_duty(config.agents, interval_minutes, plan.staffing, first))
    with teams_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["interval", *rows[0]])
        for start, row in zip(plan.check.starts, rows):
            writer.writerow([start, *row.values()])
    yaml_path = out / "staffing.yaml"
    lines = ["# agents on duty from each time on; paste under the config's sim: section",
             "staffing:"]
    lines += [f'  "{time}": {count}' for time, count in plan.staffing_table(interval_minutes).items()]
    yaml_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [table_path, teams_path, yaml_path]


class DayCounter:
    """The plan's progress bar: simulated days, moving with every replication of every
    round (the number of rounds is not known in advance, so the bar counts, it does
    not fill)."""

    def __init__(self, enabled: bool) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm  # type: ignore[import-untyped]

            self._bar = tqdm(desc="planning", unit=" days", file=sys.stderr,
                             bar_format="{desc}, {n:.1f} days simulated [{elapsed}]")
        self._before = 0.0
        self._replications = 0
        self._shown = 0.0

    def round(self, number: int, replications: int) -> None:
        self._before, self._replications = self._shown, replications
        if self._bar is not None:
            self._bar.set_description_str(f"planning: round {number}")

    def __call__(self, fraction: float) -> None:
        days = self._before + fraction * self._replications
        if self._bar is not None and days > self._shown:
            self._bar.update(days - self._shown)
        self._shown = max(self._shown, days)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def agent_hours(staffing: tuple[int, ...], interval_minutes: int) -> float:
    return sum(staffing) * interval_minutes / 60


def describe(plan: Plan, interval_minutes: int, target: PlanTarget) -> str:
    """The rounds of the search and the planned day against each target, the line's and
    each queue's own, for planners."""
    lines = []
    for number, staffing in enumerate(plan.history, 1):
        lines.append(f"round {number}: peak {max(staffing)} agents, {agent_hours(staffing, interval_minutes):.1f} "
                     f"agent-hours")
    rounds = f"{plan.rounds} {plural(plan.rounds, 'round')}"
    state = f"converged after {rounds}" if plan.converged else f"stopped after {rounds}"
    erlang = [n for n in plan.erlang_c if not math.isnan(n)]
    formula = (f"Erlang C alone: peak {max(erlang):.0f}, {sum(erlang) * interval_minutes / 60:.1f} agent-hours"
               if erlang else "Erlang C alone: none, it has no abandonment")
    lines.append(f"plan {state} ({plan.replications} {plural(plan.replications, 'replication')} a round): "
                 f"peak {max(plan.staffing)} agents, {agent_hours(plan.staffing, interval_minutes):.1f} agent-hours "
                 f"({formula})")
    loaded = [i for i, figures in enumerate(plan.check.intervals) if figures["service_level"].replications]
    levels = [plan.check.intervals[i]["service_level"].mean for i in loaded]
    if levels and target.service_level is not None:
        below = sum(1 for level in levels if level < target.service_level)
        lines.append(f"target {target.service_level:.0%} within {target.threshold:g} s: "
                     f"day {plan.check.day['service_level'].mean:.1%}, intervals {min(levels):.1%} to "
                     f"{max(levels):.1%}, {below} of {len(levels)} below the target (simulated means)")
    line, *queue_goals = goals(target)
    # its service level is the "target" line above, in the form planners know
    parts = _against(plan.check.day, plan.check.intervals, replace(line, service_level=None))
    if parts:
        lines.append("line: " + "; ".join(parts))
    for goal in queue_goals:
        day, intervals = figures_for(plan.check, goal)
        lines.append(f"queue {goal.queue}: "
                     + ("no calls simulated" if day is None else "; ".join(_against(day, intervals, goal))))
    return "\n".join(lines)


def _against(day: dict[str, Estimate], intervals: list[dict[str, Estimate]], goal: Goal) -> list[str]:
    """Each target of ``goal``, with the simulated day's mean and how many interval means miss it."""
    parts = []
    for name, bound, floor, text in (("service_level", goal.service_level, True, f"within {goal.threshold:g} s"),
                                     ("asa", goal.asa, False, "ASA"),
                                     ("abandon_rate", goal.max_abandon, False, "abandonment"),
                                     ("occupancy", goal.max_occupancy, False, "occupancy")):
        if bound is None:
            continue
        means = [f[name].mean for f in intervals if f[name].replications and not math.isnan(f[name].mean)]
        missed = sum(1 for m in means if (m < bound if floor else m > bound))
        show = (lambda v: f"{v:.1f} s") if name == "asa" else (lambda v: f"{v:.1%}")
        shown = "nan" if math.isnan(day[name].mean) else show(day[name].mean)
        parts.append(f"{text} {shown} against {'at least' if floor else 'at most'} {show(bound)} "
                     f"(day), {missed} of {len(means)} intervals {'below' if floor else 'above'} (simulated means)")
    return parts


def main(args: argparse.Namespace) -> int:
    if (prepared := prepare(args)) is None:
        return 2
    config, settings, day = prepared
    method, why = chosen_method(args.method, settings, args.rounds)
    counter = DayCounter(not args.quiet)
    try:
        plan = METHODS[method](config, settings, args.replications, max_rounds=args.rounds, day=day,
                                    jobs=jobs(args), on_round=lambda n, _staffing, days: counter.round(n, days),
                                    progress=counter)
    except ValueError as error:
        print(f"acd-sim: plan --method {method}: {error}", file=sys.stderr)
        return 2
    finally:
        counter.close()
    written = write_outputs(plan.check, args.out, config, settings, not args.no_plots,
                            {"planned_staffing": list(plan.staffing), "rounds": plan.rounds, "replications_per_round": plan.replications,
                             "date": day.isoformat(), "weekday": day.strftime("%A"),
                             "converged": plan.converged, "method": method})
    written += write_plan(plan, args.out, settings.interval, config, day)
    print(summary(plan.check, config.lines, settings.target.max_blocking, settings.target.definition))
    print(f"method: {method} ({why})")
    print(describe(plan, settings.interval, settings.target))
    if plan.short_of_agents:
        starts = ", ".join(plan.check.starts[i] for i in plan.short_of_agents)
        print(f"target missed with every available agent at {starts}: the config needs more agents")
    missed = missed_on_the_day(plan.check, settings)
    if missed and not plan.short_of_agents:
        print(f"warning: the simulated day misses the targets of {' and '.join(missed)} (the lines above), though "
              f"no interval missed them beyond doubt with {plan.replications} "
              f"{plural(plan.replications, 'replication')} a round: simulate more days (--replications)"
              + (", or plan with --method isa" if method != "isa" and not settings.target.queues
                 and settings.target.max_abandon is None else ""))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
