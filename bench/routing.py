"""Best-match against scarce_last on a simulated day: every queue's service level and
the worst queue's, for both.

The day is ``acd-sim run``'s (the config's sim section, a weekday's opening hours and
volume, the same seeds for both strategies, so both meet the same callers); only every
queue's ``strategy`` differs: ``longest_idle`` with ``prefer_best_match`` (best-match)
against ``scarce_last``. Last lines:

    best-match: service level <S> %, worst queue <name> <W> %
    scarce_last: service level <S> %, worst queue <name> <W> %

Run: ``python -m bench.routing [--config examples/1555.yaml] [--replications R]
[--jobs N]`` (a replication takes about 30 s of one core).
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from pathlib import Path

from acd.config import load_config
from acd.config.model import Config
from acd.config.sim import settings_for
from sim.opening import calls_on, representative_date
from sim.replications import Replicated
from sim.run_command import queue_lines, simulate

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"
#: the strategies compared: label -> (strategy, prefer_best_match)
COMPARED = {"best-match": ("longest_idle", True), "scarce_last": ("scarce_last", True)}


def with_strategy(config: Config, strategy: str, best_match: bool) -> Config:
    """``config`` with every queue routed by ``strategy``."""
    queues = {name: dataclasses.replace(queue, strategy=strategy, prefer_best_match=best_match)
              for name, queue in config.queues.items()}
    return dataclasses.replace(config, queues=queues)


def levels(result: Replicated) -> dict[str, float]:
    """Each queue's service level (mean over the replications) that had callers."""
    return {queue: figures["service_level"].mean for queue, figures in result.queues.items()
            if not math.isnan(figures["service_level"].mean)}


def report(label: str, result: Replicated) -> list[str]:
    by_queue = levels(result)
    worst = min(by_queue, key=by_queue.__getitem__)
    return [f"{label}:", *queue_lines(result),
            f"{label}: service level {result.day['service_level'].mean * 100:.1f} %, "
            f"worst queue {worst} {by_queue[worst] * 100:.1f} %"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--replications", type=int, default=3, help="simulated days per strategy (default 3)")
    parser.add_argument("--jobs", type=int, default=2, help="processes (default 2)")
    args = parser.parse_args(argv)
    config = load_config(args.config)
    day = representative_date(config, "weekday")
    settings = settings_for(config)
    settings = dataclasses.replace(settings, calls_per_day=calls_on(settings, config, day))
    print(f"routing: {config.source}, {day.isoformat()} (weekday), {settings.calls_per_day:.0f} calls a day, "
          f"{args.replications} replications from seed {settings.seed}")
    summaries = []
    for label, (strategy, best_match) in COMPARED.items():
        result = simulate(with_strategy(config, strategy, best_match), settings, args.replications, quiet=True,
                          day=day, processes=args.jobs)
        lines = report(label, result)
        print("\n".join(lines[:-1]), flush=True)
        summaries.append(lines[-1])
    print("\n".join(summaries))


if __name__ == "__main__":
    main()
