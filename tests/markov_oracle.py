"""An independent oracle for `sim.erlang`: the queue as a brute-force continuous-time
Markov chain, solved numerically.

It shares nothing with the closed forms under test: the stationary distribution comes
from a linear solve of the generator, the chance of being answered within t from the
matrix exponential of the tagged caller's absorbing chain, and the mean wait from its
fundamental matrix. Infinite queues are truncated at ``cap`` states (choose it so the
tail is negligible).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import expm, solve


@dataclass(frozen=True)
class ChainFigures:
    p_wait: float
    service_level: float
    asa: float
    occupancy: float
    p_abandon: float
    p_block: float


def solve_queue(calls_per_hour: float, aht_s: float, agents: int, threshold_s: float, *,
                patience_s: float | None = None, lines: int | None = None, cap: int = 400) -> ChainFigures:
    arrival, service = calls_per_hour / 3600.0, 1.0 / aht_s
    abandon = 0.0 if patience_s is None else 1.0 / patience_s
    top = lines if lines is not None else cap
    generator = np.zeros((top + 1, top + 1))
    for state in range(top + 1):
        if state < top:
            generator[state, state + 1] = arrival
        if state > 0:
            generator[state, state - 1] = min(state, agents) * service + max(state - agents, 0) * abandon
        generator[state, state] = -generator[state].sum()
    equations = np.vstack([generator.T, np.ones(top + 1)])
    right = np.zeros(top + 2)
    right[-1] = 1.0
    stationary = np.linalg.lstsq(equations, right, rcond=None)[0]
    p_block = float(stationary[top]) if lines is not None else 0.0
    seen = stationary[:top] if lines is not None else stationary  # what an accepted caller finds
    seen = seen / seen.sum()
    ahead = len(seen) - agents  # tagged caller's transient states: q = 0 .. ahead - 1 callers in front
    if ahead > 0:
        transient = np.zeros((ahead, ahead))
        to_agent = np.zeros(ahead)
        for q in range(ahead):
            advance = agents * service + q * abandon
            transient[q, q] = -(advance + abandon)
            if q == 0:
                to_agent[q] = advance
            else:
                transient[q, q - 1] = advance
        absorbing = np.block([[transient, to_agent[:, None]], [np.zeros((1, ahead + 1))]])
        within = expm(absorbing * threshold_s)[:ahead, -1]
        fundamental = solve(-transient, np.eye(ahead))
        answered = fundamental @ to_agent
        wait_if_answered = fundamental @ answered  # E[wait; answered]
        shares = seen[agents:]
        p_abandon = float(shares @ (1 - answered))
        level = float(seen[:agents].sum() + shares @ within)
        asa = float(shares @ wait_if_answered) / (1 - p_abandon)
    else:
        p_abandon, level, asa = 0.0, 1.0, 0.0
    busy = sum(min(state, agents) * stationary[state] for state in range(top + 1))
    return ChainFigures(p_wait=float(seen[agents:].sum()), service_level=level, asa=asa,
                        occupancy=float(busy) / agents, p_abandon=p_abandon, p_block=p_block)
