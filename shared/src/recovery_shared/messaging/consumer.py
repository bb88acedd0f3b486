"""At-least-once in, exactly-once effect (design §5).

A batch of records is handled in one transaction: parse each, skip the ones the
inbox has seen, run the use case, write inbox marks and outbox rows, commit.
Only then does FastStream commit the offsets. A SIGKILL between the two means
the batch is delivered again and the inbox makes the replay a no-op.

If any message in the batch is refused by a rule, the batch is rolled back and
replayed one message per transaction, so the refused one goes to the dead-letter
topic alone and the others still take effect.

A consumer may also have a batch handler: it is given the batch's new, readable
events all at once (in offset order), so a use case can read and write in bulk
instead of a few round trips per message. The inbox marks and dead letters are
the kernel's as before, and if the batch handler refuses or fails unexpectedly,
the batch is replayed one message at a time through the per-event handler, which
stays the reference for what each event means.
"""

from __future__ import annotations

import asyncio
import os
import signal
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from recovery_shared.clock import utc_now
from recovery_shared.contracts import ContractError, parse
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.messaging.db import Database
from recovery_shared.messaging.errors import Refused, backoff_delays, is_transient
from recovery_shared.messaging.tables import KernelTables
from recovery_shared.messaging.unit_of_work import UnitOfWork
from recovery_shared.topics import dead_letter_topic

log = structlog.get_logger("recovery.consumer")

_FAILPOINT = os.environ.get("RECOVERY_FAILPOINT", "")

Handler = Callable[[UnitOfWork, Any], Awaitable[None]]
# Given the unit of work and the batch's new, readable events in offset order. It
# must have the same effect as the per-event handler applied to each in turn, and
# it sets ``uow.cause`` (or the envelopes' causation) itself, event by event.
BatchHandler = Callable[[UnitOfWork, list[Any]], Awaitable[None]]


