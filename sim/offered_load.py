"""The offered load of a simulated day at any moment: the number of calls that would be
in progress if every caller were answered at once (the infinite-server system of the
iterative staffing algorithm, Feldman, Mandelbaum, Massey and Whitt, "Staffing of
Time-Varying Queues to Achieve Time-Stable Performance", Management Science 54(2), 2008).

Offered load lags the arrival rate: at 10:00 the agents still talk to callers who rang
at 9:55, so a staffing table that follows the calls per interval is short on a falling
edge and idle on a rising one. The load m(t) = E[G(t) - G(t - S)], G the cumulative
callers who joined the queue while it was open (arrivals shifted by the IVR time D),
S the handle time (talk + the queue's wrap-up), takes the lag into account.

Two parts, estimated differently (a control variate with coefficient 1: the part whose
mean is known is not estimated):

- first calls arrive as the profile says, so their load is computed, not sampled: the
  expectation over D and S uses stratified quantiles of their distributions (exact for
  a flat load; no sampling noise, which at 770 calls an hour would be +- 1.6 erlangs
  over five simulated days);
- redials depend on how many callers gave up or got busy, so on the staffing: their
  load is measured in the simulated days (`redial_load`).
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import NormalDist

from acd.config.model import Config
from acd.config.sim import Distribution, SimSettings
from sim.model import DayResult

#: stratified quantiles of the handle time and the IVR time
TALK_QUANTILES = 100
IVR_QUANTILES = 5


def quantiles(distribution: Distribution, count: int) -> list[float]:
    """``count`` equally likely values of ``distribution`` (the midpoints of its
    quantile strata), rescaled so their mean is the distribution's exact mean."""
    if distribution.kind == "constant" or distribution.mean <= 0:
        return [distribution.mean]
    probabilities = [(k + 0.5) / count for k in range(count)]
    if distribution.kind == "exponential":
        values = [-math.log(1.0 - p) for p in probabilities]
    elif distribution.kind == "lognormal":
        sigma = math.sqrt(math.log(1.0 + distribution.cv ** 2))
        normal = NormalDist()
        values = [math.exp(sigma * normal.inv_cdf(p)) for p in probabilities]
    else:
        raise ValueError(f"unknown distribution {distribution.kind!r}")
    scale = distribution.mean * count / sum(values)
    return [v * scale for v in values]


class _Joined:
    """G(x): expected first calls that joined one queue by time x of the day, when the
    queue is open at their joining (the others take the closed path), for callers who
    spend ``ivr`` seconds in the IVR. Minute steps, linear within a minute."""

    def __init__(self, settings: SimSettings, calls_per_day: float, ivr: float,
                 open_minutes: Sequence[bool] | None) -> None:
        length = settings.interval_seconds
        rates = [calls_per_day * share / length for share in settings.profile]
        last = len(rates) - 1

        def rate(at: float) -> float:   # arrivals per second at time ``at`` of the day
            return rates[min(int(at // length), last)] if at >= 0 else 0.0

        self.cumulative = [0.0]
        for minute in range(1440):
            joined = 0.0
            if open_minutes is None or open_minutes[minute]:
                # callers joining in this minute dialled ``ivr`` seconds earlier; the rate
                # is constant within an interval, so two samples per minute are exact but
                # in the minute an interval boundary falls in (there: the average)
                start = minute * 60.0 - ivr
                joined = 30.0 * (rate(start + 15.0) + rate(start + 45.0))
            self.cumulative.append(self.cumulative[-1] + joined)

    def __call__(self, x: float) -> float:
        if x <= 0:
            return 0.0
        if x >= 86_400.0:
            return self.cumulative[-1]
        minute = int(x // 60)
        low = self.cumulative[minute]
        return low + (self.cumulative[minute + 1] - low) * (x / 60.0 - minute)


def first_call_load(config: Config, settings: SimSettings, times: Sequence[float],
                    calls_per_day: float | None = None, extra_handle: float = 0.0,
                    opening: Mapping[str, Sequence[bool]] | None = None, only: str | None = None) -> list[float]:
    """Expected offered load (erlangs) of the first calls at each of ``times`` (seconds);
    ``extra_handle`` seconds of agent time per call come on top (the ring); ``opening``
    (queue -> open minute by minute, ``sim.opening``) leaves out callers who find their
    queue closed; ``only``: the load of that queue's callers alone."""
    calls = settings.calls_per_day if calls_per_day is None else calls_per_day
    talks = quantiles(settings.talk_time, TALK_QUANTILES)
    ivrs = quantiles(settings.ivr_time, IVR_QUANTILES)
    total = sum(settings.topics.values()) or 1.0
    pairs = len(talks) * len(ivrs)
    loads = [0.0] * len(times)
    for queue, share in settings.topics.items():
        if only is not None and queue != only:
            continue
        handle = config.queues[queue].wrapup + extra_handle
        minutes = opening.get(queue) if opening is not None else None
        for d in ivrs:
            joined = _Joined(settings, calls * share / total, d, minutes)
            for k, t in enumerate(times):
                now = joined(t)
                loads[k] += sum(now - joined(t - s - handle) for s in talks) / pairs
    return loads


def redial_load(day: DayResult) -> list[float]:
    """Offered load (erlangs, interval averages) of one day's redials that reached the
    queue: each holds an agent for its talk and wrap-up from the moment it joins."""
    length = day.settings.interval_seconds
    count = day.settings.intervals
    work = [0.0] * count
    for call in day.attempts:
        if call.attempt == 1 or call.enqueued is None:
            continue
        start, end = call.enqueued, call.enqueued + call.talk_needed + day.wrapup[call.queue]
        while start < end:
            index = int(start // length)
            if index >= count:
                break
            stop = min(end, (index + 1) * length)
            work[index] += stop - start
            start = stop
    return [w / length for w in work]
