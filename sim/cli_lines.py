"""``acd-sim lines``: Erlang B for a trunk, from the load in erlangs.

A trunk line is held for the whole call (IVR, wait and talk), so its load is not the
agents' load: ``acd-sim run`` reports it per interval (``line_load``). Erlang B is a
function of that load alone, so this command takes ``--load`` directly rather than
an arrival rate and an AHT.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from sim.cli_options import non_negative_number, share, whole_number
from sim.erlang import erlang_b, lines_needed

USAGE = """\
With --lines: the share of callers who get busy on that many lines (Erlang B). Without:
the fewest lines that keep busy signals at most --max-block (default 0.01).

examples:
  acd-sim lines --load 175 --lines 195
  acd-sim lines --load 175 --max-block 0.01
"""


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("lines", help="trunk lines and busy signals for a load in erlangs (Erlang B)",
                                   description=USAGE, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--load", required=True, type=non_negative_number, metavar="ERLANGS",
                        help="erlangs offered to the trunk (calls per second x seconds a call holds a line)")
    parser.add_argument("--lines", type=whole_number, default=None, metavar="N", help="lines on the trunk")
    parser.add_argument("--max-block", type=share, default=0.01, metavar="SHARE",
                        help="most callers who may get busy, for the lines needed (default 0.01)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=main)


def main(args: argparse.Namespace) -> int:
    needed = lines_needed(args.load, args.max_block)
    data: dict[str, Any] = {"load": args.load, "max_block": args.max_block, "lines_needed": needed}
    if args.lines is not None:
        data["lines"] = args.lines
        data["p_block"] = erlang_b(args.load, args.lines)
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    print(f"Erlang B: {args.load:g} erlangs offered to the trunk")
    if args.lines is not None:
        print(f"  on {args.lines} lines {data['p_block'] * 100:.2f} % of callers get busy")
    print(f"  lines needed for at most {args.max_block:.1%} busy: {needed}")
    return 0
