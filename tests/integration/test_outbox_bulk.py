"""The outbox's bulk paths on SQLite and PostgreSQL: many events queued at once
(UnitOfWork.publish_many) are stored like single ones, and the relay sends large
outboxes in record batches without losing the order of a key's events (design §5)."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
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


async def test_events_published_in_bulk_are_stored_like_single_ones_and_in_order(database_url: str) -> None:
    runtime = await _payments(database_url)
    single = charge_raised("9001")
    cause = charge_raised("9000")
    async with runtime.db.session() as session:
        uow = UnitOfWork(session, runtime.kernel, "test")
        uow.cause = cause
        assert uow.chain_ids() == (str(cause.event_id), str(cause.event_id))
        uow.publish("t.single", single)
        queued = uow.publish_many("t.bulk", "thing.happened", ((f"K{n}", f'{{"n":{n}}}'.encode()) for n in range(250)))
        uow.publish_raw("t.raw", None, b"\x00\xffraw", {"dlq.reason": 'a "quoted" reason\tand é'})
        assert queued == 250 and uow.pending_outbox == 252
        await uow.commit()

    rows = await _outbox(runtime)
    assert [r.topic for r in rows] == ["t.single", *["t.bulk"] * 250, "t.raw"]
    assert rows[0].headers == {"type": "charge.raised", "schema_version": "1"}
    assert json.loads(rows[0].payload)["causation_id"] == str(cause.event_id)
    assert [(r.message_key, json.loads(r.payload)["n"]) for r in rows[1:-1]] == [(f"K{n}", n) for n in range(250)]
    assert {json.dumps(r.headers, sort_keys=True) for r in rows[1:-1]} == {
        json.dumps({"schema_version": "1", "type": "thing.happened"}, sort_keys=True)
    }
    assert (rows[-1].message_key, rows[-1].payload) == (None, b"\x00\xffraw")
    assert rows[-1].headers == {"dlq.reason": 'a "quoted" reason\tand é'}
    assert all(r.created_at is not None for r in rows)

    # Nothing queued survives a rollback.
    async with runtime.db.session() as session:
        uow = UnitOfWork(session, runtime.kernel, "test")
        uow.publish_many("t.bulk", "thing.happened", [("K", b"{}")])
        await uow.flush_kernel_rows()
        await uow.rollback()
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
    async with runtime.db.session() as session:
        uow = UnitOfWork(session, runtime.kernel, "test")
        uow.publish_many(topic, "thing.happened", messages[:1200])
        await uow.commit()
    async with runtime.db.session() as session:
        uow = UnitOfWork(session, runtime.kernel, "test")
        uow.publish_many(topic, "thing.happened", messages[1200:])
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
        async with runtime.db.session() as session:
            uow = UnitOfWork(session, runtime.kernel, "officer:test")
            uow.publish_many(topic, "thing.happened", [("K1", b"{}"), ("K2", b"{}")])
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
    async with runtime.db.session() as session:
        uow = UnitOfWork(session, runtime.kernel, "test")
        uow.publish_many(topic, "thing.happened", [("K1", b"{}")])
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
