"""``acd pins generate``: a new random PIN for each agent (or the ones named), hashed
into the pins file (``<agent id> <argon2 hash>``, mode 0600) and shown in clear once.

The clear PINs go to stdout, or with ``--clear-out FILE`` to a file of the same mode
(for a mail merge, say): nothing else keeps them, so lost ones are issued anew. Agents
not named keep their line of the existing file, so one agent's PIN can be replaced
without touching the others'. The daemon reads the file at start and at each reload
(``kill -HUP``).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from acd.config import ConfigError, load_config_for_command
from acd.config.pins import hash_pin, new_pin, read_pins_file, write_pins_file


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pins = sub.add_parser("pins", help="agents' PINs: generate them, hashed")
    actions = pins.add_subparsers(dest="pins_command", required=True)
    generate = actions.add_parser("generate", help="new PINs, hashed into --out, shown in clear once")
    generate.add_argument("--config", required=True)
    generate.add_argument("--out", required=True, help="the pins file (daemon.pins_file)")
    generate.add_argument("--agents", default="", help="comma-separated agent ids (default: every agent)")
    generate.add_argument("--digits", type=int, default=6, help="PIN length, 4 to 8 (default 6)")
    generate.add_argument("--clear-out", default=None, help="write the clear PINs here (mode 0600), not stdout")


def run(args: argparse.Namespace) -> int:
    config = load_config_for_command(args.config)
    if config is None:
        return 1
    if not 4 <= args.digits <= 8:
        print("--digits must be 4 to 8 (what a phone's feature code accepts)", file=sys.stderr)
        return 1
    chosen = [a.strip() for a in args.agents.split(",") if a.strip()] or list(config.agents)
    unknown = [a for a in chosen if a not in config.agents]
    if unknown:
        print(f"{args.config}: no agents {', '.join(unknown)}", file=sys.stderr)
        return 1
    out = Path(args.out)
    try:
        hashes = read_pins_file(out, config.agents) if out.exists() else {}
    except ConfigError as error:
        print(str(error), file=sys.stderr)
        return 1
    clear = {agent_id: new_pin(args.digits) for agent_id in chosen}
    hashes.update({agent_id: hash_pin(pin) for agent_id, pin in clear.items()})
    write_pins_file(out, hashes)
    lines = "".join(f"{agent_id} {pin}\n" for agent_id, pin in clear.items())
    if args.clear_out:
        fd = os.open(args.clear_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handout:
            handout.write(lines)
    else:
        sys.stdout.write(lines)
    print(f"{out}: {len(clear)} new PINs, {len(hashes)} agents in all; hand the clear PINs out, "
          "then reload the daemon (kill -HUP)", file=sys.stderr)
    return 0
