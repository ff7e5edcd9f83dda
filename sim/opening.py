"""Which queues are open at each minute of the simulated day: the config's schedules,
weekdays, weekends and holidays, as the IVR applies them (``acd.config.calendar.is_open``).

A caller whose queue is closed when the IVR is done takes the closed path (the hours
message, the callback offer): no agent is needed for them, so the plan staffs none.
A day is a date (``--date``), or a day type (``--day-type``) that stands for a
representative date of the next year: the first working Wednesday, Saturday or
Sunday, or the first public holiday on a weekday.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

from acd.config.model import Config
from acd.config.sim import DAY_TYPES, SimSettings
from acd.engine.lines import qualifies
from acd.config.calendar import holiday_name, is_open

_WEEKDAY = {"weekday": 2, "saturday": 5, "sunday": 6}
#: the year representative dates are taken from
REFERENCE_YEAR = 2027


def representative_date(config: Config, day_type: str) -> date:
    """A date of ``day_type`` for ``config``'s calendars (see the module doc)."""
    if day_type not in DAY_TYPES:
        raise ValueError(f"day type {day_type!r}: use one of {', '.join(DAY_TYPES)}")
    calendars = list(config.holidays.values())
    day = date(REFERENCE_YEAR, 1, 1)
    for _ in range(366):
        holiday = holiday_name(day, calendars) is not None
        if day_type == "holiday":
            if holiday and day.weekday() < 5:
                return day
        elif not holiday and day.weekday() == _WEEKDAY[day_type]:
            return day
        day += timedelta(days=1)
    raise ValueError("the config has no holiday calendar: there is no holiday to simulate")


def day_type(config: Config, day: date) -> str:
    """The kind of ``day``: a holiday of any of the config's calendars, else its weekday."""
    if holiday_name(day, config.holidays.values()) is not None:
        return "holiday"
    return {5: "saturday", 6: "sunday"}.get(day.weekday(), "weekday")


def calls_on(settings: SimSettings, config: Config, day: date) -> float:
    """The calls a day of ``day``'s type brings (``sim.day_volumes``, else ``calls_per_day``)."""
    return settings.day_volumes.get(day_type(config, day), settings.calls_per_day)


def settings_on(settings: SimSettings, config: Config, day: date, calls_per_day: float | None = None) -> SimSettings:
    """The settings of ``day``: its day type's volume (unless ``calls_per_day`` says)
    and its day type's arrival profile (``sim.day_profiles``, else ``profile``)."""
    kind = day_type(config, day)
    return replace(settings, calls_per_day=calls_on(settings, config, day) if calls_per_day is None else calls_per_day,
                   profile=settings.day_profiles.get(kind, settings.profile))


def open_minutes(config: Config, day: date) -> dict[str, list[bool]]:
    """Queue -> for each minute of ``day``, whether callers reach its agents."""
    table: dict[str, list[bool]] = {}
    for name, queue in config.queues.items():
        schedule = config.schedules.get(queue.schedule)
        if queue.always_open or schedule is None or schedule.always_open:
            table[name] = [True] * 1440
            continue
        start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        table[name] = [is_open(schedule, config.holidays, start + timedelta(minutes=m)) for m in range(1440)]
    return table


def serving(config: Config, table: Mapping[str, list[bool]], interval_minutes: int) -> list[frozenset[str]]:
    """Per interval, the agents who qualify for a queue open at some minute of it (the
    roster puts them on duty first)."""
    result = []
    for start in range(0, 1440, interval_minutes):
        open_queues = [config.queues[name] for name, minutes in table.items()
                       if any(minutes[start:start + interval_minutes])]
        result.append(frozenset(agent.id for agent in config.agents.values()
                                if any(qualifies(agent.skills, queue.requirements) for queue in open_queues)))
    return result


def is_open_at(table: Mapping[str, list[bool]] | None, queue: str, seconds: float) -> bool:
    """Whether ``queue`` is open ``seconds`` into the day (always, without a table)."""
    if table is None:
        return True
    return table[queue][min(int(seconds // 60), 1439)]
