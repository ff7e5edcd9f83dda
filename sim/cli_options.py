"""Command-line value types and the traffic options ``acd-sim erlang`` and ``acd-sim
staff`` share, so both read and check the same words the same way.

Each type raises ``argparse.ArgumentTypeError``: argparse then prints the usage line
and the reason and exits with status 2, before any computing starts.
"""
from __future__ import annotations

import argparse
import math
from collections.abc import Callable

#: What every figure means, for the commands' --help (the definitions live in
#: sim.erlang and acd.metrics; this is their one-paragraph summary for planners).
DEFINITIONS = """\
figures (long-run averages, Poisson arrivals, exponential handle times):
  offered load   calls per second x AHT, in Erlangs (busy agents if nobody waited)
  p_wait         share of callers who find every agent busy and queue
  service level  share of callers answered within --threshold seconds (wait <= T);
                 with --patience, of all callers (those who hang up count against it)
  asa            average speed of answer: mean wait of the answered callers
  occupancy      share of agents' time spent on calls (carried load / agents)
  p_abandon      with --patience: share of callers who hang up before an answer
                 (exponential patience of mean --patience seconds: Erlang A)
  p_block        with --lines: share of callers who get busy because every trunk
                 line is taken; the other figures are then of callers who got a line
"""


def _number_type(test: Callable[[float], bool], wanted: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}")
        return value

    return parse


positive_number = _number_type(lambda v: v > 0, "a number > 0")
non_negative_number = _number_type(lambda v: v >= 0, "a number >= 0")
share = _number_type(lambda v: 0 < v < 1, "a share strictly between 0 and 1, e.g. 0.8")
occupancy_cap = _number_type(lambda v: 0 < v <= 1, "a share in (0, 1], e.g. 0.85")


def whole_number(text: str) -> int:
    """A count of at least 1 (agents, lines); "10.5" or "ten" are refused."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def add_traffic_options(parser: argparse.ArgumentParser) -> None:
    """The traffic and the queue's model: arrival rate, AHT, patience, lines, output."""
    parser.add_argument("--arrival-rate", required=True, type=non_negative_number, metavar="CALLS_PER_HOUR",
                        help="offered calls per hour")
    parser.add_argument("--aht", required=True, type=positive_number, metavar="SECONDS",
                        help="average handle time: talk + wrap-up seconds per call")
    parser.add_argument("--threshold", type=non_negative_number, default=20.0, metavar="SECONDS",
                        help="service-level answer time T in seconds (default 20)")
    parser.add_argument("--patience", type=positive_number, default=None, metavar="SECONDS",
                        help="callers' mean patience: model abandonment (Erlang A) instead of infinitely "
                             "patient callers (Erlang C)")
    parser.add_argument("--lines", type=whole_number, default=None, metavar="N",
                        help="trunk lines (>= agents): callers beyond them get busy")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
