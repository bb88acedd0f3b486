"""The outbox relay: sends committed outbox rows to Kafka, then deletes them.

The producer is idempotent (acks=all), keyed by account reference, and rows go
in id order, so each debtor's events keep their order. If the broker is down
the rows simply wait; the relay retries with backoff and sends them when the
broker returns. A crash after sending but before deleting sends a row twice,
which the consumers' inboxes absorb.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, select

from recovery_shared.messaging.db import Database
from recovery_shared.messaging.errors import backoff_delays
from recovery_shared.messaging.tables import KernelTables

log = structlog.get_logger("recovery.outbox")


class OutboxRelay:
    def __init__(
        self,
        *,
        db: Database,
        kernel: KernelTables,
        bootstrap_servers: str,
        client_id: str,
        batch_size: int = 1000,
        idle_poll_s: float = 0.5,
    ) -> None:
        self.db = db
        self.kernel = kernel
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.sent = 0
        self.last_error: str | None = None
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows, so they go out at once."""
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.client_id}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._close_producer()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                linger_ms=5,
                max_batch_size=256 * 1024,
                request_timeout_ms=15000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _close_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    async def _run(self) -> None:
        delays = backoff_delays(initial=0.2, ceiling=5.0, attempts=1000)
        failures = 0
        while not self._stopping:
            try:
                sent = await self.relay_once()
                failures = 0
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                delay = delays[min(failures, len(delays) - 1)]
                failures += 1
                log.warning("outbox relay cannot publish yet; will retry", error=self.last_error, retry_in_s=delay)
                # A producer that lost the broker may hold stale metadata; start afresh.
                await self._close_producer()
                await asyncio.sleep(delay)
                continue
            if sent == 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll_s)

    async def relay_once(self) -> int:
        """Send one batch of committed rows; returns how many went out."""
        outbox = self.kernel.outbox
        query = select(outbox.c.id, outbox.c.topic, outbox.c.message_key, outbox.c.payload, outbox.c.headers).order_by(
            outbox.c.id
        )
        query = query.limit(self.batch_size)
        if not self.db.is_sqlite:
            # Several instances of a service may share one PostgreSQL database;
            # each row goes through exactly one relay at a time.
            query = query.with_for_update(skip_locked=True)
        async with self.db.session() as session:
            rows: list[Any] = list((await session.execute(query)).all())
            if not rows:
                await session.rollback()
                return 0
            producer = await self._ensure_producer()
            futures = []
            for row in rows:
                headers = [(k, str(v).encode()) for k, v in (row.headers or {}).items()]
                key = row.message_key.encode() if row.message_key is not None else None
                futures.append(await producer.send(row.topic, row.payload, key=key, headers=headers))
            await asyncio.gather(*futures)
            ids = [row.id for row in rows]
            for start in range(0, len(ids), 500):
                await session.execute(delete(outbox).where(outbox.c.id.in_(ids[start : start + 500])))
            await session.commit()
        self.sent += len(rows)
        return len(rows)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Send everything committed so far (used at shutdown and by tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await self.relay_once():
            if loop.time() > deadline:
                raise TimeoutError("outbox did not drain in time")
