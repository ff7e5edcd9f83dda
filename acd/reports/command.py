"""``acd report``: a live day per interval and per queue from the call records, in the
columns of ``acd-sim run``'s ``figures.csv``.

    acd report --config FILE --date YYYY-MM-DD [--interval 30] [--format csv|json|table]
               [--queue Q] [--out DIR] [--no-plots] [--quiet]

prints the day in the chosen format; with ``--out DIR`` also writes ``figures.csv``,
``queues.csv``, ``figures.json`` and the simulator's PNG plots there (the inputs of
``acd-sim compare --actual DIR``). Progress goes to stderr, figures to stdout.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from acd.config import load_config_for_command
from acd.config.sim import settings_for
from acd.reports.real_day import ReportError, check_interval, from_records

if TYPE_CHECKING:   # the simulator's modules load when a report runs, not when ``acd run`` parses
    from sim.plots import PlotContext
    from sim.replications import Replicated

FORMATS = ("table", "csv", "json")
#: the table's columns: figure, header, scale, digits
_TABLE = (("offered", "offered", 1, 0), ("answered", "answered", 1, 0), ("abandoned", "abandoned", 1, 0),
          ("short_abandoned", "short", 1, 0), ("exited", "exited", 1, 0), ("service_level", "SL %", 100, 1),
          ("asa", "ASA s", 1, 1), ("aht", "AHT s", 1, 0), ("abandon_rate", "aband %", 100, 1),
          ("occupancy", "occ %", 100, 1), ("staffed_agents", "staffed", 1, 1), ("needed_agents", "needed", 1, 0))


def report_date(text: str) -> dt.date:
    """``--date``: an ISO date, or argparse's clear error naming what was given."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date: use YYYY-MM-DD, e.g. 2026-12-03") from None


def add_day_arguments(parser: argparse.ArgumentParser, config_help: str) -> None:
    """``--config`` and ``--date``: the one way a command names a real day (``acd report``,
    ``acd-sim replay``), so both read the date alike and explain it alike."""
    parser.add_argument("--config", required=True, help=config_help)
    parser.add_argument("--date", required=True, type=report_date, metavar="YYYY-MM-DD",
                        help="the day, in the service's time zone (daemon.timezone)")


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("report", help="a live day per interval and per queue from the call records",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_day_arguments(parser, "the daemon's config (daemon.database_url, timezone)")
    parser.add_argument("--interval", type=int, default=None, metavar="MINUTES",
                        help="interval length in minutes (default: sim.interval, 30)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="what to print (default table)")
    parser.add_argument("--queue", default=None, help="one queue's calls only (no agents' figures then)")
    parser.add_argument("--out", type=Path, default=None, help="also write CSV, JSON and PNG files here")
    parser.add_argument("--database-url", default=None, help="read these records instead of daemon.database_url")
    parser.add_argument("--no-plots", action="store_true", help="with --out: skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")


def run(args: argparse.Namespace) -> int:
    from acd.reports.day_figures import day_figures
    from sim.plots import PlotContext

    config = load_config_for_command(args.config)
    if config is None:
        return 1
    settings = settings_for(config)
    minutes = args.interval if args.interval is not None else settings.interval
    if args.queue is not None and args.queue not in config.queues:
        print(f"acd report: no queue {args.queue!r} in {args.config} (queues: {', '.join(config.queues)})",
              file=sys.stderr)
        return 1

    def progress(text: str) -> None:
        if not args.quiet:
            print(f"acd report: {text}", file=sys.stderr, flush=True)

    url = args.database_url or config.daemon.database_url
    try:
        check_interval(minutes)
        day = from_records(url, args.date, config.daemon.timezone, progress=progress)
        if not any(args.queue is None or call.queue == args.queue for call in day.calls):
            whose = f" of queue {args.queue}" if args.queue else ""
            raise ReportError(f"no calls{whose} in the records for {args.date.isoformat()} "
                              f"({config.daemon.timezone}) in {day.source}")
        progress(f"computing {1440 // minutes} intervals")
        result = day_figures(day, config, settings.target, minutes, args.queue,
                             warn=lambda text: print(f"acd report: warning: {text}", file=sys.stderr))
    except ReportError as error:
        print(f"acd report: {error}", file=sys.stderr)
        return 1
    definition = settings.target.definition
    if args.out is not None:
        meta = {"config": config.source, "service": config.service_name, "date": args.date.isoformat(),
                "timezone": config.daemon.timezone, "queue": args.queue, "interval_minutes": minutes,
                "source": "records", "service_level_definition": definition}
        try:
            args.out.mkdir(parents=True, exist_ok=True)
            written = write_files(result, args.out, meta, definition, plots=not args.no_plots,
                                  context=PlotContext(f"{config.service_name} {args.date.isoformat()} (real day)",
                                                      settings.target.threshold, settings.target.service_level,
                                                      settings.target.short_abandon, config.lines, definition))
        except OSError as error:
            print(f"acd report: cannot write to --out {args.out}: {error.strerror or error}", file=sys.stderr)
            return 1
        progress("wrote " + ", ".join(str(p) for p in written))
    print(render(result, args.format, definition), end="")
    return 0


def write_files(result: Replicated, out: Path, meta: dict[str, Any], definition: str, *, plots: bool,
                context: PlotContext) -> list[Path]:
    """The files ``acd-sim run`` writes, from a real day."""
    from sim.output import write_csv, write_json, write_queue_csv
    from sim.plots import write_plots

    written = [out / "figures.csv", out / "figures.json", out / "queues.csv"]
    write_csv(result, written[0], definition)
    write_json(result, written[1], meta)
    if result.queues:
        write_queue_csv(result, written[2], definition)
    else:
        written.pop()
    if plots:
        written += write_plots(result, out, context)
    return written


def render(result: Replicated, form: str, definition: str) -> str:
    """The day as printed: an aligned table of the intervals that had calls or agents,
    the CSV of ``figures.csv``, or JSON rows."""
    from sim.output import csv_text, rows

    table = rows(result)
    if form == "json":
        return json.dumps({"service_level_definition": definition, "intervals": table[:-1], "day": table[-1]},
                          indent=2, ensure_ascii=False) + "\n"
    if form == "csv":
        return csv_text(result, definition)
    lines = ["interval " + " ".join(f"{header:>9}" for _, header, _, _ in _TABLE)]
    for row in table:
        busy = (row["offered"] or 0) > 0 or (row["staffed_agents"] or 0) > 0
        if row["interval"] == "day" or busy:
            label = "day" if row["interval"] == "day" else row["interval"]
            lines.append(f"{label:<8} " + " ".join(f"{_shown(row[name], scale, digits):>9}"
                                                   for name, _, scale, digits in _TABLE))
    lines.append(f"service level = {definition}")
    return "\n".join(lines) + "\n"


def _shown(value: float | None, scale: float, digits: int) -> str:
    return "-" if value is None or math.isnan(value) else f"{value * scale:.{digits}f}"
