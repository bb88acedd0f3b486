"""Dead letters kept in the service's own database: list them, show one, and re-drive
the chosen ones once their cause is fixed (issue 9, part 6).

``recovery-<service> dead-letters list|show|redrive ...`` (see ``command``). The
functions it uses are importable and async, so tests and tools call them directly.

An inbound dead letter's event id is marked handled in the inbox in the same
transaction that dead-lettered it, so simply delivering it again would change
nothing. A re-drive claims the row and deletes that inbox mark in one transaction
(a conditional update: of ten concurrent re-drives of one dead letter, one claims
it and sends it), then sends the original record (its key, bytes and headers, with
``redrive.dead_letter_id`` and ``redrive.by``) back to its topic with an idempotent
producer. The running service's own consumer applies it, or dead-letters it again as
a new row if the cause is not fixed. It is not applied here: enforcement's cases and
arrangements' records are read, changed and written whole, so a second writer beside
the live consumer could overwrite the change the consumer makes to the same account
at the same moment; and sent back under its key, it takes its place in its account's
partition order. The re-drive waits (``--wait``) for the service's inbox mark to come
back, or for a newer dead letter of the message, and records which on the row. If the
service has not read it by then, the row says so and is re-driven all the same: the
copy is on the topic, and the service applies it when it reads it. The consumer's
inbox mark is what makes it exactly once: a second copy (from a re-drive interrupted
after it sent, then taken over) is a duplicate it absorbs.

Other services' consumer groups reading the same topic took the original when it
first came; their inbox holds its event id, so they take the copy for a duplicate
and change nothing.

A message the service could not read at all is known by its position (``raw:...``)
and is sent back too: if the service can read it now, it is applied; if not, it is
dead-lettered again under its new position, and the outcome says so. A record keyed
otherwise than its envelope cannot be mended by sending the same record again: its
re-drive is refused, and the producer must send it again keyed by its account
reference.

An outbound dead letter (an event the relay could not send because it was too
large) is re-driven by putting it back in the outbox, in the same transaction
that marks it re-driven, for after ops raised the broker's limit or the service's
``max_message_bytes``.

Payloads hold personal data: the list never prints them, ``show`` only with
``--payload``, and the re-drive log line names the dead letter, never its content.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TextIO

import structlog
from aiokafka import AIOKafkaProducer
from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from recovery_shared.clock import LONDON, utc_now
from recovery_shared.messaging.errors import describe_failure
from recovery_shared.messaging.outbox import outbox_committed

if TYPE_CHECKING:
    from recovery_shared.messaging.runtime import ServiceRuntime

log = structlog.get_logger("recovery.dead_letters")

INBOUND = "inbound"
OUTBOUND = "outbound"
DEAD = "dead"
REDRIVING = "redriving"
REDRIVEN = "redriven"
STATUSES = (DEAD, REDRIVING, REDRIVEN)

CLAIM_ABANDONED_AFTER = timedelta(minutes=15)
"""A re-drive whose process died leaves its dead letter 'redriving'; after this long
another re-drive may take it over (a live re-drive of one message takes seconds)."""

REASON_WIDTH = 70


class DeadLetterCommandRefused(Exception):
    """The command cannot do what was asked; ``str(exc)`` says why, in a sentence. The
    command line exits with status 2 and changes nothing."""


@dataclass(frozen=True)
class DeadLetterLine:
    """What ``list`` shows of a dead letter: never its payload."""

    id: int
    direction: str
    topic: str
    event_type: str | None
    failed_at: datetime
    status: str
    reason: str


@dataclass(frozen=True)
class DeadLetter(DeadLetterLine):
    """Everything kept about one dead letter."""

    source_partition: int | None
    source_offset: int | None
    message_key: str | None
    message_id: str | None
    headers: Any
    consumer: str
    redriven_at: datetime | None
    redriven_by: str | None
    redrive_reason: str | None
    redrive_outcome: str | None
    payload: bytes


@dataclass(frozen=True)
class RedriveResult:
    """What one re-drive did (or, in a dry run, would do)."""

    id: int
    direction: str
    topic: str
    event_type: str | None
    outcome: str
    redriven: bool
    """False in a dry run, or when another re-drive took this dead letter first."""
    dead_lettered_again_as: int | None = None
    not_yet_consumed: bool = False
    """Sent back to its topic, but the service had not dealt with it when the wait ran
    out (it applies it when it reads it)."""


# --- reading --------------------------------------------------------------------------


async def list_dead_letters(
    runtime: ServiceRuntime,
    *,
    topic: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str = DEAD,
    limit: int | None = None,
) -> list[DeadLetterLine]:
    """Dead letters matching every filter given, oldest first. ``reason`` matches any
    part of the reason, in any case; ``status`` is one of ``STATUSES`` or 'all'."""
    table = runtime.kernel.dead_letters
    query = (
        select(
            table.c.id,
            table.c.direction,
            table.c.topic,
            table.c.event_type,
            table.c.failed_at,
            table.c.status,
            table.c.reason,
        )
        .where(*_filters(runtime, topic=topic, reason=reason, since=since, until=until, status=status))
        .order_by(table.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    async with runtime.db.engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [
        DeadLetterLine(
            id=row.id,
            direction=row.direction,
            topic=row.topic,
            event_type=row.event_type,
            failed_at=_aware(row.failed_at),
            status=row.status,
            reason=row.reason,
        )
        for row in rows
    ]


async def count_dead_letters(
    runtime: ServiceRuntime,
    *,
    topic: str | None = None,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    status: str = DEAD,
) -> int:
    table = runtime.kernel.dead_letters
    query = (
        select(func.count())
        .select_from(table)
        .where(*_filters(runtime, topic=topic, reason=reason, since=since, until=until, status=status))
    )
    async with runtime.db.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def show_dead_letter(runtime: ServiceRuntime, dead_letter_id: int) -> DeadLetter:
    table = runtime.kernel.dead_letters
    async with runtime.db.engine.connect() as conn:
        row = (await conn.execute(select(table).where(table.c.id == dead_letter_id))).first()
    if row is None:
        raise DeadLetterCommandRefused(_unknown(runtime, dead_letter_id))
    return _dead_letter(row)


def _filters(
    runtime: ServiceRuntime,
    *,
    topic: str | None,
    reason: str | None,
    since: datetime | None,
    until: datetime | None,
    status: str,
) -> list[Any]:
    table = runtime.kernel.dead_letters
    filters: list[Any] = []
    if topic:
        filters.append(table.c.topic == topic)
    if reason:
        filters.append(table.c.reason.icontains(reason, autoescape=True))
    if since is not None:
        filters.append(table.c.failed_at >= _utc(since))
    if until is not None:
        filters.append(table.c.failed_at < _utc(until))
    if status != "all":
        if status not in STATUSES:
            raise DeadLetterCommandRefused(f"status must be one of {', '.join(STATUSES)} or all, not {status!r}.")
        filters.append(table.c.status == status)
    return filters


# --- re-driving -------------------------------------------------------------------------

DEFAULT_WAIT_S = 60.0
LONGEST_WAIT_S = 600.0
"""A re-drive waits for the running service at most this long: well within
``CLAIM_ABANDONED_AFTER``, so no other re-drive takes a dead letter over while this one
still waits for it."""

REDRIVE_HEADERS = ("redrive.dead_letter_id", "redrive.by")

TAKEN_FIRST = "another re-drive took it first"


def not_yet_consumed(topic: str) -> str:
    return f"sent back to {topic}; not yet consumed (is the service running?)"


async def redrive(
    runtime: ServiceRuntime,
    *,
    ids: Sequence[int] = (),
    reason: str | None = None,
    topic: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str,
    why: str,
    wait_s: float = DEFAULT_WAIT_S,
    dry_run: bool = False,
) -> list[RedriveResult]:
    """Re-drive the chosen dead letters, oldest first, each exactly once: those named by
    ``ids``, or those waiting to be re-driven that match ``reason`` (any part of it, in
    any case), ``topic`` and the time range ``since`` .. ``until`` (when they failed).
    An inbound one is sent back to its topic for the running service, and this waits up
    to ``wait_s`` seconds for the service to apply it or dead-letter it again.

    Refuses (``DeadLetterCommandRefused``) an unknown id, a dead letter already re-driven
    or being re-driven, one whose record was keyed otherwise than its envelope, a
    selection that matches nothing, a re-drive without who and why, and a broker that
    cannot be reached. A dead letter another re-drive claims first is left to it."""
    by, why = by.strip(), why.strip()
    if not by:
        raise DeadLetterCommandRefused("say who is re-driving (--by): every re-drive is recorded with its officer.")
    if not why:
        raise DeadLetterCommandRefused("say why the cause is now fixed (--why): every re-drive is recorded with it.")
    if not 0 <= wait_s <= LONGEST_WAIT_S:
        raise DeadLetterCommandRefused(
            f"--wait must be from 0 to {LONGEST_WAIT_S:g} seconds; a re-drive that has not heard back by then "
            "says so, and the service still applies the message when it reads it."
        )
    # An empty --reason or --topic would otherwise match every dead letter there is.
    reason, topic = reason or None, topic or None
    by_selection = reason is not None or topic is not None or since is not None or until is not None
    if ids and by_selection:
        raise DeadLetterCommandRefused(
            "choose dead letters either by id or by reason, topic and time, not both at once."
        )
    if ids:
        rows = await _named(runtime, ids)
        for row in rows:
            refusal = _cannot_mend(row)
            if refusal is not None:
                raise DeadLetterCommandRefused(refusal)
    elif by_selection:
        rows = await _selected(runtime, reason=reason, topic=topic, since=since, until=until)
    else:
        raise DeadLetterCommandRefused(
            "choose the dead letters to re-drive: --id, --reason, --topic or --since/--until."
        )
    if dry_run:
        return [_result(row, _cannot_mend(row) or _would_do(row), redriven=False) for row in rows]
    unmendable = {row.id: _cannot_mend(row) for row in rows}
    mendable = [row for row in rows if unmendable[row.id] is None]
    if not mendable:
        raise DeadLetterCommandRefused(" ".join(refusal for refusal in unmendable.values() if refusal is not None))
    done = await _redrive_rows(runtime, mendable, by=by, why=why, wait_s=wait_s)
    if not any(r.redriven for r in done.values()):
        raise DeadLetterCommandRefused(
            "another re-drive took "
            + ("this dead letter" if len(done) == 1 else "every one of these dead letters")
            + " first; nothing was re-driven twice (see `list --status all`)."
        )
    results = []
    for row in rows:
        refusal = unmendable[row.id]
        if refusal is not None:
            results.append(_result(row, refusal, redriven=False))
        elif row.id in done:
            results.append(done[row.id])
    return results


async def _named(runtime: ServiceRuntime, ids: Sequence[int]) -> list[Any]:
    table = runtime.kernel.dead_letters
    wanted = sorted(set(ids))
    async with runtime.db.engine.connect() as conn:
        rows = {row.id: row for row in (await conn.execute(select(table).where(table.c.id.in_(wanted)))).all()}
    now = utc_now()
    for dead_letter_id in wanted:
        row = rows.get(dead_letter_id)
        if row is None:
            raise DeadLetterCommandRefused(_unknown(runtime, dead_letter_id))
        if row.status == REDRIVEN:
            raise DeadLetterCommandRefused(
                f"dead letter #{row.id} was already re-driven {_when(row.redriven_at)} by {row.redriven_by} "
                f"({row.redrive_outcome}); re-driving it again could apply it twice."
            )
        if row.status == REDRIVING and not _abandoned(row, now):
            raise DeadLetterCommandRefused(
                f"dead letter #{row.id} is being re-driven now (by {row.redriven_by}, {_when(row.redriven_at)}); "
                f"if that re-drive was interrupted, it can be taken over "
                f"{int(CLAIM_ABANDONED_AFTER.total_seconds() // 60)} minutes after it started."
            )
    return [rows[i] for i in wanted]


async def _selected(
    runtime: ServiceRuntime,
    *,
    reason: str | None,
    topic: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[Any]:
    table = runtime.kernel.dead_letters
    filters = _filters(runtime, topic=topic, reason=reason, since=since, until=until, status="all")
    waiting = or_(
        table.c.status == DEAD,
        and_(table.c.status == REDRIVING, table.c.redriven_at < _utc(utc_now() - CLAIM_ABANDONED_AFTER)),
    )
    async with runtime.db.engine.connect() as conn:
        rows = list((await conn.execute(select(table).where(*filters, waiting).order_by(table.c.id))).all())
    if not rows:
        asked = ", ".join(
            part
            for part in (
                f"reason containing {reason!r}" if reason else "",
                f"topic {topic}" if topic else "",
                f"failed from {_when(since)}" if since else "",
                f"failed before {_when(until)}" if until else "",
            )
            if part
        )
        raise DeadLetterCommandRefused(f"no dead letter waiting to be re-driven matches {asked}.")
    return rows


def _cannot_mend(row: Any) -> str | None:
    """Why sending this dead letter's bytes again cannot succeed, when that is so: a
    record keyed otherwise than its envelope is refused for its key, and the stored
    record has that same key."""
    if row.direction != INBOUND:
        return None
    named = _json_object(row.payload)
    key = named.get("key") if named is not None else None
    if not isinstance(key, str) or key == row.message_key:
        return None
    return (
        f"dead letter #{row.id} was refused because its record's Kafka key does not match its envelope's key, "
        "and sending the same record again would be refused the same way: the producer must send the event "
        "again, keyed by its account reference (the envelope's key)."
    )


@dataclass(frozen=True)
class _SentBack:
    """An inbound dead letter sent back to its topic, waiting for the service."""

    row: Any
    partition: int
    offset: int
    message_ids: list[str]
    """The inbox ids the service marks the copy with once it has dealt with it."""


async def _redrive_rows(
    runtime: ServiceRuntime, rows: list[Any], *, by: str, why: str, wait_s: float
) -> dict[int, RedriveResult]:
    """Each row claimed and sent in turn (an outbound one straight into the outbox),
    then one wait for the service to deal with all that were sent. A broker that cannot
    be reached stops the sending; those already sent are still waited for and recorded."""
    results: dict[int, RedriveResult] = {}
    waiting: list[_SentBack] = []
    unsent: DeadLetterCommandRefused | None = None
    sender = _Sender(runtime)
    try:
        for row in rows:
            if row.direction == OUTBOUND:
                results[row.id] = await _back_to_outbox(runtime, row, by=by, why=why)
                continue
            try:
                sent = await _send_back(runtime, row, sender, by=by, why=why)
            except DeadLetterCommandRefused as refused:
                unsent = refused
                break
            if isinstance(sent, _SentBack):
                waiting.append(sent)
            else:
                results[row.id] = sent
    finally:
        await sender.close()
    for sent, outcome in await _settle(runtime, waiting, wait_s=wait_s):
        results[sent.row.id] = await _finish(runtime, sent.row, outcome, by=by, why=why, sent=sent)
    if unsent is not None:
        before = [r for r in results.values() if r.redriven]
        if before:
            raise DeadLetterCommandRefused(
                f"{unsent} Re-driven before it: " + ", ".join(f"#{r.id} ({r.outcome})" for r in before) + "."
            )
        raise unsent
    return results


async def _send_back(
    runtime: ServiceRuntime, row: Any, sender: _Sender, *, by: str, why: str
) -> _SentBack | RedriveResult:
    claim = await _claim(runtime, row, by=by, why=why)
    if claim is None:
        return _result(row, TAKEN_FIRST, redriven=False)
    if claim == "taken over":
        # The interrupted re-drive may have sent it already, and the service dealt with
        # it: then that is the outcome, and sending it again would only be absorbed.
        done = await _outcome(runtime, row, _original_ids(row))
        if done is not None:
            return await _finish(runtime, row, done, by=by, why=why)
    try:
        metadata = await sender.send(row, by=by)
    except Exception as exc:
        finished = await _release(runtime, row, by=by, why=why)
        if finished is not None:
            return finished
        raise DeadLetterCommandRefused(
            f"could not send dead letter #{row.id} back to {row.topic} ({describe_failure(exc)}); it waits to be "
            "re-driven as before, once the broker can be reached."
        ) from exc
    partition, offset = int(metadata.partition), int(metadata.offset)
    return _SentBack(row, partition, offset, _copy_ids(row, partition, offset))


@dataclass(frozen=True)
class _Done:
    """What the service made of a message: applied, or dead-lettered again as a row."""

    again: int | None = None
    again_message_id: str | None = None


async def _settle(
    runtime: ServiceRuntime, waiting: list[_SentBack], *, wait_s: float
) -> list[tuple[_SentBack, _Done | None]]:
    """Until the service has dealt with each message sent back, or ``wait_s`` runs out
    (None for those it has not reached)."""
    settled: list[tuple[_SentBack, _Done | None]] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait_s
    pause = 0.05
    while waiting:
        left = []
        for sent in waiting:
            done = await _outcome(runtime, sent.row, sent.message_ids)
            if done is None:
                left.append(sent)
            else:
                settled.append((sent, done))
        waiting = left
        remaining = deadline - loop.time()
        if not waiting or remaining <= 0:
            break
        await asyncio.sleep(min(pause, remaining))
        pause = min(pause * 2, 0.5)
    return settled + [(sent, None) for sent in waiting]


async def _finish(
    runtime: ServiceRuntime,
    row: Any,
    done: _Done | None,
    *,
    by: str,
    why: str,
    sent: _SentBack | None = None,
) -> RedriveResult:
    """The outcome on the row, which is re-driven now whatever became of the message:
    sending it again would be a duplicate its inbox mark absorbs."""
    if done is None:
        outcome = not_yet_consumed(row.topic)
    elif done.again is None:
        outcome = "applied"
    else:
        outcome = f"dead-lettered again as #{done.again}"
        if sent is not None and str(done.again_message_id).startswith("raw:"):
            outcome += f" (still unreadable; sent back as partition {sent.partition} offset {sent.offset})"
    table = runtime.kernel.dead_letters
    async with runtime.db.engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(table.c.id == row.id)
            .values(status=REDRIVEN, redriven_at=utc_now(), redrive_outcome=outcome)
        )
    log.info(
        "dead letter re-driven",
        id=row.id,
        topic=row.topic,
        direction=row.direction,
        by=by,
        why=why,
        outcome=outcome,
        **({"sent_partition": sent.partition, "sent_offset": sent.offset} if sent is not None else {}),
    )
    return _result(
        row,
        outcome,
        redriven=True,
        again=done.again if done is not None else None,
        consumed=done is not None,
    )


async def _claim(runtime: ServiceRuntime, row: Any, *, by: str, why: str) -> str | None:
    """Take the dead letter for this re-drive and forget that the service handled it,
    in one transaction: 'claimed', 'taken over' (from an abandoned re-drive, whose
    inbox state is left as it is), or None when another re-drive has it."""
    table = runtime.kernel.dead_letters
    now = utc_now()
    claim = {"status": REDRIVING, "redriven_at": now, "redriven_by": by, "redrive_reason": why}
    async with runtime.db.engine.begin() as conn:
        claimed = await conn.execute(
            update(table).where(table.c.id == row.id, table.c.status == DEAD).values(**claim).returning(table.c.id)
        )
        if claimed.first() is not None:
            inbox = runtime.kernel.inbox
            await conn.execute(
                delete(inbox).where(
                    inbox.c.consumer == runtime.settings.consumer_group, inbox.c.message_id.in_(_message_ids(row))
                )
            )
            return "claimed"
        taken = await conn.execute(
            update(table)
            .where(
                table.c.id == row.id,
                table.c.status == REDRIVING,
                table.c.redriven_at < _utc(now - CLAIM_ABANDONED_AFTER),
            )
            .values(**claim)
            .returning(table.c.id)
        )
        return "taken over" if taken.first() is not None else None


async def _release(runtime: ServiceRuntime, row: Any, *, by: str, why: str) -> RedriveResult | None:
    """The message could not be sent: put the dead letter back as it was, inbox mark
    included, so a redelivery of the original is not applied behind the dead letter's
    back. Unless the service dealt with the original meanwhile (the broker delivered it
    again between the claim and now): then that is this re-drive's outcome."""
    done = await _outcome(runtime, row, _original_ids(row))
    if done is not None:
        return await _finish(runtime, row, done, by=by, why=why)
    table, inbox = runtime.kernel.dead_letters, runtime.kernel.inbox
    async with runtime.db.engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(table.c.id == row.id, table.c.status == REDRIVING)
            .values(status=DEAD, redriven_at=None, redriven_by=None, redrive_reason=None)
        )
        marks = _message_ids(row)
        if marks:
            await conn.execute(
                insert(inbox).values(
                    consumer=runtime.settings.consumer_group, message_id=marks[0], topic=row.topic, handled_at=utc_now()
                )
            )
    return None


