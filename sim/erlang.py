"""Erlang B, Erlang C and Erlang A: the planner's closed-form answers, exact and stable
from one agent to many thousands.

The simulator answers what these leave out (skills, routing rules, redials, the
interval's carry-over); these answer in a millisecond what a simulated day answers in
seconds, so they seed the staffing search and let planners sanity-check a simulation.

Models (Poisson arrivals at ``calls_per_hour``, exponential handle times of mean
``aht_s``, ``agents`` identical agents, first come first served):

- Erlang B (M/M/N/N): ``lines`` lines and no queue; the share of callers who get busy.
- Erlang C (M/M/n): an unlimited queue of infinitely patient callers. With ``lines``
  (M/M/n/N, ``lines >= agents``), callers who find every line taken get busy and the
  rest queue.
- Erlang A (M/M/n+M, Palm's model as analysed by Garnett, Mandelbaum and Reiman,
  "Designing a call center with impatient customers", MSOM 2002): each waiting caller
  hangs up after an exponential patience of mean ``patience_s``. Optionally with
  ``lines`` too.

Figures of a `Performance` (per offered caller; with ``lines``, per caller who got a
line, the blocked ones being reported as ``p_block``):

- ``p_wait``: probability of finding every agent busy (a caller who must queue);
- ``service_level``: probability of being *answered* within ``threshold_s`` seconds
  (``wait <= threshold``). With patience this is "answered within T / callers", the
  `acd.metrics` mode ``"offered"`` without short abandons; the model has no
  short-abandon grace, so it is slightly below what a report with a 5 s grace shows;
- ``asa``: mean wait of the answered callers (infinite when the queue is unstable);
- ``occupancy``: carried load / agents, the share of agent time spent on calls;
- ``p_abandon`` (with patience): probability of hanging up before being answered;
- ``p_block`` (with lines): probability of getting busy.

How it stays exact at scale: no factorials or powers are ever formed. Erlang B uses
its recursion; the queue's state probabilities are kept as logarithms relative to the
state "all agents busy, nobody waiting", summed with log-sum-exp. For Erlang A the
conditional distribution of the number of callers ahead of an arriving one has terms
``y**q / ((x+1)...(x+q))`` (``x = agents * patience / aht``, ``y = arrivals per
patience``), summed only over the window where they are not negligible (their peak is
at ``q = y - x`` with a width of ``sqrt(y)``). Given ``q`` callers ahead, a caller is
answered with probability ``x / (x + q + 1)`` and, if answered, within ``t`` with the
regularized incomplete beta ``I(1 - exp(-t / patience); q + 1, x + 1)`` (derived by
exponentially tilting the hypoexponential time to reach an agent); every figure is a
sum of positive terms, so no cancellation loses precision.
"""
from __future__ import annotations

import math
import operator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.special import betainc, gammainc, gammaln, logsumexp  # type: ignore[import-untyped]

#: The Erlang A window keeps terms within this many standard deviations of the peak
#: (exp(-40**2 / 2) is far below double precision).
_WINDOW_SIGMAS = 40.0


def _whole(name: str, value: Any, minimum: int) -> int:
    """An integer count, refusing floats like 10.5 (and bools) with a clear message."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if count < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {count}")
    return count


def _number(name: str, value: Any, *, positive: bool) -> float:
    """A finite real number, > 0 when ``positive`` else >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{name} must be a finite number {'>' if positive else '>='} 0, got {value!r}")
    return number


def offered_load(calls_per_hour: float, aht_s: float) -> float:
    """Offered load in Erlangs: the average number of calls in progress if every call
    were answered at once (calls per hour x hours per call)."""
    rate = _number("calls_per_hour", calls_per_hour, positive=False)
    return rate * _number("aht_s", aht_s, positive=True) / 3600.0


def erlang_b(load: float, lines: int) -> float:
    """Erlang B: probability that a caller finds all ``lines`` busy (lost-calls-cleared),
    by the recursion B(k) = A B(k-1) / (k + A B(k-1)), B(0) = 1, which never forms
    A**k / k! and so holds for any number of lines."""
    erlangs = _number("load", load, positive=False)
    count = _whole("lines", lines, 0)
    blocking = 1.0
    for k in range(1, count + 1):
        blocking = erlangs * blocking / (k + erlangs * blocking)
    return blocking


