"""The outbox relay: sends committed outbox rows to Kafka, then deletes them.

The producer is idempotent (acks=all), keyed by account reference, and rows go
in id order, so each debtor's events keep their order. If the broker is down
the rows simply wait; the relay retries with backoff and sends them when the
broker returns. A crash after sending but before deleting sends a row twice,
which the consumers' inboxes absorb. On PostgreSQL the relays of a service's
instances take turns (an advisory lock), so only one is ever sending.

A day's sweep can put tens of thousands of rows in the outbox at once, so a round
reads them a chunk at a time and hands each chunk to the producer as whole record
batches, one per partition (aiokafka's ``send_batch``; a ``send`` per row costs
more than building the batch), while it reads the next. Partitions are chosen by
the producer's own default partitioner, so a key lands where a plain ``send``
would put it. A commit that wrote outbox rows wakes the relay at once
(``outbox_committed``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import Text, cast, delete, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from recovery_shared.messaging.db import Database
from recovery_shared.messaging.errors import backoff_delays
from recovery_shared.messaging.tables import KernelTables

log = structlog.get_logger("recovery.outbox")

# Record batches up to this size (the broker's default message.max.bytes is 1 MiB).
MAX_BATCH_BYTES = 1_000_000
# Rows read per query: each chunk's batches go to the broker while the next is read.
RELAY_READ_CHUNK = 2000
# SQLite: copy the write-ahead log into the database at least this often while idle.
CHECKPOINT_EVERY_S = 30.0
# Any fixed 64-bit number: the PostgreSQL advisory lock a database's relays take turns with.
RELAY_LOCK_KEY = 0x6F7574626F78_01

_relays: dict[str, weakref.WeakSet[OutboxRelay]] = {}


def outbox_committed(engine: Any) -> None:
    """Wake the running relays of the database ``engine`` belongs to: outbox rows have
    just been committed there."""
    for relay in list(_relays.get(str(getattr(engine, "url", "")), ())):
        # A relay left running on an event loop that has since closed cannot be woken.
        with contextlib.suppress(RuntimeError):
            relay.wake()


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
        self._sent_since_checkpoint = False
        self._next_checkpoint = 0.0

    def wake(self) -> None:
        """Called after a commit that wrote outbox rows, so they go out at once."""
        self._wake.set()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.client_id}")
        _relays.setdefault(str(self.db.engine.url), weakref.WeakSet()).add(self)

    async def stop(self) -> None:
        _relays.get(str(self.db.engine.url), weakref.WeakSet()).discard(self)
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
                max_batch_size=MAX_BATCH_BYTES,
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
            # Cleared before looking, so a commit that lands while this round runs (or while
            # the log is checkpointed) still wakes the next one.
            self._wake.clear()
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
                if self.db.is_sqlite:
                    await self._checkpoint_when_due()
                await asyncio.sleep(delay)
                continue
            if sent:
                self._sent_since_checkpoint = True
                continue
            if self.db.is_sqlite:
                await self._checkpoint_when_due()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.idle_poll_s)

    async def _checkpoint_when_due(self) -> None:
        """SQLite: copy the write-ahead log into the database once the outbox is drained
        (and now and then regardless), so that the transactions writing it need not. A
        service may turn SQLite's automatic checkpoints off for its connections (the
        arrangements service does: its daily sweep writes a hundred megabytes of log, and
        copying it back would hold its events from the broker for most of a second); this
        keeps the log from growing. Cheap when there is nothing to copy."""
        now = asyncio.get_running_loop().time()
        if not self._sent_since_checkpoint and now < self._next_checkpoint:
            return
        self._sent_since_checkpoint = False
        self._next_checkpoint = now + CHECKPOINT_EVERY_S
        try:
            async with self.db.session() as session:
                await session.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
        except Exception as exc:
            log.warning("write-ahead log checkpoint failed; will try again", error=f"{type(exc).__name__}: {exc}")

    @staticmethod
    async def _take_turn(session: AsyncSession) -> bool:
        """PostgreSQL: whether this relay may send now. Several instances of a service may
        share one database, and their relays take turns, one transaction each, rather than
        splitting the rows between them (``SKIP LOCKED``): split rows could put a key's
        later event on the broker before its earlier one."""
        taken = await session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY})
        if not taken.scalar():
            await session.rollback()
            return False
        # The outbox swings from empty to tens of thousands of rows between the statistics'
        # refreshes; with them stale the planner sorts the whole table for each chunk
        # rather than walk the primary key, which is already in id order.
        await session.execute(text("SET LOCAL enable_sort = off"))
        return True

    async def relay_once(self) -> int:
        """Send up to ``batch_size`` committed rows, in id order; returns how many went out.
        The rows are read a chunk at a time and each chunk is handed to the producer at
        once, so the broker is already receiving one chunk while the next is read. They are
        deleted, all in one transaction, only once the broker has acknowledged every one."""
        outbox = self.kernel.outbox
        async with self.db.session() as session:
            if not self.db.is_sqlite and not await self._take_turn(session):
                return 0
            producer: AIOKafkaProducer | None = None
            batches = _Batches()
            futures: list[asyncio.Future[Any]] = []
            ids: list[int] = []
            while len(ids) < self.batch_size:
                query = (
                    select(
                        outbox.c.id,
                        outbox.c.topic,
                        outbox.c.message_key,
                        outbox.c.payload,
                        # As text: rows mostly share a few header sets, decoded once each.
                        cast(outbox.c.headers, Text),
                    )
                    .order_by(outbox.c.id)
                    .limit(min(RELAY_READ_CHUNK, self.batch_size - len(ids)))
                )
                if ids:
                    query = query.where(outbox.c.id > ids[-1])
                rows: Sequence[Any] = (await session.execute(query)).all()
                if not rows:
                    break
                producer = producer or await self._ensure_producer()
                futures.extend(await batches.add(producer, rows))
                ids.extend(row[0] for row in rows)
                if len(rows) < RELAY_READ_CHUNK:
                    break
            if not ids:
                await session.rollback()
                return 0
            # Every batch settles before anything is deleted or the round gives up, so a
            # retry starts with nothing of ours still in flight.
            outcomes = await asyncio.gather(*futures, return_exceptions=True)
            failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
            if failed is not None:
                raise failed
            if ids[-1] - ids[0] + 1 == len(ids):
                # Every id in the range is one of ours (ids are never reused while rows
                # exist), so one range delete does.
                await session.execute(delete(outbox).where(outbox.c.id.between(ids[0], ids[-1])))
            else:
                for start in range(0, len(ids), 500):
                    await session.execute(delete(outbox).where(outbox.c.id.in_(ids[start : start + 500])))
            await session.commit()
        self.sent += len(ids)
        return len(ids)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Send everything committed so far (used at shutdown and by tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await self.relay_once():
            if loop.time() > deadline:
                raise TimeoutError("outbox did not drain in time")


class _Batches:
    """Rows turned into record batches, one per topic partition, in the order given."""

    def __init__(self) -> None:
        self._partition_of = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._headers: dict[str | None, list[tuple[str, bytes]]] = {}

    async def add(self, producer: AIOKafkaProducer, rows: Sequence[Any]) -> list[asyncio.Future[Any]]:
        """Hand ``rows`` (id, topic, key, payload, headers as JSON text) to ``producer``;
        returns the batches' delivery futures. Each batch is closed when handed over, so it
        goes out at once instead of lingering for records that are not coming."""
        batches: dict[tuple[str, int], Any] = {}
        futures: list[asyncio.Future[Any]] = []
        for _, topic, message_key, payload, headers_text in rows:
            headers = self._headers.get(headers_text)
            if headers is None:
                decoded = json.loads(headers_text) if headers_text else {}
                headers = self._headers[headers_text] = [(k, str(v).encode()) for k, v in decoded.items()]
            key = message_key.encode() if message_key is not None else None
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
            # The producer's own partitioner: a key goes where a plain send() would put it.
            partition = self._partition_of(key, partitions, partitions)
            batch = batches.get((topic, partition))
            if batch is None:
                batch = batches[(topic, partition)] = producer.create_batch()
            if batch.append(timestamp=None, key=key, value=payload, headers=headers) is None:
                futures.append(await self._submit(producer, batch, topic, partition))
                batch = batches[(topic, partition)] = producer.create_batch()
                if batch.append(timestamp=None, key=key, value=payload, headers=headers) is None:
                    raise RuntimeError("an empty record batch refused a record")  # aiokafka takes any first one
        for (topic, partition), batch in batches.items():
            futures.append(await self._submit(producer, batch, topic, partition))
        return futures

    @staticmethod
    async def _submit(producer: AIOKafkaProducer, batch: Any, topic: str, partition: int) -> asyncio.Future[Any]:
        batch.close()
        future: asyncio.Future[Any] = await producer.send_batch(batch, topic, partition=partition)
        return future
