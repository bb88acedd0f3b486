"""The ledger on SQLite and PostgreSQL, through the kernel's consumer: receipts,
suspense, officer allocation, reversals, the other messages payments acts on, and
the check that every penny is placed exactly once (design §5)."""

from __future__ import annotations

import json
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from recovery_payments.api import ledger_totals
from recovery_payments.app import build_runtime
from recovery_payments.handlers import Payments
from recovery_payments.models import Debt, DebtInstalment, Receipt
from recovery_payments.settings import PaymentsSettings
from recovery_payments.store import Ledger
from recovery_shared import topics
from recovery_shared.contracts.common import DebtType, HbopClassification, Instalment
from recovery_shared.contracts.inbound import (
    ChargeRaised,
    ChargeRaisedData,
    DirectDebitUnpaid,
    DirectDebitUnpaidData,
    PaymentChannel,
)
from recovery_shared.contracts.internal import (
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    CostsAdded,
    CostsAddedData,
)
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.refusal import Refused
from tests.factories import charge_raised, overpayment_decision, payment_received, record


async def _runtime(database_url: str) -> ServiceRuntime:
    runtime = build_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


async def _published(runtime: ServiceRuntime, event_type: str) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    return [json.loads(r.payload) for r in rows if r.headers.get("type") == event_type]


async def _debt(runtime: ServiceRuntime, debt_id: str) -> Debt:
    async with runtime.db.session() as session:
        debt = await session.get(Debt, debt_id)
    assert debt is not None
    return debt


def _ledger(runtime: ServiceRuntime) -> Ledger:
    unit = runtime.unit()
    assert isinstance(unit, Ledger)
    return unit


CARD = PaymentChannel.CARD


def _payments(runtime: ServiceRuntime) -> Payments:
    assert isinstance(runtime.use_cases, Payments)
    return runtime.use_cases


async def test_receipts_are_allocated_once_and_unknown_ones_wait_in_suspense(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5001", amount_pence=100000))])

    paid = payment_received("CARD-1", 15000, reference="5001")
    copy_of_paid = payment_received("CARD-1", 15000, reference="5001")  # new event id, same receipt
    unknown = payment_received("CARD-2", 2500, reference="NO-SUCH-ACCOUNT")
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, e) for e in (paid, copy_of_paid, unknown)])

    assert (await _debt(runtime, "CT-5001-2026")).paid_pence == 15000
    allocated = await _published(runtime, "payment.allocated")
    assert [a["data"]["receipt_ref"] for a in allocated] == ["CARD-1"]
    suspended = await _published(runtime, "payment.suspended")
    assert [s["data"]["receipt_ref"] for s in suspended] == ["CARD-2"]
    assert "NO-SUCH-ACCOUNT" in suspended[0]["data"]["reason"]

    totals = await ledger_totals(runtime)
    assert totals["received_pence"] == 17500
    assert totals["suspended_pence"] == 2500
    assert totals["allocated_to_debts_pence"] == 15000
    assert totals["balanced"] is True
    await runtime.db.dispose()


async def test_a_conflicting_copy_of_a_receipt_is_dead_lettered(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5002"))])
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, payment_received("CARD-9", 1000, reference="5002"))])
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, payment_received("CARD-9", 9999, reference="5002"))])
    assert runtime.consumer.counts[topics.PAYMENT_RECEIPTS].dead_lettered == 1
    assert (await _debt(runtime, "CT-5002-2026")).paid_pence == 1000
    await runtime.db.dispose()


async def test_money_that_arrives_before_its_bill_is_allocated_when_the_bill_comes(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, payment_received("PP-1", 4000, reference="5003"))])
    assert (await ledger_totals(runtime))["suspended_pence"] == 4000
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5003"))])
    assert (await _debt(runtime, "CT-5003-2026")).paid_pence == 4000
    totals = await ledger_totals(runtime)
    assert totals["suspended_pence"] == 0 and totals["balanced"]
    await runtime.db.dispose()


