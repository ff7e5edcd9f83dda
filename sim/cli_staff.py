"""``acd-sim staff``: the fewest agents that meet a service target."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from sim.cli_options import DEFINITIONS, add_traffic_options, occupancy_cap, positive_number, share
from sim.cli_report import describe, performance_json, performance_rows, table
from sim.staffing import StaffingTarget, TargetUnreachable, agents_needed

USAGE = """\
The fewest agents whose figures meet every target given: service level at least
--target-sl within --threshold seconds, ASA at most --target-asa, occupancy at most
--max-occupancy, with --patience abandonment at most --max-abandon, and with
--lines busy signals at most --max-block. Exit status 1 when no head count (within
--lines, if given) meets the target.

Two traps: with --patience an overloaded queue sheds callers by abandonment and the
rest wait little, so a service level alone may be met below the load (add
--max-abandon); with --lines the figures are of callers who got a line, so busy
signals can meet a service level (add --max-block).

example:
  acd-sim staff --arrival-rate 200 --aht 180 --target-sl 0.8 --threshold 20
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("staff", help="fewest agents meeting a service target (Erlang C/A)",
                                   description=USAGE, epilog=DEFINITIONS,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    add_traffic_options(parser)
    parser.add_argument("--target-sl", type=share, default=None, metavar="SHARE",
                        help="minimum service level, e.g. 0.8 for 80 %% within --threshold "
                             "(default 0.8 when no other target is given)")
    parser.add_argument("--target-asa", type=positive_number, default=None, metavar="SECONDS",
                        help="maximum average speed of answer")
    parser.add_argument("--max-occupancy", type=occupancy_cap, default=None, metavar="SHARE",
                        help="maximum occupancy, e.g. 0.85")
    parser.add_argument("--max-abandon", type=share, default=None, metavar="SHARE",
                        help="maximum share of callers abandoning (needs --patience)")
    parser.add_argument("--max-block", type=share, default=None, metavar="SHARE",
                        help="maximum share of callers getting busy (needs --lines)")
    parser.set_defaults(handler=main, command_parser=parser)


def main(args: argparse.Namespace) -> int:
    targets = (args.target_sl, args.target_asa, args.max_occupancy, args.max_abandon, args.max_block)
    level = 0.8 if all(t is None for t in targets) else args.target_sl
    try:
        target = StaffingTarget(threshold_s=args.threshold, service_level=level, asa_s=args.target_asa,
                                max_occupancy=args.max_occupancy, max_abandon=args.max_abandon,
                                max_block=args.max_block)
        staffing = agents_needed(args.arrival_rate, args.aht, target, patience_s=args.patience, lines=args.lines)
    except TargetUnreachable as error:
        print(f"acd-sim staff: {error}", file=sys.stderr)
        return 1
    except ValueError as error:
        args.command_parser.error(str(error))  # exits with status 2
    figures = staffing.performance
    if args.json:
        print(performance_json(figures, agents_needed=staffing.agents) if figures is not None
              else '{"agents_needed": 0}')
    elif figures is None:
        print("agents needed: 0 (no calls offered)")
    else:
        print(table(f"agents needed: {staffing.agents}\n{describe(figures)}", performance_rows(figures)))
    return 0
