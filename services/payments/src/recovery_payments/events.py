"""The ledger's decisions as contract events on ``payments.events.v1``.

Each event is built once, validated, with its correlation chain: pydantic's own
validation of a small model is faster than ``model_construct`` (which resolves
every default in Python), so nothing is gained by skipping it, and copying the
chain on afterwards (``uow.publish``'s ``caused_by``) would build it twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from recovery_payments.domain import Allocation, HbDeduction, Reversal
from recovery_payments.models import DebtRecord, HbAwardRecord, ReceiptRecord
from recovery_shared.contracts.common import MAX_DEBTS, DebtType
from recovery_shared.contracts.envelope import Envelope, causation
from recovery_shared.contracts.inbound import PaymentChannel
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    BalanceChanged,
    BalanceChangedData,
    HbDeductionsStarted,
    HbDeductionsStartedData,
    HbDeductionsStopped,
    HbDeductionsStoppedData,
    HbDeductionStopReason,
    PaymentAllocated,
    PaymentAllocatedData,
    PaymentReversed,
    PaymentReversedData,
    PaymentSuspended,
    PaymentSuspendedData,
)


def _chain(cause: Envelope | None) -> dict[str, Any]:
    # Built with the event rather than copied on afterwards by ``uow.publish``.
    return causation(cause) if cause is not None else {}


def payment_allocated(
    receipt: ReceiptRecord,
    account_ref: str,
    allocation: Allocation,
    rule: AllocationRule,
    debts: Mapping[str, DebtRecord],
    *,
    cause: Envelope | None,
) -> PaymentAllocated:
    parts = [
        AllocationPart(debt_id=debt_id, amount_pence=amount, financial_year=debts[debt_id].financial_year)
        for debt_id, amount in allocation.parts
    ]
    return PaymentAllocated(
        **_chain(cause),
        key=account_ref,
        data=PaymentAllocatedData(
            receipt_ref=receipt.receipt_ref,
            account_ref=account_ref,
            amount_pence=receipt.amount_pence,
            received_on=receipt.received_on,
            rule=rule,
            parts=parts,
            credit_pence=allocation.credit_pence,
            channel=PaymentChannel(receipt.channel),
        ),
    )


def balance_changed(debt: DebtRecord, as_of: date, *, cause: Envelope | None) -> BalanceChanged:
    return BalanceChanged(
        **_chain(cause),
        key=debt.account_ref,
        data=BalanceChangedData(
            debt_id=debt.debt_id,
            account_ref=debt.account_ref,
            debt_type=DebtType(debt.debt_type),
            charged_pence=debt.charged_pence + debt.costs_pence,
            paid_pence=debt.paid_pence,
            balance_pence=debt.balance_pence,
            as_of=as_of,
        ),
    )


def payment_suspended(receipt: ReceiptRecord, reason: str, *, cause: Envelope | None) -> PaymentSuspended:
    return PaymentSuspended(
        **_chain(cause),
        key=receipt.payer_reference or receipt.receipt_ref,
        data=PaymentSuspendedData(
            receipt_ref=receipt.receipt_ref,
            amount_pence=receipt.amount_pence,
            received_on=receipt.received_on,
            payer_reference=receipt.payer_reference,
            reason=reason,
        ),
    )


def payment_reversed(
    receipt: ReceiptRecord,
    account_ref: str,
    reversal: Reversal,
    debts: Mapping[str, DebtRecord],
    *,
    reason: str,
    on: date,
    cause: Envelope | None,
) -> PaymentReversed:
    return PaymentReversed(
        **_chain(cause),
        key=account_ref,
        data=PaymentReversedData(
            receipt_ref=receipt.receipt_ref,
            account_ref=account_ref,
            amount_pence=receipt.amount_pence,
            reversed_on=on,
            reason=reason,
            parts=[
                AllocationPart(debt_id=debt_id, amount_pence=amount, financial_year=debts[debt_id].financial_year)
                for debt_id, amount in reversal.debt_parts
            ],
        ),
    )


def hb_deductions_started(
    award: HbAwardRecord, debt_ids: list[str], first: HbDeduction, *, cause: Envelope | None
) -> HbDeductionsStarted:
    return HbDeductionsStarted(
        **_chain(cause),
        key=award.account_ref,
        data=HbDeductionsStartedData(
            claim_ref=award.claim_ref,
            account_ref=award.account_ref,
            debt_ids=debt_ids[:MAX_DEBTS],
            weekly_pence=first.amount_pence,
            maximum_weekly_pence=first.maximum_pence,
            first_week_on=first.week_on,
        ),
    )


def hb_deductions_stopped(
    award: HbAwardRecord,
    debts: list[DebtRecord],
    on: date,
    reason: HbDeductionStopReason,
    *,
    cause: Envelope | None,
) -> HbDeductionsStopped:
    return HbDeductionsStopped(
        **_chain(cause),
        key=award.account_ref,
        data=HbDeductionsStoppedData(
            claim_ref=award.claim_ref,
            account_ref=award.account_ref,
            debt_ids=[d.debt_id for d in debts][:MAX_DEBTS],
            stopped_on=on,
            reason=reason,
            deducted_pence=award.deducted_pence,
            outstanding_pence=sum(max(d.balance_pence, 0) for d in debts),
        ),
    )
