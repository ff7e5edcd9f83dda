"""Who is on duty in each interval of the simulated day.

Two sources, as a planner uses them: each agent's ``shifts`` from the config (empty:
always on duty), or the ``sim.staffing`` table giving a head count per interval. A
head count must become named agents, because the engine routes by skills: we take a
prefix of a fixed rotation that interleaves agents with the same skill set in
proportion to their numbers, with one of every skill set first, so a small night
shift still covers every kind of agent and a larger count keeps the config's mix.
Agents with shifts of their own always follow them and are left out of the rotation.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import time

from acd.config.model import AgentConfig, TimeRange


def rotation(agents: Mapping[str, AgentConfig]) -> list[str]:
    """Agent ids in the order a head count fills them (see the module docstring)."""
    groups: dict[frozenset, list[str]] = {}
    for agent in agents.values():
        if not agent.shifts:
            groups.setdefault(frozenset(agent.skills.items()), []).append(agent.id)
    keyed: list[tuple[float, int, str]] = []
    for group_order, members in enumerate(groups.values()):
        size = len(members)
        keyed.extend((index / size, group_order, agent_id) for index, agent_id in enumerate(members))
    keyed.sort()
    return [agent_id for _, _, agent_id in keyed]


def _in_shift(shifts: Sequence[TimeRange], minute: int) -> bool:
    moment = time(minute // 60, minute % 60)
    return any(r.start <= moment < r.end or (r.end == time.max and moment >= r.start) for r in shifts)


def on_duty(agents: Mapping[str, AgentConfig], interval_minutes: int,
            staffing: Sequence[int] | None, first: Sequence[frozenset[str]] | None = None) -> list[frozenset[str]]:
    """The set of agent ids on duty in each interval of the day.

    An interval counts an agent with shifts as on duty when the interval's start lies in
    a shift (shift boundaries usually fall on interval boundaries). ``first`` names, per
    interval, the agents a head count takes before the others (in rotation order): those
    who can serve a queue open then (``sim.opening.serving``), so that a night shift of
    two is not two agents of closed queues."""
    count = 24 * 60 // interval_minutes
    if staffing is not None and len(staffing) != count:
        raise ValueError(f"staffing has {len(staffing)} intervals, the day has {count}")
    order = rotation(agents)
    if staffing is not None and max(staffing, default=0) > len(order):
        raise ValueError(f"staffing asks for {max(staffing)} agents, only {len(order)} have no shifts of their own")
    result: list[frozenset[str]] = []
    for index in range(count):
        minute = index * interval_minutes
        ids = {a.id for a in agents.values() if a.shifts and _in_shift(a.shifts, minute)}
        if staffing is None:
            ids.update(order)
        elif first is None:
            ids.update(order[: staffing[index]])
        else:
            preferred = [a for a in order if a in first[index]]
            ids.update((preferred + [a for a in order if a not in first[index]])[: staffing[index]])
        result.append(frozenset(ids))
    return result


def by_team(agents: Mapping[str, AgentConfig], roster: Sequence[frozenset[str]]) -> list[dict[str, int]]:
    """How many of each team are on duty in each interval: what a planner schedules,
    since a head count becomes named agents by the rotation above. Agents listed one
    by one under ``agents:`` count as ``(no team)``."""
    teams = sorted({agent.team or NO_TEAM for agent in agents.values()})
    counts: list[dict[str, int]] = []
    for ids in roster:
        row = dict.fromkeys(teams, 0)
        for agent_id in ids:
            row[agents[agent_id].team or NO_TEAM] += 1
        counts.append(row)
    return counts


#: the label of agents that belong to no team
NO_TEAM = "(no team)"
