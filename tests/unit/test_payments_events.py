"""The mapper turns the ledger's decisions into the contract: the bytes of each
event parse as ``payments.events.v1`` and carry what the decision said."""

from __future__ import annotations

from datetime import UTC, date, datetime

from recovery_payments import events
from recovery_payments.domain import Allocation, Reversal
from recovery_payments.models import DebtRecord, ReceiptRecord
from recovery_shared import topics
from recovery_shared.contracts import parse
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.inbound import PaymentChannel
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    BalanceChanged,
    BalanceChangedData,
    PaymentAllocated,
    PaymentAllocatedData,
)
from tests.factories import payment_received

NOW = datetime(2026, 5, 3, 9, 0, tzinfo=UTC)


def debt(debt_id: str, year: str | None, *, charged: int = 150000, paid: int = 0, costs: int = 0) -> DebtRecord:
    return DebtRecord(
        debt_id=debt_id,
        account_ref="5001",
        debt_type="CT",
        financial_year=year,
        party_id="P-5001",
        bill_issued_on=date(2026, 3, 10),
        charged_pence=charged,
        costs_pence=costs,
        paid_pence=paid,
        written_off_pence=0,
        created_at=NOW,
        updated_at=NOW,
    )


RECEIPT = ReceiptRecord("card", "CARD-1", 20000, date(2026, 5, 3), "5001", None, "5001", "allocated", None, NOW)
DEBTS = {"CT-5001-2025": debt("CT-5001-2025", "2025/26"), "CT-5001-2026": debt("CT-5001-2026", None)}


def test_payment_allocated_bytes_parse_as_the_contract_says() -> None:
    cause = payment_received("CARD-1", 20000, reference="5001")
    allocation = Allocation(
        rule=AllocationRule.POLICY_ORDER, parts=[("CT-5001-2025", 12000), ("CT-5001-2026", 7000)], credit_pence=1000
    )
    built = events.payment_allocated(RECEIPT, "5001", allocation, allocation.rule, DEBTS, cause=cause)
    parsed = parse(topics.PAYMENT_EVENTS, built.to_bytes())

    validated = PaymentAllocated(
        event_id=built.event_id,
        occurred_at=built.occurred_at,
        correlation_id=cause.event_id,
        causation_id=cause.event_id,
        key="5001",
        data=PaymentAllocatedData(
            receipt_ref="CARD-1",
            account_ref="5001",
            amount_pence=20000,
            received_on=date(2026, 5, 3),
            rule=AllocationRule.POLICY_ORDER,
            parts=[
                AllocationPart(debt_id="CT-5001-2025", amount_pence=12000, financial_year="2025/26"),
                AllocationPart(debt_id="CT-5001-2026", amount_pence=7000, financial_year=None),
            ],
            credit_pence=1000,
            channel=PaymentChannel.CARD,
        ),
    )
    assert parsed == validated
    assert built.to_bytes() == validated.to_bytes()


def test_an_allocation_all_to_credit_has_no_parts() -> None:
    allocation = Allocation(rule=AllocationRule.POLICY_ORDER, parts=[], credit_pence=20000)
    built = events.payment_allocated(RECEIPT, "5001", allocation, allocation.rule, {}, cause=None)
    parsed = parse(topics.PAYMENT_EVENTS, built.to_bytes())
    assert isinstance(parsed, PaymentAllocated)
    assert (parsed.data.parts, parsed.data.credit_pence, parsed.causation_id) == ([], 20000, None)


def test_balance_changed_bytes_parse_as_the_contract_says_even_in_credit() -> None:
    overpaid = debt("CT-5001-2026", "2026/27", charged=10000, costs=500, paid=12000)
    built = events.balance_changed(overpaid, date(2026, 6, 1), cause=None)
    parsed = parse(topics.PAYMENT_EVENTS, built.to_bytes())
    validated = BalanceChanged(
        event_id=built.event_id,
        occurred_at=built.occurred_at,
        key="5001",
        data=BalanceChangedData(
            debt_id="CT-5001-2026",
            account_ref="5001",
            debt_type=DebtType.COUNCIL_TAX,
            charged_pence=10500,
            paid_pence=12000,
            balance_pence=-1500,
            as_of=date(2026, 6, 1),
        ),
    )
    assert parsed == validated
    assert built.to_bytes() == validated.to_bytes()


def test_payment_reversed_names_what_came_off_each_debt() -> None:
    reversal = Reversal(lines=[(None, 1000), ("CT-5001-2025", 12000)])
    built = events.payment_reversed(
        RECEIPT, "5001", reversal, DEBTS, reason="bank recalled the transfer", on=date(2026, 5, 12), cause=None
    )
    parsed = parse(topics.PAYMENT_EVENTS, built.to_bytes())
    assert [(p.debt_id, p.amount_pence, p.financial_year) for p in parsed.data.parts] == [
        ("CT-5001-2025", 12000, "2025/26")
    ]
