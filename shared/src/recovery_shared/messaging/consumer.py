"""At-least-once in, exactly-once effect (design §5).

A batch of records (from any of the service's topics, each partition's in offset
order) is handled in one unit of work: parse each, skip the ones the inbox has
seen, let the route table's prefetch load what the batch needs, run each event's
use case, write inbox marks and outbox rows, commit. Only then does FastStream
commit the offsets. A SIGKILL between the two means the batch is delivered again
and the inbox makes the replay a no-op.

If any message in the batch is refused by a rule (or fails unexpectedly), the
batch is rolled back and replayed one message per unit of work, through the very
same prefetch and use case, so the refused one goes to the dead-letter topic
alone and the others still take effect.

An event of a type the service has no route for is not its business: it is
marked handled and counted as skipped.
"""

from __future__ import annotations

import asyncio
import os
import signal
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from recovery_shared.clock import utc_now
from recovery_shared.contracts import ContractError, parse
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.logging import HANDLING
from recovery_shared.messaging.errors import backoff_delays, is_transient
from recovery_shared.messaging.routes import Route, RouteTable
from recovery_shared.messaging.unit_of_work import UnitOfWork
from recovery_shared.refusal import Refused
from recovery_shared.topics import dead_letter_topic

log = structlog.get_logger("recovery.consumer")

_FAILPOINT = os.environ.get("RECOVERY_FAILPOINT", "")


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
    route: Route | None = None
    message_id: str = field(init=False)

    def __post_init__(self) -> None:
        if self.event is not None:
            self.message_id = str(self.event.event_id)
        else:
            # A message we cannot read has no event id; its position is its identity.
            r = self.record
            self.message_id = f"raw:{r.topic}/{r.partition}/{r.offset}"


@dataclass
class TopicCounts:
    handled: int = 0
    skipped: int = 0
    dead_lettered: int = 0
    duplicates: int = 0


class InboxConsumer:
    """Applies the service's messages to its database through its route table."""

    def __init__(
        self,
        *,
        units: Callable[[], UnitOfWork],
        routes: RouteTable,
        use_cases: object,
        on_committed: Callable[[], None] | None = None,
    ) -> None:
        self.units = units
        self.routes = routes
        self.use_cases = use_cases
        self.on_committed = on_committed
        self.counts: dict[str, TopicCounts] = {topic: TopicCounts() for topic in routes.topics()}

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
                    "transient error, retrying", attempt=attempt + 1, error=type(exc).__name__, retry_in_s=delay
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
            event = parse(record.topic, record.value)
        except ContractError as exc:
            return _Inbound(record, None, str(exc))
        return _Inbound(record, event, None, self.routes.route_for(type(event)))

    def _count(self, item: _Inbound) -> TopicCounts:
        return self.counts.setdefault(item.record.topic, TopicCounts())

    async def _apply_batch(self, inbound: list[_Inbound]) -> None:
        tally: list[tuple[_Inbound, str]] = []
        async with self.units() as uow:
            seen = await uow.already_handled([i.message_id for i in inbound])
            fresh: list[_Inbound] = []
            for item in inbound:
                if item.message_id in seen:
                    tally.append((item, "duplicates"))
                    continue
                seen.add(item.message_id)
                if item.problem is not None:
                    self._dead_letter(uow, item, item.problem)
                    tally.append((item, "dead_lettered"))
                elif item.route is None:
                    tally.append((item, "skipped"))
                else:
                    fresh.append(item)
                    tally.append((item, "handled"))
                uow.mark_handled(item.message_id, item.record.topic)
            try:
                await self._prefetch(uow, fresh)
                for item in fresh:
                    await self._apply(uow, item)
                await uow.commit()
            except Refused:
                await uow.rollback()
                await self._apply_one_by_one(inbound)
                return
            except Exception as exc:
                await uow.rollback()
                if is_transient(exc):
                    raise
                log.error("unexpected error in batch; replaying one by one", error=repr(exc))
                await self._apply_one_by_one(inbound)
                return
        for item, outcome in tally:
            counts = self._count(item)
            setattr(counts, outcome, getattr(counts, outcome) + 1)

    async def _prefetch(self, uow: UnitOfWork, items: list[_Inbound]) -> None:
        if self.routes.prefetch is not None and items:
            await self.routes.prefetch(self.use_cases, uow, [i.event for i in items])

    async def _apply(self, uow: UnitOfWork, item: _Inbound) -> None:
        assert item.event is not None and item.route is not None
        uow.cause = item.event
        handling = HANDLING.set(item.event)
        try:
            await item.route.use_case(self.use_cases, uow, item.event)
        finally:
            uow.cause = None
            HANDLING.reset(handling)

    async def _apply_one_by_one(self, inbound: list[_Inbound]) -> None:
        for item in inbound:
            async with self.units() as uow:
                counts = self._count(item)
                if await uow.already_handled([item.message_id]):
                    counts.duplicates += 1
                    continue
                reason = item.problem
                if reason is None and item.route is not None:
                    try:
                        await self._prefetch(uow, [item])
                        await self._apply(uow, item)
                    except Refused as exc:
                        reason = f"refused: {exc}"
                    except Exception as exc:
                        if is_transient(exc):
                            raise
                        log.error(
                            "unexpected error handling message; dead-lettered",
                            topic=item.record.topic,
                            error=repr(exc),
                            trace=traceback.format_exc(limit=5),
                        )
                        reason = f"unexpected error: {type(exc).__name__}: {exc}"
                    if reason is not None:
                        await uow.rollback()
                if reason is not None:
                    self._dead_letter(uow, item, reason)
                    counts.dead_lettered += 1
                elif item.route is None:
                    counts.skipped += 1
                else:
                    counts.handled += 1
                uow.mark_handled(item.message_id, item.record.topic)
                await uow.commit()

    def _dead_letter(self, uow: UnitOfWork, item: _Inbound, reason: str) -> None:
        """Original bytes as the value, the reason and where it came from as headers,
        in the same transaction as the inbox mark so it is sent once."""
        r = item.record
        key = r.key.decode("utf-8", errors="replace") if r.key else None
        headers = {
            "dlq.reason": reason[:2000],
            "dlq.consumer": uow.consumer,
            "dlq.failed_at": utc_now().isoformat(),
            "dlq.source_topic": r.topic,
            "dlq.source_partition": str(r.partition),
            "dlq.source_offset": str(r.offset),
        }
        uow.publish_raw(dead_letter_topic(r.topic), key, r.value or b"", headers)
        log.warning("message dead-lettered", topic=r.topic, partition=r.partition, offset=r.offset, reason=reason)


def counts_report(counts: dict[str, TopicCounts]) -> dict[str, Any]:
    return {topic: vars(c) for topic, c in counts.items()}
