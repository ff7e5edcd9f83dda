"""``acd-sim erlang``: what a queue does with this traffic and this many agents."""
from __future__ import annotations

import argparse
from typing import Any

from sim.cli_options import DEFINITIONS, add_traffic_options, whole_number
from sim.cli_report import describe, performance_json, performance_rows, table
from sim.erlang import performance

USAGE = """\
Service level, waiting, occupancy (and abandonment or blocking) of one queue, by
Erlang C, or Erlang A with --patience, optionally on a trunk of --lines.

example:
  acd-sim erlang --arrival-rate 200 --aht 180 --agents 11 --threshold 20
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("erlang", help="figures of a queue for given traffic and agents (Erlang C/A)",
                                   description=USAGE, epilog=DEFINITIONS,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_traffic_options(parser)
    parser.add_argument("--agents", required=True, type=whole_number, metavar="N", help="agents answering calls")
    parser.set_defaults(handler=main, command_parser=parser)


def main(args: argparse.Namespace) -> int:
    try:
        figures = performance(args.arrival_rate, args.aht, args.agents, args.threshold,
                              patience_s=args.patience, lines=args.lines)
    except ValueError as error:
        args.command_parser.error(str(error))  # exits with status 2
    print(performance_json(figures) if args.json else table(describe(figures), performance_rows(figures)))
    return 0
