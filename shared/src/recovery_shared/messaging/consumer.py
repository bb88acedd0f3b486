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

No message can stop a partition. Every failure, whether in a use case, in writing
its rows or in the commit, is classified: a transient one (a locked or lost
database, a record changed meanwhile) is retried with backoff, the batch first and
then each message alone; anything else, or a transient failure that outlasts its
retries, dead-letters that one message in a fresh unit. A dead letter keeps the
original bytes in the service's own database (``dead_letter``) and puts only a
reference on ``<topic>.dlq``, since the bytes may hold names and addresses.
``handle`` raises only when even the dead letter cannot be written; the batch is
then read again later.

If even the dead letter cannot be written for what the message holds (text a
driver refuses, a reason that cannot be encoded), a minimal one is kept instead:
the original bytes, where they came from and a fixed reason. Only the database
itself being unable to keep that stops the partition.

A record must be keyed by its envelope's key (the account reference): Kafka keeps
order per key, so one keyed otherwise is dead-lettered rather than applied out of
its account's order. It is known to the inbox by its position, not its event id,
so the producer's correctly keyed resend of the same event is applied.

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
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic_core import from_json

from recovery_shared.clock import utc_now
from recovery_shared.contracts import ContractError, parse
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.logging import HANDLING
from recovery_shared.messaging.errors import backoff_delays, describe_failure, is_transient
from recovery_shared.messaging.errors import safe_text as _safe
from recovery_shared.messaging.routes import Route, RouteTable
from recovery_shared.messaging.unit_of_work import DeadLetter, UnitOfWork
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
            self.message_id = _position(self.record)


def _position(record: RecordLike) -> str:
    return f"raw:{record.topic}/{record.partition}/{record.offset}"


