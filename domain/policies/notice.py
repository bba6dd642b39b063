"""The notice period of a policy change: "at least thirty (30) business days prior to the change
taking effect", counted on the policy calendar (weekends and that country's public holidays are
not business days; dates are local to the calendar's time zone).

The first business day counted is the one after the announcement, so a change announced on a
Monday, in a week without holidays, can take effect at the earliest on the Monday six weeks
later, the 30th business day after it.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from domain.requests.deadlines import WorkingCalendar

NOTICE_BUSINESS_DAYS = 30


def business_days_after(day: date, count: int, calendar: WorkingCalendar) -> date:
    """The ``count``-th business day after ``day`` (``day`` itself never counts)."""
    if count < 1:
        raise ValueError(f"Count at least one business day, not {count}.")
    counted = 0
    while counted < count:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            counted += 1
    return day


def earliest_effective_date(
    announced_at: datetime, calendar: WorkingCalendar, business_days: int = NOTICE_BUSINESS_DAYS
) -> date:
    """The first local date on which a change announced at ``announced_at`` may take effect."""
    return business_days_after(calendar.local_date(announced_at), business_days, calendar)


def earliest_effective_at(
    announced_at: datetime, calendar: WorkingCalendar, business_days: int = NOTICE_BUSINESS_DAYS
) -> datetime:
    """The first moment a change announced at ``announced_at`` may take effect: the start of
    :func:`earliest_effective_date` in the calendar's time zone."""
    day = earliest_effective_date(announced_at, calendar, business_days)
    return datetime.combine(day, time.min, tzinfo=calendar.zone)


def gives_enough_notice(
    announced_at: datetime,
    effective_at: datetime,
    calendar: WorkingCalendar,
    business_days: int = NOTICE_BUSINESS_DAYS,
) -> bool:
    """Whether ``effective_at`` falls on or after the earliest allowed local date."""
    return calendar.local_date(effective_at) >= earliest_effective_date(
        announced_at, calendar, business_days
    )


def spelled_out(day: date) -> str:
    """The day in words, e.g. Monday 10 January 2028: no locale misreads it."""
    return f"{day:%A} {day.day} {day:%B %Y}"
