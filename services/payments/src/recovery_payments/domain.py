"""Ledger rules: pure functions over plain values that return decisions, no I/O.

Allocation follows the council's policy (domain §10): money the payer directed
goes to that debt (R v Miskin Lower Justices, 1953 [S52]); otherwise a payment
that exactly matches a current-year instalment goes to that year [S52b]; the
rest in the configured order, oldest debt first by default, or by debt-type
priority (Council Tax first, as in debt-advice practice [S53]). Anything left
once every debt is clear is held as a credit on the account.

The ledger's invariant (design §5): every penny received is allocated (to a debt
or as account credit), held in suspense, or reversed, exactly once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from recovery_shared.clock import financial_year_of
from recovery_shared.contracts.common import DebtType, EarningsDisregard
from recovery_shared.contracts.internal import AllocationRule
from recovery_shared.council import AllocationOrder, AllocationPolicy, HbopPolicy
from recovery_shared.money import pounds
from recovery_shared.refusal import Refused
from recovery_shared.statute import housing_benefit

# The one rule (SI 2006/213 reg 100), re-exported for the use cases.
from recovery_shared.statute.housing_benefit import is_owed as is_owed


class ReceiptStatus(StrEnum):
    ALLOCATED = "allocated"
    SUSPENDED = "suspended"
    REVERSED = "reversed"


# --- allocation -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DebtPosition:
    """What allocation needs to know about one debt."""

    debt_id: str
    debt_type: DebtType
    financial_year: str | None
    bill_issued_on: date
    balance_pence: int
    instalment_amounts: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Allocation:
    """Where a payment goes: ``parts`` (debt id, pence) in the order they were
    placed, and what is left over as account credit."""

    rule: AllocationRule
    parts: list[tuple[str, int]]
    credit_pence: int

    @property
    def allocated_pence(self) -> int:
        return sum(amount for _, amount in self.parts)


def _oldest_first(debt: DebtPosition) -> tuple[str, date, str]:
    return (debt.financial_year or financial_year_of(debt.bill_issued_on), debt.bill_issued_on, debt.debt_id)


def policy_order(debts: list[DebtPosition], policy: AllocationPolicy) -> list[DebtPosition]:
    if policy.order == AllocationOrder.PRIORITY:
        rank = {str(t): i for i, t in enumerate(policy.priority)}
        return sorted(debts, key=lambda d: (rank.get(d.debt_type, len(rank)), *_oldest_first(d)))
    return sorted(debts, key=_oldest_first)


def allocate(
    amount_pence: int,
    debts: list[DebtPosition],
    policy: AllocationPolicy,
    *,
    received_on: date,
    directed_debt_id: str | None = None,
) -> Allocation:
    """Place a payment across an account's debts; parts plus credit always equal the payment."""
    if amount_pence <= 0:
        raise Refused("a payment must be for more than zero pence")
    remaining = amount_pence
    parts: list[tuple[str, int]] = []
    outstanding = {d.debt_id: d.balance_pence for d in debts}
    rule: AllocationRule | None = None

    def place(debt_id: str, why: AllocationRule) -> None:
        nonlocal remaining, rule
        take = min(remaining, outstanding[debt_id])
        if take <= 0:
            return
        parts.append((debt_id, take))
        outstanding[debt_id] -= take
        remaining -= take
        rule = rule or why

    if directed_debt_id is not None and directed_debt_id in outstanding:
        place(directed_debt_id, AllocationRule.DIRECTED)

    ordered = policy_order(debts, policy)
    if remaining > 0 and rule is None and policy.exact_instalment_match:
        this_year = financial_year_of(received_on)
        matches = [
            d
            for d in ordered
            if d.financial_year == this_year and remaining in d.instalment_amounts and outstanding[d.debt_id] > 0
        ]
        if matches:
            place(matches[0].debt_id, AllocationRule.INSTALMENT_MATCH)

    for debt in ordered:
        if remaining <= 0:
            break
        place(debt.debt_id, AllocationRule.POLICY_ORDER)

    return Allocation(rule=rule or AllocationRule.POLICY_ORDER, parts=parts, credit_pence=remaining)


# --- receipts -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReceiptFacts:
    """What a channel told us about one receipt; its reference is unique per channel."""

    channel: str
    receipt_ref: str
    amount_pence: int
    received_on: date


