"""When a data-subject request is due, counted in local working days, and how far it may be
extended. Holidays come from the `holidays` package for the years named in each test."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from domain.requests.deadlines import (
    ExtensionRefused,
    WorkingCalendar,
    add_months,
    check_extension,
    due_at,
    end_of_day,
)

ENGLAND = WorkingCalendar(country="GB", subdivision="ENG", timezone="Europe/London")
SCOTLAND = WorkingCalendar(country="GB", subdivision="SCT", timezone="Europe/London")
GERMANY = WorkingCalendar(country="DE", subdivision=None, timezone="Europe/Berlin")
TICK = timedelta(microseconds=1)


def received(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


# add_months


def test_31_january_plus_one_month_is_the_last_day_of_february() -> None:
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)


def test_31_january_plus_one_month_is_29_february_in_a_leap_year() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)


def test_adding_months_carries_into_the_next_year() -> None:
    assert add_months(date(2025, 12, 31), 2) == date(2026, 2, 28)


# the working calendar


def test_a_weekday_that_is_not_a_holiday_is_a_working_day() -> None:
    assert ENGLAND.is_working_day(date(2026, 12, 29))


def test_saturdays_sundays_and_holidays_are_not_working_days() -> None:
    assert not ENGLAND.is_working_day(date(2026, 12, 26))  # Saturday, Boxing Day
    assert not ENGLAND.is_working_day(date(2026, 12, 27))  # Sunday
    assert not ENGLAND.is_working_day(date(2026, 12, 28))  # Boxing Day (substitute)


def test_the_next_working_day_of_a_working_day_is_that_day() -> None:
    assert ENGLAND.next_working_day(date(2026, 12, 29)) == date(2026, 12, 29)


def test_the_next_working_day_follows_the_holidays_of_the_subdivision() -> None:
    # 1 January 2027 is a Friday; Scotland also keeps 2 January, substituted to Monday 4th.
    assert ENGLAND.next_working_day(date(2027, 1, 1)) == date(2027, 1, 4)
    assert SCOTLAND.next_working_day(date(2027, 1, 1)) == date(2027, 1, 5)


def test_a_calendar_with_an_unknown_country_or_time_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="No public holidays"):
        WorkingCalendar(country="XX", subdivision=None, timezone="Europe/London")
    with pytest.raises(ValueError, match="No public holidays"):
        WorkingCalendar(country="GB", subdivision="XXX", timezone="Europe/London")
    with pytest.raises(ValueError, match="Unknown time zone"):
        WorkingCalendar(country="GB", subdivision="ENG", timezone="Europe/Nowhere")


# end of day


def test_the_end_of_a_summer_day_in_london_is_an_hour_before_midnight_utc() -> None:
    assert end_of_day(date(2026, 7, 15), ENGLAND) == datetime(
        2026, 7, 15, 22, 59, 59, 999999, tzinfo=UTC
    )


def test_the_end_of_a_winter_day_in_london_is_midnight_utc_less_a_microsecond() -> None:
    assert end_of_day(date(2026, 1, 15), ENGLAND) == datetime(
        2026, 1, 15, 23, 59, 59, 999999, tzinfo=UTC
    )


# due dates


def test_a_request_received_on_31_january_is_due_on_28_february() -> None:
    assert due_at(received(2025, 1, 31), ENGLAND) == end_of_day(date(2025, 2, 28), ENGLAND)


def test_a_request_received_on_31_january_of_a_leap_year_is_due_on_29_february() -> None:
    assert due_at(received(2024, 1, 31), ENGLAND) == end_of_day(date(2024, 2, 29), ENGLAND)


def test_a_request_received_on_30_january_of_a_leap_year_is_due_on_29_february() -> None:
    assert due_at(received(2024, 1, 30), ENGLAND) == end_of_day(date(2024, 2, 29), ENGLAND)


def test_a_due_date_on_a_saturday_moves_to_the_monday() -> None:
    # 28 February 2026 is a Saturday.
    assert due_at(received(2026, 1, 31), ENGLAND) == end_of_day(date(2026, 3, 2), ENGLAND)


def test_a_due_date_on_a_holiday_moves_past_every_holiday_and_weekend_after_it() -> None:
    # 25 Dec 2026 is Christmas (Friday), 26 Boxing Day (Saturday), 27 a Sunday, and 28 the
    # substitute for Boxing Day: the first working day is Tuesday 29 December.
    assert due_at(received(2026, 11, 25), ENGLAND) == end_of_day(date(2026, 12, 29), ENGLAND)


def test_the_due_date_ends_at_the_end_of_the_local_day() -> None:
    # received 2 June 2026 (Tuesday), due Thursday 2 July, during British Summer Time.
    assert due_at(received(2026, 6, 2), ENGLAND) == datetime(
        2026, 7, 2, 22, 59, 59, 999999, tzinfo=UTC
    )


def test_a_request_received_late_in_the_utc_day_counts_from_the_next_local_day() -> None:
    # 23:30 UTC on Friday 31 January 2025 is already 1 February in Berlin, not in London.
    late_on_31_january = datetime(2025, 1, 31, 23, 30, tzinfo=UTC)

    # 1 March 2025 is a Saturday, so Berlin's deadline moves to Monday 3 March.
    assert due_at(late_on_31_january, GERMANY) == end_of_day(date(2025, 3, 3), GERMANY)
    assert due_at(late_on_31_january, ENGLAND) == end_of_day(date(2025, 2, 28), ENGLAND)


def test_a_receipt_time_in_another_zone_is_read_in_the_calendar_zone() -> None:
    # 18:30 in New York on 31 January 2025 is 00:30 on 1 February in Berlin.
    evening_in_new_york = datetime(2025, 1, 31, 18, 30, tzinfo=ZoneInfo("America/New_York"))

    assert due_at(evening_in_new_york, GERMANY) == end_of_day(date(2025, 3, 3), GERMANY)


def test_a_maximum_shorter_than_a_month_brings_the_deadline_forward() -> None:
    # 2 June + 29 days is Wednesday 1 July, a day before the month runs out.
    assert due_at(received(2026, 6, 2), ENGLAND, max_days=29) == end_of_day(
        date(2026, 7, 1), ENGLAND
    )


def test_a_maximum_longer_than_a_month_is_ignored() -> None:
    # 2 June + 31 days would be Friday 3 July; the month ends on Thursday 2 July.
    assert due_at(received(2026, 6, 2), ENGLAND, max_days=31) == end_of_day(
        date(2026, 7, 2), ENGLAND
    )


def test_a_shortened_deadline_on_a_weekend_also_moves_to_the_next_working_day() -> None:
    # 2 June + 25 days is Saturday 27 June.
    assert due_at(received(2026, 6, 2), ENGLAND, max_days=25) == end_of_day(
        date(2026, 6, 29), ENGLAND
    )


def test_a_maximum_of_no_days_makes_the_request_due_by_the_end_of_the_day_it_arrived() -> None:
    assert due_at(received(2026, 6, 2), ENGLAND, max_days=0) == end_of_day(
        date(2026, 6, 2), ENGLAND
    )


def test_a_request_due_the_day_it_arrives_on_a_holiday_is_due_the_next_working_day() -> None:
    # 25 December 2026 is Christmas; the next working day is Tuesday 29 December.
    assert due_at(received(2026, 12, 25), ENGLAND, max_days=0) == end_of_day(
        date(2026, 12, 29), ENGLAND
    )


def test_a_negative_maximum_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot come before the request"):
        due_at(received(2026, 6, 2), ENGLAND, max_days=-1)


def test_a_naive_receipt_time_is_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        due_at(datetime(2026, 6, 2, 10), ENGLAND)


# extensions

# Received 2 June 2026, due Thursday 2 July; two months later is Wednesday 2 September.
ORIGINAL_DUE = end_of_day(date(2026, 7, 2), ENGLAND)
TWO_MONTHS_LATER = end_of_day(date(2026, 9, 2), ENGLAND)
BEFORE_THE_DEADLINE = datetime(2026, 6, 20, 9, tzinfo=UTC)


def extend(
    new_due: datetime,
    *,
    original_due: datetime = ORIGINAL_DUE,
    now: datetime = BEFORE_THE_DEADLINE,
    already_extended: bool = False,
) -> None:
    check_extension(original_due, new_due, now, ENGLAND, already_extended=already_extended)


def test_an_extension_of_exactly_two_months_is_accepted() -> None:
    extend(TWO_MONTHS_LATER)


def test_an_extension_of_two_months_and_a_day_is_refused() -> None:
    with pytest.raises(ExtensionRefused, match="at most two months, to 2 September 2026"):
        extend(TWO_MONTHS_LATER + timedelta(days=1))


def test_an_extension_a_moment_past_the_end_of_the_last_allowed_day_is_refused() -> None:
    with pytest.raises(ExtensionRefused, match="at most two months"):
        extend(TWO_MONTHS_LATER + TICK)


def test_an_extension_whose_two_months_end_on_a_holiday_reaches_the_next_working_day() -> None:
    # Two months after Wednesday 28 October 2026 is Christmas; the limit is Tuesday 29 December.
    original_due = end_of_day(date(2026, 10, 28), ENGLAND)

    extend(end_of_day(date(2026, 12, 29), ENGLAND), original_due=original_due)
    with pytest.raises(ExtensionRefused, match="at most two months, to 29 December 2026"):
        extend(end_of_day(date(2026, 12, 30), ENGLAND), original_due=original_due)


def test_an_extension_asked_for_a_moment_before_the_deadline_is_accepted() -> None:
    extend(TWO_MONTHS_LATER, now=ORIGINAL_DUE - TICK)


def test_an_extension_asked_for_once_the_deadline_has_passed_is_refused() -> None:
    with pytest.raises(ExtensionRefused, match="passed at the end of 2 July 2026"):
        extend(TWO_MONTHS_LATER, now=ORIGINAL_DUE)


def test_a_second_extension_is_refused() -> None:
    with pytest.raises(ExtensionRefused, match="already been extended once"):
        extend(TWO_MONTHS_LATER, already_extended=True)


def test_an_extension_to_the_original_deadline_is_refused() -> None:
    with pytest.raises(ExtensionRefused, match="must be later than the current one"):
        extend(ORIGINAL_DUE)


def test_an_extension_to_an_earlier_date_is_refused() -> None:
    with pytest.raises(ExtensionRefused, match="must be later than the current one"):
        extend(ORIGINAL_DUE - timedelta(days=1))


@pytest.mark.parametrize(
    ("original_due", "new_due", "now"),
    [
        (ORIGINAL_DUE.replace(tzinfo=None), TWO_MONTHS_LATER, BEFORE_THE_DEADLINE),
        (ORIGINAL_DUE, TWO_MONTHS_LATER.replace(tzinfo=None), BEFORE_THE_DEADLINE),
        (ORIGINAL_DUE, TWO_MONTHS_LATER, BEFORE_THE_DEADLINE.replace(tzinfo=None)),
    ],
    ids=["original_due", "new_due", "now"],
)
def test_an_extension_given_a_naive_time_is_refused_as_a_programming_error(
    original_due: datetime, new_due: datetime, now: datetime
) -> None:
    with pytest.raises(ValueError, match="no time zone") as refused:
        extend(new_due, original_due=original_due, now=now)

    assert not isinstance(refused.value, ExtensionRefused)
