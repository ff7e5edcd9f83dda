"""The iterative staffing algorithm (ISA) of Feldman, Mandelbaum, Massey and Whitt,
"Staffing of Time-Varying Queues to Achieve Time-Stable Performance", Management
Science 54(2):324-338, 2008, as the paper states it, for planners' interval tables:

1. simulate the day with ample staffing (every agent the config has);
2. from the simulated days estimate, at every minute t, the distribution of N(t), the
   callers in the system (waiting, ringing, talking, or their agent in wrap-up);
3. staff each interval with the fewest agents s whose estimated tail meets the target:
   the paper's delay-probability rule P(N(t) >= s) <= alpha, with the service-level,
   ASA and occupancy targets read through the M/M/s relations that hold at the ISA's
   fixed point (PASTA: P(N >= s) is the delay probability; a delayed caller's wait is
   exponential with rate (s - m) / AHT, m the offered load):
       P(wait > T) = P(N >= s) e^{-(s - m) T / AHT},  ASA = P(N >= s) AHT / (s - m);
4. simulate again with that staffing and repeat until no interval moves by more than
   one agent (the paper's stopping rule; it proves convergence for Mt/M/st+M).

An interval's staffing is the most that any third of it needs, so no interval is below
its own need. The paper estimates the distribution of N(t) from thousands of
replications; a planner runs five. Two things make five enough here:

- every minute of a window and every replication is a sample of N (pooled), and
- a control variate (Law, "Simulation Modeling and Analysis", ch. 11): the first
  calls' infinite-server load X(t) is counted in the same simulated days, and its
  expectation is known exactly (``sim.offered_load.first_call_load``); the estimate of
  P(N >= s) is corrected by beta (mean X - E[X]), beta the regression of 1{N >= s} on X
  over the window's samples. A simulated hour that happened to bring 3 erlangs more
  than the profile stops asking for 3 more agents.

And one the paper's proof (for Mt/M/st+M) does not need: from the third round on, the
next staffing is the mean of the current one and the rule's answer, rounded up. With
patient callers near 89 % occupancy the undamped map overshoots (staffed at 63, the
queue of 63 agents makes 67 look needed, and back again) and never settles.

Every round replays the same seeds (common random numbers), as ``sim.plan`` does.
``sim.plan`` (the default of ``acd-sim plan``) staffs from the stationary formula at the
offered load instead; docs/planning.md compares the two.
"""
from __future__ import annotations

import math

import numpy as np
from collections.abc import Callable, Sequence
from datetime import date

from acd.config.model import Config
from acd.config.sim import SimSettings
from sim.model import CallAttempt, DayResult
from sim.needed import erlang_c_agents, mean_handle_time
from sim.offered_load import first_call_load, redial_load
from sim.opening import open_minutes
from sim.plan import Plan, short_of_agents
from sim.replications import Replicated, run_days
from sim.roster import rotation

#: windows of an interval whose need the interval's staffing must cover
WINDOWS = 3
#: the paper's stopping rule: no interval moves by more than this many agents
TOLERANCE = 1
#: lags (minutes) of the controls: the queue at t remembers the load of the last half hour
LAGS: tuple[int, ...] = (0, 5, 10, 20, 30)


def minute_moments() -> list[float]:
    """The moments N(t) is sampled at: the middle of every minute of the day."""
    return [m * 60.0 + 30.0 for m in range(1440)]


def in_system(day: DayResult, moments: Sequence[float]) -> list[int]:
    """N(t) at each of ``moments`` (ascending): callers who joined a queue and whose
    agent is not yet free (waiting, ringing, talking or in the agent's wrap-up)."""
    return _count(day, moments, lambda call: _departure(day, call), first_only=False)


def first_call_busy(day: DayResult, moments: Sequence[float]) -> list[int]:
    """X(t): first calls that would be in service at t if every caller were answered
    on joining (the infinite-server count whose mean ``first_call_load`` computes)."""
    ring = day.settings.answer_delay
    return _count(day, moments, lambda call: _joined(call) + call.talk_needed + day.wrapup[call.queue] + ring,
                  first_only=True)


def _joined(call: CallAttempt) -> float:
    assert call.enqueued is not None   # _count passes only callers who joined a queue
    return call.enqueued


def _departure(day: DayResult, call: CallAttempt) -> float:
    if call.wait is None:          # still in the system at midnight
        return math.inf
    if call.outcome == "answered":
        return _joined(call) + call.wait + call.talk + day.wrapup[call.queue]
    return _joined(call) + call.wait


def _count(day: DayResult, moments: Sequence[float], leaves: Callable[[CallAttempt], float], *,
           first_only: bool) -> list[int]:
    changes: list[tuple[float, int]] = []
    for call in day.attempts:
        if call.enqueued is None or (first_only and call.attempt != 1):
            continue
        changes.append((call.enqueued, 1))
        changes.append((leaves(call), -1))
    changes.sort()
    counts, now, k = [], 0, 0
    for t in moments:
        while k < len(changes) and changes[k][0] <= t:
            now += changes[k][1]
            k += 1
        counts.append(now)
    return counts


