"""Run the services as separate processes on the real broker, and watch topics.

The end-to-end tests' process runner; the main job (demo/) and the benchmarks use it too."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from datetime import date
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any, Self

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from recovery_shared.contracts.envelope import Envelope

SERVICE_NAMES = ("payments", "arrangements", "enforcement", "notices")


@cache
def process_map() -> dict[str, list[str]]:
    """What each service consumes, read from its route table (``recovery_<service>.app.ROUTES``):
    a fresh run starts each service's consumer group at the end of these topics."""
    return {name: import_module(f"recovery_{name}.app").ROUTES.topics() for name in SERVICE_NAMES}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """One service, started the way ops start it (``python -m recovery_<name>``)."""

    def __init__(
        self,
        name: str,
        workdir: Path,
        bootstrap: str,
        *,
        group_id: str,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.workdir = workdir
        self.port = free_port()
        self.log_path = workdir / f"{name}-{self.port}.log"
        prefix = name.upper()
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            f"{prefix}_HTTP_PORT": str(self.port),
            f"{prefix}_DATA_DIR": str(workdir / name),
            f"{prefix}_GROUP_ID": group_id,
            f"{prefix}_CONSUMER_BATCH_TIMEOUT_MS": "20",
            **(extra_env or {}),
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def database_path(self) -> Path:
        return self.workdir / self.name / f"{self.name}.sqlite"

    def start(self) -> ServiceProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"recovery_{self.name}"],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    async def wait_healthy(self, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient() as client:
            while time.monotonic() < deadline:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    response = await client.get(f"http://127.0.0.1:{self.port}/health", timeout=5)
                    if response.status_code == 200:
                        report: dict[str, Any] = response.json()
                        return report
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise TimeoutError(f"{self.name} did not become healthy:\n{self.log_tail()}")

    async def health(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{self.port}/health", timeout=5)
            report: dict[str, Any] = response.json()
            return report

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if hasattr(self, "_log"):
            self._log.close()


async def publish(bootstrap: str, topic: str, *messages: Envelope | tuple[str, bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for message in messages:
            if isinstance(message, tuple):
                key, value = message
            else:
                key, value = message.key, message.to_bytes()
            await producer.send_and_wait(topic, value, key=key.encode())
    finally:
        await producer.stop()


async def collect(
    bootstrap: str,
    topic: str,
    match: Callable[[Any], bool],
    *,
    expect: int,
    timeout_s: float = 30,
    settle_s: float = 1.0,
) -> list[Any]:
    """Read ``topic`` from the beginning until ``expect`` records match, then keep
    reading ``settle_s`` longer so an unwanted extra copy would be seen too."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout_s
        settle_until: float | None = None
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                found.extend(r for r in records if match(r))
            if len(found) >= expect and settle_until is None:
                settle_until = time.monotonic() + settle_s
            if settle_until is not None and time.monotonic() >= settle_until:
                break
    finally:
        await consumer.stop()
    return found


def envelope_of(record: Any) -> dict[str, Any]:
    try:
        value: dict[str, Any] = json.loads(record.value)
        return value
    except (ValueError, TypeError):
        return {}


async def wait_for(predicate: Callable[[], Any], timeout_s: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


async def start_group_at_end(bootstrap: str, group_id: str, *topic_names: str) -> None:
    """Commit ``group_id``'s offsets at the current end of each topic, so a service
    started under that group reads only what is published from now on."""
    from aiokafka import TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p)
            for t in topic_names
            for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


async def wait_for_health(
    service: ServiceProcess, predicate: Callable[[dict[str, Any]], bool], timeout_s: float = 45
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        report = await service.health()
        if predicate(report):
            return report
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{service.name} health never matched; last report: {report}")


class LagProbe:
    """Measures consumer-group lag with one long-lived admin client (cheap to poll)."""

    def __init__(self, bootstrap: str) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        self._admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self._probe = AIOKafkaConsumer(bootstrap_servers=bootstrap)

    async def start(self) -> None:
        await self._admin.start()
        await self._probe.start()

    async def stop(self) -> None:
        await self._probe.stop()
        await self._admin.close()

    async def lag(self, groups: dict[str, list[str]]) -> int:
        """Messages on the given topics not yet consumed by each group (group -> topics)."""
        total = 0
        for group, group_topics in groups.items():
            committed = await self._admin.list_consumer_group_offsets(group)
            offsets = {tp: m for tp, m in committed.items() if tp.topic in group_topics}
            if not offsets:
                continue
            ends = await self._probe.end_offsets(list(offsets))
            total += sum(max(ends[tp] - meta.offset, 0) for tp, meta in offsets.items() if meta.offset >= 0)
        return total


async def wait_quiet(probe: LagProbe, procs: dict[str, ServiceProcess], timeout_s: float = 300) -> None:
    """Until every service has read everything it consumes and sent everything it wrote."""
    deadline = time.monotonic() + timeout_s
    quiet_rounds = 0
    while time.monotonic() < deadline:
        for proc in procs.values():
            if proc.proc is not None and proc.proc.poll() is not None:
                raise RuntimeError(f"{proc.name} stopped:\n{proc.log_tail()}")
        reports = {name: await p.health() for name, p in procs.items()}
        depth = sum(r.get("outbox_depth", 0) for r in reports.values())
        consumed = {procs[name].env[f"{name.upper()}_GROUP_ID"]: list(r["consumed"]) for name, r in reports.items()}
        lag = await probe.lag(consumed) if depth == 0 else 1
        quiet_rounds = quiet_rounds + 1 if depth == 0 and lag == 0 else 0
        if quiet_rounds >= 2:
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the services did not settle in time")


async def send(producer: AIOKafkaProducer, topic: str, events: list[Envelope]) -> None:
    futures = [await producer.send(topic, e.to_bytes(), key=e.key.encode()) for e in events]
    await asyncio.gather(*futures)


class Watcher:
    """Reads topics in the background while a test drives the services, keeping every
    event whose key ends with the run's tag, per key, in the order read."""

    def __init__(self, bootstrap: str, group: str, tag: str, topics: list[str]) -> None:
        self.consumer = AIOKafkaConsumer(
            *topics, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest"
        )
        self.tag = tag
        self.events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def _read(self) -> None:
        async for record in self.consumer:
            key = record.key.decode() if record.key else ""
            if key.endswith(self.tag):
                self.events[key].append(json.loads(record.value))

    async def drain(self) -> None:
        """Give the reader a moment to catch up with what the services have sent."""
        await asyncio.sleep(0.3)

    def notice_on(self, account: str, notice_type: str) -> date | None:
        for e in self.events[account]:
            if e["type"] == "notice.requested" and e["data"]["notice_type"] == notice_type:
                return date.fromisoformat(e["data"]["issued_on"])
        return None


@contextlib.asynccontextmanager
async def driving(
    bootstrap: str, group: str, tag: str, topics: list[str]
) -> AsyncIterator[tuple[AIOKafkaProducer, LagProbe, Watcher]]:
    """What a test driving the services as an outside system needs: a producer, a probe of
    the services' lag, and a watcher on ``topics`` from now on (the run's keys only)."""
    await start_group_at_end(bootstrap, group, *topics)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    probe = LagProbe(bootstrap)
    await producer.start()
    await probe.start()
    try:
        async with Watcher(bootstrap, group, tag, topics) as watcher:
            yield producer, probe, watcher
    finally:
        await producer.stop()
        await probe.stop()


async def http_json(proc: ServiceProcess, path: str) -> Any:
    """A service's answer on its HTTP port (the ledger, an officer's list)."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{proc.port}{path}", timeout=10)
        response.raise_for_status()
        return response.json()
