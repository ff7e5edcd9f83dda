"""Confidence intervals from independent replications.

Each replication of a day is one independent observation of every figure, so a
figure's mean over R replications has a Student t interval with R - 1 degrees of
freedom. The standard library has no t quantile (and scipy is not a dependency), so we
keep the exact two-sided 95 % and 99 % values for small samples and use the
Cornish-Fisher expansion around the normal quantile beyond them (error < 1e-4 for
df > 30).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist, fmean, stdev

_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
         2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
         2.052, 2.048, 2.045, 2.042)
_T995 = (63.657, 9.925, 5.841, 4.604, 4.032, 3.707, 3.499, 3.355, 3.250, 3.169, 3.106, 3.055, 3.012,
         2.977, 2.947, 2.921, 2.898, 2.878, 2.861, 2.845, 2.831, 2.819, 2.807, 2.797, 2.787, 2.779,
         2.771, 2.763, 2.756, 2.750)


def t_quantile(level: float, df: int) -> float:
    """The two-sided ``level`` (0.95 or 0.99 tabulated; others approximated) t quantile."""
    if df < 1:
        raise ValueError(f"a t interval needs at least 1 degree of freedom, got {df}")
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be between 0 and 1, got {level}")
    table = {0.95: _T975, 0.99: _T995}.get(round(level, 4))
    if table is not None and df <= len(table):
        return table[df - 1]
    z = NormalDist().inv_cdf(0.5 + level / 2)
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))


@dataclass(frozen=True, slots=True)
class Estimate:
    """A figure's mean over replications and the half-width of its interval (NaN with
    a single replication: one day says nothing about its own variability)."""

    mean: float
    half_width: float
    replications: int

    @property
    def low(self) -> float:
        return self.mean - self.half_width

    @property
    def high(self) -> float:
        return self.mean + self.half_width

    def covers(self, value: float) -> bool:
        return self.low <= value <= self.high


def estimate(values: Sequence[float], level: float = 0.95) -> Estimate:
    """Mean and t interval of per-replication values; NaN values (a figure undefined in
    some replication, like ASA with no call answered) are left out."""
    clean = [v for v in values if not math.isnan(v)]
    if not clean:
        return Estimate(math.nan, math.nan, 0)
    if len(clean) == 1:
        return Estimate(clean[0], math.nan, 1)
    half = t_quantile(level, len(clean) - 1) * stdev(clean) / math.sqrt(len(clean))
    return Estimate(fmean(clean), half, len(clean))
