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

No row can stop the relay. A row whose record is larger than the relay sends
(``max_message_bytes``), or one the broker refuses as too large, is moved to the
service's ``dead_letter`` table (direction 'outbound') in the transaction that
deletes the sent rows, and reported; retrying it could never succeed. A round in
which some batches fail deletes the rows the broker acknowledged and keeps only
the failed ones for the next round, so no acknowledged row is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import Text, cast, delete, insert, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from recovery_shared.clock import utc_now
from recovery_shared.messaging.db import Database
from recovery_shared.messaging.errors import backoff_delays, describe_failure
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
# The broker's answers (and the producer's own check) that a batch is too large: the
# same batch sent again would be refused again.
TOO_LARGE = (MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError)

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
        max_message_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self.db = db
        self.kernel = kernel
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.batch_size = batch_size
        self.idle_poll_s = idle_poll_s
        self.max_message_bytes = max_message_bytes
        self.sent = 0
        self.dead_lettered = 0
        self.last_error: str | None = None
        self.failures_in_a_row = 0
        """Rounds in a row that ended in an error; readiness fails once it reaches the
        service's ``relay_failures_before_unready``."""
        self._producer: AIOKafkaProducer | None = None
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._sent_since_checkpoint = False
        self._next_checkpoint = 0.0
        # Rows whose batch the broker refused as too large while it held other rows too:
        # each goes in a batch of its own next time, so only a row that is itself too
        # large is dead-lettered.
        self._send_alone: set[int] = set()

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
                # A batch is what the broker's message.max.bytes limits, so none may be
                # larger than the largest record we promise to send.
                max_batch_size=min(MAX_BATCH_BYTES, self.max_message_bytes),
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
        while not self._stopping:
            # Cleared before looking, so a commit that lands while this round runs (or while
            # the log is checkpointed) still wakes the next one.
            self._wake.clear()
            try:
                moved = await self.relay_once()
                self.failures_in_a_row = 0
                self.last_error = None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = describe_failure(exc)
                delay = delays[min(self.failures_in_a_row, len(delays) - 1)]
                self.failures_in_a_row += 1
                log.warning("outbox relay cannot publish yet; will retry", error=self.last_error, retry_in_s=delay)
                # A producer that lost the broker may hold stale metadata, and one whose
                # batch was refused has a gap in its sequence numbers; start afresh.
                await self._close_producer()
                if self.db.is_sqlite:
                    await self._checkpoint_when_due()
                await asyncio.sleep(delay)
                continue
            if moved:
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
            log.warning("write-ahead log checkpoint failed; will try again", error=describe_failure(exc))

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
        """Send up to ``batch_size`` committed rows, in id order; returns how many left
        the outbox (sent, or moved to the dead letters).

        The rows are read a chunk at a time and each chunk is handed to the producer at
        once, so the broker is already receiving one chunk while the next is read. Once
        every batch has settled, the rows the broker acknowledged are deleted and the
        ones that can never be sent are moved to the dead letters, all in one
        transaction; if any batch failed otherwise, its rows stay for the next round and
        the failure is raised after that commit."""
        outbox = self.kernel.outbox
        async with self.db.session() as session:
            if not self.db.is_sqlite and not await self._take_turn(session):
                return 0
            producer: AIOKafkaProducer | None = None
            batches = _Batches(self.max_message_bytes, self._send_alone)
            ids: list[int] = []
            failure: Exception | None = None
            try:
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
                    ids.extend(row[0] for row in rows)
                    producer = producer or await self._ensure_producer()
                    await batches.add(producer, rows)
                    if len(rows) < RELAY_READ_CHUNK:
                        break
            except Exception as exc:
                # Batches already handed over may have gone: they settle below and are
                # deleted if acknowledged; the rest wait for the next round.
                failure = exc
            if not ids:
                await session.rollback()
                if failure is not None:
                    raise failure
                return 0
            # Every batch settles before anything is deleted or the round gives up, so a
            # retry starts with nothing of ours still in flight.
            outcomes = await asyncio.gather(*(b.future for b in batches.handed_over), return_exceptions=True)
            dead: dict[int, str] = dict.fromkeys(batches.oversized, _TOO_LARGE_TO_SEND)
            acknowledged = 0
            for handed_over, outcome in zip(batches.handed_over, outcomes, strict=True):
                if not isinstance(outcome, BaseException):
                    acknowledged += len(handed_over.ids)
                    handed_over.acknowledged = True
                elif isinstance(outcome, TOO_LARGE) and len(handed_over.ids) == 1:
                    dead[handed_over.ids[0]] = _REFUSED_BY_BROKER.replace("{error}", type(outcome).__name__)
                elif isinstance(outcome, asyncio.CancelledError):
                    raise outcome
                else:
                    if isinstance(outcome, TOO_LARGE):
                        self._send_alone.update(handed_over.ids)
                    failure = failure or _as_exception(outcome)
            if acknowledged + len(dead) == len(ids):
                leaving = ids
            else:
                leaving = sorted(
                    [i for b in batches.handed_over if b.acknowledged for i in b.ids] + list(dead),
                )
            if dead:
                await self._move_to_dead_letters(session, dead)
            if leaving:
                await _delete(session, self.kernel, leaving)
                await session.commit()
            else:
                await session.rollback()
        if self._send_alone:
            self._send_alone.difference_update(leaving)
        self.sent += acknowledged
        self.dead_lettered += len(dead)
        if failure is not None:
            raise failure
        return len(leaving)

    async def _move_to_dead_letters(self, session: AsyncSession, dead: dict[int, str]) -> None:
        """Copy the rows that can never be sent into the dead letters, each with why
        (``dead``: row id to its reason, with ``{size}`` and ``{limit}`` to fill in)."""
        outbox = self.kernel.outbox
        letters = self.kernel.dead_letters
        failed_at = utc_now()
        values: list[dict[str, Any]] = []
        ordered = sorted(dead)
        for start in range(0, len(ordered), 500):
            query = select(outbox.c.id, outbox.c.topic, outbox.c.message_key, outbox.c.payload, outbox.c.headers).where(
                outbox.c.id.in_(ordered[start : start + 500])
            )
            rows: Sequence[Any] = (await session.execute(query)).all()
            for row_id, topic, message_key, payload, stored_headers in rows:
                headers: dict[str, Any] = dict(stored_headers or {})
                size = record_size(message_key, payload, headers)
                event_type = headers.get("type")
                reason = dead[row_id].format(size=size, limit=self.max_message_bytes)
                values.append(
                    {
                        "direction": "outbound",
                        "topic": topic,
                        "message_key": message_key,
                        "message_id": _event_id(payload),
                        "event_type": str(event_type)[:100] if event_type is not None else None,
                        "payload": payload,
                        "headers": headers,
                        "reason": reason,
                        "consumer": self.client_id[:120],
                        "failed_at": failed_at,
                        "status": "dead",
                    }
                )
                # Neither the payload nor the account it concerns: the row id finds both.
                log.warning(
                    "outbound event dead-lettered; it will never be sent",
                    topic=topic,
                    event_type=event_type,
                    outbox_id=row_id,
                    size_bytes=size,
                    reason=reason,
                )
        if values:
            await session.execute(insert(letters), values)

    async def drain(self, timeout_s: float = 30.0) -> None:
        """Send everything committed so far (used at shutdown and by tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await self.relay_once():
            if loop.time() > deadline:
                raise TimeoutError("outbox did not drain in time")


_TOO_LARGE_TO_SEND = "event of {size:,} bytes exceeds the largest record the relay sends ({limit:,} bytes)"
_REFUSED_BY_BROKER = "the broker refused the event of {size:,} bytes as too large ({error})"


def record_size(key: str | bytes | None, payload: bytes, headers: dict[str, Any]) -> int:
    """What a record carries: its key, value and headers, as the relay sends them."""
    if isinstance(key, str):
        key = key.encode()
    return (
        (len(key) if key is not None else 0)
        + len(payload)
        + sum(len(k.encode()) + len(str(v).encode()) for k, v in headers.items())
    )


def _event_id(payload: bytes) -> str | None:
    """The envelope's event id, when the payload is one (a raw dead letter need not be)."""
    try:
        decoded = json.loads(payload)
    except ValueError:
        return None
    event_id = decoded.get("event_id") if isinstance(decoded, dict) else None
    return str(event_id)[:200] if event_id is not None else None


