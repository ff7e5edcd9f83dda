"""The contact-centre metrics, defined once for the engine, the live reports and the
simulator.

Every figure a planner compares between a simulated day and a real one must mean the
same thing in both, so each definition lives here, next to the code that computes it,
and nowhere else. Pure functions over finished calls (`CallOutcome`) and agents' time
(`AgentTime`); no clock, no I/O.

Which calls count where (the industry's conventions, as in queue reports):

- a call belongs to the interval in which it was *offered* (entered the queue), even
  when it is answered or abandoned in the next one;
- *blocked* calls got busy at the trunk: they count as offered and blocked, and in no
  waiting figure (they never waited);
- a *short abandon* is a caller who hung up within the grace (``short_abandon_s``,
  5 s by default) of entering the queue: a misdial or a change of mind that no staffing
  could have served, so it is counted apart and left out of service level and abandon
  rate;
- an *exited* caller was taken out of the queue by a max-wait or exit rule, neither
  answered nor abandoned. They waited and were not served, so they count against the
  service level and the abandon-rate denominator exactly like a caller who abandoned
  after the grace: leaving them out would let a queue improve its figures by ejecting
  callers.

Empty inputs: a ratio with nothing to divide by (no answered call for the ASA, nobody
staffed for occupancy, ...) is ``None``, meaning "undefined", never 0 or 1: a quiet
night interval did not have a perfect or a terrible service level, it had none. Counts
of nothing are 0.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Literal, get_args

#: How the service level is divided; see `service_level`.
ServiceLevelMode = Literal["answered_plus_abandoned", "answered_only", "offered"]
SERVICE_LEVEL_MODES: tuple[str, ...] = get_args(ServiceLevelMode)

#: Callers who hang up within this many seconds are short abandons (a common default
#: in queue reporting tools; configurable per call of every function here).
DEFAULT_SHORT_ABANDON_S = 5.0


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """One call's fate in one queue, as reports need it.

    Times are seconds on any one clock (epoch seconds live, simulated seconds in the
    simulator). Exactly one of answered (``answered_at`` set), ``abandoned``,
    ``exited`` and ``blocked`` holds; a call still waiting has no outcome yet.
    """

    call_id: str
    queue: str
    #: entered the queue (for a blocked call: when it was refused)
    offered_at: float
    #: an agent answered; None if the call was not answered
    answered_at: float | None
    #: the caller left: hang-up, end of the conversation, exit from the queue
    ended_at: float
    abandoned: bool = False
    exited: bool = False
    blocked: bool = False
    #: talk plus wrap-up seconds of an answered call (None when unknown or unanswered)
    handle_time: float | None = None

    def __post_init__(self) -> None:
        for name in ("offered_at", "ended_at"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"call {self.call_id}: {name} must be a finite time")
        fates = (self.answered_at is not None) + self.abandoned + self.exited + self.blocked
        if fates != 1:
            raise ValueError(f"call {self.call_id}: exactly one of answered, abandoned, exited, blocked "
                             f"must hold (got {fates})")
        if self.ended_at < self.offered_at:
            raise ValueError(f"call {self.call_id}: ended_at {self.ended_at} is before offered_at {self.offered_at}")
        if self.answered_at is not None and not self.offered_at <= self.answered_at <= self.ended_at:
            raise ValueError(f"call {self.call_id}: answered_at {self.answered_at} must lie between "
                             f"offered_at {self.offered_at} and ended_at {self.ended_at}")
        if self.handle_time is not None:
            if self.answered_at is None:
                raise ValueError(f"call {self.call_id}: only an answered call has a handle_time")
            if not (math.isfinite(self.handle_time) and self.handle_time >= 0):
                raise ValueError(f"call {self.call_id}: handle_time must be a finite number >= 0")

    @property
    def answered(self) -> bool:
        return self.answered_at is not None


#: Agent states (``acd.engine.AgentState`` values) whose time is not staffed: logged out,
#: or paused (a paused agent cannot take calls); see `AgentTime`.
UNSTAFFED_STATES = frozenset({"logged_out", "paused"})
#: Agent states whose staffed time is busy with a call: ringing, talking, wrap-up.
BUSY_STATES = frozenset({"ringing", "on_call", "wrap_up"})


def time_kind(state: str) -> Literal[0, 1, 2]:
    """How an agent's time in ``state`` counts for `AgentTime`: 0 not staffed, 1 staffed
    and idle (available, resting after a missed offer), 2 staffed and busy."""
    if state in UNSTAFFED_STATES:
        return 0
    return 2 if state in BUSY_STATES else 1


@dataclass(frozen=True, slots=True)
class AgentTime:
    """One agent's time over a reporting interval, for occupancy.

    ``staffed_s`` is time logged in and available for calls (paused time excluded: a
    paused agent cannot take calls, so counting it would make occupancy look low when
    the queue was in fact short of agents). ``busy_s`` is time spent on calls within
    the staffed time: ringing, talking and wrap-up.
    """

    agent: str
    staffed_s: float
    busy_s: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.staffed_s) and self.staffed_s >= 0):
            raise ValueError(f"agent {self.agent}: staffed_s must be a finite number >= 0")
        if not (math.isfinite(self.busy_s) and 0 <= self.busy_s <= self.staffed_s):
            raise ValueError(f"agent {self.agent}: busy_s must lie between 0 and staffed_s ({self.staffed_s})")


def wait_time(call: CallOutcome) -> float | None:
    """Seconds the caller spent in the queue: until answered, or until they abandoned or
    were taken out. None for a blocked call, which never queued."""
    if call.blocked:
        return None
    end = call.answered_at if call.answered_at is not None else call.ended_at
    return end - call.offered_at


def is_short_abandon(call: CallOutcome, short_abandon_s: float = DEFAULT_SHORT_ABANDON_S) -> bool:
    """Abandoned within the grace: ``wait <= short_abandon_s`` (a caller who hangs up at
    exactly 5 s with a 5 s grace is still a short abandon)."""
    wait = wait_time(call)
    return call.abandoned and wait is not None and wait <= short_abandon_s


def _check_grace(short_abandon_s: float) -> None:
    if not (math.isfinite(short_abandon_s) and short_abandon_s >= 0):
        raise ValueError(f"short_abandon_s must be a finite number >= 0, got {short_abandon_s!r}")


Fate = Literal["answered", "late", "short", "exited", "blocked"]


def _fate(call: CallOutcome, short_abandon_s: float) -> Fate:
    """Which count a finished call goes to (one place for the batch and the running figures)."""
    if call.blocked:
        return "blocked"
    if call.exited:
        return "exited"
    if call.abandoned:
        return "short" if is_short_abandon(call, short_abandon_s) else "late"
    return "answered"


def _counts(calls: Iterable[CallOutcome], short_abandon_s: float) -> tuple[list[float], int, int, int, int, int]:
    """(answered waits, late abandons, short abandons, exited, blocked, offered)."""
    _check_grace(short_abandon_s)
    answered: list[float] = []
    tally = {"late": 0, "short": 0, "exited": 0, "blocked": 0}
    offered = 0
    for call in calls:
        offered += 1
        fate = _fate(call, short_abandon_s)
        if fate == "answered":
            answered.append(call.answered_at - call.offered_at)  # type: ignore[operator]
        else:
            tally[fate] += 1
    return answered, tally["late"], tally["short"], tally["exited"], tally["blocked"], offered


def _service_level_denominator(mode: ServiceLevelMode, answered: int, late: int, exited: int, offered: int) -> int:
    return {"answered_plus_abandoned": answered + late + exited, "answered_only": answered, "offered": offered}[mode]


def _check_threshold(threshold_s: float) -> None:
    if not (math.isfinite(threshold_s) and threshold_s >= 0):
        raise ValueError(f"threshold_s must be a finite number >= 0, got {threshold_s!r}")


def _check_mode(mode: str) -> None:
    if mode not in SERVICE_LEVEL_MODES:
        raise ValueError(f"unknown service level mode {mode!r}; choose one of {', '.join(SERVICE_LEVEL_MODES)}")


def service_level(calls: Iterable[CallOutcome], threshold_s: float,
                  short_abandon_s: float = DEFAULT_SHORT_ABANDON_S,
                  mode: ServiceLevelMode = "answered_plus_abandoned") -> float | None:
    """Share of callers answered within ``threshold_s`` seconds (``wait <= threshold_s``:
    "80 % within 20 s" includes a call answered at exactly 20 s).

    The numerator is always the calls answered within the threshold; the modes differ in
    the denominator:

    - ``"answered_plus_abandoned"`` (default, the industry's usual one): answered +
      abandoned after the short-abandon grace + exited. Short abandons are left out
      (they never gave the queue a chance), blocked calls too (they never queued;
      report them as blocking).
    - ``"answered_only"``: answered calls. Ignores everyone who gave up, so it flatters
      a queue with many abandons; offered for comparison with reports that use it.
    - ``"offered"``: every offered call, including short abandons, exited and blocked
      calls: the strictest, "of everyone who dialled".

    None when the denominator is empty.
    """
    _check_threshold(threshold_s)
    _check_mode(mode)
    answered, late, _short, exited, _blocked, offered = _counts(calls, short_abandon_s)
    within = sum(1 for wait in answered if wait <= threshold_s)
    denominator = _service_level_denominator(mode, len(answered), late, exited, offered)
    return within / denominator if denominator else None


def service_level_definition(threshold_s: float, short_abandon_s: float = DEFAULT_SHORT_ABANDON_S,
                             mode: ServiceLevelMode = "answered_plus_abandoned") -> str:
    """The service level's formula in words, shown beside every service level a page or
    report prints (``"answered within 20 s / (answered + abandoned after 5 s + exited)"``):
    two tools that divide differently disagree without being wrong, and a reader must
    see which division a figure is."""
    _check_threshold(threshold_s)
    _check_grace(short_abandon_s)
    _check_mode(mode)
    denominator = {
        "answered_plus_abandoned": f"(answered + abandoned after {short_abandon_s:g} s + exited)",
        "answered_only": "answered",
        "offered": "offered (every call, short abandons and busy included)",
    }[mode]
    return f"answered within {threshold_s:g} s / {denominator}"


def average_speed_of_answer(calls: Iterable[CallOutcome]) -> float | None:
    """ASA: mean wait of the answered calls, in seconds (callers who gave up are not in
    it; their waits show in the abandon rate and the longest wait). None if none was
    answered."""
    waits = [c.answered_at - c.offered_at for c in calls if c.answered_at is not None]
    return sum(waits) / len(waits) if waits else None


def abandon_rate(calls: Iterable[CallOutcome], short_abandon_s: float = DEFAULT_SHORT_ABANDON_S) -> float | None:
    """Abandoned after the grace / (answered + abandoned after the grace + exited): the
    share of callers who had a real chance and gave up. Short abandons are counted apart
    (`short_abandons`). None when nobody had a real chance."""
    answered, late, _short, exited, _blocked, _offered = _counts(calls, short_abandon_s)
    denominator = len(answered) + late + exited
    return late / denominator if denominator else None


def short_abandons(calls: Iterable[CallOutcome], short_abandon_s: float = DEFAULT_SHORT_ABANDON_S) -> int:
    """How many callers hung up within the grace."""
    _check_grace(short_abandon_s)
    return sum(1 for c in calls if is_short_abandon(c, short_abandon_s))


def average_handle_time(calls: Iterable[CallOutcome]) -> float | None:
    """AHT: mean talk + wrap-up seconds over the answered calls whose handle time is known
    (a call still in wrap-up when the interval is reported has none yet). None if no
    such call."""
    times = [c.handle_time for c in calls if c.handle_time is not None]
    return sum(times) / len(times) if times else None


def longest_wait(calls: Iterable[CallOutcome]) -> float | None:
    """The longest time any caller spent in the queue, answered or not (the figure a
    wallboard shows to spot a stuck caller). None if no call queued."""
    waits = [w for w in map(wait_time, calls) if w is not None]
    return max(waits) if waits else None


def occupancy(agents: Iterable[AgentTime]) -> float | None:
    """Busy agent-seconds / staffed agent-seconds, summed over agents (not a mean of
    each agent's ratio: an agent staffed for a minute must not weigh as much as one
    staffed all interval). None when nobody was staffed."""
    busy = staffed = 0.0
    for agent in agents:
        busy += agent.busy_s
        staffed += agent.staffed_s
    return busy / staffed if staffed > 0 else None


@dataclass(frozen=True, slots=True)
class QueueFigures:
    """One row of a queue report: the calls offered in one interval (or a whole day)."""

    offered: int
    blocked: int
    answered: int
    #: abandoned after the short-abandon grace
    abandoned: int
    short_abandoned: int
    exited: int
    answered_within_threshold: int
    threshold_s: float
    service_level: float | None
    abandon_rate: float | None
    asa: float | None
    longest_wait: float | None
    aht: float | None
    occupancy: float | None

    def as_dict(self) -> dict[str, float | int | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def queue_figures(calls: Iterable[CallOutcome], threshold_s: float, *,
                  short_abandon_s: float = DEFAULT_SHORT_ABANDON_S,
                  mode: ServiceLevelMode = "answered_plus_abandoned",
                  start: float | None = None, end: float | None = None,
                  agents: Iterable[AgentTime] = ()) -> QueueFigures:
    """The report row for the calls offered in ``[start, end)`` (all calls when both are
    None), with every figure by the definitions above; ``agents`` is the agents' time
    over the same interval (occupancy is None without it)."""
    if start is not None and end is not None and end < start:
        raise ValueError(f"interval end {end} is before its start {start}")
    chosen: Sequence[CallOutcome] = [
        c for c in calls
        if (start is None or c.offered_at >= start) and (end is None or c.offered_at < end)
    ]
    answered, late, short, exited, blocked, offered = _counts(chosen, short_abandon_s)
    return QueueFigures(
        offered=offered,
        blocked=blocked,
        answered=len(answered),
        abandoned=late,
        short_abandoned=short,
        exited=exited,
        answered_within_threshold=sum(1 for wait in answered if wait <= threshold_s),
        threshold_s=threshold_s,
        service_level=service_level(chosen, threshold_s, short_abandon_s, mode),
        abandon_rate=abandon_rate(chosen, short_abandon_s),
        asa=average_speed_of_answer(chosen),
        longest_wait=longest_wait(chosen),
        aht=average_handle_time(chosen),
        occupancy=occupancy(agents),
    )


class RunningFigures:
    """`queue_figures` kept one finished call at a time: the same figures, by the same
    definitions, at a cost per read that does not grow with the number of calls (a
    wallboard reads today's figures every second, and at 23:59 the day holds thousands
    of calls). ``add`` the calls in any order; ``figures()`` equals ``queue_figures``
    over the same calls (exactly, sums included, when added in the same order)."""

    def __init__(self, threshold_s: float, *, short_abandon_s: float = DEFAULT_SHORT_ABANDON_S,
                 mode: ServiceLevelMode = "answered_plus_abandoned") -> None:
        _check_threshold(threshold_s)
        _check_grace(short_abandon_s)
        _check_mode(mode)
        self.threshold_s = threshold_s
        self.short_abandon_s = short_abandon_s
        self.mode = mode
        self._tally = {"answered": 0, "late": 0, "short": 0, "exited": 0, "blocked": 0}
        self._within = 0
        self._waits = 0.0
        self._longest: float | None = None
        self._handle = 0.0
        self._handled = 0

    def add(self, call: CallOutcome) -> None:
        fate = _fate(call, self.short_abandon_s)
        self._tally[fate] += 1
        wait = wait_time(call)
        if wait is not None and (self._longest is None or wait > self._longest):
            self._longest = wait
        if fate == "answered":
            assert wait is not None
            self._waits += wait
            self._within += wait <= self.threshold_s
        if call.handle_time is not None:
            self._handle += call.handle_time
            self._handled += 1

    def figures(self) -> QueueFigures:
        t = self._tally
        offered = sum(t.values())
        chance = t["answered"] + t["late"] + t["exited"]
        denominator = _service_level_denominator(self.mode, t["answered"], t["late"], t["exited"], offered)
        return QueueFigures(
            offered=offered, blocked=t["blocked"], answered=t["answered"], abandoned=t["late"],
            short_abandoned=t["short"], exited=t["exited"], answered_within_threshold=self._within,
            threshold_s=self.threshold_s,
            service_level=self._within / denominator if denominator else None,
            abandon_rate=t["late"] / chance if chance else None,
            asa=self._waits / t["answered"] if t["answered"] else None,
            longest_wait=self._longest,
            aht=self._handle / self._handled if self._handled else None,
            occupancy=None,
        )


def pooled_mode(modes: Iterable[ServiceLevelMode]) -> ServiceLevelMode:
    """How a line's pooled service level divides: as its queues do when they all agree
    (a centre that counts answered calls only counts its line so too); queues that divide
    differently share no rule, so the line takes the default one."""
    distinct = set(modes)
    return distinct.pop() if len(distinct) == 1 else "answered_plus_abandoned"


def pooled_figures(rows: Iterable[QueueFigures],
                   mode: ServiceLevelMode = "answered_plus_abandoned") -> QueueFigures:
    """A whole line's figures from its queues' rows: every call judged by its own queue's
    threshold (the violence line's caller by 10 s, a pensions caller by 20 s), so the
    line's service level is the answered-within-their-threshold calls over the pooled
    denominator, not a threshold nobody configured. ``threshold_s`` is NaN (there is no
    one threshold); longest wait is the longest of the rows; occupancy is not pooled."""
    _check_mode(mode)
    chosen = list(rows)
    answered = sum(r.answered for r in chosen)
    late = sum(r.abandoned for r in chosen)
    exited = sum(r.exited for r in chosen)
    offered = sum(r.offered for r in chosen)
    within = sum(r.answered_within_threshold for r in chosen)
    denominator = _service_level_denominator(mode, answered, late, exited, offered)
    chance = answered + late + exited
    waits = sum(r.asa * r.answered for r in chosen if r.asa is not None)
    handled = [(r.aht, r.answered) for r in chosen if r.aht is not None]
    longest = [r.longest_wait for r in chosen if r.longest_wait is not None]
    return QueueFigures(
        offered=offered, blocked=sum(r.blocked for r in chosen), answered=answered, abandoned=late,
        short_abandoned=sum(r.short_abandoned for r in chosen), exited=exited, answered_within_threshold=within,
        threshold_s=math.nan,
        service_level=within / denominator if denominator else None,
        abandon_rate=late / chance if chance else None,
        asa=waits / answered if answered else None,
        longest_wait=max(longest) if longest else None,
        aht=(sum(a * n for a, n in handled) / sum(n for _, n in handled)) if sum(n for _, n in handled) else None,
        occupancy=None,
    )
