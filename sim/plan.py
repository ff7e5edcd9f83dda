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
  and keeps it; a day that misses beyond doubt gives an agent to every interval
  below the target on the mean (a day is estimated far more tightly than an hour).
  Corrections only grow, so the search cannot oscillate, and a lucky day cannot take
  an agent away.

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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from acd.config.model import Config
from acd.config.sim import PlanTarget, SimSettings
from acd.engine.lines import qualifies
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


@dataclass(frozen=True, slots=True)
class Goal:
    """One set of targets a plan is held to: the line's (``queue`` None) or one queue's
    own (``sim.target.queues``; no occupancy, which is the agents'). The formula, the
    simulation's check and the printout all read targets through it."""

    queue: str | None
    threshold: float
    service_level: float | None
    asa: float | None
    max_abandon: float | None
    max_occupancy: float | None = None


def goals(target: PlanTarget) -> list[Goal]:
    """The line's goal first, then each queue's own."""
    return [Goal(None, target.threshold, target.service_level, target.asa, target.max_abandon, target.max_occupancy),
            *(Goal(queue, target.queue_threshold(queue), own.service_level, own.asa, own.max_abandon)
              for queue, own in target.queues.items())]


def figures_for(check: Replicated, goal: Goal) -> tuple[dict[str, Estimate] | None, list[dict[str, Estimate]]]:
    """The simulated day's and intervals' estimates a goal is judged on (None and none:
    its queue had no call)."""
    if goal.queue is None:
        return check.day, check.intervals
    return check.queues.get(goal.queue), check.queue_intervals.get(goal.queue, [])


class _Formula:
    """Agents a moment's offered load needs by the stationary formula (see module doc)."""

    def __init__(self, handle: float, settings: SimSettings, limit: int, goal: Goal) -> None:
        # the agent's phone rings answer_delay seconds: agent time, and the caller's wait
        self.handle = handle + settings.answer_delay
        threshold = max(0.0, goal.threshold - settings.answer_delay)
        patience = settings.patience
        self.patience = patience.mean if patience is not None and patience.kind == "exponential" else None
        # without exponential patience the formula has no abandonment to bound (Erlang C);
        # the simulation's check still holds the day to max_abandon. With nothing left for
        # the formula (an abandonment target alone, no such patience) it gives the erlangs
        # and the check adds what the target needs.
        asa = None if goal.asa is None else max(1.0, goal.asa - settings.answer_delay)
        max_abandon = goal.max_abandon if self.patience is not None else None
        self.target = (StaffingTarget(threshold, service_level=goal.service_level, asa_s=asa,
                                      max_abandon=max_abandon, max_occupancy=goal.max_occupancy)
                       if any(v is not None for v in (goal.service_level, asa, max_abandon, goal.max_occupancy))
                       else None)
        self.limit = limit

    def __call__(self, load: float) -> int:
        if load <= 1e-9:
            return 0
        if self.target is None:
            return min(self.limit, math.ceil(load - 1e-9))
        try:
            agents = agents_needed(load * 3600.0 / self.handle, self.handle, self.target,
                                   patience_s=self.patience, max_agents=self.limit).agents
        except TargetUnreachable:
            agents = self.limit
        return min(self.limit, max(agents, math.ceil(load - 1e-9)))


@dataclass(frozen=True, slots=True)
class _QueueNeed:
    """A queue with targets of its own, as the formula sees it: its first calls' load,
    its formula, and the share of a head count able to take its calls (a head count
    fills the config's mix, ``sim.roster.rotation``: to give the queue n agents of its
    own the line needs n / share)."""

    load: list[float]
    formula: _Formula
    share: float

    def line_agents(self, interval: int) -> int:
        return math.ceil(_need(self.load, interval, 0.0, self.formula) / self.share - 1e-9)


