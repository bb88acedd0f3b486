"""Instalment rules: pure functions over plain values, no I/O."""

from __future__ import annotations

from recovery_shared.contracts.inbound import ChargeRaisedData


def same_charge(existing_amount: int, existing_account: str, raised: ChargeRaisedData) -> bool:
    """A second charge.raised for a debt we hold is a replay only if it says the same thing."""
    return existing_amount == raised.amount_pence and existing_account == raised.account_ref
