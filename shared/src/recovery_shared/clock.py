"""Business dates.

Every time-based rule runs from the business date carried by ``day.started`` on
``clock.days.v1``, never from the wall clock, so a month of recovery can be
replayed in seconds. The only wall-clock reads in the platform are timestamps on
envelopes and audit columns (``utc_now``), which no rule depends on.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from recovery_shared.refusal import Refused

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


def dates_to_run(business_date: date | None, started: date, *, max_days_forward: int) -> list[date]:
    """The business dates whose daily jobs a ``day.started`` for ``started`` runs, in order,
    given the service's business date (None before its first day).

    - Its first day sets the clock: that date alone.
    - A date on or before the business date is a copy or a replay: none, its jobs have run.
    - A gap is filled: every date after the business date up to ``started``, so no day's job
      is skipped and each miss or notice is dated as if the scheduler had sent every day.
    - A step of more than ``max_days_forward`` days (the council's ``[clock]`` bound) is
      refused: one mistyped date would otherwise run months of jobs at once and leave every
      later real day looking like the past.
    """
    if business_date is None:
        return [started]
    gap = (started - business_date).days
    if gap <= 0:
        return []
    if gap > max_days_forward:
        raise Refused(
            f"day.started for {started} is {gap} days after this service's business date {business_date},"
            f" and one day.started may move it at most {max_days_forward} days ([clock] max_days_forward"
            " in the council's TOML); the business date has not moved. If the date is wrong, correct the"
            " scheduler; if it is right, send the days in between first, or raise max_days_forward"
        )
    return [business_date + timedelta(days=n) for n in range(1, gap + 1)]
