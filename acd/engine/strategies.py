"""Routing strategies, each one unit: its ranking of free agents, whether that ranking
is static, and the app_queue strategy the dialplan's fallback queue uses instead.

The config loader takes its list of names from here, the engine's lines and selection
rank agents with it, and the dialplan generator writes its app_queue name into
queues.conf; so a strategy is added, or its meaning changed, in this file alone.

A rank is a tuple, lowest first. With ``prefer_best_match`` every strategy but
``scarce_last`` puts match quality first (the highest sum of levels on the required
skills, then specialists, with fewer skills, before generalists) and its own value after;
the agent's place in the config breaks what is left. ``scarce_last`` puts its own value,
whether other callers need the agent (``_needed_elsewhere``: it is the last free agent for
them), before match quality, and the agent's idle time after it.

A *static* ranking cannot change while the agent stays free, so each line keeps its free
agents in heaps ranked once (``Engine._shelve``) instead of ranking them at every call;
the others rank the free agents who qualify at each call.

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
    """What the dynamic strategies consult: the seeded generator of ``random``, per queue
    the config order of the agent offered last (``rrmemory``), and the lines each agent
    may serve (``scarce_last``; the engine's own index, set by the engine)."""

    __slots__ = ("rng", "last", "agent_count", "agent_lines")

    def __init__(self, seed: int, agent_count: int) -> None:
        self.rng = random.Random(seed)
        self.last: dict[str, int] = {}
        self.agent_count = max(agent_count, 1)
        self.agent_lines: dict[str, list[Line]] = {}


#: a strategy's own value for a free agent (lower first), before the config-order tie-break
Value = Callable[["Line", "Agent", Picking], float]


class Strategy:
    __slots__ = ("name", "app_queue", "static", "before_match", "value", "meaning")

    def __init__(self, name: str, app_queue: str, static: bool, value: Value, meaning: str,
                 before_match: bool = False) -> None:
        self.name = name
        #: the app_queue strategy of the fallback queue (dialplan/generate.py)
        self.app_queue = app_queue
        self.static = static
        #: the strategy's value ranks before match quality, and idle time after it
        self.before_match = before_match
        self.value = value
        #: one line for the docs and the config's error messages
        self.meaning = meaning

    def rank(self, line: Line, agent: Agent, picking: Picking) -> tuple:
        """The agent's rank for ``line``'s callers: lower is offered first."""
        value = self.value(line, agent, picking)
        if line.queue.prefer_best_match:
            level, count = line.match[agent.id]
            if self.before_match:
                return (value, level, count, agent.idle_since, agent.order)
            return (level, count, value, agent.order)
        if self.before_match:
            return (value, agent.idle_since, agent.order)
        return (value, agent.order)


def _idle_since(line: Line, agent: Agent, picking: Picking) -> float:
    return agent.idle_since


def _last_end(line: Line, agent: Agent, picking: Picking) -> float:
    return agent.last_end.get(line.queue.name, float("-inf"))


def _calls_taken(line: Line, agent: Agent, picking: Picking) -> float:
    return float(agent.calls_taken.get(line.queue.name, 0))


def _config_order(line: Line, agent: Agent, picking: Picking) -> float:
    return 0.0


def _needed_elsewhere(line: Line, agent: Agent, picking: Picking) -> float:
    """How much other callers need this agent now: the callers so far of every line for
    which it is the last free agent who may serve (at any widening stage); 0 when every
    line it serves has other free agents.

    So an agent is kept while it is the only one free for some callers (the one free
    bilingual pensions specialist, when English pensions callers come) and a caller who
    has other candidates takes one of them (a Greek-only desk agent); between agents
    each the last of some line, the one whose lines have had fewer callers goes first.
    When no candidate is the last of anything, the rank falls back to best-match. The
    measures tried before this one, and their figures, are in docs/routing.md."""
    needed = 0.0
    for other in picking.agent_lines[agent.id]:
        if other.free_count <= 1 and other is not line:
            needed += other.arrivals
    return needed


def _random(line: Line, agent: Agent, picking: Picking) -> float:
    return picking.rng.random()


def _round_robin(line: Line, agent: Agent, picking: Picking) -> float:
    return float((agent.order - picking.last.get(line.queue.name, -1) - 1) % picking.agent_count)


DEFAULT = "longest_idle"

#: every strategy by name, in the order the docs and error messages list them
STRATEGIES: dict[str, Strategy] = {s.name: s for s in (
    Strategy("longest_idle", "leastrecent", True, _idle_since,
             "idle longest since the last call of any queue (or login, unpause)"),
    Strategy("scarce_last", "leastrecent", False, _needed_elsewhere,
             "best-match, except that an agent who is the last one free for other callers goes last",
             before_match=True),
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

#: app_queue's strategies the engine has no counterpart for, and why (the config's error
#: says so rather than only that the name is unknown)
APP_QUEUE_ONLY: dict[str, str] = {
    "ringall": "it rings every free agent at once; the engine offers a caller to one agent at a time",
    "wrandom": "it weighs a random pick by the member's penalty; the engine has no penalties",
    "rrordered": "it is round robin in member order; that is 'rrmemory' here",
    "roundrobin": "it is app_queue's old name of 'rrmemory'",
}


def strategy_of(name: str) -> Strategy:
    """The strategy called ``name`` (the loader has refused any other name)."""
    return STRATEGIES[name]

