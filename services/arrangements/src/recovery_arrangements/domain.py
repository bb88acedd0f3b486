"""Instalment plans: the rules, over plain values, returning decisions. No I/O.

The statutory schedule of a bill (how many instalments, when, how much) is the law's and
lives in ``recovery_shared.statute.instalments``; the council's choices (the day of the
month, invoice terms) come from its configuration. This module decides what happens to a
plan when money arrives or is taken back, when a charge changes, when an instalment is
missed and when the balance falls due. Each function takes values and returns a decision;
the use cases (handlers) apply it to the records and the mapper (events) turns it into
events.

Sources (numbers as in ../shared/domain.md):
- [S1]  SI 1992/613 reg 23: a missed instalment, counted per year, drives the reminders;
        reg 23(3)-(4) the balance falls due. [S24] SI 1989/1058 reg 8 for Business Rates.
- [S52] R v Miskin Lower Justices (1953): money goes to the liability it obviously matches,
        so the oldest instalment due first (domain §10).
- [S43b][S45] HBOP, TA and sundry debt: one payment on invoice terms (domain §4-5).
- [S36b] SI 2006/213 reg 100: an HB overpayment that is not recoverable is never scheduled.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import NamedTuple

from recovery_shared.contracts.common import DebtType
from recovery_shared.council import InstalmentChoices
from recovery_shared.statute import instalments as statute

# The one rule (SI 2006/213 reg 100), re-exported for the use cases.
from recovery_shared.statute.housing_benefit import is_owed as is_owed
from recovery_shared.statute.instalments import Schedule


class PlanStatus(StrEnum):
    LIVE = "live"
    """Instalments being paid and watched for misses."""
    COMPLETED = "completed"
    """Everything paid."""
    BALANCE_DUE = "balance_due"
    """The right to instalments was lost: one balance, chased by enforcement."""


TAKING_MONEY = frozenset({PlanStatus.LIVE, PlanStatus.BALANCE_DUE})


@dataclass(frozen=True, slots=True)
class Instalment:
    seq: int
    due_date: date
    amount_pence: int
    paid_pence: int = 0
    missed_reported: bool = False
    """instalment.missed was published for it (or enforcement chases it instead)."""
    debt_id: str | None = None
    """The debt it pays; None on a negotiated plan's shared instalment."""

    @property
    def unpaid_pence(self) -> int:
        return max(self.amount_pence - self.paid_pence, 0)

    @property
    def is_paid(self) -> bool:
        return self.paid_pence >= self.amount_pence


@dataclass(frozen=True, slots=True)
class Plan:
    status: PlanStatus
    balance_due_on: date | None
    instalments: tuple[Instalment, ...]


def in_due_order(instalments: Iterable[Instalment]) -> list[Instalment]:
    return sorted(instalments, key=lambda i: (i.due_date, i.seq))


def same_charge(held_amount_pence: int, held_account: str, amount_pence: int, account_ref: str) -> bool:
    """A second charge.raised for a debt we hold is a replay only if it says the same thing."""
    return held_amount_pence == amount_pence and held_account == account_ref


# --- opening a schedule -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bill:
    debt_id: str
    debt_type: DebtType
    amount_pence: int
    issued_on: date
    financial_year: str
    twelve_requested: bool = False
    printed: Schedule | None = None
    """The schedule printed on the bill, when it carries one."""


def schedule_for(bill: Bill, choices: InstalmentChoices) -> tuple[Instalment, ...]:
    """The bill's own schedule if it prints one; the statutory one for CT and NNDR; one
    payment on the council's invoice terms for everything else."""
    if bill.printed:
        schedule = bill.printed
    elif (scheme := statute.scheme_for(bill.debt_type)) is not None:
        schedule = statute.statutory_schedule(
            bill.amount_pence,
            bill.issued_on,
            bill.financial_year,
            scheme,
            choices.day_of_month,
            bill.twelve_requested,
        )
    else:
        schedule = invoice_schedule(bill.amount_pence, bill.issued_on, choices.invoice_terms(bill.debt_type))
    return tuple(Instalment(n, due, amount, debt_id=bill.debt_id) for n, (due, amount) in enumerate(schedule, start=1))


