"""Receipts in bulk on SQLite and PostgreSQL, through the real consumer: a batch
leaves the same ledger as one receipt at a time (the same use case runs for each;
only the loading and the writing are done a batch at once), in a fixed handful of
statements per batch, and the kernel's guarantees when a batch refuses or fails."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.exc import OperationalError

from recovery_payments.app import ROUTES, build_runtime
from recovery_payments.models import AllocationLine, Debt, Receipt, metadata
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.contracts import parse
from recovery_shared.contracts.common import DebtType, Instalment
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import Record, charge_raised, payment_received, record


async def _runtime(database_url: str) -> ServiceRuntime:
    runtime = build_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


def _charges() -> list[Envelope]:
    this_year = charge_raised("6001", amount_pence=150000)
    with_schedule = this_year.model_copy(
        update={
            "data": this_year.data.model_copy(
                update={
                    "instalments": [
                        Instalment(due_date=due, amount_pence=15000)
                        for due in [*(date(2026, month, 1) for month in range(4, 13)), date(2027, 1, 1)]
                    ]
                }
            )
        }
    )
    return [
        with_schedule,
        charge_raised("6001", amount_pence=20000, financial_year="2025/26", bill_issued_on=date(2025, 3, 10)),
        charge_raised("6002", amount_pence=150000),
        charge_raised(
            "6002", debt_id="SUN-6002", amount_pence=5000, debt_type=DebtType.SUNDRY, bill_issued_on=date(2024, 6, 1)
        ),
        charge_raised("6003", amount_pence=3000),
    ]


def _mixed_receipts() -> tuple[list[Envelope], list[Envelope]]:
    """An earlier batch, then a batch with every case the intake has to tell apart."""
    earlier = payment_received("CARD-0", 1000, reference="6003")
    instalment = payment_received("CARD-1", 15000, reference="6001")
    batch: list[Envelope] = [
        instalment,  # exactly one instalment: the current year, not the arrears
        payment_received("CARD-2", 15000, reference="6001"),  # the same account again in this batch
        instalment.model_copy(update={"event_id": uuid.uuid4()}),  # a second copy of the same receipt
        payment_received("BT-3", 7000, reference="6002", channel="bank_transfer", directed_debt_id="CT-6002-2026"),
        payment_received("PP-4", 2500, reference="NO-SUCH-ACCOUNT", channel="paypoint"),  # suspense
        payment_received("CARD-5", 5000, reference="6003"),  # clears the debt, the rest is credit
        payment_received("CARD-6", 30000, reference="6001"),  # oldest first: the arrears, then this year
        payment_received("BT-7", 4000, reference="", channel="bank_transfer", directed_debt_id="SUN-6002"),
        payment_received("CARD-0", 1000, reference="6003"),  # a copy of a receipt from an earlier batch
        payment_received("CARD-1", 15000, reference="6001", channel="paypoint"),  # same ref, other channel: new
    ]
    batch.append(batch[3])  # the same event delivered twice in one batch
    return [earlier], batch


async def _ledger(runtime: ServiceRuntime) -> dict[str, Any]:
    """Everything the intake writes, without ids and wall-clock stamps."""
    async with runtime.db.session() as session:
        debts = (await session.execute(select(Debt.debt_id, Debt.paid_pence).order_by(Debt.debt_id))).all()
        receipts = (
            await session.execute(
                select(
                    Receipt.channel,
                    Receipt.receipt_ref,
                    Receipt.amount_pence,
                    Receipt.received_on,
                    Receipt.payer_reference,
                    Receipt.account_ref,
                    Receipt.status,
                    Receipt.suspense_reason,
                ).order_by(Receipt.channel, Receipt.receipt_ref)
            )
        ).all()
        lines = (
            await session.execute(
                select(
                    AllocationLine.channel,
                    AllocationLine.receipt_ref,
                    AllocationLine.account_ref,
                    AllocationLine.debt_id,
                    AllocationLine.amount_pence,
                    AllocationLine.rule,
                    AllocationLine.on,
                ).order_by(AllocationLine.id)
            )
        ).all()
        outbox = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    published = []
    for row in outbox:
        if row.topic != topics.PAYMENT_EVENTS:
            continue
        envelope = json.loads(row.payload)
        parse(topics.PAYMENT_EVENTS, row.payload)  # what goes on the wire still fits the contract
        published.append(
            (
                row.message_key,
                dict(row.headers),
                envelope["type"],
                envelope["key"],
                envelope["correlation_id"],
                envelope["causation_id"],
                envelope["data"],
            )
        )
    return {
        "debts": [tuple(r) for r in debts],
        "receipts": [tuple(r) for r in receipts],
        "lines": [tuple(r) for r in lines],
        "published": published,
    }


async def _wipe(runtime: ServiceRuntime) -> None:
    async with runtime.db.session() as session:
        for table in reversed(metadata.sorted_tables):
            await session.execute(delete(table))
        await session.commit()


def _counts(runtime: ServiceRuntime) -> tuple[int, int, int]:
    c = runtime.consumer.counts[topics.PAYMENT_RECEIPTS]
    return (c.handled, c.duplicates, c.dead_lettered)


def _reset_counts(runtime: ServiceRuntime) -> None:
    for counts in runtime.consumer.counts.values():
        counts.handled = counts.skipped = counts.duplicates = counts.dead_lettered = 0


async def test_a_batch_of_receipts_leaves_the_same_ledger_as_one_at_a_time(database_url: str) -> None:
    runtime = await _runtime(database_url)
    charges = [record(topics.BILLING_CHARGES, c) for c in _charges()]
    earlier, batch = _mixed_receipts()
    earlier_records = [record(topics.PAYMENT_RECEIPTS, e) for e in earlier]
    batch_records = [record(topics.PAYMENT_RECEIPTS, e) for e in batch]

    for one in [*charges, *earlier_records, *batch_records]:
        await runtime.handle_records([one])
    one_at_a_time = await _ledger(runtime)
    counts = _counts(runtime)

    await _wipe(runtime)
    _reset_counts(runtime)
    replayed: list[int] = []
    prefetch = ROUTES.prefetch
    assert prefetch is not None

    async def counted(use_cases: Any, uow: Any, events: list[Any]) -> None:
        replayed.append(len(events))
        await prefetch(use_cases, uow, events)

    runtime.consumer.routes = dataclasses.replace(ROUTES, prefetch=counted)
    await runtime.handle_records(charges)
    await runtime.handle_records(earlier_records)
    await runtime.handle_records(batch_records)
    in_bulk = await _ledger(runtime)

    # Each batch was prefetched and applied whole: never replayed one message at a time.
    assert replayed == [len(charges), 1, 10], replayed
    assert in_bulk == one_at_a_time
    assert _counts(runtime) == counts == (11, 1, 0)
    # The cases the batch was built to cover really happened.
    debts = dict(in_bulk["debts"])
    assert debts == {
        "CT-6001-2025": 20000,
        "CT-6001-2026": 55000,
        "CT-6002-2026": 7000,
        "CT-6003-2026": 3000,
        "SUN-6002": 4000,
    }
    rules = {(line[1], line[5]) for line in in_bulk["lines"]}
    assert {("CARD-1", "instalment_match"), ("BT-3", "directed"), ("BT-7", "directed")} <= rules
    assert ("CARD-5", None, 3000) in {(line[1], line[3], line[4]) for line in in_bulk["lines"]}
    statuses = {(r[0], r[1]): r[6] for r in in_bulk["receipts"]}
    assert statuses[("paypoint", "PP-4")] == "suspended"
    assert len([r for r in in_bulk["receipts"] if r[1] == "CARD-1"]) == 2
    await runtime.db.dispose()


async def test_a_batch_takes_the_same_few_statements_however_many_receipts_it_holds(database_url: str) -> None:
    runtime = await _runtime(database_url)
    accounts = [f"7{n:03d}" for n in range(200)]
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised(a)) for a in accounts])
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # The kernel's own inbox and outbox writes are not the use case's to count.
        if "inbox" not in statement and "outbox" not in statement:
            statements.append(statement)

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)
    per_batch = []
    for size in (10, 200):
        batch = [
            record(topics.PAYMENT_RECEIPTS, payment_received(f"S{size}-{n}", 1000 + n, reference=accounts[n]))
            for n in range(size)
        ]
        statements.clear()
        await runtime.handle_records(batch)
        per_batch.append(len(statements))
    assert _counts(runtime)[0] == 210
    # Read the receipts on file, the accounts' debts and their schedules; write the
    # receipts, the allocation lines and the debts (COPY on PostgreSQL is not a
    # cursor execute, so it counts fewer there).
    assert per_batch[0] == per_batch[1] <= 6, per_batch

    await runtime.handle_records(batch)  # the last batch delivered again: the inbox knows every one
    assert _counts(runtime)[:2] == (210, 200)
    assert await _paid(runtime, "CT-7199-2026") == 1199
    await runtime.db.dispose()


async def _paid(runtime: ServiceRuntime, debt_id: str) -> int:
    async with runtime.db.session() as session:
        debt = await session.get(Debt, debt_id)
    assert debt is not None
    return debt.paid_pence


async def test_a_conflicting_copy_in_a_batch_is_dead_lettered_alone(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised(a)) for a in ("8001", "8002")])
    batch = [
        record(topics.PAYMENT_RECEIPTS, payment_received("CARD-81", 1000, reference="8001")),
        record(topics.PAYMENT_RECEIPTS, payment_received("CARD-81", 9999, reference="8001")),
        record(topics.PAYMENT_RECEIPTS, b"{not json"),
        record(topics.PAYMENT_RECEIPTS, payment_received("CARD-82", 2000, reference="8002")),
    ]
    await runtime.handle_records(batch)
    await runtime.handle_records(batch)  # redelivered: nothing happens twice
    assert await _paid(runtime, "CT-8001-2026") == 1000
    assert await _paid(runtime, "CT-8002-2026") == 2000
    assert _counts(runtime) == (2, 4, 2)
    async with runtime.db.session() as session:
        rows = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    reasons = [r.headers["dlq.reason"] for r in rows if r.topic == topics.dead_letter_topic(topics.PAYMENT_RECEIPTS)]
    assert len(reasons) == 2
    assert "refused: receipt CARD-81 from card was already recorded" in reasons[0]
    assert "malformed message" in reasons[1]
    await runtime.db.dispose()


async def test_a_batch_that_fails_unexpectedly_is_applied_one_receipt_at_a_time(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("8101"))])
    prefetch = ROUTES.prefetch
    assert prefetch is not None

    async def broken_for_batches(use_cases: Any, uow: Any, events: list[Any]) -> None:
        await prefetch(use_cases, uow, events)
        if len(events) > 1:
            raise RuntimeError("a bug that only a batch meets")

    runtime.consumer.routes = dataclasses.replace(ROUTES, prefetch=broken_for_batches)
    batch: list[Record] = [
        record(topics.PAYMENT_RECEIPTS, payment_received(f"CARD-9{n}", 1000, reference="8101")) for n in range(3)
    ]
    await runtime.handle_records(batch)
    assert await _paid(runtime, "CT-8101-2026") == 3000
    assert _counts(runtime)[::2] == (3, 0)
    await runtime.db.dispose()


async def test_a_transient_failure_retries_the_whole_batch(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("8201"))])
    prefetch = ROUTES.prefetch
    assert prefetch is not None
    calls: list[int] = []

    async def locked_once(use_cases: Any, uow: Any, events: list[Any]) -> None:
        calls.append(len(events))
        await prefetch(use_cases, uow, events)
        if len(calls) == 1:
            raise OperationalError("SELECT debt", {}, Exception("database is locked"))

    runtime.consumer.routes = dataclasses.replace(ROUTES, prefetch=locked_once)
    await runtime.handle_records(
        [record(topics.PAYMENT_RECEIPTS, payment_received(f"CARD-A{n}", 500, reference="8201")) for n in range(4)]
    )
    assert calls == [4, 4]  # the whole batch again, not one at a time
    assert await _paid(runtime, "CT-8201-2026") == 2000
    assert _counts(runtime)[0] == 4
    await runtime.db.dispose()
