"""The staffing search: the agents per interval that meet the service-level target,
checked by simulation rather than trusted to a formula.

Erlang C gives the start (it is what planners know, and usually close); then we
simulate the day with that staffing and correct interval by interval: an interval
whose service level falls short gets more agents, one that clears the target by a
margin gives one back. An interval that once fell short at n agents never goes back to
n (``floor``), so the search cannot oscillate, and it stops when a round changes
nothing. Every round replays the same seeds (common random numbers), so a change in
the figures comes from the change in staffing, not from luck. Intervals interact (a backlog spills into the next one), which is exactly why
the check is a whole-day simulation and not interval by interval.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from acd.config.model import Config
from acd.config.sim import SimSettings
from sim.erlang import offered_load
from sim.needed import calls_per_hour, erlang_c_agents, mean_handle_time
from sim.replications import Replicated, run_days
from sim.roster import rotation

#: an interval clearing the target by this much (lower confidence bound) may lose an agent
SLACK = 0.05


@dataclass(frozen=True, slots=True)
class Plan:
    staffing: tuple[int, ...]
    erlang_c: tuple[float, ...]
    check: Replicated
    rounds: int
    #: intervals that miss the target even with every available agent
    short_of_agents: tuple[int, ...]
    converged: bool

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


def search(config: Config, settings: SimSettings, replications: int, *, max_rounds: int = 12,
           on_round: Callable[[int, tuple[int, ...]], None] | None = None) -> Plan:
    """Find the staffing per interval that meets ``settings.target`` (see module doc)."""
    if max_rounds < 1:
        raise ValueError(f"max_rounds must be at least 1, got {max_rounds}")
    available = len(rotation(config.agents))
    if available == 0:
        raise ValueError("every agent has shifts of their own: there is nobody for the search to place")
    target = settings.target.service_level
    erlang = erlang_c_agents(config, settings)
    handle = mean_handle_time(config, settings)
    # fewer agents than the offered load cannot keep up, whatever the simulation's luck
    load_floor = [math.ceil(offered_load(rate, handle)) for rate in calls_per_hour(settings)]
    staffing = [min(int(n), available) for n in erlang]
    floor = [min(max(f, 1 if share > 0 else 0), available) for f, share in zip(load_floor, settings.profile)]
    staffing = [max(s, f) for s, f in zip(staffing, floor)]
    check: Replicated | None = None
    checked: tuple[int, ...] = ()
    converged = False
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        if on_round is not None:
            on_round(rounds, tuple(staffing))
        checked = tuple(staffing)
        check = run_days(config, settings, replications, settings.seed, staffing=checked, needed=erlang)
        changed = False
        for i, figures in enumerate(check.intervals):
            level = figures["service_level"]
            if level.replications == 0:
                continue   # no calls in this interval: nothing to judge
            if level.mean < target:
                floor[i] = max(floor[i], staffing[i] + 1)
                grow = max(1, math.ceil(staffing[i] * (target - level.mean)))
                new = min(available, staffing[i] + grow)
            elif _clears(level.low if not math.isnan(level.half_width) else level.mean, target) and staffing[i] > floor[i]:
                new = staffing[i] - 1
            else:
                continue
            if new != staffing[i]:
                staffing[i], changed = new, True
        if not changed:
            converged = True
            break
    assert check is not None
    # What we return is what was simulated last, never an unchecked correction.
    short = tuple(i for i, figures in enumerate(check.intervals)
                  if figures["service_level"].replications and figures["service_level"].mean < target
                  and checked[i] >= available)
    return Plan(checked, tuple(erlang), check, rounds, short, converged)


def _clears(low: float, target: float) -> bool:
    return low >= target + SLACK