def invoice_schedule(total_pence: int, issued_on: date, terms_days: int) -> Schedule:
    """HBOP, TA and sundry debt: one payment on invoice terms (domain §4-5 [S43b][S45])."""
    return [(issued_on + timedelta(days=terms_days), total_pence)]


@dataclass(frozen=True, slots=True)
class SpreadRules:
    """How a changed charge is spread: no instalment under the minimum, and a new one
    this many days after the change when none is left to take it."""

    minimum_pence: int
    notice_days: int


def spread_rules(debt_type: DebtType | str, choices: InstalmentChoices) -> SpreadRules:
    scheme = statute.scheme_for(debt_type)
    if scheme is not None:
        return SpreadRules(scheme.minimum_instalment_pence, scheme.notice_days)
    return SpreadRules(1, choices.invoice_terms(debt_type))


# --- money against a plan -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Applied:
    instalments: tuple[Instalment, ...]
    """The instalments given, after the payment, in due order."""
    fully_paid: tuple[Instalment, ...] = ()
    """Instalments this payment completed (published as instalment.paid)."""
    reopened: tuple[Instalment, ...] = ()
    """Instalments a reversal left no longer fully paid."""
    left_over_pence: int = 0
    """Money with nowhere to go: more than the schedule owes, or a reversal of more than was paid."""


def apply_payment(instalments: Sequence[Instalment], amount_pence: int) -> Applied:
    """Pay instalments, oldest due date first [S52]; a part payment stays on the instalment and
    the next payment tops it up. A negative amount (a reversal) takes money back from the
    latest-paid instalment first, so the paid instalments always form an unbroken run from the
    oldest."""
    ordered = in_due_order(instalments)
    fully_paid: list[Instalment] = []
    reopened: list[Instalment] = []
    if amount_pence >= 0:
        remaining = amount_pence
        for n, instalment in enumerate(ordered):
            taken = min(instalment.unpaid_pence, remaining)
            if taken <= 0:
                continue
            ordered[n] = paid = replace(instalment, paid_pence=instalment.paid_pence + taken)
            remaining -= taken
            if paid.is_paid:
                fully_paid.append(paid)
        return Applied(tuple(ordered), tuple(fully_paid), (), remaining)
    remaining = -amount_pence
    for n in range(len(ordered) - 1, -1, -1):
        instalment = ordered[n]
        taken = min(instalment.paid_pence, remaining)
        if taken <= 0:
            continue
        ordered[n] = undone = replace(instalment, paid_pence=instalment.paid_pence - taken)
        remaining -= taken
        if instalment.is_paid and not undone.is_paid:
            reopened.append(undone)
    return Applied(tuple(ordered), (), tuple(reopened), -remaining)


def all_paid(instalments: Iterable[Instalment]) -> bool:
    return all(i.is_paid for i in instalments)


@dataclass(frozen=True, slots=True)
class Settled:
    status: PlanStatus
    completed: bool = False
    """The plan was completed just now (published as arrangement.completed)."""


def settle(plan: Plan, instalments: Iterable[Instalment]) -> Settled:
    """Complete a plan whose instalments are all paid; reopen one a reversal or an increase
    left owing, as it was: live, or with its balance due."""
    paid_up = all_paid(instalments)
    if paid_up and plan.status in TAKING_MONEY:
        return Settled(PlanStatus.COMPLETED, completed=True)
    if not paid_up and plan.status == PlanStatus.COMPLETED:
        return Settled(PlanStatus.BALANCE_DUE if plan.balance_due_on is not None else PlanStatus.LIVE)
    return Settled(plan.status)


@dataclass(frozen=True, slots=True)
class Paid:
    """A payment (or reversal) on one debt of a plan."""

    instalments: tuple[Instalment, ...]
    """The whole plan's instalments after it, in due order."""
    fully_paid: tuple[Instalment, ...]
    settled: Settled


def pay(plan: Plan, debt_id: str, amount_pence: int) -> Paid | None:
    """Money allocated to (or taken back from) one debt, laid on the plan's instalments for
    that debt (and any shared ones). None when the plan takes no more money: an
    overpayment is the ledger's credit, not ours."""
    if amount_pence > 0 and plan.status not in TAKING_MONEY:
        return None
    mine = [i for i in plan.instalments if i.debt_id in (debt_id, None)]
    applied = apply_payment(mine, amount_pence)
    changed = {i.seq: i for i in applied.instalments}
    after = tuple(in_due_order(changed.get(i.seq, i) for i in plan.instalments))
    return Paid(after, applied.fully_paid, settle(plan, after))


