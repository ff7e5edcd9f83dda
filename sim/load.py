"""The load a simulated day puts on the line: when callers arrive and how long things take.

Arrival times are drawn up front, as one list, so the bench can feed the very same
arrivals to the full model and to a bare M/M/c baseline, and so a replication is fully
determined by its seed.
"""
from __future__ import annotations

import bisect
import math
import random
from collections.abc import Callable, Sequence

from acd.config.sim import Distribution

DAY = 86_400.0


def arrival_times(calls_per_day: float, profile: Sequence[float], rng: random.Random) -> list[float]:
    """A non-homogeneous Poisson process: constant rate inside each interval, rate
    ``calls_per_day * share / interval length``. Memorylessness lets each interval start
    afresh at its boundary."""
    if calls_per_day < 0:
        raise ValueError(f"calls_per_day must be >= 0, got {calls_per_day}")
    if not profile:
        raise ValueError("the arrival profile has no intervals")
    length = DAY / len(profile)
    times: list[float] = []
    expovariate = rng.expovariate
    for index, share in enumerate(profile):
        rate = calls_per_day * share / length
        if rate <= 0:
            continue
        start = index * length
        end = start + length
        t = start + expovariate(rate)
        while t < end:
            times.append(t)
            t += expovariate(rate)
    return times


#: ``random.NV_MAGICCONST``, computed as the random module does (typeshed does not declare
#: it, so importing it fails the type check)
_NV_MAGICCONST = 4 * math.exp(-0.5) / math.sqrt(2.0)


def sampler(distribution: Distribution, rng: random.Random) -> Callable[[], float]:
    """A function drawing one duration (seconds) from ``distribution``.

    A lognormal given by mean m and coefficient of variation c has
    sigma^2 = ln(1 + c^2) and mu = ln(m) - sigma^2 / 2.
    """
    mean = distribution.mean
    if distribution.kind == "constant" or mean <= 0:
        return lambda: mean
    if distribution.kind == "exponential":
        rate = 1.0 / mean
        return lambda: rng.expovariate(rate)
    if distribution.kind == "lognormal":
        sigma = math.sqrt(math.log(1.0 + distribution.cv ** 2))
        mu = math.log(mean) - sigma * sigma / 2.0
        draw, log, exp = rng.random, math.log, math.exp

        def lognormal() -> float:
            # exp(N(mu, sigma)), the normal by Kinderman and Monahan's ratio of uniforms:
            # the very arithmetic of ``Random.lognormvariate`` (exp of ``normalvariate``),
            # so the same draws, without its two Python calls per draw (two draws a caller)
            while True:
                u1 = draw()
                u2 = 1.0 - draw()
                z = _NV_MAGICCONST * (u1 - 0.5) / u2
                if z * z / 4.0 <= -log(u2):
                    return exp(mu + z * sigma)

        return lognormal
    raise ValueError(f"unknown distribution {distribution.kind!r}")


def chooser(shares: dict[str, float], rng: random.Random) -> Callable[[], str]:
    """A function picking a key with probability equal to its share."""
    names = list(shares)
    weights = [shares[name] for name in names]
    if not names:
        raise ValueError("nothing to choose from")
    if len(names) == 1:
        only = names[0]
        return lambda: only
    cumulative: list[float] = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    last = len(names) - 1
    draw = rng.random
    # bisect on the cumulative shares: random.choices does the same, at 5x the cost per call
    return lambda: names[min(bisect.bisect_right(cumulative, draw() * total), last)]
