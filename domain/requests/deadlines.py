"""When a data-subject request must be answered, and how far that deadline may be extended.

Dates are counted in the calendar's local time zone, because a month "from receipt" means from
the day the customer sent it where the controller is, not from the day in UTC.
"""

from __future__ import annotations

import functools
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

EXTENSION_MONTHS = 2


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Where the controller works: its public holidays and its time zone."""

    country: str
    subdivision: str | None
    timezone: str

    def __post_init__(self) -> None:
        # Fail when the settings are read, not when the first deadline is computed.
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"Unknown time zone {self.timezone!r}.") from error
        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision)
        except NotImplementedError as error:
            raise ValueError(
                f"No public holidays known for {self.country!r}, subdivision {self.subdivision!r}."
            ) from error

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's time zone."""
        return ZoneInfo(self.timezone)

    def local_date(self, moment: datetime) -> date:
        """The date `moment` (aware) falls on in this calendar's time zone."""
        return _require_aware(moment).astimezone(self.zone).date()

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is neither a Saturday, a Sunday nor a public holiday."""
        return day.weekday() < 5 and day not in _holidays(self.country, self.subdivision, day.year)

    def next_working_day(self, day: date) -> date:
        """`day` itself if it is a working day, otherwise the first working day after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


@functools.lru_cache(maxsize=256)
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year))


def add_months(day: date, months: int) -> date:
    """Same day of month `months` later, clamped to the month's last day.

    31 January + 1 month is 28 February, or 29 February in a leap year.
    """
    year, month_index = divmod(day.year * 12 + day.month - 1 + months, 12)
    month = month_index + 1
    return date(year, month, min(day.day, monthrange(year, month)[1]))


def end_of_day(day: date, calendar: WorkingCalendar) -> datetime:
    """23:59:59.999999 local time of `day`, as an aware UTC datetime."""
    return datetime.combine(day, time.max, tzinfo=calendar.zone).astimezone(UTC)


def due_at(
    start: datetime, calendar: WorkingCalendar, *, months: int = 1, max_days: int | None = None
) -> datetime:
    """The legal deadline of a request whose clock starts at `start` (aware): the local date of
    `start` plus `months` calendar months (GDPR Art. 12(3)), or `max_days` days when settings
    shorten it and that comes earlier (settings may shorten, never lengthen), moved forward to the
    next working day if it falls on a weekend or holiday, ending at the end of that local day."""
    if months < 1:
        raise ValueError(f"A deadline is at least one month away, not {months}.")
    if max_days is not None and max_days < 0:
        # 0 is allowed: due by the end of the (working) day the request arrived.
        raise ValueError(f"A deadline cannot come before the request, {max_days} days.")
    received_on = calendar.local_date(start)
    due_on = add_months(received_on, months)
    if max_days is not None:
        due_on = min(due_on, received_on + timedelta(days=max_days))
    return end_of_day(calendar.next_working_day(due_on), calendar)


class ExtensionRefused(ValueError):
    """The deadline of a request cannot be extended as asked; the message says why."""


def check_extension(
    original_due: datetime,
    new_due: datetime,
    now: datetime,
    calendar: WorkingCalendar,
    *,
    already_extended: bool,
) -> None:
    """Refuse, with ExtensionRefused, an extension that is not the first, is asked for once
    `original_due` has passed, or whose `new_due` is not after `original_due` or is later than
    the end of the first working day on or after two months from its local date."""
    original_due_on = calendar.local_date(original_due)
    new_due_on = calendar.local_date(new_due)
    _require_aware(now)
    if already_extended:
        raise ExtensionRefused(
            "The deadline for this request has already been extended once "
            "and cannot be extended again."
        )
    if now >= original_due:
        raise ExtensionRefused(
            f"The deadline for this request passed at the end of {_spelled_out(original_due_on)}; "
            "it can only be extended before then."
        )
    if new_due <= original_due:
        raise ExtensionRefused(
            f"The new deadline, {_spelled_out(new_due_on)}, must be later than the current one, "
            f"{_spelled_out(original_due_on)}."
        )
    latest_on = calendar.next_working_day(add_months(original_due_on, EXTENSION_MONTHS))
    if new_due > end_of_day(latest_on, calendar):
        raise ExtensionRefused(
            f"The deadline can be extended by at most two months, to {_spelled_out(latest_on)}; "
            f"{_spelled_out(new_due_on)} is too late."
        )


def _require_aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{moment.isoformat()} has no time zone; deadlines need an aware time.")
    return moment


def _spelled_out(day: date) -> str:
    return f"{day.day} {day:%B %Y}"
