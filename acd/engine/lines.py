"""Lines: the callers who share a queue, the same requirements and the same priority.

Within a line every caller has the same requirements and the same widening steps, so
FIFO is exact and cheap: the oldest caller is also the most widened, and if any caller
of the line may go to an agent, the head may. A caller never moves between lines;
widening only changes which agents the line accepts at each stage.

Each line precomputes, for every agent, the first stage at which that agent qualifies
(``eligible``), and every agent keeps the list of lines it may ever serve. So an agent
that becomes free looks only at its own lines, and a caller looks only at the free
agents of its rarest required skill: no scan of all agents per event.
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping

from acd.config.model import QueueConfig
from acd.engine.runtime import Agent, Call
from acd.engine.strategies import strategy_of

#: (queue, requirements, priority, callback): callbacks wait in lines of their own, so a
#: callback held back (no AMI, the callback share used up) never blocks the callers on the
#: line behind it, and FIFO stays exact within each line
LineKey = tuple[str, frozenset[tuple[str, int]], int, bool]


def requirements_at(requirements: Mapping[str, int], queue: QueueConfig, stage: int) -> dict[str, int]:
    """The requirements in force after ``stage`` widening steps of ``queue`` (the queue's
    rule, ``QueueConfig.widened``: written once, for the config's checks too)."""
    return queue.widened(requirements, stage)


def _remove(entries: list[tuple[float, int, Call]], call: Call) -> None:
    index = bisect.bisect_left(entries, (call.enqueued_at, call.seq))
    if index < len(entries) and entries[index][2] is call:
        del entries[index]


def qualifies(skills: Mapping[str, int], requirements: Mapping[str, int]) -> bool:
    for skill, level in requirements.items():
        if skills.get(skill, 0) < level:
            return False
    return True


class Line:
    __slots__ = ("key", "queue", "priority", "requirements", "stages", "thresholds", "eligible",
                 "match", "_queue", "weight", "boost", "overlaps", "apart", "staffed", "score_class", "free",
                 "strategy", "static", "callback", "arrivals", "free_count")

    def __init__(self, key: LineKey, queue: QueueConfig, requirements: dict[str, int], priority: int,
                 priority_seconds: float, score_class: list[tuple[float, int, Call]]) -> None:
        self.key = key
        self.callback = key[3]
        self.queue = queue
        self.priority = priority
        self.requirements = requirements
        self.stages = [requirements_at(requirements, queue, s) for s in range(len(queue.widening) + 1)]
        #: wait needed to reach each stage (stage 0 needs none)
        self.thresholds = [0.0] + [step.after for step in queue.widening]
        self.eligible: dict[str, int] = {}      # agent id -> first stage it qualifies at
        self.match: dict[str, tuple[int, int]] = {}  # agent id -> (-level sum, skill count)
        self._queue: list[tuple[float, int, Call]] = []
        #: lines sharing at least one agent with this one (itself included): who competes
        self.overlaps: list[Line] = [self]
        #: the other lines, sharing no agent with this one
        self.apart: list[Line] = []
        #: every waiting call of every line with this line's weight and boost, in one sorted
        #: list: within it, score order is arrival order, so one bisect counts them all
        self.score_class = score_class
        #: logged-in, unpaused agents by the stage they qualify at (wait estimates)
        self.staffed = [0] * len(self.stages)
        #: free agents by the stage they qualify at, as heaps of (rank, agent id, agent
        #: token); an entry whose agent is no longer free with that token is stale and is
        #: dropped when it reaches the top (used with static strategies only)
        self.free: list[list[tuple[tuple, str, int]]] = [[] for _ in self.stages]
        self.strategy = strategy_of(queue.strategy)
        #: the strategy's rank of a free agent cannot change while it stays free: heaps
        self.static = self.strategy.static
        self.weight = queue.weight
        #: callers who have joined this line so far, and the free agents who may serve it
        #: (at any stage): how much it needs its agents (``scarce_last``)
        self.arrivals = 0
        self.free_count = 0
        #: priority ages with wait: a caller's score is weight x (wait + boost)
        self.boost = priority * priority_seconds

    def admit_agent(self, agent: Agent) -> bool:
        """Record the first stage at which ``agent`` may serve this line; False if never."""
        for stage, reqs in enumerate(self.stages):
            if qualifies(agent.skills, reqs):
                self.eligible[agent.id] = stage
                level_sum = sum(agent.skills.get(s, 0) for s in self.requirements)
                self.match[agent.id] = (-level_sum, len(agent.skills))
                return True
        self.eligible.pop(agent.id, None)
        self.match.pop(agent.id, None)
        return False

    # -- the waiting callers ---------------------------------------------------------------
    # A list sorted by (enqueued_at, seq): the head is the oldest caller, a caller who comes
    # back after a missed offer is put back at its own place, and a position is a bisect.
    def push(self, call: Call) -> None:
        entry = (call.enqueued_at, call.seq, call)
        bisect.insort(self._queue, entry)
        bisect.insort(self.score_class, entry)

    def discard(self, call: Call) -> None:
        _remove(self._queue, call)
        _remove(self.score_class, call)

    def head(self) -> Call | None:
        return self._queue[0][2] if self._queue else None

    @property
    def live(self) -> int:
        return len(self._queue)

    def waiting(self) -> list[Call]:
        return [entry[2] for entry in self._queue]

    def __repr__(self) -> str:
        return f"<Line {self.queue.name} {dict(self.requirements)} p={self.priority} live={self.live}>"