def _as_exception(outcome: BaseException) -> Exception:
    return outcome if isinstance(outcome, Exception) else RuntimeError(repr(outcome))


async def _delete(session: AsyncSession, kernel: KernelTables, ids: list[int]) -> None:
    """Delete the rows ``ids`` (ascending) from the outbox."""
    outbox = kernel.outbox
    if ids[-1] - ids[0] + 1 == len(ids):
        # Every id in the range is one of ours (ids are never reused while rows exist),
        # so one range delete does.
        await session.execute(delete(outbox).where(outbox.c.id.between(ids[0], ids[-1])))
        return
    for start in range(0, len(ids), 500):
        await session.execute(delete(outbox).where(outbox.c.id.in_(ids[start : start + 500])))


@dataclass
class _HandedOver:
    """One record batch given to the producer: its delivery future and its rows' ids."""

    future: asyncio.Future[Any]
    ids: list[int]
    acknowledged: bool = False


@dataclass
class _Open:
    batch: Any
    ids: list[int] = field(default_factory=list)


class _Batches:
    """Rows turned into record batches, one per topic partition, in the order given.
    A row too large to send is set aside (``oversized``) instead."""

    def __init__(self, max_record_bytes: int, send_alone: set[int]) -> None:
        self.max_record_bytes = max_record_bytes
        self.send_alone = send_alone
        self.handed_over: list[_HandedOver] = []
        self.oversized: list[int] = []
        self._partition_of = DefaultPartitioner()
        self._partitions: dict[str, list[int]] = {}
        self._headers: dict[str | None, tuple[list[tuple[str, bytes]], int]] = {}

    async def add(self, producer: AIOKafkaProducer, rows: Sequence[Any]) -> None:
        """Hand ``rows`` (id, topic, key, payload, headers as JSON text) to ``producer``
        (``handed_over`` collects the batches). Each batch is closed when handed over,
        so it goes out at once instead of lingering for records that are not coming."""
        batches: dict[tuple[str, int], _Open] = {}
        limit = self.max_record_bytes
        for row_id, topic, message_key, payload, headers_text in rows:
            cached = self._headers.get(headers_text)
            if cached is None:
                decoded = json.loads(headers_text) if headers_text else {}
                encoded = [(k, str(v).encode()) for k, v in decoded.items()]
                cached = self._headers[headers_text] = (encoded, sum(len(k.encode()) + len(v) for k, v in encoded))
            headers, headers_size = cached
            key = message_key.encode() if message_key is not None else None
            if len(payload) + headers_size + (len(key) if key is not None else 0) > limit:
                self.oversized.append(row_id)
                continue
            partitions = self._partitions.get(topic)
            if partitions is None:
                partitions = self._partitions[topic] = sorted(await producer.partitions_for(topic))
            # The producer's own partitioner: a key goes where a plain send() would put it.
            partition = self._partition_of(key, partitions, partitions)
            current = batches.get((topic, partition))
            if self.send_alone and row_id in self.send_alone:
                # After whatever this partition already holds, so the key's order is kept.
                if current is not None:
                    await self._submit(producer, current, topic, partition)
                    del batches[(topic, partition)]
                alone = _Open(producer.create_batch(), [row_id])
                alone.batch.append(timestamp=None, key=key, value=payload, headers=headers)
                await self._submit(producer, alone, topic, partition)
                continue
            if current is None:
                current = batches[(topic, partition)] = _Open(producer.create_batch())
            if current.batch.append(timestamp=None, key=key, value=payload, headers=headers) is None:
                await self._submit(producer, current, topic, partition)
                current = batches[(topic, partition)] = _Open(producer.create_batch())
                if current.batch.append(timestamp=None, key=key, value=payload, headers=headers) is None:
                    raise RuntimeError("an empty record batch refused a record")  # aiokafka takes any first one
            current.ids.append(row_id)
        for (topic, partition), current in batches.items():
            await self._submit(producer, current, topic, partition)

    async def _submit(self, producer: AIOKafkaProducer, current: _Open, topic: str, partition: int) -> None:
        current.batch.close()
        future: asyncio.Future[Any] = await producer.send_batch(current.batch, topic, partition=partition)
        self.handed_over.append(_HandedOver(future, current.ids))