class DeadLetterReference(BaseModel):
    """What a dead-letter topic carries: where the message came from, why it was
    refused, and the id of the ``dead_letter`` row in the consumer's database that
    keeps its original bytes and headers. The bytes themselves may hold names and
    addresses, so they stay behind that database's access control."""

    model_config = ConfigDict(frozen=True)

    dead_letter_id: int = Field(description="The row in the consumer's dead_letter table")
    consumer: str = Field(description="The consumer group that refused the message")
    reason: str = Field(description="Why, in words a person can act on (at most 2,000 characters)")
    source_topic: str
    source_partition: int
    source_offset: int
    event_id: str | None = Field(description="The envelope's event id; null when the message could not be read")
    event_type: str | None = Field(description="The event type, when the message names one")
    failed_at: AwareDatetime


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
        transient_retries: int = 6,
        retry_initial_s: float = 0.1,
        retry_ceiling_s: float = 5.0,
    ) -> None:
        self.units = units
        self.routes = routes
        self.use_cases = use_cases
        self.on_committed = on_committed
        self.transient_retries = transient_retries
        self.retry_delays = backoff_delays(retry_initial_s, retry_ceiling_s, transient_retries)
        self.counts: dict[str, TopicCounts] = {topic: TopicCounts() for topic in routes.topics()}

    async def handle(self, records: Sequence[RecordLike]) -> None:
        """Handle a batch. Every message ends applied, skipped or dead-lettered; this
        raises only when a dead letter itself cannot be written (the database is
        gone), and then FastStream rewinds the offsets and the batch comes again."""
        inbound = [self._read(r) for r in records]
        if not await self._apply_batch_retrying(inbound):
            for item in inbound:
                await self._apply_alone(item)
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
        item = _Inbound(record, event, None, self.routes.route_for(type(event)))
        key = record.key.decode("utf-8", errors="replace") if record.key is not None else None
        if key != event.key:
            # Kafka keeps order per key only: a record keyed otherwise than its account
            # could overtake or be overtaken by that account's other events.
            item.problem = _key_mismatch(key, event.key)
            # Marked by its position: were it marked by its event id, the producer's
            # correctly keyed resend would be taken for a duplicate and never applied.
            item.message_id = _position(record)
        return item

    def _count(self, item: _Inbound) -> TopicCounts:
        return self.counts.setdefault(item.record.topic, TopicCounts())

    async def _apply_batch_retrying(self, inbound: list[_Inbound]) -> bool:
        """The whole batch in one unit, retried while the failure is transient; False
        when it has to go message by message instead."""
        for attempt, delay in enumerate([*self.retry_delays, None]):
            try:
                return await self._apply_batch(inbound)
            except Exception as exc:
                if not is_transient(exc):
                    # Failing outside the use cases (reading the inbox, keeping a dead
                    # letter): one by one, each message's own failure is classified.
                    log.error("unexpected error in batch; replaying one by one", error=describe_failure(exc))
                    return False
                if delay is None:
                    log.warning("transient errors outlasted the batch's retries; going message by message")
                    return False
                log.warning(
                    "transient error, retrying the batch",
                    attempt=attempt + 1,
                    error=describe_failure(exc),
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
        return False  # pragma: no cover - the loop always returns

    async def _apply_batch(self, inbound: list[_Inbound]) -> bool:
        tally: list[tuple[_Inbound, str]] = []
        dead: list[tuple[_Inbound, int, str]] = []
        async with self.units() as uow:
            seen = await uow.already_handled([i.message_id for i in inbound])
            fresh: list[_Inbound] = []
            for item in inbound:
                if item.message_id in seen:
                    tally.append((item, "duplicates"))
                    continue
                seen.add(item.message_id)
                if item.problem is not None:
                    dead.append((item, await self._dead_letter(uow, item, item.problem), item.problem))
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
                return False
            except Exception as exc:
                await uow.rollback()
                if is_transient(exc):
                    raise
                log.error("unexpected error in batch; replaying one by one", error=describe_failure(exc))
                return False
        for item, outcome in tally:
            counts = self._count(item)
            setattr(counts, outcome, getattr(counts, outcome) + 1)
        for item, dead_letter_id, reason in dead:
            _log_dead_letter(item, dead_letter_id, reason)
        return True

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

    async def _apply_alone(self, item: _Inbound) -> None:
        """One message in its own unit, retried while the failure is transient. A
        refusal, any other failure (while handling, writing or committing), or a
        transient one that outlasts the retries dead-letters it in a fresh unit."""
        if item.problem is not None:
            await self._dead_letter_alone(item, item.problem)
            return
        reason = ""
        for attempt, delay in enumerate([*self.retry_delays, None]):
            try:
                outcome = await self._commit_alone(item)
            except Refused as exc:
                reason = f"refused: {exc}"
                break
            except Exception as exc:
                failure = describe_failure(exc)
                if not is_transient(exc):
                    log.error(
                        "unexpected error handling message; dead-lettered",
                        topic=item.record.topic,
                        partition=item.record.partition,
                        offset=item.record.offset,
                        error=failure,
                        trace="".join(traceback.format_tb(exc.__traceback__, limit=-5)),
                    )
                    reason = f"unexpected error: {failure}"
                    break
                if delay is None:
                    reason = f"kept failing after {self.transient_retries} retries: {failure}"
                    break
                log.warning(
                    "transient error, retrying the message",
                    topic=item.record.topic,
                    partition=item.record.partition,
                    offset=item.record.offset,
                    attempt=attempt + 1,
                    error=failure,
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
            else:
                counts = self._count(item)
                setattr(counts, outcome, getattr(counts, outcome) + 1)
                return
        await self._dead_letter_alone(item, reason)

    async def _commit_alone(self, item: _Inbound) -> str:
        """Apply one message and commit; answers how it is counted. A failure leaves
        the unit uncommitted, so leaving it rolls it back."""
        async with self.units() as uow:
            if await uow.already_handled([item.message_id]):
                return "duplicates"
            outcome = "skipped"
            if item.route is not None:
                await self._prefetch(uow, [item])
                await self._apply(uow, item)
                outcome = "handled"
            uow.mark_handled(item.message_id, item.record.topic)
            await uow.commit()
            return outcome

    async def _dead_letter_alone(self, item: _Inbound, reason: str) -> None:
        """The inbox mark and the dead letter in a fresh unit, nothing of the failed
        attempt with them. Retried while the database is unsteady. If the letter
        cannot be written for what it holds, a minimal one is written instead; if the
        database cannot keep even that, this raises and the batch comes again later."""
        try:
            await self._write_dead_letter_alone(item, reason, minimal=False)
        except Exception as exc:
            if is_transient(exc):
                raise
            reason = f"could not be described: {type(exc).__name__}"
            log.error(
                "could not write the dead letter in full; keeping a minimal one",
                topic=item.record.topic,
                partition=item.record.partition,
                offset=item.record.offset,
                error=describe_failure(exc),
            )
            await self._write_dead_letter_alone(item, reason, minimal=True)

    async def _write_dead_letter_alone(self, item: _Inbound, reason: str, *, minimal: bool) -> None:
        for attempt, delay in enumerate([*self.retry_delays, None]):
            try:
                async with self.units() as uow:
                    dead_letter_id = None
                    if not await uow.already_handled([item.message_id]):
                        dead_letter_id = await self._dead_letter(uow, item, reason, minimal=minimal)
                        uow.mark_handled(item.message_id, item.record.topic)
                    await uow.commit()
            except Exception as exc:
                if not is_transient(exc) or delay is None:
                    # The full letter refused for what it holds is the caller's to report:
                    # it keeps a minimal one instead, and the batch is not read again.
                    if is_transient(exc) or minimal:
                        log.error(
                            "could not write a dead letter; the batch will be read again",
                            topic=item.record.topic,
                            partition=item.record.partition,
                            offset=item.record.offset,
                            error=describe_failure(exc),
                        )
                    raise
                log.warning(
                    "transient error writing a dead letter, retrying",
                    attempt=attempt + 1,
                    error=describe_failure(exc),
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
            else:
                counts = self._count(item)
                if dead_letter_id is None:
                    counts.duplicates += 1
                else:
                    counts.dead_lettered += 1
                    _log_dead_letter(item, dead_letter_id, reason)
                return

    async def _dead_letter(self, uow: UnitOfWork, item: _Inbound, reason: str, *, minimal: bool = False) -> int:
        """The original bytes kept in the service's database, and a reference to them
        on the dead-letter topic, in the same transaction as the inbox mark so it is
        sent once. The bytes may hold names and addresses: they never go on the topic.

        Every text here may have come from outside, so each is made one any driver
        and any JSON encoder accepts. A ``minimal`` letter carries nothing read from
        the message but its bytes, where it came from and its key (a re-drive sends
        it keyed as it came)."""
        r = item.record
        reason = _safe(reason, _REASON_CHARS)
        failed_at = utc_now()
        key = _text(r.key) if r.key is not None else None
        event_type = None if minimal else _event_type_of(item)
        dead_letter_id = await uow.keep_dead_letter(
            DeadLetter(
                direction="inbound",
                topic=r.topic,
                source_partition=r.partition,
                source_offset=r.offset,
                message_key=key,
                message_id=item.message_id,
                event_type=event_type,
                payload=r.value or b"",
                headers={} if minimal else _headers_of(r),
                reason=reason,
                failed_at=failed_at,
            )
        )
        reference = DeadLetterReference(
            dead_letter_id=dead_letter_id,
            consumer=_safe(uow.consumer, _KEY_CHARS),
            reason=reason,
            source_topic=r.topic,
            source_partition=r.partition,
            source_offset=r.offset,
            event_id=str(item.event.event_id) if item.event is not None else None,
            event_type=event_type,
            failed_at=failed_at,
        )
        headers = {
            "dlq.reason": reason,
            "dlq.consumer": _safe(uow.consumer, _KEY_CHARS),
            "dlq.failed_at": failed_at.isoformat(),
            "dlq.source_topic": r.topic,
            "dlq.source_partition": str(r.partition),
            "dlq.source_offset": str(r.offset),
            "dlq.dead_letter_id": str(dead_letter_id),
        }
        uow.publish_raw(dead_letter_topic(r.topic), key, reference.model_dump_json().encode(), headers)
        return dead_letter_id


def _log_dead_letter(item: _Inbound, dead_letter_id: int, reason: str) -> None:
    """Once its unit has committed, so a rolled-back attempt is not reported."""
    r = item.record
    log.warning(
        "message dead-lettered",
        topic=r.topic,
        partition=r.partition,
        offset=r.offset,
        dead_letter_id=dead_letter_id,
        reason=_safe(reason, _REASON_CHARS),
    )


_REASON_CHARS = 2000
_KEY_CHARS = 200  # the widest key our tables hold (an outbox row's, a dead letter's)
_TYPE_CHARS = 100
_HEADER_NAME_CHARS = 200
_HEADER_VALUE_CHARS = 2000


def _text(raw: bytes, limit: int = _KEY_CHARS) -> str:
    """Bytes from outside as text any of our columns can store."""
    return raw.decode("utf-8", errors="replace").replace("\x00", "\ufffd")[:limit]


def _key_mismatch(record_key: str | None, envelope_key: str) -> str:
    advice = "producers must key each record by its envelope's key (the account reference)"
    if record_key is None:
        return f"the record has no key but the envelope's key is {envelope_key[:100]!r}; {advice}"
    return f"the record key {record_key[:100]!r} does not match the envelope's key {envelope_key[:100]!r}; {advice}"


def _headers_of(record: RecordLike) -> dict[str, object]:
    """The record's headers as JSON: a name sent more than once keeps every value."""
    decoded: dict[str, object] = {}
    for raw_name, value in record.headers or ():
        text = None if value is None else _text(value, _HEADER_VALUE_CHARS)
        name = _safe(raw_name, _HEADER_NAME_CHARS)
        if name not in decoded:
            decoded[name] = text
        else:
            earlier = decoded[name]
            decoded[name] = [*earlier, text] if isinstance(earlier, list) else [earlier, text]
    return decoded


def _event_type_of(item: _Inbound) -> str | None:
    if item.event is not None:
        return _safe(item.event.type, _TYPE_CHARS)
    return _type_named_in(item.record.value)


def _type_named_in(value: bytes | None) -> str | None:
    """The event type a message that failed its contract says it is, for finding dead
    letters by type; None when it does not say, or cannot be read."""
    try:
        # Read as parse reads it: bounded nesting, refusing what parse refuses. Whatever
        # goes wrong only costs the dead letter its type.
        named = from_json(value) if value else None
        kind = named.get("type") if isinstance(named, dict) else None
        return _safe(kind, _TYPE_CHARS) if isinstance(kind, str) else None
    except Exception:
        return None


def counts_report(counts: dict[str, TopicCounts]) -> dict[str, Any]:
    return {topic: vars(c) for topic, c in counts.items()}