async def _outcome(runtime: ServiceRuntime, row: Any, message_ids: list[str]) -> _Done | None:
    """What the service made of the message, from what it committed: None until it has
    marked one of ``message_ids`` handled; then a newer dead letter of it, if any."""
    if not message_ids:
        return None
    table, inbox = runtime.kernel.dead_letters, runtime.kernel.inbox
    async with runtime.db.engine.connect() as conn:
        # The mark first: the consumer commits a new dead letter with it, so once the
        # mark is seen the dead letter is too, never the other way round.
        marked = (
            await conn.execute(
                select(func.count())
                .select_from(inbox)
                .where(inbox.c.consumer == runtime.settings.consumer_group, inbox.c.message_id.in_(message_ids))
            )
        ).scalar_one()
        if not marked:
            return None
        again = (
            await conn.execute(
                select(table.c.id, table.c.message_id)
                .where(table.c.id > row.id, table.c.direction == INBOUND, table.c.message_id.in_(message_ids))
                .order_by(table.c.id)
                .limit(1)
            )
        ).first()
    return _Done() if again is None else _Done(again=int(again.id), again_message_id=again.message_id)


class _Sender:
    """The re-drive's idempotent producer, started for the first message it sends."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.bootstrap_servers = runtime.settings.kafka_bootstrap_servers
        self.client_id = f"{runtime.settings.consumer_group}-redrive"
        self._producer: AIOKafkaProducer | None = None

    async def send(self, row: Any, *, by: str) -> Any:
        """The original record (its key, bytes and headers) to its topic, with who
        re-drove it from which dead letter; the broker's metadata of where it went."""
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                request_timeout_ms=15000,
            )
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        # A copy dead-lettered again keeps the headers of the re-drive that sent it.
        headers = [(name, value) for name, value in _kafka_headers(row.headers) if name not in REDRIVE_HEADERS]
        headers += [("redrive.dead_letter_id", str(row.id).encode()), ("redrive.by", by.encode())]
        key = row.message_key.encode() if row.message_key is not None else None
        return await self._producer.send_and_wait(row.topic, bytes(row.payload), key=key, headers=headers)

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None


