"""The outbox's bulk paths on SQLite and PostgreSQL: a unit's events and raw
messages are stored in the order queued, with their causation, and the relay sends
large outboxes in record batches without losing the order of a key's events (design §5)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from datetime import date
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.partitioner import murmur2
from sqlalchemy import func, select, text

from recovery_arrangements.app import build_runtime as arrangements_runtime
from recovery_arrangements.settings import ArrangementsSettings
from recovery_payments.app import build_runtime as payments_runtime
from recovery_payments.settings import PaymentsSettings
from recovery_shared.admin import ensure_topics
from recovery_shared.contracts.internal import PaymentSuspended, PaymentSuspendedData
from recovery_shared.messaging import outbox as outbox_module
from recovery_shared.messaging.outbox import RELAY_LOCK_KEY, OutboxRelay
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.messaging.unit_of_work import UnitOfWork
from recovery_shared.topics import TopicSpec
from tests.factories import charge_raised

pytestmark = pytest.mark.integration

PARTITIONS = 3


async def _payments(database_url: str) -> ServiceRuntime:
    runtime = payments_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


async def _outbox(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as session:
        box = runtime.kernel.outbox
        return list((await session.execute(select(box).order_by(box.c.id))).all())


def queue(uow: UnitOfWork, topic: str, messages: list[tuple[str, bytes]]) -> None:
    for key, payload in messages:
        uow.publish_raw(topic, key, payload, {"type": "thing.happened", "schema_version": "1"})


def suspended(reference: str) -> PaymentSuspended:
    return PaymentSuspended(
        key=reference,
        data=PaymentSuspendedData(
            receipt_ref=f"R-{reference}",
            amount_pence=100,
            received_on=date(2026, 5, 1),
            payer_reference=reference,
            reason="no account matches the quoted reference",
        ),
    )


async def _topic(bootstrap: str) -> str:
    name = f"test.outbox-bulk.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(name, PARTITIONS)])
    return name


async def _read_all(bootstrap: str, topic: str, expect: int, timeout_s: float = 60) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while len(records) < expect and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        # A little longer, so a copy too many would show.
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_a_units_events_are_stored_in_order_with_their_causation(database_url: str) -> None:
    runtime = await _payments(database_url)
    cause = charge_raised("9000")
    async with runtime.unit() as uow:
        uow.cause = cause
        uow.publish(suspended("9001"))
        queue(uow, "t.bulk", [(f"K{n}", f'{{"n":{n}}}'.encode()) for n in range(250)])
        uow.publish_raw("t.raw", None, b"\x00\xffraw", {"dlq.reason": 'a "quoted" reason\tand é'})
        with pytest.raises(TypeError, match="not in this service's route table"):
            uow.publish(cause)  # payments does not publish bills
        await uow.commit()

    rows = await _outbox(runtime)
    # Raw messages (dead letters) are written before the unit's events.
    assert [r.topic for r in rows] == [*["t.bulk"] * 250, "t.raw", "payments.events.v1"]
    assert rows[-1].headers == {"type": "payment.suspended", "schema_version": "1"}
    assert json.loads(rows[-1].payload)["causation_id"] == str(cause.event_id)
    assert json.loads(rows[-1].payload)["correlation_id"] == str(cause.event_id)
    assert [(r.message_key, json.loads(r.payload)["n"]) for r in rows[:250]] == [(f"K{n}", n) for n in range(250)]
    assert (rows[250].message_key, rows[250].payload) == (None, b"\x00\xffraw")
    assert rows[250].headers == {"dlq.reason": 'a "quoted" reason\tand é'}
    assert all(r.created_at is not None for r in rows)

    # Nothing queued survives a rollback, even once written.
    async with runtime.unit() as uow:
        queue(uow, "t.bulk", [("K", b"{}")])
        await uow.flush_outbox()
        await uow.rollback()
    # Nor a unit left without committing.
    async with runtime.unit() as uow:
        uow.publish(suspended("9002"))
    assert len(await _outbox(runtime)) == 252
    await runtime.db.dispose()


async def test_the_relay_sends_a_large_outbox_in_batches_keeping_each_keys_order(
    database_url: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks and rounds, so a key's events span several of each.
    monkeypatch.setattr(outbox_module, "RELAY_READ_CHUNK", 150)
    topic = await _topic(kafka_bootstrap)
    runtime = await _payments(database_url)
    keys = [f"ACC-{n:03d}" for n in range(37)]
    messages = [(keys[n % len(keys)], json.dumps({"seq": n}).encode()) for n in range(2000)]
    async with runtime.unit() as uow:
        queue(uow, topic, messages[:1200])
        await uow.commit()
    async with runtime.unit() as uow:
        queue(uow, topic, messages[1200:])
        await uow.commit()

    relay = OutboxRelay(
        db=runtime.db, kernel=runtime.kernel, bootstrap_servers=kafka_bootstrap, client_id="test-bulk", batch_size=700
    )
    try:
        rounds = []
        while sent := await relay.relay_once():
            rounds.append(sent)
    finally:
        await relay.stop()
    assert rounds == [700, 700, 600]
    assert await _outbox(runtime) == []

    records = await _read_all(kafka_bootstrap, topic, expect=2000)
    assert len(records) == 2000
    by_key: dict[str, list[int]] = {}
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        key = r.key.decode()
        # Where the producer's default partitioner puts the key, as a plain send() would.
        assert r.partition == (murmur2(r.key) & 0x7FFFFFFF) % PARTITIONS
        assert dict(r.headers) == {"type": b"thing.happened", "schema_version": b"1"}
        by_key.setdefault(key, []).append(json.loads(r.value)["seq"])
    assert set(by_key) == set(keys)
    for key, seqs in by_key.items():
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), key
    await runtime.db.dispose()


async def test_a_commit_wakes_the_running_relay_at_once(database_url: str, kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    runtime = await _payments(database_url)
    # It would not look again for a minute of its own accord.
    relay = OutboxRelay(
        db=runtime.db, kernel=runtime.kernel, bootstrap_servers=kafka_bootstrap, client_id="test-wake", idle_poll_s=60
    )
    await relay.start()
    try:
        await asyncio.sleep(1.0)  # settled into its wait
        async with runtime.unit() as uow:
            queue(uow, topic, [("K1", b"{}"), ("K2", b"{}")])
            await uow.commit()
        for _ in range(100):
            if relay.sent == 2:
                break
            await asyncio.sleep(0.1)
        assert relay.sent == 2
    finally:
        await relay.stop()
    await runtime.db.dispose()


async def test_relays_sharing_a_postgresql_database_take_turns(postgres_url: str, kafka_bootstrap: str) -> None:
    topic = await _topic(kafka_bootstrap)
    runtime = await _payments(postgres_url)
    async with runtime.unit() as uow:
        queue(uow, topic, [("K1", b"{}")])
        await uow.commit()
    relay = OutboxRelay(db=runtime.db, kernel=runtime.kernel, bootstrap_servers=kafka_bootstrap, client_id="test-turns")
    try:
        async with runtime.db.session() as other:
            # Another instance's relay is mid-round.
            await other.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY})
            assert await relay.relay_once() == 0
            await other.rollback()
        assert await relay.relay_once() == 1
    finally:
        await relay.stop()
    await runtime.db.dispose()


async def test_arrangements_on_sqlite_leave_the_log_to_the_relay_to_checkpoint(tmp_path: Any) -> None:
    """The sweep's commit does not stop to checkpoint; the relay does, once it has sent."""
    path = tmp_path / "arrangements.sqlite"
    runtime = arrangements_runtime(ArrangementsSettings(database_url=f"sqlite:///{path}"))
    runtime.migrate()
    async with runtime.unit() as uow:
        assert (await uow.session.execute(text("PRAGMA wal_autocheckpoint"))).scalar() == 0
        for n in range(3000):
            uow.publish_raw("t", f"K{n}", os.urandom(2000), {"type": "thing.happened"})
        await uow.commit()
    before = path.stat().st_size
    assert before < 1_000_000, "the rows are still only in the write-ahead log"
    relay = runtime.relay
    relay._sent_since_checkpoint = True
    await relay._checkpoint_when_due()
    assert path.stat().st_size > 6_000_000
    async with runtime.db.session() as session:
        assert (await session.execute(select(func.count()).select_from(runtime.kernel.outbox))).scalar() == 3000
    await runtime.db.dispose()
