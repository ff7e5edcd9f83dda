"""``acd-sim sweep``: the day's figures over a grid of staffing x volume x AHT factors.

    acd-sim sweep --config examples/1555.yaml --staffing 0.9,1,1.1 --volume 0.8,1,1.2
                  --aht 0.9,1,1.1 [--replications R] [--jobs N | --scheduler ADDRESS] --out DIR

writes ``DIR/sweep.csv`` (one row per point: the factors, the day's service level with
its confidence half-width, ASA, abandonment, occupancy, agent-hours) and
``DIR/sweep.png`` (a heatmap of the service level). Points run on all cores by default;
``--scheduler tcp://host:8786`` sends them to a Dask cluster (``sim.sweep``).
"""
from __future__ import annotations

import argparse
import os
import sys
from datetime import date
from pathlib import Path
from typing import Any

from sim.cli_options import positive_number, whole_number
from sim.run_command import DAY_TYPES, prepare
from sim.sweep import grid, run_sweep, write_csv, write_heatmap


def factors(text: str) -> list[float]:
    """``0.9,1,1.1`` -> [0.9, 1.0, 1.1]; each a number > 0."""
    return [positive_number(part.strip()) for part in text.split(",") if part.strip()]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("sweep", help="the day's figures over staffing x volume x AHT factors",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the ACD config file (its sim: section, or defaults)")
    parser.add_argument("--staffing", type=factors, default=[1.0], metavar="F,F,..",
                        help="factors of the agents per interval (sim.staffing, else Erlang C's); default 1")
    parser.add_argument("--volume", type=factors, default=[1.0], metavar="F,F,..",
                        help="factors of the day's calls; default 1")
    parser.add_argument("--aht", type=factors, default=[1.0], metavar="F,F,..",
                        help="factors of the AHT (talk time and every queue's wrap-up); default 1")
    parser.add_argument("--replications", type=whole_number, default=3, help="days per point (default 3)")
    parser.add_argument("--calls-per-day", type=positive_number, default=None, help="override sim.calls_per_day")
    parser.add_argument("--seed", type=int, default=None, help="first day's seed (default sim.seed)")
    parser.add_argument("--lines", type=whole_number, default=None, help="override service.lines (trunk)")
    parser.add_argument("--out", required=True, type=Path, help="directory for sweep.csv/.png")
    parser.add_argument("--no-plots", action="store_true", help="skip the heatmap")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--jobs", type=int, default=0, metavar="N",
                       help="points in N processes (default 0: one per core)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run the points on the Dask cluster whose scheduler is at ADDRESS (tcp://host:8786)")
    when = parser.add_mutually_exclusive_group()
    when.add_argument("--day-type", choices=DAY_TYPES, default="weekday", help="whose opening hours (default weekday)")
    when.add_argument("--date", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD",
                      help="simulate this date's opening hours and holidays")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    if (prepared := prepare(args)) is None:
        return 2
    config, settings, day = prepared
    points = grid(args.staffing, args.volume, args.aht)
    bar = None
    if not args.quiet:
        from tqdm import tqdm  # type: ignore[import-untyped]

        bar = tqdm(total=len(points), desc="sweep", unit=" points", file=sys.stderr)
    processes = args.jobs if args.jobs > 0 else (os.cpu_count() or 1)
    try:
        rows = run_sweep(config, settings, points, args.replications, day=day, jobs=processes,
                         scheduler=args.scheduler, progress=(lambda done, total: bar.update(1)) if bar else None)
    except OSError as error:   # the scheduler cannot be reached
        print(f"acd-sim: the Dask scheduler {args.scheduler}: {error}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    written = [write_csv(rows, args.out / "sweep.csv")]
    if not args.no_plots:
        written.append(write_heatmap(rows, args.out / "sweep.png", settings.target.service_level,
                                     settings.target.threshold, args.replications, config.service_name))
    if settings.target.service_level is not None:
        target = settings.target.service_level * 100
        met = sum(1 for row in rows if row["service_level_pct"] >= target)
        print(f"{len(rows)} points, {met} meet {target:.0f} % within {settings.target.threshold:g} s; "
              f"days simulated {len(rows) * args.replications}")
    else:
        print(f"{len(rows)} points (no service-level target to mark); days simulated {len(rows) * args.replications}")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