# --- missed instalments -----------------------------------------------------------------------


def missed_on(business_date: date, instalments: Iterable[Instalment]) -> list[Instalment]:
    """Instalments missed as of the start of ``business_date``: due before it (so unpaid at the
    end of their due day), something still unpaid, and not reported before. In due order.

    The service runs the same predicate as one indexed statement (``store.SqlSweep``)."""
    return in_due_order(
        i for i in instalments if i.due_date < business_date and not i.is_paid and not i.missed_reported
    )


def overdue_pence(business_date: date, instalments: Iterable[Instalment]) -> int:
    """Everything unpaid on instalments that fell due before ``business_date``."""
    return sum(i.unpaid_pence for i in instalments if i.due_date < business_date)


class MissedInstalment(NamedTuple):
    """An instalment the day's sweep found unpaid and unreported (a tuple: a day brings
    tens of thousands)."""

    seq: int
    due_date: date
    amount_pence: int
    paid_pence: int


class Miss(NamedTuple):
    """One newly missed instalment as reported (a tuple, like ``MissedInstalment``)."""

    seq: int
    due_date: date
    unpaid_pence: int
    misses_this_year: int
    overdue_pence: int


def count_misses(newly_missed: Sequence[MissedInstalment], misses_so_far: int, overdue_before_pence: int) -> list[Miss]:
    """Number one plan's new misses, continuing its count for the year: the 1st, 2nd, 3rd ...
    miss drives the reminder ladder (reg 23 [S1]).

    ``overdue_before_pence`` is what is still unpaid on instalments already reported missed;
    every new miss carries the total overdue as of the day it is detected."""
    if len(newly_missed) == 1:  # most plans on most days: no ordering to do
        (m,) = newly_missed
        unpaid = m.amount_pence - m.paid_pence
        return [Miss(m.seq, m.due_date, unpaid, misses_so_far + 1, overdue_before_pence + unpaid)]
    ordered = sorted(newly_missed, key=lambda m: (m.due_date, m.seq))
    overdue = overdue_before_pence + sum(m.amount_pence - m.paid_pence for m in ordered)
    return [
        Miss(m.seq, m.due_date, m.amount_pence - m.paid_pence, misses_so_far + n, overdue)
        for n, m in enumerate(ordered, start=1)
    ]


# --- a changed charge ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Adjusted:
    instalments: tuple[Instalment, ...]
    """The plan's new instalments."""
    republished: bool
    """Whether the new schedule goes out (arrangement.made): not once the balance fell due."""
    newly_paid: tuple[Instalment, ...]
    """Instalments the money already paid now covers that it did not before."""
    settled: Settled


def adjust(
    plan: Plan,
    new_total_pence: int,
    adjusted_on: date,
    rules: SpreadRules,
    reissued: Schedule | None = None,
) -> Adjusted:
    """A changed charge keeps what has been paid and what already fell due, and spreads the
    rest over the instalments still to come (``rebuild_after_adjustment``); a schedule
    reissued with the adjustment replaces ours. On a plan whose balance has fallen due only
    the balance changes, and it stays enforcement's to chase (never reported missed)."""
    before = plan.instalments
    collapsed = plan.balance_due_on is not None  # balance due, or paid off since
    was_paid = {i.seq for i in before if i.is_paid}
    if plan.balance_due_on is not None:
        planned = rebalance_collapsed(before, new_total_pence, plan.balance_due_on)
    elif reissued:
        fresh = [Instalment(n, due, amount) for n, (due, amount) in enumerate(reissued, start=1)]
        paid = min(sum(i.paid_pence for i in before), new_total_pence)
        planned = list(apply_payment(fresh, paid).instalments)
        was_paid = set()  # a reissued schedule numbers its instalments afresh
    else:
        planned = rebuild_after_adjustment(before, new_total_pence, adjusted_on, rules)
    reported = {i.seq: i.due_date for i in before if i.missed_reported}
    after = tuple(
        # A miss already reported stays reported.
        replace(p, missed_reported=collapsed or reported.get(p.seq) == p.due_date)
        for p in planned
    )
    newly_paid = () if collapsed else tuple(i for i in after if i.is_paid and i.seq not in was_paid)
    return Adjusted(after, not collapsed and bool(after), newly_paid, settle(plan, after))


