"""Ledger rules: pure functions over plain values, no I/O.

Allocation follows the council's policy (domain §10): money the payer directed
goes to that debt (R v Miskin Lower Justices, 1953 [S52]); otherwise a payment
that exactly matches a current-year instalment goes to that year [S52b]; the
rest in the configured order, oldest debt first by default, or by debt-type
priority (Council Tax first, as in debt-advice practice [S53]). Anything left
once every debt is clear is held as a credit on the account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from recovery_shared.clock import financial_year_of
from recovery_shared.contracts.internal import AllocationRule
from recovery_shared.council import AllocationOrder, AllocationPolicy
from recovery_shared.messaging.errors import Refused


@dataclass(frozen=True)
class DebtPosition:
    """What allocation needs to know about one debt."""

    debt_id: str
    debt_type: str
    financial_year: str | None
    bill_issued_on: date
    balance_pence: int
    instalment_amounts: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Allocation:
    rule: AllocationRule
    parts: list[tuple[str, int]]  # (debt_id, pence), in the order they were placed
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


def same_receipt(existing: tuple[int, date, str], amount_pence: int, received_on: date, channel: str) -> bool:
    """A receipt reference seen before is a harmless second copy only if it says the same thing."""
    return existing == (amount_pence, received_on, channel)


def check_adjustment(new_amount_pence: int, debt_id: str) -> int:
    """A charge may be reduced below what was paid (that leaves a credit to refund), never below zero."""
    if new_amount_pence < 0:
        raise Refused(f"debt {debt_id}: a charge cannot be adjusted below zero")
    return new_amount_pence


def same_charge(existing_amount: int, existing_account: str, amount_pence: int, account_ref: str) -> bool:
    """A second charge.raised for a debt we hold is a replay only if it says the same thing."""
    return existing_amount == amount_pence and existing_account == account_ref
