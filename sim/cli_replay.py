"""``acd-sim replay``: a real day through the simulator, and how close it comes.

    acd-sim replay --config FILE --date YYYY-MM-DD (--queue-log FILE | --records [URL])
                   [--out DIR] [--no-plots] [--quiet]

reads the day's callers and the agents' log-ins and pauses from the call records
(``--records``: the config's ``daemon.database_url``, or the URL given) or from a
queue_log in app_queue's format, runs them through the simulator (``sim.replay``) and
prints the day's service level, ASA and abandon rate beside the replay's, with the
differences; ``--out DIR`` gets the replay's figures.csv, figures.json and plots (for
``acd-sim compare --forecast DIR --actual REPORT``). Exit status 0 when the replay's
service level and ASA are within 10 % of the day's (the twin holds), 3 when not.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from acd.config import ConfigError, load_config
from acd.config.sim import settings_for
from acd.reports.command import add_day_arguments
from acd.reports.day_figures import day_figures
from acd.reports.queue_log_file import read_queue_log
from acd.reports.real_day import RealDay, ReportError, from_records
from sim.confidence import Estimate
from sim.figures import day_report, queue_report
from sim.replay import CLOSENESS, relative_difference, replay, ring_time
from sim.replications import summarise
from sim.run_command import write_outputs

#: how close the replay's service level and ASA must come to the day's
TOLERANCE = 0.10
#: exit status when the replay is not within ``TOLERANCE``
NOT_CLOSE = 3


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("replay", help="run a real day's callers and staffing through the simulator",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_day_arguments(parser, "the ACD config (queues, agents, routing, sim:)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--queue-log", type=Path, metavar="FILE", help="a queue_log in app_queue's format")
    source.add_argument("--records", nargs="?", const="", metavar="URL",
                        help="the call records (default: the config's daemon.database_url)")
    parser.add_argument("--out", type=Path, default=None, help="write the replay's figures and plots here")
    parser.add_argument("--no-plots", action="store_true", help="with --out: skip the PNG plots")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as error:
        print(f"acd-sim: {error}", file=sys.stderr)
        return 2
    settings = settings_for(config)

    def say(text: str) -> None:
        if not args.quiet:
            print(f"acd-sim replay: {text}", file=sys.stderr, flush=True)

    def warn(text: str) -> None:
        print(f"acd-sim replay: warning: {text}", file=sys.stderr)

    timezone = config.daemon.timezone
    try:
        if args.queue_log is not None:
            say(f"reading {args.queue_log}")
            day = read_queue_log(args.queue_log, args.date, timezone, config, warn=warn)
        else:
            day = from_records(args.records or config.daemon.database_url, args.date, timezone, progress=say)
        if not day.calls:
            raise ReportError(f"no calls on {args.date.isoformat()} ({timezone}) in {day.source}")
        actual = day_figures(day, config, settings.target, settings.interval, warn=warn)
    except ReportError as error:
        print(f"acd-sim: {error}", file=sys.stderr)
        return 2
    say(f"replaying {len(day.calls)} calls")
    result = replay(config, settings, day, warn=warn)
    rows, total = day_report(result)
    replayed = summarise([(rows, total)], queue_days=[queue_report(result)])
    ring = ring_time(day, config)
    print(closeness(day, actual.day, replayed.day, settings.target.definition))
    print(f"  agents answered after {settings.answer_delay if ring is None else ring:.1f} s "
          f"({'the sim settings answer_delay' if ring is None else 'the day ring time'})")
    if args.out is not None:
        written = write_outputs(replayed, args.out, config, settings, not args.no_plots,
                                {"date": args.date.isoformat(), "replay_of": day.source})
        say("wrote " + ", ".join(str(p) for p in written))
    return 0 if is_close(actual.day, replayed.day) else NOT_CLOSE


def is_close(actual: dict[str, Estimate], replayed: dict[str, Estimate]) -> bool:
    """The replay's service level and ASA within `TOLERANCE` of the day's (a figure the
    day does not have, no call answered, is not held against it)."""
    for name in ("service_level", "asa"):
        gap = relative_difference(actual[name].mean, replayed[name].mean)
        if not math.isnan(gap) and abs(gap) > TOLERANCE:
            return False
    return True


def closeness(day: RealDay, actual: dict[str, Estimate], replayed: dict[str, Estimate], definition: str) -> str:
    """The day's figures beside the replay's, with the differences."""
    agents = len({c.agent_id for c in day.changes if c.state != "logged_out"})
    lines = [f"replay of {day.day.isoformat()} ({int(actual['offered'].mean)} calls offered, "
             f"{agents} agents logged in) from {day.source}",
             f"  {'':<14} {'actual':>9} {'replay':>9} {'difference':>12} {'relative':>9}"]
    for name, label, scale, unit in ((n, "offered", 1.0, "") for n in ("offered",)):
        lines.append(_line(label, actual[name].mean, replayed[name].mean, scale, unit, digits=0))
    for name, label, scale, unit in CLOSENESS:
        lines.append(_line(label, actual[name].mean, replayed[name].mean, scale, unit))
    verdict = "within" if is_close(actual, replayed) else "NOT within"
    lines.append(f"  service level and ASA {verdict} {TOLERANCE:.0%} of the day")
    lines.append(f"  (service level = {definition})")
    return "\n".join(lines)


def _line(label: str, actual: float, replayed: float, scale: float, unit: str, digits: int = 1) -> str:
    def shown(value: float) -> str:
        return "-" if math.isnan(value) else f"{value * scale:.{digits}f} {unit}".rstrip()

    gap = relative_difference(actual, replayed)
    difference = "-" if math.isnan(actual) or math.isnan(replayed) else f"{(replayed - actual) * scale:+.{digits}f}"
    return (f"  {label:<14} {shown(actual):>9} {shown(replayed):>9} {difference:>12} "
            f"{'-' if math.isnan(gap) else f'{gap:+.1%}':>9}")