def _queue_needs(config: Config, settings: SimSettings, moments: list[float], queue_goals: list[Goal],
                 opening: Mapping[str, Sequence[bool]] | None) -> list[_QueueNeed]:
    order = rotation(config.agents)
    needs = []
    for goal in queue_goals:
        assert goal.queue is not None
        queue = config.queues[goal.queue]
        able = sum(1 for agent_id in order if qualifies(config.agents[agent_id].skills, queue.requirements))
        if able == 0:
            continue        # only agents of their own shifts serve it: no head count helps
        needs.append(_QueueNeed(first_call_load(config, settings, moments, extra_handle=settings.answer_delay,
                                                opening=opening, only=queue.name),
                                _Formula(settings.talk_time.mean + queue.wrapup, settings, able, goal),
                                able / len(order)))
    return needs


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
    line, *queue_goals = goals(settings.target)
    formula = _Formula(mean_handle_time(config, settings), settings, available, line)
    queue_needs = _queue_needs(config, settings, moments, queue_goals, opening)
    erlang = erlang_c_agents(config, settings, opening=opening)
    extra = [0] * count
    most_replications = MAX_REPLICATION_FACTOR * replications
    redials = [0.0] * count            # the redials' mean load per interval, last measured
    redial_spread = [0.0] * count      # its confidence half-width
    history: list[tuple[int, ...]] = []
    check: Replicated | None = None
    converged = False
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        staffing = tuple(min(available, max([_need(first, i, redials[i], formula), *(q.line_agents(i) for q in queue_needs)])
                             + extra[i]) for i in range(count))
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
        # A whole day is estimated far more tightly than one interval (an hour's service
        # level varies by +- 7 points over 20 days): when the day misses a target beyond
        # doubt, every interval whose mean misses it gets an agent too.
        day_short = bool(_missed_on(check, settings, sure=True))
        for i in range(count):
            load = estimate([loads[i] for loads in per_day])
            redials[i] = load.mean
            redial_spread[i] = 0.0 if math.isnan(load.half_width) else load.half_width
            if staffing[i] < available and (_misses(check, i, settings, sure=True)
                                            or (day_short and _misses(check, i, settings, sure=False))):
                extra[i] += 1
    assert check is not None
    # What we return is what was simulated last, never an unchecked correction.
    checked = history[-1]
    short = short_of_agents(check, checked, available, settings)
    peaks = tuple(max(first[i * len(MOMENTS) + k] for k in range(len(MOMENTS))) + redials[i] for i in range(count))
    return Plan(checked, tuple(erlang), check, len(history), short, converged, replications, peaks, tuple(history))


def short_of_agents(check: Replicated, staffing: tuple[int, ...], available: int,
                    settings: SimSettings) -> tuple[int, ...]:
    """The intervals whose simulated means miss a target of the line or of a queue with
    every available agent on duty: the config needs more agents, no plan can help."""
    return tuple(i for i in range(len(staffing))
                 if staffing[i] >= available and _misses(check, i, settings, sure=False))


def missed_on_the_day(check: Replicated, settings: SimSettings) -> list[str]:
    """Whose targets the simulated day misses by its means ("the line", "queue v"): what a
    plan's printout warns of, since the search corrects only what misses beyond doubt."""
    return _missed_on(check, settings, sure=False)


def _missed_on(check: Replicated, settings: SimSettings, *, sure: bool) -> list[str]:
    """Whose targets the day misses: "the line", "queue v"."""
    missed = []
    for goal in goals(settings.target):
        day, _ = figures_for(check, goal)
        if day is not None and _missed(day, sure, goal):
            missed.append("the line" if goal.queue is None else f"queue {goal.queue}")
    return missed


def _misses(check: Replicated, interval: int, settings: SimSettings, *, sure: bool) -> bool:
    """Whether an interval's simulated figures miss a target of the line, or of a queue
    with targets of its own: ``sure``, even at the favourable end of their confidence
    interval (one day, or no calls: nothing is beyond doubt); else by their means."""
    for goal in goals(settings.target):
        _, intervals = figures_for(check, goal)
        if interval < len(intervals) and _missed(intervals[interval], sure, goal):
            return True
    return False


def _missed(figures: dict[str, Estimate], sure: bool, goal: Goal) -> bool:
    def seen(name: str) -> tuple[float, float] | None:
        """(the favourable end for a floor, for a ceiling), or the mean twice."""
        est = figures[name]
        if sure:
            if est.replications < 2 or math.isnan(est.half_width):
                return None
            return est.high, est.low
        if not est.replications or math.isnan(est.mean):
            return None
        return est.mean, est.mean

    level, wait, abandon, occupancy = seen("service_level"), seen("asa"), seen("abandon_rate"), seen("occupancy")
    return ((goal.service_level is not None and level is not None and level[0] < goal.service_level)
            or (goal.asa is not None and wait is not None and wait[1] > goal.asa)
            or (goal.max_abandon is not None and abandon is not None and abandon[1] > goal.max_abandon)
            or (goal.max_occupancy is not None and occupancy is not None and occupancy[1] > goal.max_occupancy))


def _need(first: list[float], interval: int, redials: float, formula: _Formula) -> int:
    """The most agents any moment of ``interval`` needs."""
    points = len(MOMENTS)
    return max(formula(first[interval * points + k] + redials) for k in range(points))