async def _back_to_outbox(runtime: ServiceRuntime, row: Any, *, by: str, why: str) -> RedriveResult:
    table = runtime.kernel.dead_letters
    now = utc_now()
    async with runtime.db.engine.begin() as conn:
        claimed = await conn.execute(
            update(table)
            .where(table.c.id == row.id, table.c.status == DEAD)
            .values(status=REDRIVEN, redriven_at=now, redriven_by=by, redrive_reason=why)
            .returning(table.c.id)
        )
        if claimed.first() is None:
            return _result(row, TAKEN_FIRST, redriven=False)
        outbox_id = await _insert_outbox(conn, runtime, row, now)
        outcome = f"back in the outbox as #{outbox_id}"
        await conn.execute(update(table).where(table.c.id == row.id).values(redrive_outcome=outcome))
    outbox_committed(runtime.db.engine)
    log.info(
        "dead letter re-driven", id=row.id, topic=row.topic, direction=row.direction, by=by, why=why, outcome=outcome
    )
    return _result(row, outcome, redriven=True)


async def _insert_outbox(conn: AsyncConnection, runtime: ServiceRuntime, row: Any, now: datetime) -> int:
    outbox = runtime.kernel.outbox
    # The relay's own dlq.* notes are about the failure, not part of the event.
    headers = {k: v for k, v in (row.headers or {}).items() if not str(k).startswith("dlq.")}
    inserted = await conn.execute(
        insert(outbox)
        .values(topic=row.topic, message_key=row.message_key, payload=row.payload, headers=headers, created_at=now)
        .returning(outbox.c.id)
    )
    return int(inserted.scalar_one())


