"""``acd-sim plan``: the agents per interval that meet the target, checked by simulation.

    acd-sim plan --config examples/1555.yaml [--calls-per-day N] [--replications R]
                 [--seed S] [--lines L] [--rounds K] --out DIR

writes the figures of the checked plan like ``acd-sim run`` does, plus
``DIR/plan.csv`` (interval, Erlang C agents, planned agents, simulated service level),
``DIR/teams.csv`` (the planned agents per team and interval) and ``DIR/staffing.yaml``, a
``staffing:`` table to paste into the config's ``sim:``
section (then ``acd-sim run`` simulates that staffing).
"""
from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

from acd.config.model import Config
from sim.cli_options import whole_number
from sim.plan import Plan, search
from sim.roster import by_team, on_duty
from sim.run_command import Progress, add_arguments, load, summary, write_outputs


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("plan", help="find the agents per interval that meet the service-level target",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--rounds", type=whole_number, default=12, help="at most this many simulate-and-correct rounds")
    parser.set_defaults(handler=main, replications=3)


def write_plan(plan: Plan, out: Path, interval_minutes: int, config: Config) -> list[Path]:
    """plan.csv (per interval: Erlang C, planned, simulated service level), teams.csv
    (the planned head count per team, as the simulation put them on duty) and
    staffing.yaml (the table to paste into the config)."""
    out.mkdir(parents=True, exist_ok=True)
    table_path = out / "plan.csv"
    with table_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["interval", "erlang_c_agents", "planned_agents", "service_level", "service_level_ci"])
        for start, erlang, planned, figures in zip(plan.check.starts, plan.erlang_c, plan.staffing, plan.check.intervals):
            level = figures["service_level"]
            writer.writerow([start, int(erlang), planned,
                             "" if math.isnan(level.mean) else round(level.mean, 4),
                             "" if math.isnan(level.half_width) else round(level.half_width, 4)])
    teams_path = out / "teams.csv"
    rows = by_team(config.agents, on_duty(config.agents, interval_minutes, plan.staffing))
    with teams_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["interval", *rows[0]])
        for start, row in zip(plan.check.starts, rows):
            writer.writerow([start, *row.values()])
    yaml_path = out / "staffing.yaml"
    lines = ["# agents on duty from each time on; paste under the config's sim: section",
             "staffing:"]
    lines += [f'  "{time}": {count}' for time, count in plan.staffing_table(interval_minutes).items()]
    yaml_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [table_path, teams_path, yaml_path]


def main(args: argparse.Namespace) -> int:
    if (loaded := load(args)) is None:
        return 2
    config, settings = loaded
    progress = Progress(not args.quiet, "planning")
    try:
        plan = search(config, settings, args.replications, max_rounds=args.rounds,
                      on_round=lambda n, _staffing: progress((n - 1) / args.rounds))
        progress(1.0)
    finally:
        progress.close()
    written = write_outputs(plan.check, args.out, config, settings, not args.no_plots,
                            {"planned_staffing": list(plan.staffing), "rounds": plan.rounds,
                             "converged": plan.converged})
    written += write_plan(plan, args.out, settings.interval, config)
    print(summary(plan.check, config.lines, settings.target.max_blocking))
    state = "converged" if plan.converged else f"stopped after {plan.rounds} rounds"
    print(f"plan {state}: peak {max(plan.staffing)} agents, {sum(plan.staffing) * settings.interval / 60:.0f} "
          f"agent-hours (Erlang C alone: peak {max(plan.erlang_c):.0f}, "
          f"{sum(plan.erlang_c) * settings.interval / 60:.0f} agent-hours)")
    if plan.short_of_agents:
        starts = ", ".join(plan.check.starts[i] for i in plan.short_of_agents)
        print(f"target missed with every available agent at {starts}: the config needs more agents")
    print("wrote " + ", ".join(str(p) for p in written))
    return 0
