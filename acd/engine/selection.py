"""Which free agent gets a caller: the lowest rank under the line's strategy.

The strategies themselves (their rankings, which are static, their app_queue names)
are in ``acd.engine.strategies``; this module applies them. Lines of a static strategy
keep their free agents in heaps ranked with ``AgentChooser.rank``; the others rank the
free agents who qualify at each call with ``AgentChooser.choose``.
"""
from __future__ import annotations

from collections.abc import Iterable

from acd.engine.lines import Line
from acd.engine.runtime import Agent
from acd.engine.strategies import Picking


class AgentChooser:
    __slots__ = ("picking",)

    def __init__(self, seed: int, agent_count: int) -> None:
        self.picking = Picking(seed, agent_count)

    def rank(self, line: Line, agent: Agent) -> tuple:
        """The rank of a free agent for ``line`` (lower is offered first)."""
        return line.strategy.rank(line, agent, self.picking)

    def choose(self, line: Line, candidates: Iterable[Agent]) -> Agent | None:
        """The best of ``candidates`` for ``line``'s head caller; remembered as the queue's
        last offered agent (``rrmemory`` goes on after it)."""
        picking, strategy = self.picking, line.strategy
        best = min(candidates, key=lambda agent: strategy.rank(line, agent, picking), default=None)
        if best is not None:
            picking.last[line.queue.name] = best.order
        return best
