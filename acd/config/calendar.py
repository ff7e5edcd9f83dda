"""Greek public holidays and opening hours: is a route open at a given instant?

Why computed and not typed in: four of Greece's public holidays move with Orthodox
Easter (Clean Monday, Good Friday, Easter Monday, Whit Monday), and a list typed into
the config would silently go stale every year. Orthodox Easter is reckoned on the
Julian calendar (Meeus' Julian algorithm) and shifted to the Gregorian date the
country lives by.

Labour Day (May 1) is the one fixed holiday that moves. It is a mandatory day off, and
each year it fell in the Easter days the Ministry of Labour moved it, by decision, to
the Tuesday after Easter: 2013 and 2024 (May 1 was Holy Wednesday, kept on May 7), 2016
(Easter Sunday, kept on May 3), 2021 (Holy Saturday, kept on May 4). A May 1 on a plain
Sunday went to the Monday (2022, kept on May 2). ``labour_day`` applies that practice,
so the line is open on a May 1 that is a working day and closed on the day the holiday
went to. It is a yearly decision, not a formula in the law: a year that departs from
the practice adds its day under the calendar's ``dates`` and takes the computed one out
under ``not_dates`` (the loader refuses a ``not_dates`` day the calendar does not compute).

Opening hours are local time in Athens (``Europe/Athens``, with its summer time),
whatever the server's clock zone is, so the line opens at 07:00 on the caller's wall
clock on both sides of a daylight-saving change.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

from acd.config.model import HolidayCalendar, Schedule

#: The holidays with a fixed date: (month, day) -> name.
FIXED_GREEK_HOLIDAYS: Mapping[tuple[int, int], str] = {
    (1, 1): "New Year's Day",
    (1, 6): "Epiphany",
    (3, 25): "Independence Day",
    (8, 15): "Dormition of the Mother of God",
    (10, 28): "Ochi Day",
    (12, 25): "Christmas Day",
    (12, 26): "Synaxis of the Mother of God",
}

#: The movable holidays: days from Orthodox Easter Sunday -> name.
EASTER_OFFSETS: Mapping[int, str] = {
    -48: "Clean Monday",
    -2: "Good Friday",
    0: "Easter Sunday",
    1: "Easter Monday",
    50: "Whit Monday (Holy Spirit)",
}


def orthodox_easter(year: int) -> date:
    """Orthodox Easter Sunday as a Gregorian date (Meeus' Julian algorithm).

    The Julian-to-Gregorian gap is 13 days from 1900 to 2099 and grows by one day in
    each century year not divisible by 400; the formula below covers 1583 onwards.
    """
    if year < 1583:
        raise ValueError(f"the Gregorian calendar starts in 1583; {year} is out of range")
    a, b, c = year % 4, year % 7, year % 19
    d = (19 * c + 15) % 30
    e = (2 * a + 4 * b - d + 34) % 7
    month, day = divmod(d + e + 114, 31)
    julian_gap = year // 100 - year // 400 - 2
    return date(year, month, day + 1) + timedelta(days=julian_gap)


#: From Holy Monday to Easter Monday: a May 1 in these days moves to Easter Tuesday.
EASTER_DAYS_LABOUR_DAY_LEAVES = range(-6, 2)


def labour_day(year: int) -> date:
    """The day the Labour Day holiday is kept in ``year`` (see the module docstring)."""
    kept = date(year, 5, 1)
    if kept.weekday() == 6:
        kept += timedelta(days=1)
    easter = orthodox_easter(year)
    # also a Palm Sunday May 1 (no precedent yet): its Monday is Holy Monday
    if (kept - easter).days in EASTER_DAYS_LABOUR_DAY_LEAVES:
        return easter + timedelta(days=2)
    return kept


@lru_cache(maxsize=64)
def greek_holidays(year: int) -> Mapping[date, str]:
    """Every national public holiday of ``year``: date -> name."""
    days = {date(year, month, day): name for (month, day), name in FIXED_GREEK_HOLIDAYS.items()}
    kept = labour_day(year)
    days[kept] = "Labour Day" if kept == date(year, 5, 1) else "Labour Day (moved from May 1)"
    easter = orthodox_easter(year)
    for offset, name in EASTER_OFFSETS.items():
        days.setdefault(easter + timedelta(days=offset), name)
    return days


_BUILTIN = {"greece": greek_holidays}


def builtin_holidays(builtin: str, year: int) -> Mapping[date, str]:
    """The holidays the builtin calendar ``builtin`` computes for ``year``: date -> name."""
    return _BUILTIN[builtin](year)


def holiday_name(day: date, calendars: Iterable[HolidayCalendar]) -> str | None:
    """The name of the holiday ``day`` is in any of ``calendars``, or None for a working day.

    A calendar's ``not_dates`` take a computed day back out of that calendar only (another
    calendar of the same schedule may still close the day); its ``dates`` always count."""
    for calendar in calendars:
        if calendar.builtin is not None and day not in calendar.not_dates:
            name = builtin_holidays(calendar.builtin, day.year).get(day)
            if name is not None:
                return name
        if day in calendar.dates:
            return f"{calendar.name} holiday"
    return None


def local_time(epoch: float, zone: str = "Europe/Athens") -> datetime:
    """An epoch instant on the wall clock of ``zone``."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).astimezone(ZoneInfo(zone))


def is_open(schedule: Schedule, holidays: Mapping[str, HolidayCalendar], at: datetime) -> bool:
    """Whether ``schedule`` is open at the local time ``at`` (aware, in the service's zone).

    A holiday of any of the schedule's calendars closes the whole day; otherwise the
    weekday's ranges decide (start inclusive, end exclusive; 24:00 closes at midnight).
    """
    if at.tzinfo is None:
        raise ValueError("is_open needs an aware datetime in the service's time zone")
    if schedule.always_open:
        return True
    if holiday_name(at.date(), (holidays[name] for name in schedule.holidays)) is not None:
        return False
    moment = at.timetz().replace(tzinfo=None)
    return any(r.start <= moment and (moment < r.end or r.end == time.max)
               for r in schedule.weekly.get(at.weekday(), ()))
