"""The store layer and the messaging kernel on SQLite and on PostgreSQL (design §6)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, inspect, select

from recovery_arrangements.app import build_runtime as arrangements_runtime
from recovery_arrangements.settings import ArrangementsSettings
from recovery_enforcement.app import build_runtime as enforcement_runtime
from recovery_enforcement.settings import EnforcementSettings
from recovery_notices.app import build_runtime as notices_runtime
from recovery_notices.settings import NoticesSettings
from recovery_payments.app import build_runtime as payments_runtime
from recovery_payments.models import Debt
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.internal import BalanceChanged, BalanceChangedData
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import charge_raised, record


@pytest.mark.parametrize(
    ("build", "settings_class"),
    [
        (payments_runtime, PaymentsSettings),
        (arrangements_runtime, ArrangementsSettings),
        (enforcement_runtime, EnforcementSettings),
        (notices_runtime, NoticesSettings),
    ],
    ids=["payments", "arrangements", "enforcement", "notices"],
)
async def test_each_service_migrates_its_own_database_to_head(
    database_url: str, build: Any, settings_class: Any
) -> None:
    runtime: ServiceRuntime = build(settings_class(database_url=database_url))
    runtime.migrate()
    runtime.migrate()  # a second start-up is harmless
    async with runtime.db.engine.connect() as conn:
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert {"inbox", "outbox", "business_clock", *runtime.metadata.tables} <= tables
    await runtime.db.dispose()


async def _payments(database_url: str) -> ServiceRuntime:
    runtime = payments_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


async def _count(runtime: ServiceRuntime, table: object) -> int:
    async with runtime.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_a_charge_opens_a_debt_once_however_often_it_arrives(database_url: str) -> None:
    runtime = await _payments(database_url)
    event = charge_raised("1001", amount_pence=123456)
    consumer = runtime.consumer
    await consumer.handle([record(topics.BILLING_CHARGES, event)])
    await consumer.handle([record(topics.BILLING_CHARGES, event), record(topics.BILLING_CHARGES, event)])

    async with runtime.db.session() as session:
        debt = await session.get(Debt, event.data.debt_id)
    assert debt is not None and debt.charged_pence == 123456 and debt.balance_pence == 123456
    assert await _count(runtime, runtime.kernel.inbox) == 1
    # One balance.changed, not three.
    assert await _count(runtime, runtime.kernel.outbox) == 1
    assert consumer.counts[topics.BILLING_CHARGES].duplicates == 2
    await runtime.db.dispose()


async def test_bad_messages_are_dead_lettered_and_the_rest_still_apply(database_url: str) -> None:
    runtime = await _payments(database_url)
    consumer = runtime.consumer
    good_before = charge_raised("2001")
    conflicting = charge_raised("2001", amount_pence=999)  # same debt id, different amount: refused
    good_after = charge_raised("2002")
    batch = [
        record(topics.BILLING_CHARGES, good_before, key="2001"),
        record(topics.BILLING_CHARGES, b"{this is not json", key="2001"),
        record(
            topics.BILLING_CHARGES,
            b'{"event_id": "6a1f0c1e-8d57-4f7e-9a53-1f2b3c4d5e6f", "schema_version": 1, '
            b'"type": "charge.raised", "key": "x", "data": {}}',
            key="x",
        ),
        record(topics.BILLING_CHARGES, conflicting, key="2001"),
        record(topics.BILLING_CHARGES, good_after, key="2002"),
    ]
    await consumer.handle(batch)
    await consumer.handle(batch)  # redelivery: nothing is dead-lettered twice

    async with runtime.db.session() as session:
        assert await session.get(Debt, good_before.data.debt_id) is not None
        assert await session.get(Debt, good_after.data.debt_id) is not None
        rows = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    dead = [r for r in rows if r.topic == topics.dead_letter_topic(topics.BILLING_CHARGES)]
    assert len(dead) == 3
    reasons = [r.headers["dlq.reason"] for r in dead]
    assert "malformed message" in reasons[0]
    assert "Field required" in reasons[1]
    assert "refused: debt CT-2001-2026 is already open" in reasons[2]
    # The topic carries a reference; the original bytes, untouched, stay in the service's database.
    async with runtime.db.session() as session:
        kept = (
            await session.execute(select(runtime.kernel.dead_letters).order_by(runtime.kernel.dead_letters.c.id))
        ).all()
    assert [json.loads(r.payload)["dead_letter_id"] for r in dead] == [k.id for k in kept]
    assert kept[0].payload == b"{this is not json"
    assert all(b"this is not json" not in r.payload for r in dead)
    assert all(r.headers["dlq.consumer"] == "recovery-payments" for r in dead)
    balances = [json.loads(r.payload) for r in rows if r.topic == topics.PAYMENT_EVENTS]
    assert sorted(b["data"]["debt_id"] for b in balances) == ["CT-2001-2026", "CT-2002-2026"]
    await runtime.db.dispose()


async def test_a_type_the_service_has_no_route_for_is_marked_handled_and_skipped(database_url: str) -> None:
    """Arrangements reads payments.events.v1 for allocations and reversals only: a
    balance.changed on that topic is not its business, and is neither applied nor
    dead-lettered."""
    runtime = arrangements_runtime(ArrangementsSettings(database_url=database_url))
    runtime.migrate()
    balance = BalanceChanged(
        key="4001",
        data=BalanceChangedData(
            debt_id="CT-4001-2026",
            account_ref="4001",
            debt_type=DebtType.COUNCIL_TAX,
            charged_pence=1000,
            paid_pence=0,
            balance_pence=1000,
            as_of=date(2026, 5, 1),
        ),
    )
    await runtime.consumer.handle([record(topics.PAYMENT_EVENTS, balance)])
    counts = runtime.consumer.counts[topics.PAYMENT_EVENTS]
    assert (counts.skipped, counts.handled, counts.dead_lettered) == (1, 0, 0)
    assert await _count(runtime, runtime.kernel.inbox) == 1
    assert await _count(runtime, runtime.kernel.outbox) == 0
    await runtime.db.dispose()


async def test_the_business_clock_only_moves_forward(database_url: str) -> None:
    runtime = await _payments(database_url)
    async with runtime.unit() as uow:
        assert await uow.today() is None
        assert await uow.advance_business_date(date(2026, 5, 1))
        assert not await uow.advance_business_date(date(2026, 4, 30))
        await uow.commit()
    async with runtime.unit() as uow:
        assert await uow.today() == date(2026, 5, 1)
        assert not await uow.advance_business_date(date(2026, 5, 1))
        assert await uow.advance_business_date(date(2026, 5, 2))
        # Not committed: the next unit still sees 1 May.
    async with runtime.unit() as uow:
        assert await uow.today() == date(2026, 5, 1)
    await runtime.db.dispose()