async def test_an_officer_allocates_suspense_and_reverses_a_receipt(database_url: str) -> None:
    runtime = await _runtime(database_url)
    payments = _payments(runtime)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5004"))])
    await runtime.handle_records(
        [record(topics.PAYMENT_RECEIPTS, payment_received("BT-7", 3000, reference="typo-5O04"))]
    )
    async with _ledger(runtime) as uow:
        with pytest.raises(Refused, match="account '9999' has no debts"):
            await payments.allocate_from_suspense(uow, CARD, "BT-7", "9999", date(2026, 5, 10))
    async with _ledger(runtime) as uow:
        assert await payments.allocate_from_suspense(uow, CARD, "BT-7", "5004", date(2026, 5, 10))
        await uow.commit()
    assert (await _debt(runtime, "CT-5004-2026")).paid_pence == 3000

    async with _ledger(runtime) as uow:
        assert await payments.reverse_receipt(uow, CARD, "BT-7", "bank recalled the transfer", date(2026, 5, 12))
        await uow.commit()
    assert (await _debt(runtime, "CT-5004-2026")).paid_pence == 0
    reversed_ = await _published(runtime, "payment.reversed")
    assert reversed_[0]["data"]["parts"] == [
        {"debt_id": "CT-5004-2026", "amount_pence": 3000, "financial_year": "2026/27"}
    ]
    async with runtime.db.session() as session:
        receipt = (await session.execute(select(Receipt).where(Receipt.receipt_ref == "BT-7"))).scalar_one()
    assert receipt.status == "reversed"
    totals = await ledger_totals(runtime)
    assert totals["balanced"] and totals["reversed_pence"] == 3000
    await runtime.db.dispose()


def _unpaid(account_ref: str, amount_pence: int, collected_on: date = date(2026, 5, 3)) -> DirectDebitUnpaid:
    return DirectDebitUnpaid(
        key=account_ref,
        data=DirectDebitUnpaidData(
            mandate_ref=f"DDI-{account_ref}",
            account_ref=account_ref,
            receipt_ref="DD-1",
            amount_pence=amount_pence,
            collection_date=collected_on,
            reason_code="0",
        ),
    )


async def test_an_unpaid_direct_debit_is_reversed_once(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5005"))])
    unpaid = _unpaid("5005", 15000)
    # The collection, and the bank's report of it unpaid, twice: in one batch and again later.
    await runtime.handle_records(
        [
            record(topics.PAYMENT_RECEIPTS, payment_received("DD-1", 15000, reference="5005", channel="direct_debit")),
            record(topics.BANKING_DD_REPORTS, unpaid),
        ]
    )
    await runtime.handle_records(
        [record(topics.BANKING_DD_REPORTS, unpaid.model_copy(update={"event_id": uuid.uuid4()}))]
    )
    assert (await _debt(runtime, "CT-5005-2026")).paid_pence == 0
    (reversed_,) = await _published(runtime, "payment.reversed")
    assert reversed_["data"]["reason"] == "Direct Debit unpaid, ARUDD reason 0"
    assert reversed_["causation_id"] == str(unpaid.event_id)
    assert (await ledger_totals(runtime))["balanced"]
    await runtime.db.dispose()


@pytest.mark.parametrize(
    "report",
    [_unpaid("5099", 15000), _unpaid("5007", 14999), _unpaid("5007", 15000, collected_on=date(2026, 5, 1))],
    ids=["another-account", "another-amount", "another-date"],
)
async def test_an_unpaid_report_that_does_not_match_its_collection_is_dead_lettered_and_reverses_nothing(
    database_url: str, report: DirectDebitUnpaid
) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5007"))])
    collection = payment_received("DD-1", 15000, reference="5007", channel="direct_debit")
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, collection)])
    await runtime.handle_records([record(topics.BANKING_DD_REPORTS, report)])

    assert runtime.consumer.counts[topics.BANKING_DD_REPORTS].dead_lettered == 1
    assert (await _debt(runtime, "CT-5007-2026")).paid_pence == 15000
    assert await _published(runtime, "payment.reversed") == []
    totals = await ledger_totals(runtime)
    assert (totals["reversed_pence"], totals["allocated_to_debts_pence"], totals["balanced"]) == (0, 15000, True)
    await runtime.db.dispose()


