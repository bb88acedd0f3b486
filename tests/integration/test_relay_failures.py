"""No row can stop the outbox relay, no acknowledged row is sent twice, and readiness
tells the truth about a partition that has stopped (issue 9), on SQLite and
PostgreSQL against the real broker.

- An event too large to send, between ordinary ones, is moved to the outbound dead
  letters; the others go once each and the relay carries on.
- An event the broker itself refuses as too large is moved the same way.
- When some batches of a round fail, the acknowledged rows are deleted and only the
  failed ones are tried again (a producer stand-in fails chosen partitions: a real
  broker cannot be made to fail one batch of several).
- A use case that keeps failing transiently makes ``GET /health`` answer 503 naming
  the stalled partition, and 200 again once it is mended.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, NotLeaderForPartitionError
from aiokafka.partitioner import murmur2
from aiokafka.structs import TopicPartition
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from recovery_payments.app import MIGRATIONS
from recovery_payments.app import build_runtime as payments_runtime
from recovery_payments.models import kernel, metadata
from recovery_payments.settings import PaymentsSettings
from recovery_payments.store import SqlLedger
from recovery_shared import topics
from recovery_shared.admin import ensure_topics
from recovery_shared.contracts.inbound import ChargeRaised
from recovery_shared.messaging.outbox import OutboxRelay
from recovery_shared.messaging.routes import Route, RouteTable
from recovery_shared.messaging.runtime import ServiceRuntime, service_app
from recovery_shared.messaging.unit_of_work import UnitOfWork
from recovery_shared.topics import TopicSpec
from tests.factories import charge_raised

pytestmark = pytest.mark.integration

PARTITIONS = 3
HEADERS = {"type": "thing.happened", "schema_version": "1"}


async def _payments(database_url: str) -> ServiceRuntime:
    runtime = payments_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


async def _topic(bootstrap: str) -> str:
    name = f"test.relay-failures.{uuid.uuid4().hex[:8]}"
    await ensure_topics(bootstrap, [TopicSpec(name, PARTITIONS)])
    return name


def _event(seq: int) -> bytes:
    return json.dumps({"seq": seq}).encode()


def queue(uow: UnitOfWork, topic: str, messages: list[tuple[str, bytes]]) -> None:
    for key, payload in messages:
        uow.publish_raw(topic, key, payload, HEADERS)


async def _outbox(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as session:
        box = runtime.kernel.outbox
        return list((await session.execute(select(box).order_by(box.c.id))).all())


async def _dead_letters(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as session:
        letters = runtime.kernel.dead_letters
        return list((await session.execute(select(letters).order_by(letters.c.id))).all())


async def _until(check: Callable[[], Awaitable[bool]], what: str, timeout_s: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def _read_all(bootstrap: str, topic: str, expect: int, timeout_s: float = 30) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_bytes=8_000_000,
        max_partition_fetch_bytes=4_000_000,
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


# --- events too large to send ------------------------------------------------------


async def test_an_event_too_large_to_send_is_dead_lettered_and_the_others_go_once_each(
    database_url: str, kafka_bootstrap: str
) -> None:
    topic = await _topic(kafka_bootstrap)
    runtime = await _payments(database_url)
    big = json.dumps({"event_id": "ev-big", "data": "x" * 5000}).encode()
    big_headers = {"type": "notice.requested", "schema_version": "1"}
    async with runtime.unit() as uow:
        queue(uow, topic, [(f"ACC-{n}", _event(n)) for n in range(5)])
        uow.publish_raw(topic, "ACC-BIG", big, big_headers)
        queue(uow, topic, [(f"ACC-{n}", _event(n)) for n in range(5, 10)])
        await uow.commit()

    relay = OutboxRelay(
        db=runtime.db,
        kernel=runtime.kernel,
        bootstrap_servers=kafka_bootstrap,
        client_id="test-relay-oversized",
        max_message_bytes=2048,
    )
    await relay.start()
    try:

        async def drained() -> bool:
            return await _outbox(runtime) == []

        await _until(drained, "the outbox to empty")
        assert relay.running and relay.last_error is None
        assert (relay.sent, relay.dead_lettered) == (10, 1)

        (letter,) = await _dead_letters(runtime)
        size = len(b"ACC-BIG") + len(big) + len(b"typenotice.requestedschema_version1")
        assert (letter.direction, letter.status, letter.topic) == ("outbound", "dead", topic)
        assert (letter.payload, letter.headers, letter.message_key) == (big, big_headers, "ACC-BIG")
        assert (letter.event_type, letter.message_id, letter.consumer) == (
            "notice.requested",
            "ev-big",
            "test-relay-oversized",
        )
        assert letter.reason == (f"event of {size:,} bytes exceeds the largest record the relay sends (2,048 bytes)")
        assert letter.failed_at is not None

        # Still running: a later event goes out at once.
        async with runtime.unit() as uow:
            queue(uow, topic, [("ACC-LATER", _event(99))])
            await uow.commit()

        async def later_sent() -> bool:
            return relay.sent == 11

        await _until(later_sent, "the later event to be sent")
    finally:
        await relay.stop()

    records = await _read_all(kafka_bootstrap, topic, expect=11)
    assert Counter(json.loads(r.value)["seq"] for r in records) == Counter([*range(10), 99])
    await runtime.db.dispose()


async def test_an_event_the_broker_refuses_as_too_large_is_dead_lettered_and_the_others_delivered(
    database_url: str, kafka_bootstrap: str
) -> None:
    topic = await _topic(kafka_bootstrap)
    runtime = await _payments(database_url)
    # Larger than the broker's message.max.bytes (1 MiB), smaller than the relay's own limit.
    big = json.dumps({"event_id": "ev-huge", "data": "y" * 1_500_000}).encode()
    # The big event shares its key, and so its partition, with events before and after it.
    async with runtime.unit() as uow:
        queue(uow, topic, [("ACC-1", _event(0)), ("ACC-2", _event(1)), ("ACC-3", _event(2))])
        uow.publish_raw(topic, "ACC-1", big, HEADERS)
        queue(uow, topic, [("ACC-1", _event(3)), ("ACC-2", _event(4)), ("ACC-3", _event(5))])
        await uow.commit()

    relay = OutboxRelay(
        db=runtime.db,
        kernel=runtime.kernel,
        bootstrap_servers=kafka_bootstrap,
        client_id="test-relay-refused",
        max_message_bytes=2_000_000,
    )
    await relay.start()
    try:

        async def drained() -> bool:
            return await _outbox(runtime) == []

        await _until(drained, "the outbox to empty")
        assert relay.running
    finally:
        await relay.stop()

    (letter,) = await _dead_letters(runtime)
    size = len(b"ACC-1") + len(big) + len(b"typething.happenedschema_version1")
    assert (letter.direction, letter.status, letter.topic, letter.payload) == ("outbound", "dead", topic, big)
    assert letter.reason == f"the broker refused the event of {size:,} bytes as too large (MessageSizeTooLargeError)"
    assert relay.dead_lettered == 1

    records = await _read_all(kafka_bootstrap, topic, expect=6)
    assert sorted(json.loads(r.value)["seq"] for r in records) == list(range(6))
    # ACC-1's events kept their order around the one that was refused.
    assert [json.loads(r.value)["seq"] for r in sorted(records, key=lambda r: r.offset) if r.key == b"ACC-1"] == [0, 3]
    await runtime.db.dispose()


# --- a round where some batches fail ------------------------------------------------


class _Batch:
    def __init__(self) -> None:
        self.records: list[tuple[bytes | None, bytes]] = []

    def append(self, *, timestamp: Any, key: bytes | None, value: bytes, headers: Any) -> object:
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        pass

    @property
    def size(self) -> int:
        return sum(len(v) for _, v in self.records)


class _Producer:
    """Stands in for aiokafka's producer: acknowledges every batch except those for the
    partitions in ``failing`` (as a partition whose leader moved would), or larger than
    ``refuse_over`` bytes (as a broker with a smaller message.max.bytes would)."""

    def __init__(self) -> None:
        self.failing: set[int] = set()
        self.refuse_over: int | None = None
        self.delivered: list[tuple[int, bytes | None, bytes]] = []

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    def create_batch(self) -> _Batch:
        return _Batch()

    async def send_batch(self, batch: _Batch, topic: str, *, partition: int) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if partition in self.failing:
            future.set_exception(NotLeaderForPartitionError())
        elif self.refuse_over is not None and batch.size > self.refuse_over:
            future.set_exception(MessageSizeTooLargeError())
        else:
            self.delivered.extend((partition, key, value) for key, value in batch.records)
            future.set_result(None)
        return future

    async def stop(self) -> None:
        pass


def _partition_of(key: str) -> int:
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS


def _relay_through(runtime: ServiceRuntime, producer: _Producer, **options: Any) -> OutboxRelay:
    relay = OutboxRelay(
        db=runtime.db, kernel=runtime.kernel, bootstrap_servers="unused:9092", client_id="test-relay", **options
    )

    async def stand_in() -> Any:
        return producer

    relay._ensure_producer = stand_in  # type: ignore[method-assign]
    return relay


async def test_acknowledged_rows_are_deleted_and_only_the_failed_ones_tried_again(database_url: str) -> None:
    runtime = await _payments(database_url)
    keys = [f"ACC-{n}" for n in range(12)]
    assert {_partition_of(k) for k in keys} == set(range(PARTITIONS))
    messages = [(keys[n % len(keys)], _event(n)) for n in range(60)]
    async with runtime.unit() as uow:
        queue(uow, "t.partial", messages)
        await uow.commit()
    producer = _Producer()
    relay = _relay_through(runtime, producer)

    producer.failing = {1}
    with pytest.raises(NotLeaderForPartitionError):
        await relay.relay_once()
    on_1 = [payload for key, payload in messages if _partition_of(key) == 1]
    assert [row.payload for row in await _outbox(runtime)] == on_1, "only the failed batch's rows are kept"
    assert sorted(value for _, _, value in producer.delivered) == sorted(
        payload for key, payload in messages if _partition_of(key) != 1
    )
    assert relay.sent == len(messages) - len(on_1)

    producer.failing = set()
    assert await relay.relay_once() == len(on_1)
    assert await _outbox(runtime) == []
    # Every row reached the broker once: none acknowledged in the first round went again.
    assert Counter(value for _, _, value in producer.delivered) == Counter(payload for _, payload in messages)
    assert relay.sent == len(messages)
    await runtime.db.dispose()


async def test_the_running_relay_counts_failed_rounds_and_never_resends_what_went(database_url: str) -> None:
    runtime = await _payments(database_url)
    messages = [(f"ACC-{n}", _event(n)) for n in range(12)]
    async with runtime.unit() as uow:
        queue(uow, "t.partial", messages)
        await uow.commit()
    producer = _Producer()
    producer.failing = {2}
    relay = _relay_through(runtime, producer)
    await relay.start()
    try:

        async def failing_for_a_while() -> bool:
            return relay.failures_in_a_row >= 3

        await _until(failing_for_a_while, "three failed rounds", timeout_s=30)
        assert relay.last_error == "NotLeaderForPartitionError: [Error 6] NotLeaderForPartitionError"
        assert Counter(value for _, _, value in producer.delivered) == Counter(
            payload for key, payload in messages if _partition_of(key) != 2
        )

        producer.failing = set()

        async def drained() -> bool:
            return await _outbox(runtime) == []

        await _until(drained, "the outbox to empty", timeout_s=30)

        async def mended() -> bool:
            return relay.failures_in_a_row == 0 and relay.last_error is None

        await _until(mended, "the failure count to reset")
    finally:
        await relay.stop()
    assert Counter(value for _, _, value in producer.delivered) == Counter(payload for _, payload in messages)
    await runtime.db.dispose()


async def test_a_batch_refused_as_too_large_is_tried_a_row_at_a_time_so_only_the_large_row_is_dead_lettered(
    database_url: str,
) -> None:
    runtime = await _payments(database_url)
    small = [json.dumps({"seq": n, "pad": "s" * 600}).encode() for n in range(3)]
    large = json.dumps({"seq": 9, "pad": "L" * 1500}).encode()
    async with runtime.unit() as uow:
        # One key, so one partition and one batch of all four.
        queue(uow, "t.refused", [("ACC-7", small[0]), ("ACC-7", small[1]), ("ACC-7", large), ("ACC-7", small[2])])
        await uow.commit()
    producer = _Producer()
    producer.refuse_over = 1000
    relay = _relay_through(runtime, producer, max_message_bytes=5000)

    with pytest.raises(MessageSizeTooLargeError):
        await relay.relay_once()
    assert len(await _outbox(runtime)) == 4
    assert await _dead_letters(runtime) == [], "a batch of several is not itself too large to send"

    assert await relay.relay_once() == 4
    assert await _outbox(runtime) == []
    assert [value for _, _, value in producer.delivered] == small, "in order, the large one taken out"
    (letter,) = await _dead_letters(runtime)
    assert (letter.payload, letter.direction) == (large, "outbound")
    assert letter.reason.startswith("the broker refused the event of 1,5")
    await runtime.db.dispose()


# --- readiness ---------------------------------------------------------------------


class _Flaky:
    """A use case that fails as a locked database would, for as long as ``failing``."""

    def __init__(self) -> None:
        self.failing = True
        self.attempts = 0

    async def open_debt(self, uow: UnitOfWork, event: ChargeRaised) -> None:
        self.attempts += 1
        if self.failing:
            raise OperationalError("UPDATE debt", {}, Exception("database is locked"))


async def _start_group_at_the_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit the group's offsets at the end of the topic, so it reads only what this
    test sends and not what earlier tests left there."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(await _partitions_of(consumer, topic))]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        await consumer.commit({tp: await consumer.position(tp) for tp in partitions})
    finally:
        await consumer.stop()


async def _partitions_of(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    for _ in range(50):
        found = consumer.partitions_for_topic(topic)
        if found:
            return set(found)
        await consumer._client.force_metadata_update()
    raise AssertionError(f"no partitions for {topic}")


async def test_a_use_case_that_keeps_failing_makes_the_service_unready_naming_its_partition(
    database_url: str, kafka_bootstrap: str
) -> None:
    group = f"test-stall-{uuid.uuid4().hex[:8]}"
    # Retried for longer than the test takes, so the message waits rather than being
    # dead-lettered as poison.
    settings = PaymentsSettings(
        database_url=database_url,
        group_id=group,
        stall_after_s=1.0,
        transient_retries=200,
        retry_initial_s=0.1,
        retry_ceiling_s=0.3,
    )
    flaky = _Flaky()
    routes = RouteTable(service="payments", routes=(Route(ChargeRaised, _Flaky.open_debt),), publishes=())
    runtime = ServiceRuntime(
        settings=settings,
        metadata=metadata,
        kernel=kernel,
        migrations_dir=MIGRATIONS,
        routes=routes,
        use_cases=flaky,
        unit_of_work=SqlLedger,
    )
    app = service_app(runtime, title="test", description="a use case that keeps failing")
    broker = app.broker
    assert broker is not None
    await _start_group_at_the_end(kafka_bootstrap, group, topics.BILLING_CHARGES)
    await runtime.start()
    await broker.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
            ready = await client.get("/health")
            assert ready.status_code == 200, ready.json()

            bill = charge_raised(f"S{uuid.uuid4().hex[:8]}")
            sent = await producer.send_and_wait(topics.BILLING_CHARGES, bill.to_bytes(), key=bill.key.encode())
            stalled = f"{topics.BILLING_CHARGES} partition {sent.partition} has not advanced for"

            report: dict[str, Any] = {}

            async def unready() -> bool:
                nonlocal report
                response = await client.get("/health")
                report = response.json()
                return response.status_code == 503 and any(r.startswith(stalled) for r in report["reasons"])

            await _until(unready, "readiness to name the stalled partition", timeout_s=45)
            assert report["status"] == "not ready"
            assert len(report["reasons"]) == 1, report["reasons"]
            assert flaky.attempts >= 2, "retried, not dropped"
            (state,) = [
                p
                for p in report["partitions"]
                if (p["topic"], p["partition"]) == (topics.BILLING_CHARGES, sent.partition)
            ]
            assert state["waiting_s"] >= 1.0
            assert state["lag"] == 1, "the one message waits"
            # Counts, ages and error types only: nothing of the bill itself.
            assert bill.key not in json.dumps(report) and "Test Person" not in json.dumps(report)
            assert report["dead_letters"] == {"inbound": 0, "outbound": 0}

            live = await client.get("/health/live")
            assert (live.status_code, live.json()["status"]) == (200, "alive")

            # Mended: the next retry commits and the service is ready again.
            flaky.failing = False

            async def ready_again() -> bool:
                nonlocal report
                response = await client.get("/health")
                report = response.json()
                return response.status_code == 200

            await _until(ready_again, "readiness to return", timeout_s=45)
            (state,) = [
                p
                for p in report["partitions"]
                if (p["topic"], p["partition"]) == (topics.BILLING_CHARGES, sent.partition)
            ]
            assert (state["waiting_s"], state["last_attempt_failed"]) == (None, False)
    finally:
        await producer.stop()
        await broker.stop()
        await runtime.stop()
    async with runtime.db.session() as session:
        handled = await session.execute(select(func.count()).select_from(runtime.kernel.inbox))
        assert handled.scalar_one() == 1
        letters = await session.execute(select(func.count()).select_from(runtime.kernel.dead_letters))
        assert letters.scalar_one() == 0, "applied once mended, not dead-lettered"
    await runtime.db.dispose()
