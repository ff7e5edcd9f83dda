"""The staffing search: the agents per interval that meet the targets (service level,
and with ``sim.target`` ASA, abandonment and occupancy caps together), checked by
simulation rather than trusted to a formula.

It follows the simulation-based iterative staffing algorithm (ISA) of Feldman,
Mandelbaum, Massey and Whitt, "Staffing of Time-Varying Queues to Achieve Time-Stable
Performance", Management Science 54(2):324-338, 2008: staff every moment for the load
that the simulated system offers at that moment, simulate again with that staffing
(the load depends on it: callers who give up or get busy dial again), and repeat until
the staffing stops changing. The ISA is proven to converge for Mt/M/st+M and gives a
time-stable delay. Our variant, for a planner's tables and a few replications:

- the load a moment offers is the infinite-server load of ``sim.offered_load``: the
  first calls' part computed exactly from the profile (no noise), the redials' part
  measured in the simulated days;
- the agents that load needs are the stationary formula's (Erlang C, or Erlang A with
  exponential patience) at the service-level target, never fewer than the erlangs;
  at a fixed moment of a flat day that is exactly the M/M/s answer, which the ISA's
  fixed point P(N(t) >= s(t)) <= alpha also gives;
- staffing is constant over an interval, so an interval gets the most that any moment
  of it (start, middle, end) needs: no interval below its own need;
- what the formula leaves out (skills that split the agents, the trunk, non-exponential
  talk) the simulation catches: an interval whose simulated service level is below the
  target beyond doubt (the upper end of its confidence interval) gets one more agent,
  and keeps it. Corrections only grow, so the search cannot oscillate, and a lucky
  day cannot take an agent away.

Every round replays the same seeds (common random numbers, ``sim.model``), so a
change in the figures comes from the change in staffing, not from luck. When the
redials' load is too noisy to pin an interval's staffing within one agent, the search
doubles the replications (up to ``MAX_REPLICATION_FACTOR`` times what was asked).

The earlier search simulated the service level per interval and corrected each
interval from its own estimate; at 770 calls an hour five days estimate an interval's
service level within about +- 10 points, so its table was a jagged 60-78 around
Erlang C's 65 (issue 13; compare with ``python -m bench.plan``).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from acd.config.model import Config
from acd.config.sim import SimSettings
from sim.confidence import Estimate, estimate
from sim.needed import erlang_c_agents, mean_handle_time
from sim.offered_load import first_call_load, redial_load
from sim.opening import open_minutes
from sim.replications import Replicated, run_days
from sim.roster import rotation
from sim.staffing import StaffingTarget, TargetUnreachable, agents_needed

#: the search may raise the replications to this multiple of what was asked
MAX_REPLICATION_FACTOR = 4
#: moments of an interval whose load the staffing must cover (fractions of its length)
MOMENTS: tuple[float, ...] = (0.0, 0.5, 1.0)


@dataclass(frozen=True, slots=True)
class Plan:
    staffing: tuple[int, ...]
    erlang_c: tuple[float, ...]
    check: Replicated
    #: rounds simulated (the last found nothing to change, when converged)
    rounds: int
    #: intervals that miss the target even with every available agent
    short_of_agents: tuple[int, ...]
    converged: bool
    #: replications of the last round (more than asked when the noise needed them)
    replications: int = 0
    #: the peak offered load of each interval (erlangs), as the last round measured it
    offered_load: tuple[float, ...] = ()
    #: the staffing of every round, first to last
    history: tuple[tuple[int, ...], ...] = ()

    def staffing_table(self, interval_minutes: int) -> dict[str, int]:
        """The staffing as the config's step table: only the times where it changes."""
        table: dict[str, int] = {}
        previous: int | None = None
        for index, count in enumerate(self.staffing):
            if count != previous:
                minutes = index * interval_minutes
                table[f"{minutes // 60:02d}:{minutes % 60:02d}"] = count
                previous = count
        return table


class _Formula:
    """Agents a moment's offered load needs by the stationary formula (see module doc)."""

    def __init__(self, config: Config, settings: SimSettings, limit: int) -> None:
        # the agent's phone rings answer_delay seconds: agent time, and the caller's wait
        self.handle = mean_handle_time(config, settings) + settings.answer_delay
        target = settings.target
        threshold = max(0.0, target.threshold - settings.answer_delay)
        patience = settings.patience
        self.patience = patience.mean if patience is not None and patience.kind == "exponential" else None
        # without exponential patience the formula has no abandonment to bound (Erlang C);
        # the simulation's check still holds the day to max_abandon
        self.target = StaffingTarget(
            threshold, service_level=target.service_level,
            asa_s=None if target.asa is None else max(1.0, target.asa - settings.answer_delay),
            max_abandon=target.max_abandon if self.patience is not None else None,
            max_occupancy=target.max_occupancy)
        self.limit = limit

    def __call__(self, load: float) -> int:
        if load <= 1e-9:
            return 0
        try:
            agents = agents_needed(load * 3600.0 / self.handle, self.handle, self.target,
                                   patience_s=self.patience, max_agents=self.limit).agents
        except TargetUnreachable:
            agents = self.limit
        return min(self.limit, max(agents, math.ceil(load - 1e-9)))