async def test_a_payment_directed_at_another_accounts_debt_waits_in_suspense(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records(
        [record(topics.BILLING_CHARGES, charge_raised(account)) for account in ("5008", "5009")]
    )
    crossed = payment_received("BT-1", 4000, reference="5008", channel="bank_transfer", directed_debt_id="CT-5009-2026")
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, crossed)])
    # A later bill on the account the payer quoted does not take it either.
    sundry = charge_raised("5008", debt_id="SUN-5008", amount_pence=9000, debt_type=DebtType.SUNDRY)
    await runtime.handle_records([record(topics.BILLING_CHARGES, sundry)])

    (suspended,) = await _published(runtime, "payment.suspended")
    assert suspended["data"]["reason"] == (
        "the payer quoted account '5008' but directed the payment to debt CT-5009-2026, which is on account "
        "'5009'; ask the payer which account it is for, then allocate it from suspense"
    )
    assert await _published(runtime, "payment.allocated") == []
    assert [(await _debt(runtime, d)).paid_pence for d in ("CT-5008-2026", "SUN-5008", "CT-5009-2026")] == [0, 0, 0]
    async with runtime.db.session() as session:
        receipt = (await session.execute(select(Receipt).where(Receipt.receipt_ref == "BT-1"))).scalar_one()
    assert (receipt.status, receipt.directed_debt_id) == ("suspended", "CT-5009-2026")
    totals = await ledger_totals(runtime)
    assert (totals["suspended_pence"], totals["balanced"]) == (4000, True)
    await runtime.db.dispose()


async def test_costs_and_a_single_debt_arrangements_schedule_reach_the_ledger(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5006", amount_pence=100000))])
    costs = CostsAdded(
        key="5006",
        data=CostsAddedData(
            debt_id="CT-5006-2026", account_ref="5006", amount_pence=7000, kind="summons", added_on=date(2026, 7, 1)
        ),
    )
    arrangement = ArrangementMade(
        key="5006",
        data=ArrangementMadeData(
            arrangement_id="A-1",
            account_ref="5006",
            kind=ArrangementKind.NEGOTIATED,
            debt_ids=["CT-5006-2026"],
            instalments=[Instalment(due_date=date(2026, 8, n), amount_pence=3500) for n in (1, 15)],
        ),
    )
    await runtime.handle_records(
        [record(topics.ENFORCEMENT_EVENTS, costs), record(topics.ARRANGEMENT_EVENTS, arrangement)]
    )
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, payment_received("C-1", 3500, reference="5006"))])
    debt = await _debt(runtime, "CT-5006-2026")
    assert (debt.costs_pence, debt.paid_pence, debt.balance_pence) == (7000, 3500, 103500)
    async with runtime.db.session() as session:
        schedule = (await session.execute(select(DebtInstalment.amount_pence))).scalars().all()
    assert sorted(schedule) == [3500, 3500]
    (allocated,) = await _published(runtime, "payment.allocated")
    assert allocated["data"]["rule"] == "instalment_match"
    await runtime.db.dispose()


def _hbop_bill(account: str, realised: bool) -> ChargeRaised:
    bill = charge_raised(account, debt_type=DebtType.SUNDRY, amount_pence=42000)
    decision = overpayment_decision(HbopClassification.COUNCIL_OFFICIAL_ERROR, could_reasonably_have_realised=realised)
    data = bill.data.model_dump() | {
        "debt_id": f"HBOP-{account}",
        "financial_year": None,
        "debt_type": DebtType.HB_OVERPAYMENT,
        "overpayment": decision.model_dump(),
    }
    return bill.model_copy(update={"data": ChargeRaisedData.model_validate(data)})


async def test_only_a_recoverable_hb_overpayment_is_opened_on_the_ledger(database_url: str) -> None:
    """SI 2006/213 reg 100(2) [S36b]: an official error nobody could reasonably have realised
    is not recoverable, so it is no debt; one the claimant could have realised is."""
    runtime = await _runtime(database_url)
    await runtime.handle_records(
        [
            record(topics.BILLING_CHARGES, _hbop_bill("5301", realised=False)),
            record(topics.BILLING_CHARGES, _hbop_bill("5302", realised=True)),
        ]
    )
    async with runtime.db.session() as session:
        assert await session.get(Debt, "HBOP-5301") is None
    assert (await _debt(runtime, "HBOP-5302")).charged_pence == 42000
    assert [b["data"]["debt_id"] for b in await _published(runtime, "balance.changed")] == ["HBOP-5302"]
    await runtime.handle_records([record(topics.PAYMENT_RECEIPTS, payment_received("CARD-53", 700, reference="5301"))])
    assert [s["data"]["receipt_ref"] for s in await _published(runtime, "payment.suspended")] == ["CARD-53"]
    assert (await ledger_totals(runtime))["balanced"]