def _would_do(row: Any) -> str:
    if row.direction == OUTBOUND:
        return "would go back in the outbox"
    return f"would be sent back to {row.topic} for the running service to apply"


def _result(
    row: Any, outcome: str, *, redriven: bool, again: int | None = None, consumed: bool = True
) -> RedriveResult:
    return RedriveResult(
        id=row.id,
        direction=row.direction,
        topic=row.topic,
        event_type=row.event_type,
        outcome=outcome,
        redriven=redriven,
        dead_lettered_again_as=again,
        not_yet_consumed=not consumed,
    )


def _kafka_headers(stored: Any) -> list[tuple[str, bytes]]:
    """The record's headers as the consumer kept them: a name sent more than once holds
    a list of its values."""
    headers: list[tuple[str, bytes]] = []
    for name, value in stored.items() if isinstance(stored, dict) else (stored or []):
        for one in value if isinstance(value, list) else [value]:
            headers.append((str(name), b"" if one is None else str(one).encode()))
    return headers


def _message_ids(row: Any) -> list[str]:
    """The inbox ids the consumer may have marked this message with: its event id, and
    its position, which is its identity while its bytes cannot be read."""
    ids = [row.message_id] if row.message_id else []
    if row.source_partition is not None and row.source_offset is not None:
        ids.append(f"raw:{row.topic}/{row.source_partition}/{row.source_offset}")
    return ids