def search(config: Config, settings: SimSettings, replications: int, *, max_rounds: int = 12,
           on_round: Callable[[int, tuple[int, ...], int], None] | None = None,
           progress: Callable[[float], None] | None = None, day: date | None = None, jobs: int = 1) -> Plan:
    """Find the staffing per interval that meets ``settings.target`` (see module doc).
    ``on_round`` hears each round's staffing and replications before they are simulated; ``progress`` the
    fraction of the round's replications done; ``day`` the date whose opening hours
    apply (None: every queue open all day)."""
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    available = len(rotation(config.agents))
    if available == 0:
        raise ValueError("every agent has shifts of their own: there is nobody for the search to place")
    count, length = settings.intervals, settings.interval_seconds
    moments = [(i + f) * length for i in range(count) for f in MOMENTS]
    opening = open_minutes(config, day) if day is not None else None
    first = first_call_load(config, settings, moments, extra_handle=settings.answer_delay, opening=opening)
    formula = _Formula(config, settings, available)
    erlang = erlang_c_agents(config, settings, opening=opening)
    extra = [0] * count
    most_replications = MAX_REPLICATION_FACTOR * replications
    redials = [0.0] * count            # the redials' mean load per interval, last measured
    redial_spread = [0.0] * count      # its confidence half-width
    target = settings.target.service_level
    history: list[tuple[int, ...]] = []
    check: Replicated | None = None
    converged = False
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        staffing = tuple(min(available, _need(first, i, redials[i], formula) + extra[i]) for i in range(count))
        if history:
            # an interval never loses an agent it was once given: the redials' load moves
            # with the staffing (more agents, fewer redials), which could otherwise swing
            # an interval between two counts for ever
            staffing = tuple(max(now, before) for now, before in zip(staffing, history[-1]))
        if history and staffing == history[-1]:
            converged = True
            break
        # Replications from the noise: while the redials' load could move an interval's
        # staffing by more than one agent, simulate more days.
        if any(abs(_need(first, i, redials[i] + redial_spread[i], formula)
                   - _need(first, i, max(0.0, redials[i] - redial_spread[i]), formula)) > 1
               for i in range(count)):
            replications = min(replications * 2, most_replications)
        if on_round is not None:
            on_round(rounds, staffing, replications)
        history.append(staffing)
        check = run_days(config, settings, replications, settings.seed, staffing=staffing, needed=erlang,
                         progress=progress, keep_results=True, day=day, jobs=jobs)
        per_day = [redial_load(day) for day in check.results]
        for i in range(count):
            load = estimate([loads[i] for loads in per_day])
            redials[i] = load.mean
            redial_spread[i] = 0.0 if math.isnan(load.half_width) else load.half_width
            if _missed_beyond_doubt(check.intervals[i], settings) and staffing[i] < available:
                extra[i] += 1
    assert check is not None
    # What we return is what was simulated last, never an unchecked correction.
    checked = history[-1]
    short = tuple(i for i, figures in enumerate(check.intervals)
                  if figures["service_level"].replications and figures["service_level"].mean < target
                  and checked[i] >= available)
    peaks = tuple(max(first[i * len(MOMENTS) + k] for k in range(len(MOMENTS))) + redials[i] for i in range(count))
    return Plan(checked, tuple(erlang), check, len(history), short, converged, replications, peaks, tuple(history))


def _missed_beyond_doubt(figures: dict[str, Estimate], settings: SimSettings) -> bool:
    """Whether an interval's simulated figures miss a target even at the favourable end
    of their confidence interval (one day, or no calls: nothing is beyond doubt)."""
    target = settings.target

    def sure(name: str) -> Estimate | None:
        est = figures[name]
        return est if est.replications > 1 and not math.isnan(est.half_width) else None

    level, asa, abandon = sure("service_level"), sure("asa"), sure("abandon_rate")
    occupancy = sure("occupancy")
    return ((level is not None and level.high < target.service_level)
            or (target.asa is not None and asa is not None and asa.low > target.asa)
            or (target.max_abandon is not None and abandon is not None and abandon.low > target.max_abandon)
            or (target.max_occupancy is not None and occupancy is not None and occupancy.low > target.max_occupancy))


def _need(first: list[float], interval: int, redials: float, formula: _Formula) -> int:
    """The most agents any moment of ``interval`` needs."""
    points = len(MOMENTS)
    return max(formula(first[interval * points + k] + redials) for k in range(points))
