"""Readiness sees a consumer that has stopped handing messages to the handler
(issue 9), on SQLite and PostgreSQL against the real broker.

FastStream's consume loop survives only Kafka's own errors: anything else raised
inside aiokafka before our handler (a record whose header key is not UTF-8, say)
ends its task, and nothing the handler sees changes. Here the loop's task is
stopped outright; ``GET /health`` must then say so at once, and name the partition
and its lag once a message has waited ``stall_after_s``. Idle before that, with
nothing waiting, it stays ready however long it waits.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from recovery_payments.app import build_runtime
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.messaging.runtime import service_app
from tests.factories import charge_raised
from tests.integration.test_relay_failures import _start_group_at_the_end, _until

pytestmark = pytest.mark.integration

STALL_AFTER_S = 1.5


async def test_a_consumer_whose_consume_loop_has_stopped_makes_the_service_unready_naming_the_waiting_partition(
    database_url: str, kafka_bootstrap: str
) -> None:
    group = f"test-stopped-{uuid.uuid4().hex[:8]}"
    runtime = build_runtime(PaymentsSettings(database_url=database_url, group_id=group, stall_after_s=STALL_AFTER_S))
    app = service_app(runtime, title="test", description="a consumer whose loop stops")
    broker = app.broker
    assert broker is not None
    for topic in runtime.routes.topics():
        await _start_group_at_the_end(kafka_bootstrap, group, topic)
    await runtime.start()
    await broker.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()

    async def handled(event_id: object) -> bool:
        inbox = runtime.kernel.inbox
        async with runtime.db.session() as session:
            found = await session.execute(select(func.count()).where(inbox.c.message_id == str(event_id)))
            return bool(found.scalar_one())

    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
            first = charge_raised(f"S{uuid.uuid4().hex[:8]}")
            await producer.send_and_wait(topics.BILLING_CHARGES, first.to_bytes(), key=first.key.encode())

            async def first_handled() -> bool:
                return await handled(first.event_id)

            await _until(first_handled, "the first bill to be handled")

            # Idle, nothing waiting, for longer than the limit: still ready, every time.
            loop = asyncio.get_running_loop()
            idle_until = loop.time() + 2 * STALL_AFTER_S
            while loop.time() < idle_until:
                response = await client.get("/health")
                assert response.status_code == 200, response.json()
                assert response.json()["consumer"] == "running"
                await asyncio.sleep(0.2)

            # The consume loop ends as an error inside aiokafka would end it.
            subscriber = runtime._subscriber
            for task in subscriber.tasks:
                task.cancel()
            await asyncio.sleep(0)

            response = await client.get("/health")
            report = response.json()
            assert response.status_code == 503, report
            assert report["reasons"] == ["consumer stopped"]

            second = charge_raised(f"S{uuid.uuid4().hex[:8]}")
            sent = await producer.send_and_wait(topics.BILLING_CHARGES, second.to_bytes(), key=second.key.encode())
            named = f"{topics.BILLING_CHARGES} partition {sent.partition} has not advanced for "
            started = loop.time()

            async def partition_named() -> bool:
                nonlocal report
                response = await client.get("/health")
                report = response.json()
                return response.status_code == 503 and any(r.startswith(named) for r in report["reasons"])

            # The lag is seen at the first check after the broker's highwater moves;
            # the partition is named a limit later.
            await _until(partition_named, "readiness to name the waiting partition", timeout_s=STALL_AFTER_S + 10)
            assert loop.time() - started >= STALL_AFTER_S
            (reason,) = [r for r in report["reasons"] if r.startswith(named)]
            (state,) = [
                p
                for p in report["partitions"]
                if (p["topic"], p["partition"]) == (topics.BILLING_CHARGES, sent.partition)
            ]
            rest = rf"\d+ s with a lag of {state['lag']} messages? \(not ready beyond {STALL_AFTER_S:g} s\)"
            assert re.fullmatch(re.escape(named) + rest, reason), reason
            # At least our bill: other tests may be sending to the same shared topic.
            assert state["lag"] >= 1 and (state["waiting_s"], state["last_attempt_failed"]) == (None, False)
            assert state["lagging_s"] >= STALL_AFTER_S
            assert report["consumer"] == "stopped"
            assert second.key not in json.dumps(report) and first.key not in json.dumps(report)
            assert await handled(first.event_id) and not await handled(second.event_id), "the second never handled"
            live = await client.get("/health/live")
            assert live.status_code == 200
    finally:
        await producer.stop()
        await broker.stop()
        await runtime.stop()
    await runtime.db.dispose()