def _original_ids(row: Any) -> list[str]:
    """The ids the service may mark the original message with, read as it was or as the
    service reads it now."""
    named = _event_id_named(row)
    return _message_ids(row) + ([named] if named else [])


def _copy_ids(row: Any, partition: int, offset: int) -> list[str]:
    """The ids the service marks the copy sent back with: the event id of a readable
    message; for one it could not read, its new position, or the event id its bytes name
    if the service can read them now."""
    if row.message_id and not str(row.message_id).startswith("raw:"):
        return [row.message_id]
    named = _event_id_named(row)
    return [f"raw:{row.topic}/{partition}/{offset}"] + ([named] if named else [])


def _event_id_named(row: Any) -> str | None:
    """The event id an unreadable message's bytes name, if they name one."""
    if not str(row.message_id or "").startswith("raw:"):
        return None
    named = _json_object(row.payload)
    event_id = named.get("event_id") if named is not None else None
    return event_id[:100] if isinstance(event_id, str) and event_id else None


def _json_object(payload: Any) -> dict[str, Any] | None:
    try:
        named = json.loads(bytes(payload))
    except ValueError:
        return None
    return named if isinstance(named, dict) else None


def _abandoned(row: Any, now: datetime) -> bool:
    return row.redriven_at is not None and _aware(row.redriven_at) < now - CLAIM_ABANDONED_AFTER


