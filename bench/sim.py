"""How much the real engine costs a simulation, against a bare SimPy model.

One simulated day with the 1555 config (18,500 calls by default, the full model: trunk
limit, IVR, routing by the engine, patience, redials, shifts) and, in the same run, a
bare SimPy M/M/c model (one ``simpy.Resource`` of as many servers as agents,
exponential service of the same mean) fed the very same arrival times. The ratio of
the two wall-clock times is what the engine and the richer story cost. The engine and
the model run compiled by mypyc when the install built them (setup.py), as they do for
planners; the first line says which. Last line:

    sim: day of <N> calls in <X> s, bare SimPy <Y> s, ratio <R> (limit 3: ok|OVER)

Times are CPU seconds of this process (``time.process_time``): on a machine shared
with other work, wall-clock time counts their turns too, and a ratio of two wall
times measured moments apart moved between 3.4 and 5.5 with the load of the machine.

Run: ``python -m bench.sim [--config examples/1555.yaml] [--calls-per-day N] [--seed S]
[--repeat K]``.
"""
from __future__ import annotations

import argparse
import random
import time
from collections.abc import Generator
from pathlib import Path

import simpy

from acd.config import load_config
from acd.config.sim import settings_for
from acd.engine import compiled
from sim.load import DAY, arrival_times
from sim import model
from sim.model import CallCentreDay

#: the most the engine and the richer story may cost, as a multiple of bare SimPy (issue 13)
RATIO_LIMIT = 3.0
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "examples" / "1555.yaml"


def bare_mmc(arrivals: list[float], servers: int, mean_service: float, seed: int) -> int:
    """The textbook SimPy model: each caller requests one of ``servers`` agents, holds it
    for an exponential time and leaves. Returns the number of callers served."""
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=servers)
    rng = random.Random(seed)
    rate = 1.0 / mean_service
    served = 0

    def caller() -> Generator[simpy.Event, None, None]:
        nonlocal served
        with agents.request() as request:
            yield request
            yield env.timeout(rng.expovariate(rate))
            served += 1

    def source() -> Generator[simpy.Event, None, None]:
        for at in arrivals:
            yield env.timeout(at - env.now)
            env.process(caller())

    env.process(source())
    env.run(until=DAY)
    return served


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--calls-per-day", type=float, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3,
                        help="time each model this many times and keep the fastest (default 3), "
                             "as timeit does: other processes only ever add time")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    config = load_config(args.config)
    settings = settings_for(config)
    calls = settings.calls_per_day if args.calls_per_day is None else args.calls_per_day
    arrivals = arrival_times(calls, settings.profile, random.Random(args.seed))

    bare_s = model_s = float("inf")
    for _ in range(args.repeat):
        start = time.process_time()
        bare_served = bare_mmc(arrivals, len(config.agents), settings.talk_time.mean, args.seed)
        bare_s = min(bare_s, time.process_time() - start)
        start = time.process_time()
        day = CallCentreDay(config, settings, args.seed, arrivals=arrivals).run()
        model_s = min(model_s, time.process_time() - start)

    outcomes: dict[str, int] = {}
    for attempt in day.attempts:
        outcomes[attempt.outcome] = outcomes.get(attempt.outcome, 0) + 1
    redials = sum(1 for a in day.attempts if a.attempt > 1)
    print(f"config {args.config}: {len(config.agents)} agents, {day.lines} lines, "
          f"engine {'compiled (mypyc)' if compiled() else 'plain Python'}, "
          f"day model {'plain Python' if (model.__file__ or '').endswith('.py') else 'compiled (mypyc)'}")
    print(f"first calls {len(arrivals)}, redials {redials}, attempts {len(day.attempts)}: "
          + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    print(f"bare M/M/{len(config.agents)} served {bare_served} of {len(arrivals)}")
    ratio = model_s / bare_s
    print(f"sim: day of {len(arrivals)} calls in {model_s:.2f} s, bare SimPy {bare_s:.2f} s, "
          f"ratio {ratio:.1f} (limit {RATIO_LIMIT:g}: {'ok' if ratio <= RATIO_LIMIT else 'OVER'})")


if __name__ == "__main__":
    main()
