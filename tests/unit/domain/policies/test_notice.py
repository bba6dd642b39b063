"""The 30 business days' notice of a policy change: weekends and the calendar's public holidays
are skipped, counting starts the day after the announcement, in the calendar's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from domain.policies.notice import (
    business_days_after,
    earliest_effective_at,
    earliest_effective_date,
    gives_enough_notice,
    spelled_out,
)
from domain.requests.deadlines import WorkingCalendar

US = WorkingCalendar(country="US", subdivision=None, timezone="UTC")
NEW_YORK = WorkingCalendar(country="US", subdivision="NY", timezone="America/New_York")
ENGLAND = WorkingCalendar(country="GB", subdivision="ENG", timezone="Europe/London")

# Wednesday, the day before Thanksgiving; Christmas and New Year's Day are observed on the
# Fridays before them in 2027.
BEFORE_THANKSGIVING = datetime(2027, 11, 24, 15, 0, tzinfo=UTC)


def test_the_announcement_day_itself_is_never_counted() -> None:
    # Monday 5 July 2027 is the observed Independence Day; Tuesday the 6th is the first
    assert business_days_after(date(2027, 7, 2), 1, US) == date(2027, 7, 6)
    assert business_days_after(date(2027, 7, 6), 1, US) == date(2027, 7, 7)


def test_weeks_without_holidays_give_six_weeks() -> None:
    # Monday 1 March 2027: no US federal holiday until Memorial Day
    assert business_days_after(date(2027, 3, 1), 30, US) == date(2027, 4, 12)


def test_thanksgiving_christmas_and_new_year_push_the_date_back() -> None:
    # Thursday 25 November, Friday 24 and Friday 31 December are holidays: the 30th business
    # day after Wednesday 24 November 2027 is Monday 10 January 2028, not Wednesday the 5th
    assert earliest_effective_date(BEFORE_THANKSGIVING, US) == date(2028, 1, 10)
    assert business_days_after(date(2027, 11, 24), 29, US) == date(2028, 1, 7)


def test_the_29th_business_day_is_refused_and_the_30th_accepted() -> None:
    day_29 = datetime(2028, 1, 7, 23, 59, tzinfo=UTC)
    day_30 = datetime(2028, 1, 10, 0, 0, tzinfo=UTC)
    assert not gives_enough_notice(BEFORE_THANKSGIVING, day_29, US)
    assert gives_enough_notice(BEFORE_THANKSGIVING, day_30, US)


def test_the_holidays_are_the_calendars_country_s() -> None:
    # England works on Thanksgiving and on 24 December 2027 but not on the 27th and 28th
    # (Christmas and Boxing Day observed) nor on 3 January 2028
    assert earliest_effective_date(BEFORE_THANKSGIVING, ENGLAND) == date(2028, 1, 10)
    assert business_days_after(date(2027, 11, 24), 21, ENGLAND) == date(2027, 12, 23)
    assert business_days_after(date(2027, 11, 24), 22, ENGLAND) == date(2027, 12, 24)
    assert business_days_after(date(2027, 11, 24), 23, ENGLAND) == date(2027, 12, 29)


def test_dates_are_local_to_the_calendar() -> None:
    # 02:00 UTC on Thursday 2 December is still Wednesday 1 December in New York
    announced = datetime(2027, 12, 2, 2, 0, tzinfo=UTC)
    assert NEW_YORK.local_date(announced) == date(2027, 12, 1)
    assert earliest_effective_date(announced, NEW_YORK) == business_days_after(
        date(2027, 12, 1), 30, NEW_YORK
    )
    # and an effective time is judged by its New York date too
    earliest = earliest_effective_at(announced, NEW_YORK)
    assert earliest.tzinfo == ZoneInfo("America/New_York")
    assert (earliest.hour, earliest.minute) == (0, 0)
    assert gives_enough_notice(announced, earliest, NEW_YORK)
    assert not gives_enough_notice(announced, earliest.astimezone(UTC).replace(hour=4), NEW_YORK)


def test_the_earliest_moment_is_the_start_of_the_earliest_day() -> None:
    assert earliest_effective_at(BEFORE_THANKSGIVING, US) == datetime(2028, 1, 10, tzinfo=UTC)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        earliest_effective_date(datetime(2027, 11, 24, 15, 0), US)


def test_at_least_one_day_is_counted() -> None:
    with pytest.raises(ValueError, match="at least one business day"):
        business_days_after(date(2027, 11, 24), 0, US)


def test_dates_are_spelled_out_in_words() -> None:
    assert spelled_out(date(2028, 1, 10)) == "Monday 10 January 2028"
