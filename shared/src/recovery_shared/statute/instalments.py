"""Instalments: how a Council Tax or Business Rates bill is paid, by statute.

How many monthly instalments a bill gets, when the first falls due, the whole-pound
amounts and the minimum instalment are the law's, not the council's; they live here,
each beside its source. The council chooses only the day of the month instalments
fall due (Sch 1 para 2(4): "on such day in each month as is so specified") and the
invoice terms of debts with no statutory schedule (HBOP, TA, sundry): both in the
council's TOML, ``[instalments]``.

Sources (numbers as in ../shared/domain.md):
- [S2]  SI 1992/613 (Council Tax (Administration and Enforcement) Regulations 1992)
        Sch 1 Part I: para 2(1) the scheme covers a bill issued on or before 31 December
        of the year; 2(3) the number of instalments: 10 for a bill issued on or before
        30 April, one less than the whole months remaining in the year after a later
        one; 2(4) uninterrupted months of the year, on the day the notice specifies;
        2(5)-(6) whole-pound instalments with the difference on the first; 2(7) a first
        instalment under £5 absorbs the second; para 3 fewer instalments of at least £5,
        and a total under £10 in one.
- [S3]  SI 1992/613 reg 21(1A)-(1D) and Sch 1 para 2(3A): 12 instalments in place of 10
        when the payer asks in writing (since 1 April 2013). Para 2(3A) moves the
        cut-off for 12 to 15 April; this module keeps one cut-off (30 April) for both
        counts, and a bill issued 16-30 April on the 1st loses May to the notice
        period anyway (see ``statutory_schedule``).
- [S4]  the bill goes out at least 14 days before the first instalment; a bill issued
        1 January-31 March is one instalment due at least 14 days after issue.
- [S25] SI 1989/1058 (Non-Domestic Rating (Collection and Enforcement) (Local Lists)
        Regulations 1989) Sch 1 Part I: para 1 the same count and whole-pound rule, para 2
        a bill issued 1 January-31 March is one instalment, para 3 at least £50.
- [S26] SI 2014/479: Business Rates on 12 instalments on request, from 2014/15.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from recovery_shared.clock import financial_year_bounds
from recovery_shared.contracts.common import DebtType

POUND = 100

Schedule = list[tuple[date, int]]
"""(due date, amount in pence), in due-date order."""


@dataclass(frozen=True)
class InstalmentScheme:
    """The statute's figures for one kind of bill."""

    standard_count: int
    """Monthly instalments for a bill issued on or before 30 April."""
    requested_count: int
    """The same when the payer asks in writing for 12."""
    minimum_instalment_pence: int
    """No instalment below this; fewer instalments instead."""
    notice_days: int
    """The bill goes out at least this many days before the first instalment."""


COUNCIL_TAX = InstalmentScheme(
    standard_count=10,  # Sch 1 para 2(3)(a), SI 1992/613 [S2]
    requested_count=12,  # reg 21(1A)-(1D) and Sch 1 para 2(3A), SI 1992/613 [S3]
    minimum_instalment_pence=500,  # £5: Sch 1 para 2(7) and 3(1), SI 1992/613 [S2]
    notice_days=14,  # [S4]
)
BUSINESS_RATES = InstalmentScheme(
    standard_count=10,  # Sch 1 para 1, SI 1989/1058 [S25]
    requested_count=12,  # SI 2014/479, from 2014/15 [S26]
    minimum_instalment_pence=5000,  # £50: Sch 1 para 3, SI 1989/1058 [S25]
    notice_days=14,  # [S4][S25]
)

_SCHEMES = {DebtType.COUNCIL_TAX: COUNCIL_TAX, DebtType.BUSINESS_RATES: BUSINESS_RATES}


def scheme_for(debt_type: DebtType | str) -> InstalmentScheme | None:
    """The statutory instalment scheme of a debt type; None for debts billed by invoice."""
    return _SCHEMES.get(DebtType(debt_type))


# --- dates ----------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later (instalment days are 1-28, so it always exists)."""
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def first_instalment_on(issued_on: date, year_start: date, instalment_day: int, notice_days: int) -> date:
    """The council's instalment day at least ``notice_days`` after the bill [S4], and not
    before the year begins (Sch 1 para 2(4): months *of the relevant year* [S2])."""
    earliest = max(issued_on + timedelta(days=notice_days), year_start)
    candidate = earliest.replace(day=instalment_day)
    return candidate if candidate >= earliest else add_months(candidate, 1)


