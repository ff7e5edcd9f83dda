"""Greek public holidays and opening hours (acd.config.calendar)."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, strategies as st

from acd.config.model import HolidayCalendar, Schedule, TimeRange
from acd.config.calendar import greek_holidays, holiday_name, is_open, labour_day, local_time, orthodox_easter

ATHENS = ZoneInfo("Europe/Athens")

# Orthodox Easter Sundays as published by the Church of Greece.
PUBLISHED_EASTERS = {
    2008: date(2008, 4, 27), 2010: date(2010, 4, 4), 2021: date(2021, 5, 2), 2022: date(2022, 4, 24),
    2023: date(2023, 4, 16), 2024: date(2024, 5, 5), 2025: date(2025, 4, 20), 2026: date(2026, 4, 12),
    2027: date(2027, 5, 2),
}


@pytest.mark.parametrize("year", sorted(PUBLISHED_EASTERS))
def test_orthodox_easter_matches_the_published_dates(year: int) -> None:
    assert orthodox_easter(year) == PUBLISHED_EASTERS[year]


@given(st.integers(min_value=1900, max_value=2099))
def test_orthodox_easter_is_a_sunday_between_april_4_and_may_8(year: int) -> None:
    easter = orthodox_easter(year)
    assert easter.weekday() == 6
    assert date(year, 4, 4) <= easter <= date(year, 5, 8)


def test_easter_before_the_gregorian_calendar_is_refused() -> None:
    with pytest.raises(ValueError, match="1583"):
        orthodox_easter(1500)


def test_movable_holidays_of_2025_follow_easter() -> None:
    days = greek_holidays(2025)
    assert days[date(2025, 3, 3)] == "Clean Monday"
    assert days[date(2025, 4, 18)] == "Good Friday"
    assert days[date(2025, 4, 21)] == "Easter Monday"
    assert days[date(2025, 6, 9)] == "Whit Monday (Holy Spirit)"


def test_fixed_holidays_are_there_every_year() -> None:
    for year in (2024, 2025, 2031):
        days = greek_holidays(year)
        for month, day in ((1, 1), (1, 6), (3, 25), (8, 15), (10, 28), (12, 25), (12, 26)):
            assert date(year, month, day) in days


# The day Labour Day was kept, as the Ministry of Labour decided it in the years it moved.
PUBLISHED_LABOUR_DAYS = {
    2013: date(2013, 5, 7),   # May 1 was Holy Wednesday: Easter Tuesday
    2016: date(2016, 5, 3),   # Easter Sunday: Easter Tuesday
    2021: date(2021, 5, 4),   # Holy Saturday: Easter Tuesday
    2022: date(2022, 5, 2),   # a plain Sunday: the Monday
    2024: date(2024, 5, 7),   # Holy Wednesday: Easter Tuesday
    2025: date(2025, 5, 1),   # a Thursday after Easter: stays
}


@pytest.mark.parametrize("year", sorted(PUBLISHED_LABOUR_DAYS))
def test_labour_day_is_kept_where_the_ministry_moved_it(year: int) -> None:
    kept = PUBLISHED_LABOUR_DAYS[year]
    assert labour_day(year) == kept
    days = greek_holidays(year)
    assert days[kept].startswith("Labour Day")
    if kept != date(year, 5, 1):              # no longer Labour Day (a working day but in 2016: Easter)
        assert not days.get(date(year, 5, 1), "").startswith("Labour Day")


@given(st.integers(min_value=1900, max_value=2099))
def test_labour_day_never_lands_in_the_easter_days(year: int) -> None:
    kept = labour_day(year)
    assert not -6 <= (kept - orthodox_easter(year)).days <= 1
    assert kept.weekday() != 6 and date(year, 5, 1) <= kept <= date(year, 5, 10)


def test_line_is_open_on_a_may_day_in_holy_week_and_closed_when_the_holiday_moved() -> None:
    assert is_open(WEEKDAYS, CALENDARS, at(2024, 5, 1, 12, 0))     # Holy Wednesday 2024
    assert not is_open(WEEKDAYS, CALENDARS, at(2024, 5, 7, 12, 0))  # Easter Tuesday 2024
    assert not is_open(WEEKDAYS, CALENDARS, at(2025, 5, 1, 12, 0))  # an ordinary May Day


def test_an_ordinary_day_is_no_holiday() -> None:
    assert holiday_name(date(2025, 2, 12), [HolidayCalendar("greece", builtin="greece")]) is None


def test_extra_dates_of_a_calendar_are_holidays() -> None:
    extra = HolidayCalendar("local", dates=(date(2025, 11, 17),))
    assert holiday_name(date(2025, 11, 17), [extra]) == "local holiday"


WEEKDAYS = Schedule("business", weekly={d: (TimeRange(time(7), time(22)),) for d in range(5)}, holidays=("greece",))
CALENDARS = {"greece": HolidayCalendar("greece", builtin="greece")}


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ATHENS)


def test_open_inside_hours_on_a_working_day() -> None:
    assert is_open(WEEKDAYS, CALENDARS, at(2025, 2, 12, 7, 0))
    assert is_open(WEEKDAYS, CALENDARS, at(2025, 2, 12, 21, 59))


def test_closed_at_the_end_of_the_range_and_before_it() -> None:
    assert not is_open(WEEKDAYS, CALENDARS, at(2025, 2, 12, 22, 0))
    assert not is_open(WEEKDAYS, CALENDARS, at(2025, 2, 12, 6, 59))


def test_closed_on_a_weekday_that_has_no_hours() -> None:
    assert not is_open(WEEKDAYS, CALENDARS, at(2025, 2, 15, 12, 0))   # a Saturday


def test_closed_all_day_on_good_friday() -> None:
    assert not is_open(WEEKDAYS, CALENDARS, at(2025, 4, 18, 12, 0))


def test_always_open_schedule_ignores_holidays() -> None:
    always = Schedule("always", weekly={}, always_open=True, holidays=("greece",))
    assert is_open(always, CALENDARS, at(2025, 12, 25, 3, 0))


def test_midnight_end_keeps_the_last_minute_open() -> None:
    late = Schedule("late", weekly={2: (TimeRange(time(20), time.max),)})
    assert is_open(late, {}, at(2025, 2, 12, 23, 59, 59))


def test_hours_are_athens_wall_clock_across_summer_time() -> None:
    # 07:00 in Athens is 05:00 UTC in winter and 04:00 UTC in summer
    winter = datetime(2025, 2, 12, 5, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    summer = datetime(2025, 7, 9, 4, 0, tzinfo=ZoneInfo("UTC")).timestamp()
    assert is_open(WEEKDAYS, CALENDARS, local_time(winter))
    assert is_open(WEEKDAYS, CALENDARS, local_time(summer))
    assert not is_open(WEEKDAYS, CALENDARS, local_time(summer - 60))


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(WEEKDAYS, CALENDARS, datetime(2025, 2, 12, 12, 0))


# A ministerial decision that departs from the practice: Labour Day 2024 kept on
# Wednesday May 8 instead of Easter Tuesday May 7.
DECIDED_OTHERWISE = {"greece": HolidayCalendar("greece", builtin="greece", dates=(date(2024, 5, 8),),
                                               not_dates=(date(2024, 5, 7),))}
DECIDED_SCHEDULE = Schedule("business", weekly=WEEKDAYS.weekly, holidays=("greece",))


def test_a_removed_computed_holiday_is_a_working_day_and_the_added_one_is_not() -> None:
    calendar = [DECIDED_OTHERWISE["greece"]]
    assert holiday_name(date(2024, 5, 7), calendar) is None
    assert holiday_name(date(2024, 5, 8), calendar) == "greece holiday"
    assert is_open(DECIDED_SCHEDULE, DECIDED_OTHERWISE, at(2024, 5, 7, 12, 0))
    assert not is_open(DECIDED_SCHEDULE, DECIDED_OTHERWISE, at(2024, 5, 8, 12, 0))


def test_removing_one_day_leaves_every_other_computed_holiday() -> None:
    calendar = [DECIDED_OTHERWISE["greece"]]
    assert holiday_name(date(2024, 5, 6), calendar) == "Easter Monday"
    assert holiday_name(date(2025, 5, 1), calendar) == "Labour Day"        # another year: untouched
    assert not is_open(DECIDED_SCHEDULE, DECIDED_OTHERWISE, at(2024, 5, 6, 12, 0))


def test_a_day_removed_from_one_calendar_is_still_closed_by_another() -> None:
    calendars = {**DECIDED_OTHERWISE, "national": HolidayCalendar("national", builtin="greece")}
    both = Schedule("business", weekly=WEEKDAYS.weekly, holidays=("greece", "national"))
    assert not is_open(both, calendars, at(2024, 5, 7, 12, 0))
