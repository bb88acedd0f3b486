"""Ledger rules: pure functions over plain values, no I/O."""

from __future__ import annotations

from recovery_shared.contracts.inbound import ChargeAdjustedData, ChargeRaisedData
from recovery_shared.messaging.errors import Refused


def check_adjustment(current_charge: int, paid: int, adjustment: ChargeAdjustedData) -> int:
    """A charge may be reduced below what was paid (that leaves a credit to refund),
    but never below zero; returns the new charge."""
    if adjustment.new_amount_pence < 0:
        raise Refused(f"debt {adjustment.debt_id}: a charge cannot be adjusted below zero")
    return adjustment.new_amount_pence


def same_charge(existing_amount: int, existing_account: str, raised: ChargeRaisedData) -> bool:
    """A second charge.raised for a debt we hold is a replay only if it says the same thing."""
    return existing_amount == raised.amount_pence and existing_account == raised.account_ref
