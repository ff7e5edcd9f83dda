"""Which free agent gets a caller: the queue's strategy, after match quality.

With ``prefer_best_match`` (the default) agents are first ranked by match quality on
the line's requirements: the highest sum of levels on the required skills, then
specialists (fewer skills) before generalists, who are kept for the calls only they
can take. The queue's strategy breaks the remaining ties:

- ``longest_idle``: idle longest since their last call of any queue (or login/unpause);
- ``leastrecent``: least recently finished a call of *this* queue (app_queue's meaning);
- ``fewestcalls``: fewest calls of this queue taken so far;
- ``random``: uniformly at random, from the engine's seeded generator;
- ``rrmemory``: round robin in config order, continuing after the last agent offered;
- ``linear``: config order, the first free agent wins.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from acd.engine.lines import Line
from acd.engine.runtime import Agent

RankKey = Callable[[Agent], tuple]

def static_key(line: Line, agent: Agent) -> tuple:
    """The rank of a free agent for ``line`` under a static strategy: the same order as
    ``AgentChooser.choose`` gives (match tier, strategy key, config order)."""
    queue = line.queue
    strategy = queue.strategy
    if strategy == "longest_idle":
        value: float = agent.idle_since
    elif strategy == "leastrecent":
        value = agent.last_end.get(queue.name, float("-inf"))
    elif strategy == "fewestcalls":
        value = float(agent.calls_taken.get(queue.name, 0))
    else:
        value = 0.0
    if queue.prefer_best_match:
        level, count = line.match[agent.id]
        return (level, count, value, agent.order)
    return (value, agent.order)


class AgentChooser:
    __slots__ = ("_rng", "_rr_last", "_agent_count")

    def __init__(self, seed: int, agent_count: int) -> None:
        self._rng = random.Random(seed)
        self._rr_last: dict[str, int] = {}   # queue -> order of the agent offered last
        self._agent_count = max(agent_count, 1)

    def choose(self, line: Line, candidates: Iterable[Agent]) -> Agent | None:
        queue = line.queue
        strategy = queue.strategy
        name = queue.name
        match = line.match if queue.prefer_best_match else None
        if strategy == "longest_idle":
            def key(a: Agent) -> tuple:
                return (match[a.id] if match else (), a.idle_since, a.order)
        elif strategy == "leastrecent":
            def key(a: Agent) -> tuple:
                return (match[a.id] if match else (), a.last_end.get(name, float("-inf")), a.order)
        elif strategy == "fewestcalls":
            def key(a: Agent) -> tuple:
                return (match[a.id] if match else (), a.calls_taken.get(name, 0), a.order)
        elif strategy == "random":
            rng = self._rng
            def key(a: Agent) -> tuple:
                return (match[a.id] if match else (), rng.random())
        elif strategy == "rrmemory":
            last = self._rr_last.get(name, -1)
            n = self._agent_count
            def key(a: Agent) -> tuple:
                return (match[a.id] if match else (), (a.order - last - 1) % n)
        else:  # linear
            def key(a: Agent) -> tuple:
                return (match[a.id] if match else (), a.order)
        best = min(candidates, key=key, default=None)
        if best is not None and strategy == "rrmemory":
            self._rr_last[name] = best.order
        return best
