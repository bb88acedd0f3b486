"""The ledger on SQLite and PostgreSQL: receipts, suspense, officer allocation,
reversals, and the check that every penny is placed exactly once."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from sqlalchemy import select

from recovery_payments.api import ledger_totals
from recovery_payments.app import build_runtime
from recovery_payments.models import Debt, Receipt
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.messaging.unit_of_work import UnitOfWork
from tests.factories import charge_raised, payment_received, record


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


async def test_receipts_are_allocated_once_and_unknown_ones_wait_in_suspense(database_url: str) -> None:
    runtime = await _runtime(database_url)
    charges, receipts = runtime.consumers[topics.BILLING_CHARGES], runtime.consumers[topics.PAYMENT_RECEIPTS]
    await charges.handle([record(topics.BILLING_CHARGES, charge_raised("5001", amount_pence=100000))])

    paid = payment_received("CARD-1", 15000, reference="5001")
    copy_of_paid = payment_received("CARD-1", 15000, reference="5001")  # new event id, same receipt
    unknown = payment_received("CARD-2", 2500, reference="NO-SUCH-ACCOUNT")
    await receipts.handle([record(topics.PAYMENT_RECEIPTS, e) for e in (paid, copy_of_paid, unknown)])

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
    await runtime.consumers[topics.BILLING_CHARGES].handle([record(topics.BILLING_CHARGES, charge_raised("5002"))])
    receipts = runtime.consumers[topics.PAYMENT_RECEIPTS]
    await receipts.handle([record(topics.PAYMENT_RECEIPTS, payment_received("CARD-9", 1000, reference="5002"))])
    await receipts.handle([record(topics.PAYMENT_RECEIPTS, payment_received("CARD-9", 9999, reference="5002"))])
    assert receipts.dead_lettered == 1
    assert (await _debt(runtime, "CT-5002-2026")).paid_pence == 1000
    await runtime.db.dispose()


async def test_money_that_arrives_before_its_bill_is_allocated_when_the_bill_comes(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.consumers[topics.PAYMENT_RECEIPTS].handle(
        [record(topics.PAYMENT_RECEIPTS, payment_received("PP-1", 4000, reference="5003"))]
    )
    assert (await ledger_totals(runtime))["suspended_pence"] == 4000
    await runtime.consumers[topics.BILLING_CHARGES].handle([record(topics.BILLING_CHARGES, charge_raised("5003"))])
    assert (await _debt(runtime, "CT-5003-2026")).paid_pence == 4000
    totals = await ledger_totals(runtime)
    assert totals["suspended_pence"] == 0 and totals["balanced"]
    await runtime.db.dispose()


async def test_an_officer_allocates_suspense_and_reverses_a_receipt(database_url: str) -> None:
    runtime = await _runtime(database_url)
    payments = runtime.extras["payments"]
    await runtime.consumers[topics.BILLING_CHARGES].handle([record(topics.BILLING_CHARGES, charge_raised("5004"))])
    await runtime.consumers[topics.PAYMENT_RECEIPTS].handle(
        [record(topics.PAYMENT_RECEIPTS, payment_received("BT-7", 3000, reference="typo-5O04"))]
    )
    async with runtime.db.session() as session:
        uow = UnitOfWork(session, runtime.kernel, "officer:test")
        try:
            await payments.allocate_from_suspense(uow, "BT-7", "9999", date(2026, 5, 10))
        except Refused as exc:
            assert "account '9999' has no debts" in str(exc)
        else:
            raise AssertionError("allocating to an unknown account must be refused")
        await uow.rollback()
        await payments.allocate_from_suspense(uow, "BT-7", "5004", date(2026, 5, 10))
        await uow.commit()
    assert (await _debt(runtime, "CT-5004-2026")).paid_pence == 3000

    async with runtime.db.session() as session:
        uow = UnitOfWork(session, runtime.kernel, "officer:test")
        await payments.reverse_receipt(uow, "BT-7", "bank recalled the transfer", date(2026, 5, 12))
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