def lines_needed(load: float, max_blocking: float = 0.01) -> int:
    """The fewest trunk lines that turn away at most ``max_blocking`` of the callers of
    ``load`` erlangs: Erlang B's recursion, stopped at the first count that meets it
    (B falls with every line added), so it costs one step per line."""
    erlangs = _number("load", load, positive=False)
    target = _number("max_blocking", max_blocking, positive=True)
    if target >= 1:
        raise ValueError(f"max_blocking must be below 1, got {max_blocking}")
    if erlangs == 0:
        return 0
    blocking, lines = 1.0, 0
    while blocking > target:
        lines += 1
        blocking = erlangs * blocking / (lines + erlangs * blocking)
    return lines


def erlang_c(load: float, agents: int) -> float:
    """Erlang C: probability that a caller must wait, P(W > 0) = n B / (n - A (1 - B))
    with B the Erlang B of ``agents`` lines; 1 when ``agents <= load`` (the queue grows
    without bound, so in the long run every caller waits)."""
    erlangs = _number("load", load, positive=False)
    count = _whole("agents", agents, 1)
    if count <= erlangs:
        return 1.0
    blocking = erlang_b(erlangs, count)
    return count * blocking / (count - erlangs * (1.0 - blocking))


@dataclass(frozen=True, slots=True)
class Performance:
    """What a queue with this traffic and these agents does in the long run; the module
    docstring defines each figure."""

    calls_per_hour: float
    aht_s: float
    agents: int
    threshold_s: float
    patience_s: float | None
    lines: int | None
    offered_load: float
    p_wait: float
    service_level: float
    asa: float
    occupancy: float
    p_abandon: float | None
    p_block: float | None

    @property
    def stable(self) -> bool:
        """False when callers queue without bound (Erlang C with agents <= load)."""
        return math.isfinite(self.asa)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def performance(calls_per_hour: float, aht_s: float, agents: int, threshold_s: float, *,
                patience_s: float | None = None, lines: int | None = None) -> Performance:
    """The figures of the model the options select: Erlang C, plus Erlang A with
    ``patience_s``, plus a trunk of ``lines`` (>= agents) with ``lines``."""
    load = offered_load(calls_per_hour, aht_s)
    count = _whole("agents", agents, 1)
    threshold = _number("threshold_s", threshold_s, positive=False)
    patience = None if patience_s is None else _number("patience_s", patience_s, positive=True)
    trunk = None if lines is None else _whole("lines", lines, 1)
    if trunk is not None and trunk < count:
        raise ValueError(f"lines ({trunk}) must be at least agents ({count}): "
                         "an agent without a line can never take a call")
    base: dict[str, Any] = dict(calls_per_hour=float(calls_per_hour), aht_s=float(aht_s), agents=count, threshold_s=threshold,
                patience_s=patience, lines=trunk, offered_load=load)
    if load == 0:
        return Performance(**base, p_wait=0.0, service_level=1.0, asa=0.0, occupancy=0.0,
                           p_abandon=None if patience is None else 0.0, p_block=None if trunk is None else 0.0)
    if patience is None and trunk is None:
        return Performance(**base, **_erlang_c_figures(load, count, threshold, aht_s), p_abandon=None, p_block=None)
    figures = _chain_figures(load, count, threshold, float(aht_s), patience, trunk)
    if patience is None:
        figures["p_abandon"] = None
    if trunk is None:
        figures["p_block"] = None
    return Performance(**base, **figures)


def _erlang_c_figures(load: float, agents: int, threshold: float, aht: float) -> dict[str, Any]:
    """Erlang C's closed forms: SL = 1 - C exp(-(n - A) t / AHT), ASA = C AHT / (n - A).
    Unstable (n <= A): every caller waits, none within any threshold, ASA infinite,
    agents always busy."""
    if agents <= load:
        return dict(p_wait=1.0, service_level=0.0, asa=math.inf, occupancy=1.0)
    wait = erlang_c(load, agents)
    return dict(p_wait=wait,
                service_level=1.0 - wait * math.exp(-(agents - load) * threshold / aht),
                asa=wait * aht / (agents - load),
                occupancy=load / agents)


