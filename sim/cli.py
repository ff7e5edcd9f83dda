"""``acd-sim``: the planners' command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function that
adds its parser and sets ``handler`` (``handler(args) -> exit status``); this module
only wires them, so adding a command is one line in `COMMANDS`.
"""
from __future__ import annotations

import argparse
import importlib
from collections.abc import Sequence

#: The modules that register a subcommand, in the order --help lists them.
COMMANDS: tuple[str, ...] = (
    "sim.cli_erlang",
    "sim.cli_staff",
    "sim.cli_lines",
    "sim.run_command",
    "sim.plan_command",
    "sim.compare",
    "sim.cli_replay",
    "sim.sweep_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acd-sim",
        description="Planning tools for the ACD: Erlang figures and staffing, and simulated days of the config.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; argparse exits with status 2 on bad
    usage, each command returns its own status."""
    args = build_parser().parse_args(argv)
    return int(args.handler(args))