def _dead_letter(row: Any) -> DeadLetter:
    return DeadLetter(
        id=row.id,
        direction=row.direction,
        topic=row.topic,
        event_type=row.event_type,
        failed_at=_aware(row.failed_at),
        status=row.status,
        reason=row.reason,
        source_partition=row.source_partition,
        source_offset=row.source_offset,
        message_key=row.message_key,
        message_id=row.message_id,
        headers=row.headers,
        consumer=row.consumer,
        redriven_at=_aware(row.redriven_at) if row.redriven_at is not None else None,
        redriven_by=row.redriven_by,
        redrive_reason=row.redrive_reason,
        redrive_outcome=row.redrive_outcome,
        payload=bytes(row.payload),
    )


def _unknown(runtime: ServiceRuntime, dead_letter_id: int) -> str:
    return f"there is no dead letter #{dead_letter_id} in the {runtime.settings.service_name} service's database."


# --- times ------------------------------------------------------------------------------


def _aware(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _utc(moment: datetime) -> datetime:
    # SQLite compares the stored text, written in UTC, so every bound is given in UTC too.
    return _aware(moment).astimezone(UTC)


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "at an unrecorded time"
    return _aware(moment).astimezone(LONDON).strftime("%d %b %Y %H:%M %Z")


def parse_moment(text: str) -> datetime:
    """An ISO date or date and time from the command line; without a zone it is the
    council's local time (Europe/London)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a date or time; write it like 2026-05-03 or 2026-05-03T14:30"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LONDON)
    return moment.astimezone(UTC)


def _age(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m"


# --- the command line -----------------------------------------------------------------


def parser(service: str) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog=f"recovery-{service} dead-letters",
        description="Messages this service could not accept (inbound) and events it could not send "
        "(outbound), kept in its database; re-drive them once the cause is fixed.",
    )
    commands = top.add_subparsers(dest="subcommand", required=True, metavar="list|show|redrive")

    listing = commands.add_parser("list", help="one line per dead letter, oldest first (no payloads)")
    listing.add_argument("--topic", help="only this topic, e.g. billing.charges.v1")
    listing.add_argument("--reason", help="only those whose reason contains this text (any case)")
    listing.add_argument("--since", type=parse_moment, help="failed at or after (ISO; local time if no zone)")
    listing.add_argument("--until", type=parse_moment, help="failed before (ISO; local time if no zone)")
    listing.add_argument("--status", choices=[*STATUSES, "all"], default=DEAD, help="default: dead")
    listing.add_argument("--limit", type=int, default=500, help="at most this many lines (default 500)")

    showing = commands.add_parser("show", help="everything about one dead letter")
    showing.add_argument("id", type=int)
    showing.add_argument(
        "--payload", action="store_true", help="also print the original message (it may hold personal data)"
    )

    redriving = commands.add_parser("redrive", help="apply dead letters again, each exactly once")
    redriving.add_argument(
        "--id", dest="ids", type=int, nargs="+", action="extend", default=[], metavar="ID", help="these dead letters"
    )
    redriving.add_argument("--reason", help="every waiting dead letter whose reason contains this text")
    redriving.add_argument("--topic", help="every waiting dead letter from this topic")
    redriving.add_argument("--since", type=parse_moment, help="every waiting dead letter that failed at or after")
    redriving.add_argument("--until", type=parse_moment, help="every waiting dead letter that failed before")
    redriving.add_argument("--by", required=True, help="who is re-driving (recorded and logged)")
    redriving.add_argument("--why", required=True, help="why the cause is now fixed (recorded and logged)")
    redriving.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"how long to wait for the running service to apply each one (default {DEFAULT_WAIT_S:g})",
    )
    redriving.add_argument("--dry-run", action="store_true", help="say what would be re-driven, change nothing")
    return top


async def run_command(runtime: ServiceRuntime, argv: Sequence[str], *, out: TextIO, err: TextIO) -> int:
    """``dead-letters <argv>`` against the runtime's database; prints for an ops person
    and returns the exit status: 0 done, 2 refused (with the sentence why)."""
    try:
        args = parser(runtime.settings.service_name).parse_args(list(argv))
    except SystemExit as exc:  # argparse has printed what was wrong
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if args.subcommand == "list":
            await _print_list(runtime, args, out)
        elif args.subcommand == "show":
            _print_dead_letter(await show_dead_letter(runtime, args.id), out, payload=args.payload)
        else:
            results = await redrive(
                runtime,
                ids=args.ids,
                reason=args.reason,
                topic=args.topic,
                since=args.since,
                until=args.until,
                by=args.by,
                why=args.why,
                wait_s=args.wait,
                dry_run=args.dry_run,
            )
            _print_redrive(results, out, dry_run=args.dry_run)
    except DeadLetterCommandRefused as refused:
        print(f"Refused: {refused}", file=err)
        return 2
    return 0


def command(runtime: ServiceRuntime, argv: Sequence[str]) -> int:
    """``recovery-<service> dead-letters ...`` (from ``serve``): the exit status."""

    async def run() -> int:
        try:
            return await run_command(runtime, argv, out=sys.stdout, err=sys.stderr)
        finally:
            await runtime.db.dispose()

    return asyncio.run(run())


async def _print_list(runtime: ServiceRuntime, args: argparse.Namespace, out: TextIO) -> None:
    filters = {
        "topic": args.topic,
        "reason": args.reason,
        "since": args.since,
        "until": args.until,
        "status": args.status,
    }
    lines = await list_dead_letters(runtime, **filters, limit=args.limit)
    total = await count_dead_letters(runtime, **filters)
    if not lines:
        which = {"all": "dead letters", DEAD: "dead letters waiting to be re-driven"}.get(
            args.status, f"{args.status} dead letters"
        )
        print(f"No {which} match.", file=out)
        return
    now = utc_now()
    rows = [
        (
            f"#{d.id}",
            d.direction,
            d.topic,
            d.event_type or "-",
            _age(d.failed_at, now),
            d.status,
            _truncated(d.reason),
        )
        for d in lines
    ]
    heading = ("id", "direction", "topic", "event type", "age", "status", "reason")
    widths = [max(len(r[i]) for r in [heading, *rows]) for i in range(len(heading) - 1)]
    for r in [heading, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1], file=out)
    more = f" (first {len(lines)} shown; narrow it with --topic, --reason, --since)" if total > len(lines) else ""
    print(f"{total} dead letter{'s' if total != 1 else ''}{more}.", file=out)


def _print_dead_letter(d: DeadLetter, out: TextIO, *, payload: bool) -> None:
    fields: list[tuple[str, Any]] = [
        ("dead letter", f"#{d.id}"),
        ("direction", d.direction),
        ("status", d.status),
        ("topic", d.topic),
        ("partition", d.source_partition),
        ("offset", d.source_offset),
        ("key", d.message_key),
        ("message id", d.message_id),
        ("event type", d.event_type),
        ("consumer", d.consumer),
        ("failed at", _when(d.failed_at)),
        ("reason", d.reason),
        ("headers", json.dumps(d.headers, sort_keys=True)),
        ("payload", f"{len(d.payload)} bytes" + ("" if payload else " (not shown; add --payload to see it)")),
    ]
    if d.status != DEAD:
        fields += [
            ("re-driven at", _when(d.redriven_at)),
            ("re-driven by", d.redriven_by),
            ("why", d.redrive_reason),
            ("outcome", d.redrive_outcome or "not finished"),
        ]
    for label, value in fields:
        print(f"{label + ':':<14}{'-' if value is None else value}", file=out)
    if payload:
        try:
            text = d.payload.decode("utf-8")
        except UnicodeDecodeError:
            text = "(not UTF-8; base64) " + base64.b64encode(d.payload).decode()
        print(text, file=out)


def _print_redrive(results: list[RedriveResult], out: TextIO, *, dry_run: bool) -> None:
    if dry_run:
        chosen = f"{len(results)} dead letter{'s' if len(results) != 1 else ''}"
        print(f"Dry run: {chosen} chosen; nothing changed.", file=out)
    for r in results:
        print(f"  #{r.id}  {r.direction}  {r.topic}  {r.event_type or '-'}  {r.outcome}", file=out)
    if dry_run:
        return
    done = [r for r in results if r.redriven]
    applied = sum(1 for r in done if r.outcome == "applied")
    again = [r for r in done if r.dead_lettered_again_as is not None]
    unread = sum(1 for r in done if r.not_yet_consumed)
    outbox = sum(1 for r in done if r.direction == OUTBOUND)
    taken = sum(1 for r in results if not r.redriven and r.outcome == TAKEN_FIRST)
    refused = len(results) - len(done) - taken
    parts = [f"{applied} applied"]
    if again:
        ids = ", ".join(f"#{r.dead_lettered_again_as}" for r in again)
        parts.append(f"{len(again)} dead-lettered again, the cause not fixed ({ids}: see `show`)")
    if unread:
        parts.append(
            f"{unread} sent back but not yet consumed (is the service running? it applies them when it reads them)"
        )
    if outbox:
        parts.append(f"{outbox} back in the outbox for the running service's relay to send")
    if taken:
        parts.append(f"{taken} left to another re-drive that took them first")
    if refused:
        parts.append(
            f"{refused} refused, the record keyed otherwise than its envelope (the producer must send it again)"
        )
    print(f"Re-driven {len(done)} of {len(results)}: " + "; ".join(parts) + ".", file=out)


def _truncated(reason: str) -> str:
    flat = " ".join(reason.split())
    return flat if len(flat) <= REASON_WIDTH else flat[: REASON_WIDTH - 1] + "…"