class _Rule:
    """The fewest agents whose estimated tail of N meets the targets (module doc, step 3)."""

    def __init__(self, config: Config, settings: SimSettings, limit: int) -> None:
        self.handle = mean_handle_time(config, settings) + settings.answer_delay
        target = settings.target
        self.threshold = max(0.0, target.threshold - settings.answer_delay)
        #: the delay probability's bound at the threshold (None: no service-level target)
        self.miss = None if target.service_level is None else 1.0 - target.service_level
        self.asa = None if target.asa is None else max(1.0, target.asa - settings.answer_delay)
        self.occupancy = target.max_occupancy
        self.limit = limit

    def __call__(self, n: np.ndarray, x: np.ndarray, expected_x: np.ndarray, redials: float) -> int:
        """``n``: the window's samples of N; ``x``: the samples of the controls (one column
        per lag); ``expected_x`` the controls' exact means; ``redials`` the redials'
        offered load, as simulated. The load is the first calls' at lag 0 plus the redials'."""
        if not len(n):
            return 0
        load = float(expected_x[0]) + redials
        if load <= 1e-9 and n.max() == 0:
            return 0
        start = max(1, math.ceil(load - 1e-9))
        counts = np.arange(start, max(start, min(self.limit, int(n.max()) + 1)) + 1)
        hits = (n[:, None] >= counts[None, :]).astype(float)
        delay = hits.mean(axis=0)
        centred = x - x.mean(axis=0)
        if centred.any():
            beta = np.linalg.lstsq(centred, hits - delay, rcond=None)[0]
            delay = np.clip(delay - (x.mean(axis=0) - expected_x) @ beta, 0.0, 1.0)
        for agents, p in zip(counts, delay):
            if agents > load and self._meets(float(p), int(agents), load):
                return int(agents)
        return self.limit

    def _meets(self, delay: float, agents: int, load: float) -> bool:
        spare = agents - load
        if self.miss is not None and delay * math.exp(-spare * self.threshold / self.handle) > self.miss:
            return False
        if self.asa is not None and delay * self.handle / spare > self.asa:
            return False
        return self.occupancy is None or load / agents <= self.occupancy


def isa(config: Config, settings: SimSettings, replications: int, *, max_rounds: int = 12,
        on_round: Callable[[int, tuple[int, ...], int], None] | None = None,
        progress: Callable[[float], None] | None = None, day: date | None = None, jobs: int = 1) -> Plan:
    """The ISA's staffing per interval (module doc); same arguments and result as ``sim.plan.search``."""
    if max_rounds < 2:
        raise ValueError(f"the ISA needs at least 2 rounds (ample staffing, then the first plan), got {max_rounds}")
    if settings.target.max_abandon is not None:
        raise ValueError("the ISA's rule has no abandonment bound: plan a max_abandon target with "
                         "--method offered-load")
    if settings.target.queues:
        raise ValueError("the ISA's rule reads the whole line's callers, not one queue's: plan targets of "
                         f"queues ({', '.join(settings.target.queues)}) with --method offered-load")
    available = len(rotation(config.agents))
    if available == 0:
        raise ValueError("every agent has shifts of their own: there is nobody for the search to place")
    count, minutes_per = settings.intervals, settings.interval
    moments = minute_moments()
    opening = open_minutes(config, day) if day is not None else None
    expected = np.array(first_call_load(config, settings, moments, extra_handle=settings.answer_delay, opening=opening))
    rule = _Rule(config, settings, available)
    erlang = erlang_c_agents(config, settings, opening=opening)
    window = max(1, minutes_per // WINDOWS)
    staffing = tuple([available] * count)          # round 1: ample staffing
    history: list[tuple[int, ...]] = []
    check: Replicated | None = None
    converged = False
    peaks: list[float] = [0.0] * count
    for rounds in range(1, max_rounds + 1):
        if on_round is not None:
            on_round(rounds, staffing, replications)
        history.append(staffing)
        check = run_days(config, settings, replications, settings.seed, staffing=staffing, needed=erlang,
                         progress=progress, keep_results=True, day=day, jobs=jobs)
        n_days = np.array([in_system(result, moments) for result in check.results])
        x_days = np.array([first_call_busy(result, moments) for result in check.results], dtype=float)
        redial_days = [redial_load(result) for result in check.results]
        following = []
        for i in range(count):
            needs = []
            redials = sum(days[i] for days in redial_days) / len(redial_days)
            for w0 in range(i * minutes_per, (i + 1) * minutes_per, window):
                span = np.arange(w0, min(w0 + window, (i + 1) * minutes_per))
                lagged = [np.maximum(span - lag, 0) for lag in LAGS]
                n = n_days[:, span].ravel()
                x = np.stack([x_days[:, at].ravel() for at in lagged], axis=1)
                ex = np.array([expected[at].mean() for at in lagged])
                needs.append(rule(n, x, ex, redials))
            following.append(max(needs))
            peaks[i] = float(expected[i * minutes_per:(i + 1) * minutes_per].max()) + redials
        new = tuple(following)
        if converged or (rounds > 1 and all(abs(a - b) <= TOLERANCE for a, b in zip(new, staffing))):
            # within the tolerance: the larger of the two rounds in each interval, so no
            # interval is below either round's need; simulated once more unless it was
            merged = tuple(max(a, b) for a, b in zip(new, staffing))
            if converged or merged == staffing:
                converged = True
                break
            converged = True
            staffing = merged
            continue
        # damped after the first plan: the mean of this round's staffing and the rule's
        # answer (rounded up); see the module doc
        staffing = new if rounds == 1 else tuple(math.ceil((a + b) / 2) for a, b in zip(new, staffing))
    assert check is not None
    checked = history[-1]
    short = short_of_agents(check, checked, available, settings)
    return Plan(checked, tuple(erlang), check, len(history), short, converged, replications, tuple(peaks),
                tuple(history))
