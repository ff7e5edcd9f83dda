"""How many agents each interval needs by the analytic formula planners know (Erlang C,
through ``sim.staffing``), shown next to the simulated staffing and used as the
staffing search's starting point.

Erlang C pools every caller and every agent into one skill and ignores abandonment,
the trunk and the interval's carry-over: the simulation answers what it leaves out.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from acd.config.model import Config
from acd.config.sim import PlanTarget, SimSettings
from sim.staffing import StaffingTarget, agents_needed


def mean_handle_time(config: Config, settings: SimSettings) -> float:
    """Talk time plus the topic-weighted wrap-up: what an agent spends per call."""
    wrapup = sum(share * config.queues[queue].wrapup for queue, share in settings.topics.items())
    return settings.talk_time.mean + wrapup


def calls_per_hour(settings: SimSettings, calls_per_day: float | None = None,
                   opening: Mapping[str, Sequence[bool]] | None = None) -> list[float]:
    """The profile's expected first calls per hour, interval by interval; with
    ``opening`` (queue -> open minute by minute) only the calls whose queue is open."""
    calls = settings.calls_per_day if calls_per_day is None else calls_per_day
    minutes = settings.interval
    total = sum(settings.topics.values()) or 1.0
    rates = []
    for index, share in enumerate(settings.profile):
        reached = 1.0
        if opening is not None:
            reached = sum(topic / total * sum(opening[queue][index * minutes:(index + 1) * minutes]) / minutes
                          for queue, topic in settings.topics.items())
        rates.append(calls * share * reached / (minutes / 60))
    return rates


def formula_target(target: PlanTarget) -> StaffingTarget | None:
    """The line's targets as Erlang C reads them: service level, ASA and occupancy, as
    given. None for an abandonment target alone: Erlang C has no patience, so it has no
    answer (the needed agents are then NaN; ``acd-sim plan`` uses Erlang A)."""
    if target.service_level is None and target.asa is None and target.max_occupancy is None:
        return None
    return StaffingTarget(target.threshold, service_level=target.service_level, asa_s=target.asa,
                          max_occupancy=target.max_occupancy)


def erlang_c_agents(config: Config, settings: SimSettings, calls_per_day: float | None = None,
                    opening: Mapping[str, Sequence[bool]] | None = None) -> list[float]:
    """Erlang C agents per interval for the profile's expected first calls (redials of a
    well-staffed line are few) at the settings' targets (``formula_target``)."""
    handle = mean_handle_time(config, settings)
    target = formula_target(settings.target)
    rates = calls_per_hour(settings, calls_per_day, opening)
    if target is None:
        return [math.nan] * len(rates)
    return [float(agents_needed(rate, handle, target).agents) for rate in rates]
