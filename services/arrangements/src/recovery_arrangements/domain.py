"""Instalment rules: pure functions over plain values, no I/O.

Sources (numbers as in ../shared/domain.md):
- [S2]  SI 1992/613 (Council Tax (Administration and Enforcement) Regulations 1992) Sch 1 Part I:
        para 2(3) the number of instalments, 2(4) uninterrupted months of the year on the day the
        council sets, 2(5)-(6) whole-pound instalments with the difference on the first, 2(7) a
        first instalment under £5 absorbs the second, para 3 fewer instalments of at least £5.
- [S25] SI 1989/1058 (NNDR, local lists) Sch 1 Part I: para 1 the same count and whole-pound
        rule, para 2 a bill issued 1 January-31 March is one instalment, para 3 at least £50.
- [S3]  SI 1992/613 reg 21(1A)-(1D): 12 instalments on written request; [S26] SI 2014/479 for NNDR.
- [S4]  the bill goes out at least 14 days before the first instalment; a bill issued
        1 January-31 March is one instalment due at least 14 days after issue.

The figures (counts, minimum instalment, days after issue, the day of the month) come from
the council's configuration (``InstalmentRules``), never from here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Generic, Protocol, TypeVar

from recovery_shared.clock import financial_year_bounds
from recovery_shared.contracts.inbound import ChargeRaisedData
from recovery_shared.council import InstalmentRules

Schedule = list[tuple[date, int]]
"""(due date, amount in pence), in due-date order."""

INVOICE_TERMS_DAYS = 14
"""Invoice terms for HBOP, TA and sundry debt where the council configures none (domain §4, §5 [S43b])."""

POUND = 100


def same_charge(existing_amount: int, existing_account: str, raised: ChargeRaisedData) -> bool:
    """A second charge.raised for a debt we hold is a replay only if it says the same thing."""
    return existing_amount == raised.amount_pence and existing_account == raised.account_ref


# --- dates ----------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day of the month ``months`` later (instalment days are 1-28, so it always exists)."""
    index = day.year * 12 + day.month - 1 + months
    return day.replace(year=index // 12, month=index % 12 + 1)


def _month_index(day: date) -> int:
    return day.year * 12 + day.month - 1


def first_instalment_on(issued_on: date, year_start: date, instalment_day: int, minimum_days_after_issue: int) -> date:
    """The council's instalment day at least ``minimum_days_after_issue`` days after the bill [S4],
    and not before the year begins (Sch 1 para 2(4): months *of the relevant year* [S2])."""
    earliest = max(issued_on + timedelta(days=minimum_days_after_issue), year_start)
    candidate = earliest.replace(day=instalment_day)
    return candidate if candidate >= earliest else add_months(candidate, 1)


# --- amounts --------------------------------------------------------------------


def whole_pound_instalments(total_pence: int, count: int) -> list[int]:
    """Sch 1 para 2(5)-(6), SI 1992/613 [S2]; Sch 1 para 1(4)-(5), SI 1989/1058 [S25].

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


# --- the statutory schedule -------------------------------------------------------


def instalment_count(bill_issued_on: date, financial_year: str, rules: InstalmentRules, twelve_requested: bool) -> int:
    """How many monthly instalments a bill gets before the minimum-amount rule.

    Sch 1 para 2(3), SI 1992/613 [S2]; Sch 1 para 1(2), SI 1989/1058 [S25]:
    issued on or before 30 April -> the standard count (10), or the requested count (12)
    on written request [S3][S26]; issued later -> one fewer than the whole months left in the
    year after the issue, never more than that count. Issued 1 January-31 March (or after
    the year) -> one [S4][S25 para 2].
    """
    start, end = financial_year_bounds(financial_year)
    cap = rules.requested_count if twelve_requested else rules.standard_count
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
    rules: InstalmentRules,
    instalment_day: int,
    twelve_requested: bool,
) -> Schedule:
    """The statutory instalment schedule of a Council Tax or Business Rates bill.

    Monthly on the council's instalment day, the first at least ``minimum_days_after_issue``
    days after the bill and not before 1 April, in uninterrupted months that stay inside the
    financial year (Sch 1 para 2(4) [S2]); so 10 instalments on a full-year bill end in January
    and 12 end in March. A bill issued 1 January-31 March is one instalment due
    ``minimum_days_after_issue`` days after issue [S4].
    """
    if total_pence <= 0:
        raise ValueError("a schedule is for a positive amount")
    start, end = financial_year_bounds(financial_year)
    count = instalment_count(bill_issued_on, financial_year, rules, twelve_requested)
    if count == 1 and bill_issued_on >= date(end.year, 1, 1):
        return [(bill_issued_on + timedelta(days=rules.minimum_days_after_issue), total_pence)]
    first = first_instalment_on(bill_issued_on, start, instalment_day, rules.minimum_days_after_issue)
    months_available = _month_index(end) - _month_index(first) + 1
    count = max(1, min(count, months_available))
    amounts = instalment_amounts(total_pence, count, rules.minimum_instalment_pence)
    return [(add_months(first, i), amount) for i, amount in enumerate(amounts)]


def invoice_schedule(total_pence: int, issued_on: date, rules: InstalmentRules | None) -> Schedule:
    """HBOP, TA and sundry debt: one payment on invoice terms (domain §4-5 [S43b][S45])."""
    days = rules.minimum_days_after_issue if rules is not None else INVOICE_TERMS_DAYS
    return [(issued_on + timedelta(days=days), total_pence)]


# --- payments against a schedule ----------------------------------------------------


class Payable(Protocol):
    seq: int
    due_date: date
    amount_pence: int
    paid_pence: int


P = TypeVar("P", bound=Payable)
T = TypeVar("T")


def _in_due_order(instalments: Iterable[P]) -> list[P]:
    return sorted(instalments, key=lambda i: (i.due_date, i.seq))


@dataclass
class Applied(Generic[T]):
    fully_paid: list[T] = field(default_factory=list)
    """Instalments this payment completed (published as instalment.paid)."""
    reopened: list[T] = field(default_factory=list)
    """Instalments a reversal left no longer fully paid."""
    left_over_pence: int = 0
    """Money with nowhere to go: more than the schedule owes, or a reversal of more than was paid."""


def apply_payment(instalments: Sequence[P], amount_pence: int) -> Applied[P]:
    """Mark instalments paid, oldest due date first; a part payment stays on the instalment and
    the next payment tops it up. A negative amount (a reversal) takes money back from the
    latest-paid instalment first, so the paid instalments always form an unbroken run from the
    oldest. (No statutory rule; this is the R v Miskin "obvious liability" reading, domain §10 [S52].)"""
    result: Applied[P] = Applied()
    if amount_pence >= 0:
        remaining = amount_pence
        for instalment in _in_due_order(instalments):
            if remaining == 0:
                break
            owed = instalment.amount_pence - instalment.paid_pence
            if owed <= 0:
                continue
            taken = min(owed, remaining)
            instalment.paid_pence += taken
            remaining -= taken
            if instalment.paid_pence >= instalment.amount_pence:
                result.fully_paid.append(instalment)
        result.left_over_pence = remaining
        return result
    remaining = -amount_pence
    for instalment in reversed(_in_due_order(instalments)):
        if remaining == 0:
            break
        if instalment.paid_pence <= 0:
            continue
        was_paid = instalment.paid_pence >= instalment.amount_pence
        taken = min(instalment.paid_pence, remaining)
        instalment.paid_pence -= taken
        remaining -= taken
        if was_paid and instalment.paid_pence < instalment.amount_pence:
            result.reopened.append(instalment)
    result.left_over_pence = -remaining
    return result


def all_paid(instalments: Iterable[Payable]) -> bool:
    return all(i.paid_pence >= i.amount_pence for i in instalments)


# --- missed instalments -----------------------------------------------------------------


class Watched(Payable, Protocol):
    missed_reported: bool


W = TypeVar("W", bound=Watched)


def missed_on(business_date: date, instalments: Iterable[W]) -> list[W]:
    """Instalments missed as of the start of ``business_date``: due before it (so unpaid at the
    end of their due day), something still unpaid, and not reported before. In due order.

    The service runs the same predicate as one indexed query (``store.Plans.newly_missed``)."""
    return _in_due_order(
        i for i in instalments if i.due_date < business_date and i.paid_pence < i.amount_pence and not i.missed_reported
    )


def overdue_pence(business_date: date, instalments: Iterable[Payable]) -> int:
    """Everything unpaid on instalments that fell due before ``business_date``."""
    return sum(max(i.amount_pence - i.paid_pence, 0) for i in instalments if i.due_date < business_date)


@dataclass(frozen=True)
class Miss:
    seq: int
    due_date: date
    unpaid_pence: int
    misses_this_year: int
    overdue_pence: int


def count_misses(
    newly_missed: Sequence[tuple[int, date, int, int]], misses_so_far: int, overdue_before_pence: int
) -> list[Miss]:
    """Number one arrangement's new misses (seq, due date, amount, paid), continuing its count
    for the year: the 1st, 2nd, 3rd ... miss drives the reminder ladder (reg 23 [S1]).

    ``overdue_before_pence`` is what is still unpaid on instalments already reported missed;
    every new miss carries the total overdue as of the day it is detected."""
    ordered = sorted(newly_missed, key=lambda row: (row[1], row[0]))
    overdue = overdue_before_pence + sum(amount - paid for _, _, amount, paid in ordered)
    return [
        Miss(seq, due, amount - paid, misses_so_far + n, overdue)
        for n, (seq, due, amount, paid) in enumerate(ordered, start=1)
    ]


# --- rebuilding a schedule -----------------------------------------------------------------


@dataclass
class Planned:
    """One instalment of a rebuilt schedule."""

    seq: int
    due_date: date
    amount_pence: int
    paid_pence: int = 0


def rebuild_after_adjustment(
    instalments: Sequence[Payable],
    new_total_pence: int,
    adjusted_on: date,
    minimum_pence: int,
    days_after_notice: int,
) -> list[Planned]:
    """Spread a changed charge over the instalments still to come.

    Instalments that fell due before the adjustment keep their amounts (a missed one stays
    missed). What is left of the new total is spread over the instalments due on or after the
    adjustment date with the whole-pound rule and the minimum (as for a bill, Sch 1 para 2-3
    [S2]); with none left, it becomes one instalment ``days_after_notice`` days after the
    adjustment (the notice period for a bill [S4]). A reduction below what already fell due
    trims the latest of those. Money already paid is then laid on again oldest first, so paid
    amounts are kept (anything over the new total is the ledger's credit, not ours).
    """
    ordered = _in_due_order(instalments)
    paid = sum(i.paid_pence for i in ordered)
    past = [i for i in ordered if i.due_date < adjusted_on]
    future = [i for i in ordered if i.due_date >= adjusted_on]
    plan: list[Planned] = []
    budget = new_total_pence
    for i in past:
        amount = min(i.amount_pence, budget)
        if amount > 0:
            plan.append(Planned(i.seq, i.due_date, amount))
        budget -= amount
    if budget > 0:
        next_seq = max((i.seq for i in ordered), default=0) + 1
        if future:
            amounts = instalment_amounts(budget, len(future), minimum_pence)
            plan += [Planned(i.seq, i.due_date, a) for i, a in zip(future, amounts, strict=False)]
        else:
            plan.append(Planned(next_seq, adjusted_on + timedelta(days=days_after_notice), budget))
    apply_payment(plan, min(paid, new_total_pence))
    return plan


def collapse_for_balance_due(instalments: Sequence[Payable], due_on: date) -> tuple[list[Planned], Planned | None]:
    """The right to instalments is lost (reg 23(3)-(4) [S1]; NNDR reg 8 [S24]): what is paid stays
    as it is, and everything unpaid becomes one instalment due on ``due_on``.

    Returns the instalments kept (each trimmed to what was paid on it) and the single balance
    instalment, or None when nothing is unpaid."""
    ordered = _in_due_order(instalments)
    kept = [Planned(i.seq, i.due_date, i.paid_pence, i.paid_pence) for i in ordered if i.paid_pence > 0]
    unpaid = sum(max(i.amount_pence - i.paid_pence, 0) for i in ordered)
    if unpaid <= 0:
        return kept, None
    next_seq = max((i.seq for i in ordered), default=0) + 1
    return kept, Planned(next_seq, due_on, unpaid)


def rebalance_collapsed(instalments: Sequence[Payable], new_total_pence: int, due_on: date) -> list[Planned]:
    """A changed charge on an arrangement whose balance has fallen due: the instalments paid
    before the collapse keep their amounts (trimmed, latest first, if the total falls below
    them) and the single balance instalment, due on ``due_on``, takes the rest."""
    by_seq = sorted(instalments, key=lambda i: i.seq)
    paid = sum(i.paid_pence for i in by_seq)
    balance_seq = by_seq[-1].seq if by_seq else 1
    plan: list[Planned] = []
    budget = new_total_pence
    for i in _in_due_order(by_seq[:-1]):
        amount = min(i.amount_pence, budget)
        if amount > 0:
            plan.append(Planned(i.seq, i.due_date, amount))
        budget -= amount
    if budget > 0:
        plan.append(Planned(balance_seq, due_on, budget))
    apply_payment(plan, min(paid, new_total_pence))
    return plan
