"""Deemed service: the day a notice counts as served, from its issue date and the
council's service rule (``CouncilConfig.service``, set in the council's TOML).

Every statutory period that runs from service counts from ``served_on``. Counting
from the later, deemed-service day is also the safe reading where a regulation
counts from issue (SI 1992/613 reg 17(4): the day a posted notice is issued is the
day it is posted): a council that waits from the served date never acts early.

Sources:
- Interpretation Act 1978 s.7: service by post is "deemed to be effected by
  properly addressing, pre-paying and posting a letter ... and, unless the contrary
  is proved, to have been effected at the time at which the letter would be
  delivered in the ordinary course of post". The number of days is the council's
  evidence, hence the TOML.
- CPR 6.26: leaving a document at the address on a business day serves it that
  day, otherwise on the next business day; that is the rule for zero days here.
- Business day, as in SI 1992/613 reg 1(2) and CPR 6.2: any day except a Saturday,
  a Sunday, Christmas Day, Good Friday or a bank holiday under the Banking and
  Financial Dealings Act 1971 in England and Wales.

Bank holidays come from the ``holidays`` package's England calendar rather than a
list in each council's TOML: it carries substitute days (Boxing Day 2026 falls on a
Saturday, so Monday 28 December is the holiday) and future years without anyone
keeping a list. A one-off holiday proclaimed after the installed release goes in
``[service] extra_closed_days``.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from recovery_shared.council import ServiceMethod, ServiceRule

__all__ = ["ServiceMethod", "ServiceRule", "bank_holidays", "is_business_day", "served_on"]

_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=32)
def bank_holidays(year: int) -> frozenset[date]:
    """England's bank holidays in ``year`` (Christmas Day and Good Friday among them)."""
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def is_business_day(day: date, rule: ServiceRule | None = None) -> bool:
    if day.weekday() >= 5 or day in bank_holidays(day.year):
        return False
    return rule is None or day not in rule.extra_closed_days


def served_on(issued_on: date, rule: ServiceRule) -> date:
    """The day a notice issued on ``issued_on`` is deemed served under ``rule``:
    the issue date plus ``rule.business_days`` business days; with none, the issue
    date itself if it is a business day, otherwise the next business day."""
    day = issued_on
    if rule.business_days == 0:
        while not is_business_day(day, rule):
            day += _ONE_DAY
        return day
    remaining = rule.business_days
    while remaining:
        day += _ONE_DAY
        if is_business_day(day, rule):
            remaining -= 1
    return day
