"""``acd-sim run``: simulate the config's day and write the figures.

    acd-sim run --config examples/1555.yaml [--calls-per-day N] [--replications R]
                [--seed S] [--lines L] --out DIR

writes ``DIR/figures.csv``, ``DIR/queues.csv``, ``DIR/figures.json`` and ``DIR/calls.png``,
``service.png``, ``staffing.png``, and prints the day's figures.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from datetime import date
from typing import Any, cast

from acd.config import ConfigError, load_config
from acd.config.model import Config
from acd.config.sim import SimSettings, settings_for
from sim.cli_options import positive_number, whole_number
from sim.confidence import Estimate
from sim.needed import erlang_c_agents
from sim.opening import DAY_TYPES, day_type, open_minutes, representative_date, settings_on
from sim.output import write_csv, write_json, write_queue_csv
from sim.plots import PlotContext, write_plots
from sim.replications import Replicated, run_days


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options ``run`` and ``plan`` share."""
    parser.add_argument("--config", required=True, help="the ACD config file (its sim: section, or defaults)")
    parser.add_argument("--calls-per-day", type=positive_number, default=None, help="override sim.calls_per_day")
    parser.add_argument("--replications", type=whole_number, default=5, help="independent days (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="first day's seed (default sim.seed)")
    parser.add_argument("--lines", type=whole_number, default=None, help="override service.lines (trunk)")
    parser.add_argument("--out", required=True, type=Path, help="directory for CSV, JSON and PNG files")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="simulate the replications in N processes (0: one per core; default 1)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--day-type", choices=DAY_TYPES, default="weekday",
                      help="whose opening hours: a working weekday (default), saturday, sunday or a public "
                           "holiday; callers whose queue is closed take the closed path, not an agent")
    when.add_argument("--date", "--from", dest="date", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                      help="simulate this date's opening hours and holidays (with --days: the first day)")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("run", help="simulate a day with the config's routing and staffing",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--days", type=whole_number, default=1, metavar="N",
                        help="simulate N consecutive days from --from/--date (a week: 7), each with its own day "
                             "type, volume and opening hours; figures per day in DIR/<date>/ and DIR/days.csv")
    parser.set_defaults(handler=main)


def load(args: argparse.Namespace) -> tuple[Config, SimSettings] | None:
    """The config and its sim settings with the command line's overrides applied, or
    None after telling the user (file, line, reason) why the config cannot be used."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"acd-sim: {exc}", file=sys.stderr)
        return None
    settings = settings_for(config)
    if args.calls_per_day is not None:
        settings = replace(settings, calls_per_day=args.calls_per_day)
    if args.seed is not None:
        settings = replace(settings, seed=args.seed)
    if args.lines is not None:
        config = replace(config, lines=args.lines)
    return config, settings


def for_day(args: argparse.Namespace, config: Config, settings: SimSettings, day: date) -> SimSettings:
    """The settings of ``day``: its day type's volume (unless --calls-per-day says) and profile."""
    return settings_on(settings, config, day, args.calls_per_day)


def simulated_date(args: argparse.Namespace, config: Config) -> date | None:
    """The date whose opening hours the day keeps (``--date``, or ``--day-type``'s
    representative date); None when the config has no holiday for ``holiday``, after
    saying so."""
    if args.date is not None:
        return cast(date, args.date)
    try:
        return representative_date(config, args.day_type)
    except ValueError as error:
        print(f"acd-sim: {error}", file=sys.stderr)
        return None


def prepare(args: argparse.Namespace, *, one_day: bool = True) -> tuple[Config, SimSettings, date] | None:
    """What every simulating command starts from, checked before any simulating: the
    output directory writable, the config loaded with the command line's overrides,
    the date, and (``one_day``) that date's volume and profile; None after saying what
    is wrong."""
    if not writable_out(args.out) or (loaded := load(args)) is None:
        return None
    config, settings = loaded
    if (day := simulated_date(args, config)) is None:
        return None
    return config, for_day(args, config, settings, day) if one_day else settings, day


