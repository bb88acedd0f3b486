"""Create the project's topics (auto-create is off on our brokers, on purpose:
a typo in a topic name should fail loudly, not invent a topic).

``python -m recovery_shared.admin`` creates any that are missing; it is safe to
run again.
"""

from __future__ import annotations

import asyncio
import os
import sys

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from recovery_shared.settings import DEFAULT_BOOTSTRAP
from recovery_shared.topics import TopicSpec, all_topic_specs


async def ensure_topics(bootstrap_servers: str, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics; returns the names it created."""
    specs = specs if specs is not None else all_topic_specs()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=30000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in specs if s.name not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(name=s.name, num_partitions=s.partitions, replication_factor=1) for s in missing]
            )
        return [s.name for s in missing]
    finally:
        await admin.close()


def main() -> None:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    created = asyncio.run(ensure_topics(bootstrap))
    sys.stdout.write(f"topics: {len(created)} created, {len(all_topic_specs()) - len(created)} already there\n")


if __name__ == "__main__":
    main()