# --- amounts ----------------------------------------------------------------------------


def whole_pound_instalments(total_pence: int, count: int) -> list[int]:
    """Sch 1 para 2(5)-(6), SI 1992/613 [S2]; Sch 1 para 1, SI 1989/1058 [S25].

    If the total divided by the number of instalments is a whole number of pounds, every
    instalment is that. Otherwise every instalment but the first is A = C / D rounded to the
    nearest pound (a half rounds up), and the first is B = C - (D - 1) x A, so they sum to C.
    """
    if count < 1:
        raise ValueError("a schedule has at least one instalment")
    if total_pence % (POUND * count) == 0:
        return [total_pence // count] * count
    a = (2 * total_pence + POUND * count) // (2 * POUND * count) * POUND
    return [total_pence - (count - 1) * a, *([a] * (count - 1))]


def instalment_amounts(total_pence: int, count: int, minimum_pence: int) -> list[int]:
    """Whole-pound instalments, none under the minimum (£5 CT [S2], £50 NNDR [S25]).

    1. Sch 1 para 2(5)-(6): whole pounds, the difference on the first instalment.
    2. para 2(7): if an instalment would be under the minimum, the second is added to the
       first and there is one fewer.
    3. para 3(1): if one still would be, a total under twice the minimum (£10 CT) is one
       instalment; otherwise there are as many instalments as the minimum fits into the total
       (never more than before), and 2(5)-(7) apply again (para 3(3)).
    """
    count = max(count, 1)
    while True:
        amounts = whole_pound_instalments(total_pence, count)
        if min(amounts) >= minimum_pence:
            return amounts
        if count > 1:
            merged = [amounts[0] + amounts[1], *amounts[2:]]
            if min(merged) >= minimum_pence:
                return merged
        if total_pence < 2 * minimum_pence or count <= 2:
            return [total_pence]
        count = min(count - 1, total_pence // minimum_pence)


# --- the statutory schedule -----------------------------------------------------------------


def instalment_count(
    bill_issued_on: date, financial_year: str, scheme: InstalmentScheme, twelve_requested: bool
) -> int:
    """How many monthly instalments a bill gets before the minimum-amount rule.

    Sch 1 para 2(3), SI 1992/613 [S2]; Sch 1 para 1, SI 1989/1058 [S25]: issued on or before
    30 April -> the standard count (10), or the requested count (12) on written request
    [S3][S26]; issued later -> one fewer than the whole months left in the year after the
    issue, never more than that count. Issued 1 January-31 March (or after the year) -> one
    (para 2(1) covers bills issued on or before 31 December) [S4][S25 para 2].
    """
    start, end = financial_year_bounds(financial_year)
    cap = scheme.requested_count if twelve_requested else scheme.standard_count
    if bill_issued_on >= date(end.year, 1, 1):
        return 1
    if bill_issued_on <= date(start.year, 4, 30):
        return cap
    whole_months_left = _month_index(end) - _month_index(bill_issued_on)
    return max(1, min(cap, whole_months_left - 1))


def statutory_schedule(
    total_pence: int,
    bill_issued_on: date,
    financial_year: str,
    scheme: InstalmentScheme,
    instalment_day: int,
    twelve_requested: bool,
) -> Schedule:
    """The statutory instalment schedule of a Council Tax or Business Rates bill.

    Monthly on the council's instalment day, the first at least ``scheme.notice_days`` after
    the bill and not before 1 April, in uninterrupted months that stay inside the financial
    year (Sch 1 para 2(4) [S2]); so 10 instalments on a full-year bill end in January and 12
    end in March. A bill issued 1 January-31 March is one instalment due ``notice_days`` after
    issue [S4].
    """
    if total_pence <= 0:
        raise ValueError("a schedule is for a positive amount")
    start, end = financial_year_bounds(financial_year)
    count = instalment_count(bill_issued_on, financial_year, scheme, twelve_requested)
    if count == 1 and bill_issued_on >= date(end.year, 1, 1):
        return [(bill_issued_on + timedelta(days=scheme.notice_days), total_pence)]
    first = first_instalment_on(bill_issued_on, start, instalment_day, scheme.notice_days)
    months_available = _month_index(end) - _month_index(first) + 1
    count = max(1, min(count, months_available))
    amounts = instalment_amounts(total_pence, count, scheme.minimum_instalment_pence)
    return [(add_months(first, i), amount) for i, amount in enumerate(amounts)]