def writable_out(out: Path) -> bool:
    """Whether the results can be written to ``out`` (made if missing), checked before
    a long simulation rather than after it; says why not on stderr."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".acd-sim-probe-"):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        print(f"acd-sim: cannot write the results to --out {out}: {reason}", file=sys.stderr)
        return False
    return True


def plural(count: int, word: str) -> str:
    """``word`` as the count needs it: 1 replication, 5 replications."""
    return word if count == 1 else word + "s"


#: Above this share of callers turned away busy, the summary warns that the service
#: level and ASA flatter the day (they count only callers who got a line).
BUSY_WARNING = 0.05


class Progress:
    """A tqdm bar over the simulated time of all replications (stderr, so that the
    figures on stdout stay clean for pipes)."""

    def __init__(self, enabled: bool, description: str) -> None:
        self._bar = None
        if enabled:
            from tqdm import tqdm  # type: ignore[import-untyped]

            self._bar = tqdm(total=100, desc=description, unit="%", file=sys.stderr,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}")
        self._done = 0.0

    def __call__(self, fraction: float) -> None:
        if self._bar is not None:
            step = fraction * 100 - self._done
            if step > 0:
                self._bar.update(step)
                self._done += step

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def jobs(args: argparse.Namespace) -> int:
    """--jobs as a process count (0 or less: one per core)."""
    return int(args.jobs) if args.jobs > 0 else (os.cpu_count() or 1)


def simulate(config: Config, settings: SimSettings, replications: int, *, staffing: tuple[int, ...] | None = None,
             quiet: bool = False, description: str = "simulating", day: date | None = None,
             processes: int = 1) -> Replicated:
    needed = erlang_c_agents(config, settings, opening=open_minutes(config, day) if day is not None else None)
    progress = Progress(not quiet, description)
    try:
        return run_days(config, settings, replications, settings.seed, staffing=staffing, needed=needed,
                        progress=progress, day=day, jobs=processes)
    finally:
        progress.close()


def write_outputs(result: Replicated, out: Path, config: Config, settings: SimSettings, plots: bool,
                  extra: dict[str, Any] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    meta = {"config": config.source, "service": config.service_name, "calls_per_day": settings.calls_per_day,
            "lines": config.lines, "agents": len(config.agents), "seed": settings.seed,
            "interval_minutes": settings.interval, "service_level_definition": settings.target.definition,
            **(extra or {})}
    written = [out / "figures.csv", out / "figures.json"]
    write_csv(result, written[0], settings.target.definition)
    write_json(result, written[1], meta)
    if result.queues:
        written.append(out / "queues.csv")
        write_queue_csv(result, written[-1], settings.target.definition)
    if plots:
        context = PlotContext(config.service_name, settings.target.threshold, settings.target.service_level,
                              settings.target.short_abandon, config.lines, settings.target.definition)
        written += write_plots(result, out, context)
    return written


def summary(result: Replicated, lines: int | None = None, max_blocking: float = 0.01, definition: str = "") -> str:
    """The day's figures as planners read them; ``lines`` is the trunk simulated,
    ``definition`` the service level's formula in words."""
    day = result.day

    def show(name: str, scale: float = 1.0, unit: str = "", digits: int = 1) -> str:
        est = day[name]
        text = f"{est.mean * scale:.{digits}f}{unit}"
        if est.replications > 1 and not math.isnan(est.half_width):
            text += f" ± {est.half_width * scale:.{digits}f}"
        return text

    count = len(result.days)
    levels = f"{result.level:.0%} intervals" if count > 1 else "no confidence interval from one day"
    return "\n".join([
        f"day ({count} {plural(count, 'replication')}, {levels}):",
        f"  offered {show('offered', digits=0)}, blocked {show('blocked', digits=0)} "
        f"({show('blocking', 100, ' %')} got busy), "
        f"answered {show('answered', digits=0)}, abandoned {show('abandoned', digits=0)} "
        f"(+ {show('short_abandoned', digits=0)} short), exited {show('exited', digits=0)}"
        + (f", closed (hours, holidays) {show('closed', digits=0)}, of whom {show('callbacks', digits=0)} "
           f"left a number for a callback" if day["closed"].mean > 0 else ""),
        f"  service level {show('service_level', 100, ' %')}, ASA {show('asa', unit=' s')}, "
        f"longest wait {show('longest_wait', unit=' s', digits=0)}"
        + (f"\n  (service level = {definition})" if definition else ""),
        f"  occupancy {show('occupancy', 100, ' %')}, escalated to back office {show('escalated', digits=0)}, "
        f"peak agents staffed {show('staffed_agents', digits=0)}, needed {show('needed_agents', digits=0)}",
        f"  trunk: peak load {show('line_load', unit=' erlangs', digits=0)}, lines needed for at most "
        f"{max_blocking:.0%} busy {show('lines_needed', digits=0)}"
        + ("" if lines is None else f" (simulated with {lines} lines)"),
        *queue_lines(result),
        *trap_lines(result, max_blocking),
    ])


