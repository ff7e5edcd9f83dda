"""The fewest agents that meet a target, by the Erlang formulas of `sim.erlang`.

A target is any combination of: service level at least S within T seconds, ASA at most
A seconds, occupancy at most O (agents need breathing space between calls; planners
cap it around 85-90 %), with a patience (Erlang A) abandonment at most P, and with a
trunk of lines busy signals at most B.

Two traps the extra targets exist for, both the models' truth rather than artefacts:

- with impatient callers an overloaded queue sheds its excess by abandonment, and the
  survivors wait a short, nearly fixed time (about patience x ln(load / agents)); a
  service level target alone can then be met with fewer agents than Erlangs of load,
  while one caller in ten hangs up. Add a maximum abandonment.
- on a trunk, service level and ASA are of the callers who got a line (as queue
  reports count them), so with as many agents as lines nobody waits: the target is met
  by turning callers away with a busy signal. Add a maximum blocking.

Every figure improves as agents are added (service level rises; ASA, occupancy and
abandonment fall), so "meets the target" is false up to some head count and true from
there on: the search doubles the head count until the target is met, then bisects
between the last failing and the first passing count. That is about 2 log2(n)
evaluations, each O(n), so a thousand agents take milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from sim.erlang import Performance, offered_load, performance

#: Without lines, the search gives up beyond this many agents (a typo in the arrival
#: rate, not a real contact centre).
DEFAULT_MAX_AGENTS = 100_000


class TargetUnreachable(ValueError):
    """No head count within the limit (the trunk's lines, or ``max_agents``) meets the
    target."""


@dataclass(frozen=True, slots=True)
class StaffingTarget:
    """What "enough agents" means; unset parts (None) do not constrain."""

    threshold_s: float = 20.0
    #: minimum share of callers answered within ``threshold_s``, in (0, 1)
    service_level: float | None = None
    #: maximum average speed of answer, seconds (> 0)
    asa_s: float | None = None
    #: maximum occupancy, in (0, 1]
    max_occupancy: float | None = None
    #: maximum share of callers who abandon, in (0, 1); needs a patience
    max_abandon: float | None = None
    #: maximum share of callers who get busy, in (0, 1); needs lines
    max_block: float | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.threshold_s) and self.threshold_s >= 0):
            raise ValueError(f"threshold must be a finite number of seconds >= 0, got {self.threshold_s!r}")
        if self.service_level is not None and not 0 < self.service_level < 1:
            raise ValueError(f"service level target must lie strictly between 0 and 1 (a share, e.g. 0.8; "
                             f"1 would need infinitely many agents), got {self.service_level!r}")
        if self.asa_s is not None and not (math.isfinite(self.asa_s) and self.asa_s > 0):
            raise ValueError(f"ASA target must be a finite number of seconds > 0, got {self.asa_s!r}")
        if self.max_occupancy is not None and not 0 < self.max_occupancy <= 1:
            raise ValueError(f"maximum occupancy must lie in (0, 1], got {self.max_occupancy!r}")
        if self.max_abandon is not None and not 0 < self.max_abandon < 1:
            raise ValueError(f"maximum abandonment must lie strictly between 0 and 1, got {self.max_abandon!r}")
        if self.max_block is not None and not 0 < self.max_block < 1:
            raise ValueError(f"maximum blocking must lie strictly between 0 and 1, got {self.max_block!r}")
        if all(v is None for v in (self.service_level, self.asa_s, self.max_occupancy, self.max_abandon,
                                   self.max_block)):
            raise ValueError("give at least one target: service level, ASA, maximum occupancy, abandonment "
                             "or blocking")

    def shortfalls(self, figures: Performance) -> list[str]:
        """The parts of the target these figures miss, as readable reasons (empty when met)."""
        missed = []
        if self.service_level is not None and figures.service_level < self.service_level:
            missed.append(f"service level {figures.service_level:.4f} < {self.service_level} "
                          f"within {self.threshold_s:g} s")
        if self.asa_s is not None and not figures.asa <= self.asa_s:
            missed.append(f"ASA {figures.asa:.1f} s > {self.asa_s:g} s")
        if self.max_occupancy is not None and figures.occupancy > self.max_occupancy:
            missed.append(f"occupancy {figures.occupancy:.4f} > {self.max_occupancy}")
        if self.max_abandon is not None and (figures.p_abandon or 0.0) > self.max_abandon:
            missed.append(f"abandonment {figures.p_abandon:.4f} > {self.max_abandon}")
        if self.max_block is not None and (figures.p_block or 0.0) > self.max_block:
            missed.append(f"blocking {figures.p_block:.4f} > {self.max_block}")
        return missed

    def met_by(self, figures: Performance) -> bool:
        return not self.shortfalls(figures)


@dataclass(frozen=True, slots=True)
class Staffing:
    """The answer: ``agents`` and the figures at that head count (None with no calls,
    when the answer is zero agents and there is nothing to measure)."""

    agents: int
    performance: Performance | None


def agents_needed(calls_per_hour: float, aht_s: float, target: StaffingTarget, *,
                  patience_s: float | None = None, lines: int | None = None,
                  max_agents: int = DEFAULT_MAX_AGENTS) -> Staffing:
    """The fewest agents meeting ``target`` (Erlang C, or Erlang A with ``patience_s``,
    on a trunk of ``lines`` when given). Raises `TargetUnreachable` when even the most
    agents allowed (``lines``, else ``max_agents``) fall short."""
    if target.max_abandon is not None and patience_s is None:
        raise ValueError("an abandonment target needs the callers' patience (Erlang A); without it nobody abandons")
    if target.max_block is not None and lines is None:
        raise ValueError("a blocking target needs the number of lines; without them nobody gets busy")
    load = offered_load(calls_per_hour, aht_s)
    if load == 0:
        return Staffing(0, None)

    def figures(agents: int) -> Performance:
        return performance(calls_per_hour, aht_s, agents, target.threshold_s, patience_s=patience_s, lines=lines)

    limit = max_agents if lines is None else lines
    if limit < 1:
        raise ValueError(f"the agent limit must be at least 1, got {limit}")
    failing = 0  # a head count known to miss the target (0: none tried yet)
    passing = max(1, min(limit, math.floor(load)))  # below the load Erlang C cannot cope; start near it
    while not target.met_by(best := figures(passing)):
        if passing == limit:
            where = f"with all {limit} lines staffed" if lines is not None else f"with {limit} agents"
            raise TargetUnreachable(f"target not reachable {where}: " + "; ".join(target.shortfalls(best)))
        failing, passing = passing, min(limit, passing * 2)
    while passing - failing > 1:
        middle = (failing + passing) // 2
        if target.met_by(candidate := figures(middle)):
            passing, best = middle, candidate
        else:
            failing = middle
    return Staffing(passing, best)
