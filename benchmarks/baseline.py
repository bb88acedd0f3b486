"""The broker's ceiling: raw aiokafka producing and consuming messages the size of a
payment.received envelope, on a topic with the receipts topic's partitions."""

from __future__ import annotations

from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from benchmarks.common import Bench, Counter, producer, send_while_counting
from recovery_shared import topics


def topic_partitions(name: str) -> int:
    return int(next(t.partitions for t in topics.TOPICS if t.name == name))


async def run(bench: Bench, n: int, accounts: int, message: bytes) -> dict[str, Any]:
    topic = f"bench.baseline.{bench.run}"
    partitions = topic_partitions(topics.PAYMENT_RECEIPTS)
    admin = AIOKafkaAdminClient(bootstrap_servers=bench.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)])
        prefix = f"{bench.run}-BASE"
        messages = [(f"{prefix}-{i % accounts:06d}".encode(), message) for i in range(n)]
        # The counter matches on the type header like the service cases do, so both
        # sides pay the same per-record cost.
        counter = Counter(bench.bootstrap, topic, "payment.received", prefix)
        await counter.start()
        p = producer(bench.bootstrap)
        await p.start()
        try:
            started, produced, finished = await send_while_counting(
                p, topic, messages, counter, n, timeout_s=600, headers=[("type", b"payment.received")]
            )
        finally:
            await p.stop()
            await counter.stop()
        seconds = finished - started
        return {
            "case": "baseline",
            "database": "-",
            "n": n,
            "message_bytes": len(message),
            "partitions": partitions,
            "seconds": round(seconds, 3),
            "produce_seconds": round(produced - started, 3),
            "rate_per_s": round(n / seconds, 1),
        }
    finally:
        await admin.delete_topics([topic])
        await admin.close()