def trap_lines(result: Replicated, max_blocking: float) -> list[str]:
    """Warnings beside the figures when they look better than the day was."""
    day = result.day
    lines = []
    blocking = day["blocking"].mean
    if not math.isnan(blocking) and blocking > BUSY_WARNING:
        lines.append(f"  warning: {blocking:.1%} of callers got busy (every trunk line taken); service level, ASA "
                     f"and abandonment count only those who got a line. The trunk needs "
                     f"{day['lines_needed'].mean:.0f} lines for at most {max_blocking:.0%} busy (--lines)")
    abandon, level = day["abandon_rate"].mean, day["service_level"].mean
    if not math.isnan(abandon) and abandon > 0.1:
        lines.append(f"  warning: {abandon:.1%} of callers hung up waiting; their leaving shortens the wait of "
                     f"the others, so a service level of {level:.1%} says little about the callers")
    return lines


def queue_lines(result: Replicated) -> list[str]:
    """The day per queue, so a planner sees which team misses the target."""
    if not result.queues:
        return []

    def value(estimates: dict[str, Estimate], name: str, scale: float = 1.0, digits: int = 1) -> str:
        mean = estimates[name].mean
        return "-" if math.isnan(mean) else f"{mean * scale:.{digits}f}"

    width = max(len(queue) for queue in result.queues)
    lines = [f"  {'queue':<{width}}  offered  answered  SL %  ASA s  abandon %  longest s"]
    for queue, estimates in result.queues.items():
        lines.append(f"  {queue:<{width}}  {value(estimates, 'offered', digits=0):>7}  "
                     f"{value(estimates, 'answered', digits=0):>8}  {value(estimates, 'service_level', 100):>4}  "
                     f"{value(estimates, 'asa'):>5}  {value(estimates, 'abandon_rate', 100):>9}  "
                     f"{value(estimates, 'longest_wait', digits=0):>9}")
    return lines


def main(args: argparse.Namespace) -> int:
    if (prepared := prepare(args, one_day=args.days == 1)) is None:
        return 2
    config, settings, day = prepared
    if args.days > 1:
        return run_calendar(args, config, settings, day)
    result = simulate(config, settings, args.replications, quiet=args.quiet, day=day, processes=jobs(args))
    written = write_outputs(result, args.out, config, settings, not args.no_plots,
                            {"date": day.isoformat(), "weekday": day.strftime("%A"), "day_type": day_type(config, day)})
    print(summary(result, config.lines, settings.target.max_blocking, settings.target.definition))
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def run_calendar(args: argparse.Namespace, config: Config, settings: SimSettings, first: date) -> int:
    """``--days N``: N consecutive dates, each simulated as its own day (``sim.calendar``)."""
    from sim.calendar import simulate_days, write_days

    progress = Progress(not args.quiet, f"simulating {args.days} days")
    try:
        days = simulate_days(config, settings, first, args.days, args.replications,
                             calls_per_day=args.calls_per_day, processes=jobs(args), progress=progress)
    finally:
        progress.close()
    written = []
    for simulated in days:
        written += write_outputs(simulated.result, args.out / simulated.date.isoformat(), config, simulated.settings,
                                 not args.no_plots, {"date": simulated.date.isoformat(),
                                                     "weekday": simulated.date.strftime("%A"),
                                                     "day_type": simulated.day_type})
    written.append(write_days(days, args.out / "days.csv"))
    print(describe_days(days))
    print("wrote " + ", ".join(str(p) for p in written[-1:]) + f" and the figures of each day in {args.out}/<date>/")
    return 0


def describe_days(days: list[Any]) -> str:
    from sim.calendar import total_row

    header = f"{'date':<10}  {'day':<9}  {'type':<8}  offered  answered  abandoned  closed   SL %  ASA s  occupancy %"
    rows = [header]
    for row in [*(simulated.row() for simulated in days), total_row(days)]:
        rows.append(f"{row['date']:<10}  {row['weekday']:<9}  {row['day_type']:<8}  {row['offered']:>7.0f}  "
                    f"{row['answered']:>8.0f}  {row['abandoned']:>9.0f}  {row['closed']:>6.0f}  "
                    f"{row['service_level_pct']:>5.1f}  {row['asa_s']:>5.1f}  {row['occupancy_pct']:>11.1f}")
    return "\n".join(rows)