def _log_ahead_weights(x: float, y: float, last: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Callers ahead ``q`` and log of ``y**q / ((x+1)...(x+q))``, proportional to the
    probability of finding all agents busy and ``q`` callers waiting.

    ``last`` bounds ``q`` (finite lines); without it only the window around the peak
    where terms are not negligible is returned. ``y = 0`` (infinitely patient callers
    are handled as Erlang C by the caller) never reaches here.
    """
    if last is None:
        peak = max(0.0, y - x)
        width = _WINDOW_SIGMAS * math.sqrt(y) + 60.0
        first = int(max(0.0, math.floor(peak - width)))
        last = int(math.ceil(peak + width))
    else:
        first = 0
    q = np.arange(first, last + 1, dtype=np.float64)
    steps = math.log(y) - np.log(x + q[1:])  # log of term(q) / term(q - 1)
    base = first * math.log(y) - (gammaln(x + first + 1) - gammaln(x + 1)) if first else 0.0
    return q, base + np.concatenate(([0.0], np.cumsum(steps)))


def _chain_figures(load: float, agents: int, threshold: float, aht: float,
                   patience: float | None, lines: int | None) -> dict[str, Any]:
    """Erlang A (with or without lines) and Erlang C with lines, by the state
    probabilities of the birth-death chain and PASTA (an arriving caller sees the
    stationary distribution)."""
    n = agents
    log_load = math.log(load)
    below = np.arange(n, dtype=np.float64)
    log_below = float(logsumexp(below * log_load - gammaln(below + 1)))  # states with a free agent
    log_all_busy = n * log_load - float(gammaln(n + 1))
    room = None if lines is None else lines - n  # waiting places
    service_rate = n / aht  # answers per second while all agents are busy
    if patience is None:
        rho = load / n
        q = np.arange(room + 1, dtype=np.float64)  # type: ignore[operator]
        log_weights = q * math.log(rho)
        served = np.ones_like(q)
        within = gammainc(q + 1, service_rate * threshold)  # Erlang(q + 1, n / aht) CDF
        served_wait = (q + 1) / service_rate
    else:
        x = n * patience / aht
        y = load * patience / aht
        q, log_weights = _log_ahead_weights(x, y, room)
        served = x / (x + q + 1)
        within = served * betainc(q + 1, x + 1, -math.expm1(-threshold / patience))
        harmonic = np.cumsum(1.0 / (x + q + 1))  # sum over k <= q + 1 of 1 / (x + k), from the window start
        if q[0] > 0:
            harmonic += _harmonic_offset(x, int(q[0]))
        served_wait = served * harmonic * patience
    blocked_log = None
    if room is not None:  # the last state: every line taken, the caller gets busy
        blocked_log = log_all_busy + log_weights[-1]
        q, log_weights, served, within, served_wait = (a[:-1] for a in (q, log_weights, served, within, served_wait))
    log_waiting = log_all_busy + float(logsumexp(log_weights)) if len(q) else -math.inf
    log_accepted = float(np.logaddexp(log_below, log_waiting))
    p_block = 0.0 if blocked_log is None else math.exp(blocked_log - float(np.logaddexp(log_accepted, blocked_log)))
    p_wait = math.exp(log_waiting - log_accepted)
    if len(q):
        shares = np.exp(log_weights - logsumexp(log_weights))  # callers ahead, given a wait
        p_abandon = p_wait * float(np.dot(shares, 1.0 - served))
        answered_late = p_wait * float(np.dot(shares, within))
        wait_sum = p_wait * float(np.dot(shares, served_wait))
    else:
        p_abandon = answered_late = wait_sum = 0.0
    p_abandon = min(max(p_abandon, 0.0), 1.0)
    answered = 1.0 - p_abandon
    return dict(p_wait=p_wait,
                service_level=min(max(1.0 - p_wait + answered_late, 0.0), 1.0),
                asa=wait_sum / answered if answered > 0 else math.inf,
                occupancy=min(load * (1.0 - p_block) * answered / n, 1.0),
                p_abandon=p_abandon,
                p_block=p_block)


def _harmonic_offset(x: float, count: int) -> float:
    """sum over k = 1..count of 1 / (x + k), for a window that starts past q = 0."""
    return float(np.sum(1.0 / (x + np.arange(1, count + 1, dtype=np.float64))))
