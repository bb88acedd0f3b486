"""What every benchmark case needs: the broker, fresh databases, service processes,
topic watchers and the peak memory of a process."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from recovery_shared.contracts.envelope import Envelope
from tests.databases import drop_database
from tests.processes import ServiceProcess, start_group_at_end

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Bench:
    """One benchmark run: the broker, where files go, and how to get a fresh database."""

    bootstrap: str
    workdir: Path
    run: str
    postgres_admin_url: str | None
    databases: list[str] = field(default_factory=list)
    _created: list[str] = field(default_factory=list)

    def database_url(self, kind: str, name: str) -> str:
        if kind == "sqlite":
            path = self.workdir / kind / f"{name}.sqlite"
            path.parent.mkdir(parents=True, exist_ok=True)
            return f"sqlite:///{path.resolve()}"
        assert self.postgres_admin_url is not None, "PostgreSQL is not available"
        database = f"bench_{self.run}_{name}".lower()
        engine = create_engine(self.postgres_admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        engine.dispose()
        self._created.append(database)
        return make_url(self.postgres_admin_url).set(database=database).render_as_string(hide_password=False)

    def drop_databases(self) -> None:
        if not self._created or self.postgres_admin_url is None:
            return
        engine = create_engine(self.postgres_admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for database in self._created:
                drop_database(conn, database)
        engine.dispose()
        self._created.clear()

    def service(self, name: str, kind: str, group: str, database_url: str, **env: str) -> ServiceProcess:
        workdir = self.workdir / kind
        workdir.mkdir(parents=True, exist_ok=True)
        prefix = name.upper()
        extra = {
            f"{prefix}_DATABASE_URL": database_url,
            f"{prefix}_LOG_LEVEL": "WARNING",
            f"{prefix}_CONSUMER_BATCH_TIMEOUT_MS": "50",
            **env,
        }
        return ServiceProcess(name, workdir, self.bootstrap, group_id=group, extra_env=extra)


def postgres_admin_url() -> str | None:
    if os.environ.get("TEST_POSTGRES_URL"):
        return os.environ["TEST_POSTGRES_URL"]
    try:
        out = subprocess.run(
            ["bash", str(REPO / "deploy" / "postgres.sh"), "url", "postgres"],
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError:
        return None
    return out.stdout.strip() or None


def peak_rss_mb(pid: int) -> float:
    """The kernel's high-water mark of the process's resident set (VmHWM)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def new_group_at_end(bench: Bench, service: str, topic_names: list[str]) -> str:
    group = f"bench-{service}-{bench.run}-{uuid.uuid4().hex[:6]}"
    await start_group_at_end(bench.bootstrap, group, *topic_names)
    return group


class Counter:
    """Counts one event type on a topic from the moment it is started, by header,
    without decoding the payload: the watcher must not be the bottleneck."""

    def __init__(self, bootstrap: str, topic: str, event_type: str, key_prefix: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.event_type = event_type.encode()
        self.key_prefix = key_prefix.encode()
        self.seen = 0
        self.last_seen_at = 0.0
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            group_id=None,
            max_partition_fetch_bytes=4 * 1024 * 1024,
            fetch_max_bytes=16 * 1024 * 1024,
        )

    async def start(self) -> None:
        await self._consumer.start()
        partitions = self._consumer.partitions_for_topic(self.topic)
        if not partitions:
            await self._consumer._client.force_metadata_update()
            partitions = self._consumer.partitions_for_topic(self.topic) or set()
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self._consumer.assign(assigned)
        await self._consumer.seek_to_end(*assigned)
        for tp in assigned:
            await self._consumer.position(tp)  # fix the start now, before anything is sent

    async def until(self, expected: int, timeout_s: float) -> float:
        """Read until ``expected`` matching events; returns the monotonic time of the last."""
        deadline = time.monotonic() + timeout_s
        while self.seen < expected:
            if time.monotonic() > deadline:
                raise TimeoutError(f"saw {self.seen} of {expected} {self.event_type.decode()} on {self.topic}")
            batches = await self._consumer.getmany(timeout_ms=200, max_records=20000)
            for records in batches.values():
                for r in records:
                    if r.key is None or not r.key.startswith(self.key_prefix):
                        continue
                    if any(k == "type" and v == self.event_type for k, v in r.headers):
                        self.seen += 1
                        self.last_seen_at = time.monotonic()
        return self.last_seen_at

    async def stop(self) -> None:
        await self._consumer.stop()


def producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        max_batch_size=256 * 1024,
    )


async def send_while_counting(
    p: AIOKafkaProducer,
    topic: str,
    messages: list[tuple[bytes, bytes]],
    counter: Counter,
    expected: int,
    *,
    timeout_s: float,
    headers: list[tuple[str, bytes]] | None = None,
) -> tuple[float, float, float]:
    """Send everything (keeping delivery futures rather than waiting for each) while
    ``counter`` reads; returns when sending started, when the broker had it all, and
    when the last counted event was read (monotonic clock)."""
    started = time.monotonic()
    counting = asyncio.create_task(counter.until(expected, timeout_s=timeout_s))
    futures = [await p.send(topic, value, key=key, headers=headers) for key, value in messages]
    await asyncio.gather(*futures)
    produced = time.monotonic()
    return started, produced, await counting


def encoded(events: list[Envelope]) -> list[tuple[bytes, bytes]]:
    return [(e.key.encode(), e.to_bytes()) for e in events]


async def wait_consumed(
    bench: Bench, group: str, topic_names: list[str], proc: ServiceProcess, timeout_s: float
) -> None:
    """Until ``group`` has read everything on ``topic_names`` and its outbox is empty."""
    from tests.processes import LagProbe

    probe = LagProbe(bench.bootstrap)
    await probe.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.proc is not None and proc.proc.poll() is not None:
                raise RuntimeError(f"{proc.name} stopped:\n{proc.log_tail()}")
            health: dict[str, Any] = await proc.health()
            if health.get("outbox_depth", 1) == 0 and await probe.lag({group: topic_names}) == 0:
                return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"{proc.name} did not catch up on {topic_names}")
    finally:
        await probe.stop()


async def wait_for_members(bootstrap: str, group_id: str, members: int, timeout_s: float = 90) -> None:
    """Until the group is stable with ``members`` members, so timing starts with every partition owned."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            [response] = await admin.describe_consumer_groups([group_id])
            state = response.groups[0]
            if state[2] == "Stable" and len(state[5]) == members:
                return
            await asyncio.sleep(0.3)
        raise TimeoutError(f"group {group_id} never had {members} stable members")
    finally:
        await admin.close()