def check_second_copy(on_file: ReceiptFacts, copy: ReceiptFacts) -> None:
    """A receipt reference seen before is a harmless second copy (never allocated
    twice) only if it says the same thing; a different amount or date is refused."""
    if (on_file.amount_pence, on_file.received_on) != (copy.amount_pence, copy.received_on):
        raise Refused(
            f"receipt {copy.receipt_ref} from {copy.channel} was already recorded with a different "
            "amount or date; correct it with a reversal, not a second receipt"
        )


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a receipt goes: the account it pays, or suspense and why."""

    account_ref: str | None
    suspense_reason: str = ""


def destination(
    reference: str,
    reference_is_account: bool,
    directed_debt_id: str | None,
    directed_debt_account: str | None,
) -> Destination:
    """The account a receipt pays: that of the debt the payer directed it to, else
    the account the quoted reference names. A payer who quotes one account and
    directs the money at a debt of another has told us two different things, so
    neither account gets it: it waits in suspense for an officer to ask."""
    if directed_debt_account is not None:
        if reference_is_account and reference != directed_debt_account:
            return Destination(
                None,
                f"the payer quoted account {reference!r} but directed the payment to debt {directed_debt_id}, "
                f"which is on account {directed_debt_account!r}; ask the payer which account it is for, "
                "then allocate it from suspense",
            )
        return Destination(directed_debt_account)
    if reference and reference_is_account:
        return Destination(reference)
    return Destination(None, no_account(reference))


def no_account(reference: str) -> str:
    """Why a receipt went to suspense, in words an officer can act on."""
    return f"no account matches the quoted reference {reference!r}"


def allocation_from_suspense(
    receipt_ref: str, status: ReceiptStatus, allocated_to: str | None, account_ref: str, account_has_debts: bool
) -> bool:
    """An officer's allocation of a suspended receipt: True to allocate it, False
    when it already sits on that account (a repeated command), refused otherwise."""
    if status == ReceiptStatus.ALLOCATED and allocated_to == account_ref:
        return False
    if status != ReceiptStatus.SUSPENDED:
        raise Refused(f"receipt {receipt_ref} is not in suspense (it is {status}); nothing to allocate")
    if not account_has_debts:
        raise Refused(f"account {account_ref!r} has no debts on the ledger; check the account reference")
    return True


@dataclass(frozen=True, slots=True)
class Reversal:
    """What a reversal takes back: (debt id, pence) per debt, with None for account
    credit; empty for money that was only in suspense."""

    lines: list[tuple[str | None, int]]

    @property
    def debt_parts(self) -> list[tuple[str, int]]:
        return [(debt_id, amount) for debt_id, amount in self.lines if debt_id is not None]


def reverse(receipt_ref: str, status: ReceiptStatus, placed: Mapping[str | None, int]) -> Reversal:
    """Undo exactly what a receipt has on each debt now (``placed``, net of any
    earlier reversal lines); a receipt is reversed at most once."""
    if status == ReceiptStatus.REVERSED:
        raise Refused(f"receipt {receipt_ref} has already been reversed")
    if status == ReceiptStatus.SUSPENDED:
        return Reversal(lines=[])
    return Reversal(lines=sorted(((d, p) for d, p in placed.items() if p != 0), key=lambda kv: kv[0] or ""))


@dataclass(frozen=True, slots=True)
class Collection:
    """A Direct Debit collection: the account it was for, its amount and its date."""

    account_ref: str | None
    amount_pence: int
    collected_on: date


def check_unpaid_report(receipt_ref: str, on_file: Collection, reported: Collection) -> None:
    """An ARUDD report reverses a collection only if it is that collection: the same
    account, amount and collection date (domain §8). Anything else is a report
    about some other collection, or a mistake in the run, and reverses nothing."""
    differences = []
    if reported.account_ref != on_file.account_ref:
        differences.append(f"account {reported.account_ref!r} where the collection was for {on_file.account_ref!r}")
    if reported.amount_pence != on_file.amount_pence:
        differences.append(f"amount {pounds(reported.amount_pence)} where {pounds(on_file.amount_pence)} was collected")
    if reported.collected_on != on_file.collected_on:
        differences.append(
            f"collection date {reported.collected_on.isoformat()} where it was collected "
            f"on {on_file.collected_on.isoformat()}"
        )
    if differences:
        raise Refused(
            f"ARUDD for Direct Debit collection {receipt_ref} does not match it: it reports "
            f"{'; '.join(differences)}; check the report against the Direct Debit run, nothing was reversed"
        )


def direct_debit_unpaid_reason(reason_code: str) -> str:
    return f"Direct Debit unpaid, ARUDD reason {reason_code}"


# --- debts ----------------------------------------------------------------------


def check_repeated_charge(
    debt_id: str, held_amount: int, held_account: str, amount_pence: int, account_ref: str
) -> None:
    """A second charge.raised for a debt we hold is a replay (changing nothing) only
    if it says the same thing; a different amount or account is refused."""
    if (held_amount, held_account) != (amount_pence, account_ref):
        raise Refused(
            f"debt {debt_id} is already open for a different amount or account; send charge.adjusted to change a debt"
        )


def check_adjustment(new_amount_pence: int, debt_id: str) -> int:
    """A charge may be reduced below what was paid (that leaves a credit to refund), never below zero."""
    if new_amount_pence < 0:
        raise Refused(f"debt {debt_id}: a charge cannot be adjusted below zero")
    return new_amount_pence


@dataclass(frozen=True, slots=True)
class StatusTotal:
    count: int
    pence: int


@dataclass(frozen=True)
class LedgerTotals:
    """The ledger's totals, and whether every penny is placed exactly once."""

    receipts: Mapping[str, StatusTotal]
    allocated_to_debts_pence: int
    held_as_credit_pence: int
    receipts_out_of_balance: int
    """Receipts whose lines do not add to their amount (allocated) or to nothing (otherwise)."""

    def _pence(self, status: ReceiptStatus) -> int:
        total = self.receipts.get(status)
        return total.pence if total is not None else 0

    @property
    def received_pence(self) -> int:
        return sum(t.pence for t in self.receipts.values())

    @property
    def allocated_pence(self) -> int:
        return self._pence(ReceiptStatus.ALLOCATED)

    @property
    def suspended_pence(self) -> int:
        return self._pence(ReceiptStatus.SUSPENDED)

    @property
    def reversed_pence(self) -> int:
        return self._pence(ReceiptStatus.REVERSED)

    @property
    def balanced(self) -> bool:
        return (
            self.receipts_out_of_balance == 0
            and self.allocated_pence == self.allocated_to_debts_pence + self.held_as_credit_pence
            and self.received_pence == self.allocated_pence + self.suspended_pence + self.reversed_pence
        )


