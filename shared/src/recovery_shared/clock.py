"""Business dates.

Every time-based rule runs from the business date carried by ``day.started`` on
``clock.days.v1``, never from the wall clock, so a month of recovery can be
replayed in seconds. The only wall-clock reads in the platform are timestamps on
envelopes and audit columns (``utc_now``), which no rule depends on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def utc_now() -> datetime:
    """An aware UTC timestamp for envelopes and audit columns, never for rules."""
    return datetime.now(UTC)


def london_date(moment: datetime) -> date:
    """The Europe/London calendar date of an aware timestamp."""
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(LONDON).date()


def financial_year_of(day: date) -> str:
    """The council financial year (1 April to 31 March) a date falls in: '2026/27'."""
    start = day.year if day.month >= 4 else day.year - 1
    return f"{start}/{(start + 1) % 100:02d}"


def financial_year_bounds(financial_year: str) -> tuple[date, date]:
    """First and last day of a financial year given as '2026/27'."""
    try:
        start_year = int(financial_year.split("/")[0])
    except (ValueError, IndexError) as exc:
        raise ValueError(f"financial year must look like '2026/27', got {financial_year!r}") from exc
    return date(start_year, 4, 1), date(start_year + 1, 3, 31)


def days_after(day: date, days: int) -> date:
    return day + timedelta(days=days)
