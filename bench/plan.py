"""The staffing search on a day whose answer is known, and on the 1555 example.

Case 1, a flat single-queue day: 770 calls an hour around the clock, exponential talk
of 270 s, no wrap-up, no IVR, patient callers, 80 % within 20 s. That is M/M/s, where
Erlang C is exact: 57.75 erlangs need 65 agents in every interval. Case 2, the 1555
example config (seven topic queues, skills, patience, redials, a trunk).

For each case and each method of ``acd-sim plan --method`` (the offered-load search,
``sim.plan``, and the iterative staffing algorithm of Feldman, Mandelbaum, Massey and
Whitt, ``sim.isa``): the rounds of the search (peak agents, agent-hours), the plan, and
the simulated day's figures against the target; last, one line per case comparing the
methods. Run:
``python -m bench.plan [--replications R] [--only flat|1555] [--method offered-load|isa]``.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

from acd.config import load_config, load_config_text
from acd.config.model import Config
from acd.config.sim import settings_for
from sim.opening import representative_date
from sim.plan import Plan
from sim.plan_command import METHODS, agent_hours, describe
from sim.run_command import plural, summary

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"


def flat_config_text(hours: int = 24, calls_per_hour: int = 770) -> str:
    """One queue, 120 agents of one skill, ``calls_per_hour`` for the first ``hours``
    of the day (all of it by default), M/M/s: the case Erlang C answers exactly."""
    end = "" if hours >= 24 else f', "{hours:02d}:00": 0'
    return f"""\
service: {{name: flat, languages: [el], lines: 100000}}
skills: {{topic:a: only topic}}
queues:
  q: {{requires: {{topic:a: 1}}, wrapup: 0, announcements: {{first_after: 0, every: 0}}}}
teams:
  all: {{ids: 1000-1119, skills: {{topic:a: 1}}}}
sim:
  calls_per_day: {calls_per_hour * hours}
  interval: 60
  profile: {{"00:00": 1{end}}}
  topics: {{q: 1}}
  ivr_time: {{distribution: constant, mean: 0}}
  talk_time: {{distribution: exponential, mean: 270}}
  patience: none
  answer_delay: 0
  redial: {{probability: 0}}
  first_contact: 1
  target: {{threshold: 20, service_level: 0.8, short_abandon: 0}}
"""


def run_case(name: str, config: Config, replications: int, methods: list[str]) -> None:
    settings = settings_for(config)
    day = representative_date(config, "weekday")
    compared = []
    for method in methods:
        started = time.perf_counter()
        plan: Plan = METHODS[method](config, settings, replications, day=day)
        seconds = time.perf_counter() - started
        loaded = [n for n, share in zip(plan.staffing, settings.profile) if share > 0] or list(plan.staffing)
        print(f"== {name}, a weekday ({day}), --method {method}: {replications} replications asked, {seconds:.0f} s")
        print(describe(plan, settings.interval, settings.target))
        print(f"agents per interval with calls: {min(loaded)}-{max(loaded)}; "
              f"table {plan.staffing_table(settings.interval)}")
        print(summary(plan.check, config.lines, settings.target.max_blocking))
        print()
        level = plan.check.day["service_level"]
        rounds = f"{plan.rounds} {plural(plan.rounds, 'round')}"
        hours = agent_hours(plan.staffing, settings.interval)
        compared.append(f"{method}: {rounds}, {hours:.1f} agent-hours, agents {min(loaded)}-{max(loaded)}, "
                        f"day {level.mean:.1%} +- {level.half_width:.1%} (target {settings.target.service_level:.0%}), "
                        f"{seconds:.0f} s")
    print(f"compared on {name}:\n  " + "\n  ".join(compared))
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replications", type=int, default=5)
    parser.add_argument("--calls-per-day", type=float, default=None, help="override the 1555 example's calls")
    parser.add_argument("--only", choices=("flat", "1555"), default=None)
    parser.add_argument("--method", choices=tuple(METHODS), default=None, help="one method (default: both)")
    args = parser.parse_args(argv)
    if args.replications < 1:
        parser.error("--replications must be at least 1")
    methods = [args.method] if args.method else list(METHODS)
    if args.only in (None, "flat"):
        run_case("flat day, 770 calls/h, 270 s exponential, 80/20 (Erlang C: 65)",
                 load_config_text(flat_config_text(), "flat.yaml"), args.replications, methods)
    if args.only in (None, "1555"):
        example = load_config(EXAMPLE)
        if args.calls_per_day is not None and example.sim is not None:
            example = replace(example, sim=replace(example.sim, calls_per_day=args.calls_per_day))
        run_case("examples/1555.yaml", example, args.replications, methods)


if __name__ == "__main__":
    main()
