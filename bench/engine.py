"""Routing engine throughput and latency under a large contact centre's load.

1,000 agents, 40 skills, 500 callers kept waiting, and a long random stream of the
events a live daemon feeds the engine (arrivals, answers, missed offers, hang-ups on
both sides, abandons, pauses, time passing). Only ``Engine.handle`` is timed; the
driver's own bookkeeping is not. Last line:

    engine: <N> events/s, p99 <X> us

Run: ``python -m bench.engine [--events N] [--seed S]``.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time

from acd.config import load_config_text
from acd.config.model import Config
from acd.engine import Engine, compiled
from acd.engine import decisions as d
from acd.engine import events as e

TOPICS = 36
LANGS = ("el", "en")
EXTRA = ("type:employer", "route:vip")   # 36 topics + 2 languages + 2 = 40 skills


def bench_config(agents: int = 1000, seed: int = 1) -> Config:
    rng = random.Random(seed)
    lines = ["service: {name: bench, languages: [el, en]}", "skills:"]
    lines += [f"  topic:t{i}: topic {i}" for i in range(TOPICS)]
    lines += [f"  lang:{lang}: speaks {lang}" for lang in LANGS] + [f"  {s}: extra" for s in EXTRA]
    lines.append("queues:")
    for i in range(TOPICS):
        lines += [f"  q{i}:", f"    requires: {{topic:t{i}: 2}}", "    wrapup: 5", "    max_wait: 900",
                  f"    strategy: {('longest_idle', 'leastrecent', 'fewestcalls', 'rrmemory')[i % 4]}",
                  "    widening: [{after: 30, min_level: 1}, {after: 120, drop: [type:employer]}]",
                  f"    priority: {i % 3}", f"    weight: {1 + (i % 2)}"]
    lines.append("agents:")
    for n in range(agents):
        skills = {f"topic:t{t}": rng.randint(1, 5) for t in rng.sample(range(TOPICS), rng.randint(2, 5))}
        skills["lang:el"] = 5
        if rng.random() < 0.4:
            skills["lang:en"] = rng.randint(1, 5)
        if rng.random() < 0.3:
            skills["type:employer"] = rng.randint(1, 5)
        body = ", ".join(f"{k}: {v}" for k, v in skills.items())
        lines.append(f"  '{10000 + n}': {{pin: '1234', skills: {{{body}}}}}")
    return load_config_text("\n".join(lines) + "\n", "<bench>")


def run(events: int, seed: int, waiting_target: int = 500) -> tuple[list[int], int, Engine]:
    config = bench_config(seed=seed)
    rng = random.Random(seed)
    engine = Engine(config)
    timings: list[int] = []
    now = 0.0
    waiting: set[str] = set()
    offered: dict[str, str] = {}
    connected: list[str] = []
    paused: list[str] = []
    agent_ids = list(config.agents)
    next_call = 0
    perf = time.perf_counter_ns

    def feed(event: e.Event, timed: bool) -> None:
        start = perf()
        out = engine.handle(event)
        if timed:
            timings.append(perf() - start)
        for decision in out:
            if isinstance(decision, d.CallQueued):
                waiting.add(decision.call_id)
            elif isinstance(decision, d.OfferCall):
                waiting.discard(decision.call_id)
                offered[decision.call_id] = decision.agent_id
            elif isinstance(decision, d.CallConnected):
                connected.append(decision.call_id)
            elif isinstance(decision, d.OfferMissed):
                waiting.add(decision.call_id)
            elif isinstance(decision, (d.CallAbandoned, d.ExitCall)):
                waiting.discard(decision.call_id)
                offered.pop(decision.call_id, None)

    for agent_id in agent_ids:
        feed(e.AgentLoggedIn(now, agent_id), False)
    total = 0
    warmup = 20_000   # every line (distinct requirements) exists: steady state
    while total < events + warmup:
        timed = total >= warmup
        now += rng.expovariate(60.0)
        roll = rng.random()
        if len(waiting) < waiting_target and roll < 0.45:
            next_call += 1
            requirements = {"lang:el": rng.randint(1, 3)} if rng.random() < 0.8 else {"lang:en": 1}
            if rng.random() < 0.2:
                requirements["type:employer"] = 2
            feed(e.CallArrived(now, f"c{next_call}", f"q{rng.randrange(TOPICS)}", requirements,
                               priority=rng.choice((None, None, 1))), timed)
        elif offered and roll < 0.65:
            call_id = rng.choice(list(offered)) if len(offered) < 64 else next(iter(offered))
            agent_id = offered.pop(call_id)
            if rng.random() < 0.9:
                feed(e.OfferAnswered(now, call_id, agent_id), timed)
            else:
                feed(e.OfferFailed(now, call_id, agent_id, "no_answer"), timed)
        elif connected and roll < 0.85:
            call_id = connected.pop(rng.randrange(len(connected)))
            event_type = e.AgentHungUp if rng.random() < 0.5 else e.CallerHungUp
            feed(event_type(now, call_id), timed)
        elif waiting and roll < 0.88:
            call_id = rng.choice(tuple(waiting)) if len(waiting) < 1000 else next(iter(waiting))
            feed(e.CallerHungUp(now, call_id), timed)
        elif roll < 0.91:
            agent_id = rng.choice(agent_ids)
            feed(e.AgentPaused(now, agent_id, "break"), timed)
            paused.append(agent_id)
        elif paused and roll < 0.94:
            feed(e.AgentUnpaused(now, paused.pop(rng.randrange(len(paused)))), timed)
        else:
            feed(e.Tick(now), timed)
        total += 1
    return timings, len(waiting), engine


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="timed events (default 200,000)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    timings, still_waiting, engine = run(args.events, args.seed)
    timings.sort()
    total_s = sum(timings) / 1e9
    p50 = timings[len(timings) // 2] / 1000
    p99 = timings[int(len(timings) * 0.99)] / 1000
    busy = sum(1 for a in engine.agents.values() if a.state.value in ("ringing", "on_call", "wrap_up"))
    print(f"agents 1000, skills 40, waiting at end {still_waiting}, agents busy at end {busy}, "
          f"engine {'compiled (mypyc)' if compiled() else 'plain Python'}")
    print(f"timed events {len(timings)}, engine time {total_s:.2f} s, p50 {p50:.1f} us, "
          f"mean {statistics.fmean(timings) / 1000:.1f} us, max {timings[-1] / 1000:.0f} us")
    print(f"engine: {len(timings) / total_s:,.0f} events/s, p99 {p99:.0f} us".replace(",", ""))


if __name__ == "__main__":
    main()