class RecordLike(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass
class _Inbound:
    record: RecordLike
    event: Envelope | None
    problem: str | None
    message_id: str = field(init=False)

    def __post_init__(self) -> None:
        # Worked out once: a batch asks for it several times per message.
        if self.event is not None:
            self.message_id = str(self.event.event_id)
        else:
            # A message we cannot read has no event id; its position is its identity.
            r = self.record
            self.message_id = f"raw:{r.topic}/{r.partition}/{r.offset}"


class InboxConsumer:
    """Applies one topic's messages to a service's database through ``handler``."""

    def __init__(
        self,
        *,
        db: Database,
        kernel: KernelTables,
        consumer: str,
        topic: str,
        handler: Handler,
        batch_handler: BatchHandler | None = None,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self.db = db
        self.kernel = kernel
        self.consumer = consumer
        self.topic = topic
        self.handler = handler
        self.batch_handler = batch_handler
        self.on_committed = on_committed
        self.handled = 0
        self.dead_lettered = 0
        self.duplicates = 0

    async def handle(self, records: Sequence[RecordLike]) -> None:
        """Handle a batch; raises only when a transient error outlasts its retries,
        in which case FastStream rewinds the offsets and the batch comes again."""
        inbound = [self._read(r) for r in records]
        delays = backoff_delays()
        for attempt, delay in enumerate([*delays, None]):
            try:
                await self._apply_batch(inbound)
                break
            except Exception as exc:
                if not is_transient(exc) or delay is None:
                    raise
                log.warning(
                    "transient error, retrying",
                    topic=self.topic,
                    attempt=attempt + 1,
                    error=type(exc).__name__,
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
        if _FAILPOINT == "after-db-commit":
            # Fault injection for the crash-recovery test: die after our commit and
            # before FastStream commits the offsets. Never set in production.
            os.kill(os.getpid(), signal.SIGKILL)
        if self.on_committed is not None:
            self.on_committed()

    def _read(self, record: RecordLike) -> _Inbound:
        if record.value is None:
            return _Inbound(record, None, "malformed message: empty value")
        try:
            event = parse(self.topic, record.value)
        except ContractError as exc:
            return _Inbound(record, None, str(exc))
        return _Inbound(record, event, None)

    async def _apply_batch(self, inbound: list[_Inbound]) -> None:
        async with self.db.session() as session:
            uow = UnitOfWork(session, self.kernel, self.consumer)
            seen = await uow.already_handled([i.message_id for i in inbound])
            try:
                applied = dead = dups = 0
                fresh: list[Envelope] = []
                for item in inbound:
                    if item.message_id in seen:
                        dups += 1
                        continue
                    seen.add(item.message_id)
                    if item.problem is not None:
                        self._dead_letter(uow, item, item.problem)
                        dead += 1
                    elif self.batch_handler is not None:
                        assert item.event is not None
                        fresh.append(item.event)
                        applied += 1
                    else:
                        await self._apply(uow, item)
                        applied += 1
                    uow.mark_handled(item.message_id, self.topic)
                if fresh:
                    await self._apply_all(uow, fresh)
                await uow.commit()
            except Refused:
                await uow.rollback()
                await self._apply_one_by_one(inbound)
                return
            except Exception as exc:
                await uow.rollback()
                if is_transient(exc):
                    raise
                log.error("unexpected error in batch; replaying one by one", topic=self.topic, error=repr(exc))
                await self._apply_one_by_one(inbound)
                return
        self.handled += applied
        self.dead_lettered += dead
        self.duplicates += dups

    async def _apply(self, uow: UnitOfWork, item: _Inbound) -> None:
        assert item.event is not None
        uow.cause = item.event
        structlog.contextvars.bind_contextvars(
            event_id=str(item.event.event_id),
            correlation_id=str(item.event.correlation_id or item.event.event_id),
            account_ref=item.event.key,
        )
        try:
            await self.handler(uow, item.event)
        finally:
            uow.cause = None
            structlog.contextvars.unbind_contextvars("event_id", "correlation_id", "account_ref")

    async def _apply_all(self, uow: UnitOfWork, events: list[Envelope]) -> None:
        assert self.batch_handler is not None
        uow.cause = None
        try:
            await self.batch_handler(uow, events)
        finally:
            uow.cause = None

    async def _apply_one_by_one(self, inbound: list[_Inbound]) -> None:
        for item in inbound:
            async with self.db.session() as session:
                uow = UnitOfWork(session, self.kernel, self.consumer)
                if await uow.already_handled([item.message_id]):
                    self.duplicates += 1
                    continue
                reason = item.problem
                if reason is None:
                    try:
                        await self._apply(uow, item)
                    except Refused as exc:
                        reason = f"refused: {exc}"
                    except Exception as exc:
                        if is_transient(exc):
                            raise
                        log.error(
                            "unexpected error handling message; dead-lettered",
                            topic=self.topic,
                            error=repr(exc),
                            trace=traceback.format_exc(limit=5),
                        )
                        reason = f"unexpected error: {type(exc).__name__}: {exc}"
                    if reason is not None:
                        await uow.rollback()
                if reason is not None:
                    self._dead_letter(uow, item, reason)
                    self.dead_lettered += 1
                else:
                    self.handled += 1
                uow.mark_handled(item.message_id, self.topic)
                await uow.commit()

    def _dead_letter(self, uow: UnitOfWork, item: _Inbound, reason: str) -> None:
        """Original bytes as the value, the reason and where it came from as headers,
        in the same transaction as the inbox mark so it is sent once."""
        r = item.record
        key = r.key.decode("utf-8", errors="replace") if r.key else None
        headers = {
            "dlq.reason": reason[:2000],
            "dlq.consumer": self.consumer,
            "dlq.failed_at": utc_now().isoformat(),
            "dlq.source_topic": r.topic,
            "dlq.source_partition": str(r.partition),
            "dlq.source_offset": str(r.offset),
        }
        uow.publish_raw(dead_letter_topic(r.topic), key, r.value or b"", headers)
        log.warning("message dead-lettered", topic=r.topic, partition=r.partition, offset=r.offset, reason=reason)
