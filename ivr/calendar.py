"""Greek public holidays and opening hours: is a route open at a given instant?

Why computed and not typed in: four of Greece's public holidays move with Orthodox
Easter (Clean Monday, Good Friday, Easter Monday, Whit Monday), and a list typed into
the config would silently go stale every year. Orthodox Easter is reckoned on the
Julian calendar (Meeus' Julian algorithm) and shifted to the Gregorian date the
country lives by.

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
    (5, 1): "Labour Day",
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


@lru_cache(maxsize=64)
def greek_holidays(year: int) -> Mapping[date, str]:
    """Every national public holiday of ``year``: date -> name."""
    days = {date(year, month, day): name for (month, day), name in FIXED_GREEK_HOLIDAYS.items()}
    easter = orthodox_easter(year)
    for offset, name in EASTER_OFFSETS.items():
        days.setdefault(easter + timedelta(days=offset), name)
    return days


_BUILTIN = {"greece": greek_holidays}


def holiday_name(day: date, calendars: Iterable[HolidayCalendar]) -> str | None:
    """The name of the holiday ``day`` is in any of ``calendars``, or None for a working day."""
    for calendar in calendars:
        if calendar.builtin is not None:
            name = _BUILTIN[calendar.builtin](day.year).get(day)
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