def rebuild_after_adjustment(
    instalments: Sequence[Instalment], new_total_pence: int, adjusted_on: date, rules: SpreadRules
) -> list[Instalment]:
    """Spread a changed charge over the instalments still to come.

    Instalments that fell due before the adjustment keep their amounts (a missed one stays
    missed). What is left of the new total is spread over the instalments due on or after the
    adjustment date with the whole-pound rule and the minimum (as for a bill, Sch 1 para 2-3
    [S2]); with none left, it becomes one instalment ``rules.notice_days`` after the
    adjustment (the notice period for a bill [S4]). A reduction below what already fell due
    trims the latest of those. Money already paid is then laid on again oldest first, so paid
    amounts are kept (anything over the new total is the ledger's credit, not ours).
    """
    ordered = in_due_order(instalments)
    paid = sum(i.paid_pence for i in ordered)
    past = [i for i in ordered if i.due_date < adjusted_on]
    future = [i for i in ordered if i.due_date >= adjusted_on]
    plan: list[Instalment] = []
    budget = new_total_pence
    for i in past:
        amount = min(i.amount_pence, budget)
        if amount > 0:
            plan.append(Instalment(i.seq, i.due_date, amount))
        budget -= amount
    if budget > 0:
        if future:
            amounts = statute.instalment_amounts(budget, len(future), rules.minimum_pence)
            plan += [Instalment(i.seq, i.due_date, a) for i, a in zip(future, amounts, strict=False)]
        else:
            next_seq = max((i.seq for i in ordered), default=0) + 1
            plan.append(Instalment(next_seq, adjusted_on + timedelta(days=rules.notice_days), budget))
    return list(apply_payment(plan, min(paid, new_total_pence)).instalments)


def rebalance_collapsed(instalments: Sequence[Instalment], new_total_pence: int, due_on: date) -> list[Instalment]:
    """A changed charge on a plan whose balance has fallen due: the instalments paid before
    the collapse keep their amounts (trimmed, latest first, if the total falls below them)
    and the single balance instalment, due on ``due_on``, takes the rest."""
    by_seq = sorted(instalments, key=lambda i: i.seq)
    paid = sum(i.paid_pence for i in by_seq)
    balance_seq = by_seq[-1].seq if by_seq else 1
    plan: list[Instalment] = []
    budget = new_total_pence
    for i in in_due_order(by_seq[:-1]):
        amount = min(i.amount_pence, budget)
        if amount > 0:
            plan.append(Instalment(i.seq, i.due_date, amount))
        budget -= amount
    if budget > 0:
        plan.append(Instalment(balance_seq, due_on, budget))
    return list(apply_payment(plan, min(paid, new_total_pence)).instalments)


# --- the balance falls due --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Collapsed:
    instalments: tuple[Instalment, ...]
    """What was paid, kept as it is, then the one balance instalment; none reported missed
    again (paid, or the balance enforcement now chases)."""
    balance: Instalment


def collapse(plan: Plan, due_on: date) -> Collapsed | None:
    """The right to instalments is lost (reg 23(3)-(4) [S1]; NNDR reg 8 [S24]): what is paid
    stays as it is, and everything unpaid becomes one instalment due on ``due_on``. None when
    the plan is not live (already collapsed, or paid off) or nothing is unpaid."""
    if plan.status != PlanStatus.LIVE:
        return None
    ordered = in_due_order(plan.instalments)
    unpaid = sum(i.unpaid_pence for i in ordered)
    if unpaid <= 0:
        return None
    kept = [
        Instalment(i.seq, i.due_date, i.paid_pence, i.paid_pence, True, i.debt_id) for i in ordered if i.paid_pence > 0
    ]
    next_seq = max((i.seq for i in ordered), default=0) + 1
    balance = Instalment(next_seq, due_on, unpaid, 0, True)
    return Collapsed((*kept, balance), balance)