# --- deductions from ongoing Housing Benefit (SI 2006/213 reg 102) [S36][S39] --------

BENEFIT_WEEK = timedelta(days=7)
MOST_HB_WEEKS_GIVEN_BACK = 53
"""An award ended retroactively gives back the deductions taken for its weeks after the
end; further back than a year is for an officer to look at, not an automatic reversal."""


@dataclass(frozen=True, slots=True)
class HbDeduction:
    """One benefit week's deduction and the overpayments it pays (oldest first)."""

    week_on: date
    amount_pence: int
    maximum_pence: int
    parts: tuple[tuple[str, int], ...]


def hb_deduction(
    week_on: date,
    *,
    fraud: bool,
    disregard: EarningsDisregard,
    weekly_award_pence: int,
    owed: list[tuple[str, int]],
    policy: HbopPolicy,
) -> HbDeduction | None:
    """The week's deduction: the council's weekly rate, never above reg 102's maximum for
    the benefit year the week falls in (the fraud maximum for fraud, plus the earnings
    disregard uplift), nor above the week's award, nor above what is owed; split over
    the overpayments ``owed`` lists, in that order, penny for penny. None when nothing
    is owed. A year with no figure in the statute table or the council's TOML raises
    ``housing_benefit.MissingFigure``, naming where to add it."""
    owed_pence = sum(balance for _, balance in owed)
    if owed_pence <= 0:
        return None
    year = housing_benefit.benefit_year_of(week_on)
    maximum = housing_benefit.maximum_weekly_deduction(
        year, fraud=fraud, disregard=disregard, allowance_override_pence=policy.personal_allowance_pence.get(year)
    )
    rate = maximum if policy.weekly_deduction_pence is None else min(policy.weekly_deduction_pence, maximum)
    amount = min(rate, weekly_award_pence, owed_pence)
    parts: list[tuple[str, int]] = []
    left = amount
    for debt_id, balance in owed:
        if left <= 0:
            break
        take = min(left, balance)
        if take > 0:
            parts.append((debt_id, take))
            left -= take
    return HbDeduction(week_on, amount, maximum, tuple(parts))


def hb_receipt_ref(week_on: date, debt_id: str) -> str:
    """One deduction per overpayment per benefit week: a replayed week finds it on file."""
    return f"HB{week_on:%Y%m%d}-{debt_id}"


def first_hb_week(effective_on: date, business_date: date | None) -> date:
    """The first benefit week to deduct for: the award's own week, or, for an award
    backdated before today, the first of its weeks that has not begun yet; weeks already
    paid out in full are not reopened."""
    week = effective_on
    if business_date is not None and week < business_date:
        weeks_behind = -(-(business_date - week).days // 7)
        week += BENEFIT_WEEK * weeks_behind
    return week
