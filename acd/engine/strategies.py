"""Routing strategies, each one unit: its ranking of free agents, whether that ranking
is static, and the app_queue strategy the dialplan's fallback queue uses instead.

The config loader takes its list of names from here, the engine's lines and selection
rank agents with it, and the dialplan generator writes its app_queue name into
queues.conf; so a strategy is added, or its meaning changed, in this file alone.

A rank is a tuple, lowest first. With ``prefer_best_match`` every strategy but
``scarce_last`` puts match quality first (the highest sum of levels on the required
skills, then specialists, with fewer skills, before generalists) and its own value after;
the agent's place in the config breaks what is left. ``scarce_last`` puts the agent's
flexibility before match quality (see ``line_scarcity``).

A *static* ranking cannot change while the agent stays free, so each line keeps its free
agents in heaps ranked once (``Engine._shelve``) instead of ranking them at every call.
``scarce_last`` counts as static: an agent's flexibility only grows when the engine meets
a new combination of requirements (a new line), and an agent already free keeps the rank
it was filed with until its next call; the order, not who may be offered, is what that
delays.

app_queue's own strategies (Asterisk 16, ``strategies[]`` in apps/app_queue.c): ringall,
leastrecent, fewestcalls, random, rrmemory (alias roundrobin), linear, wrandom and
rrordered. Each strategy here names the one nearest to it.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from acd.engine.lines import Line
    from acd.engine.runtime import Agent


class Picking:
    """What the dynamic strategies remember between picks: the seeded generator of
    ``random`` and, per queue, the config order of the agent offered last (``rrmemory``)."""

    __slots__ = ("rng", "last", "agent_count")

    def __init__(self, seed: int, agent_count: int) -> None:
        self.rng = random.Random(seed)
        self.last: dict[str, int] = {}
        self.agent_count = max(agent_count, 1)


#: a strategy's own value for a free agent (lower first), before the config-order tie-break
Value = Callable[["Line", "Agent", Picking], float]


class Strategy:
    __slots__ = ("name", "app_queue", "static", "flexibility_first", "value", "meaning")

    def __init__(self, name: str, app_queue: str, static: bool, value: Value, meaning: str,
                 flexibility_first: bool = False) -> None:
        self.name = name
        #: the app_queue strategy of the fallback queue (dialplan/generate.py)
        self.app_queue = app_queue
        self.static = static
        #: rank by flexibility (``Agent.flexibility``) before match quality
        self.flexibility_first = flexibility_first
        self.value = value
        #: one line for the docs and the config's error messages
        self.meaning = meaning

    def rank(self, line: Line, agent: Agent, picking: Picking) -> tuple:
        """The agent's rank for ``line``'s callers: lower is offered first."""
        value = self.value(line, agent, picking)
        if line.queue.prefer_best_match:
            level, count = line.match[agent.id]
            if self.flexibility_first:
                return (agent.flexibility, level, count, value, agent.order)
            return (level, count, value, agent.order)
        if self.flexibility_first:
            return (agent.flexibility, value, agent.order)
        return (value, agent.order)


def _idle_since(line: Line, agent: Agent, picking: Picking) -> float:
    return agent.idle_since


def _last_end(line: Line, agent: Agent, picking: Picking) -> float:
    return agent.last_end.get(line.queue.name, float("-inf"))


def _calls_taken(line: Line, agent: Agent, picking: Picking) -> float:
    return float(agent.calls_taken.get(line.queue.name, 0))


def _config_order(line: Line, agent: Agent, picking: Picking) -> float:
    return 0.0


def _random(line: Line, agent: Agent, picking: Picking) -> float:
    return picking.rng.random()


def _round_robin(line: Line, agent: Agent, picking: Picking) -> float:
    return float((agent.order - picking.last.get(line.queue.name, -1) - 1) % picking.agent_count)


DEFAULT = "longest_idle"

#: every strategy by name, in the order the docs and error messages list them
STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("longest_idle", "leastrecent", True, _idle_since,
             "idle longest since the last call of any queue (or login, unpause)"),
    Strategy("scarce_last", "leastrecent", True, _idle_since,
             "the agent other callers need least first (see line_scarcity), then longest idle",
             flexibility_first=True),
    Strategy("leastrecent", "leastrecent", True, _last_end,
             "least recently finished a call of this queue (app_queue's meaning)"),
    Strategy("fewestcalls", "fewestcalls", True, _calls_taken, "fewest calls of this queue taken so far"),
    Strategy("random", "random", False, _random, "uniformly at random, from the engine's seeded generator"),
    Strategy("rrmemory", "rrmemory", False, _round_robin,
             "round robin in config order, continuing after the agent offered last"),
    Strategy("linear", "linear", True, _config_order, "config order: the first free agent wins"),
)}

#: the names the config accepts
NAMES: tuple[str, ...] = tuple(STRATEGIES)


def strategy_of(name: str) -> Strategy:
    """The strategy called ``name`` (the loader has refused any other name)."""
    return STRATEGIES[name]


def line_scarcity(line: Line) -> float:
    """What one line adds to the flexibility of each agent who may serve it: 1 / the
    agents who may (at any widening stage).

    An agent's flexibility is the sum over the lines it may serve, so it is high for an
    agent who is one of few for some callers (a bilingual pensions specialist, one of 30
    for English pensions callers) and low for one whose callers many others can take
    (a Greek-only desk agent). ``scarce_last`` offers a caller the least flexible agent
    first, which keeps the scarce skills free for the callers who need them. Lines that
    differ only in priority or in being callbacks are one demand and count once
    (``Engine._line_for``)."""
    return 1.0 / len(line.eligible) if line.eligible else 0.0
