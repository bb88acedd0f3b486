"""A unit of work: one transaction that carries the state change, the inbox marks
for the events it handled, and the events it will publish.

Each service subclasses ``SqlUnitOfWork`` and hands out its repositories from it
(``async with runtime.unit() as ledger: ledger.debts...``), as in cosmicpython's
``with uow: uow.products.get(sku)``. ``UnitOfWork`` itself knows nothing of
storage: the unit tests' fake units of work keep the same contract in memory.

Nothing reaches Kafka until this commits; the outbox relay sends it afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Column, func, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from recovery_shared.clock import utc_now
from recovery_shared.contracts import topic_of
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.messaging.bulk import insert_rows
from recovery_shared.messaging.db import Database
from recovery_shared.messaging.errors import safe_text
from recovery_shared.messaging.outbox import outbox_committed
from recovery_shared.messaging.records import Flushable
from recovery_shared.messaging.tables import KernelTables

# An outbox row as written: topic, key, payload and headers (JSON text).
_Raw = tuple[str, str | None, bytes, str]

_COLUMNS = "topic, message_key, payload, headers, created_at"


@dataclass(frozen=True)
class DeadLetter:
    """A message a service could not accept, kept whole in its own database: the
    original bytes stay there, and only a reference to the row goes on the topic."""

    direction: str
    """'inbound' (a message read) or 'outbound' (an event that could not be sent)."""
    topic: str
    payload: bytes
    reason: str
    failed_at: datetime
    source_partition: int | None = None
    source_offset: int | None = None
    message_key: str | None = None
    message_id: str | None = None
    """The inbox id it is marked handled under, so a re-drive can find that mark."""
    event_type: str | None = None
    headers: dict[str, object] = field(default_factory=dict)


class UnitOfWork:
    """What every unit of work does, whatever it stores into."""

    publishable: frozenset[type[Envelope]] | None = None
    """The event types the service declares it publishes (its route table); None
    where a unit stands alone (a unit test)."""

    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self.cause: Envelope | None = None
        self.events: list[Envelope] = []
        """Events published in this unit, not yet committed."""
        self.raw: list[_Raw] = []
        self.handled: list[tuple[str, str]] = []
        self._today: date | None = None
        self._committed = False

    # --- publishing -------------------------------------------------------

    def publish(self, event: Envelope) -> None:
        """Queue ``event`` for its topic; it goes out only if this unit commits."""
        if self.publishable is not None and type(event) not in self.publishable:
            raise TypeError(f"{type(event).__name__} is not in this service's route table publications")
        if self.cause is not None and event.causation_id is None:
            event = event.caused_by(self.cause)
        self.events.append(event)

    def publish_raw(self, topic: str, key: str | None, payload: bytes, headers: dict[str, str]) -> None:
        """Bytes as they are (a dead letter's reference to the row keeping the original).
        Written to the outbox ahead of the unit's events: raw messages go to other
        topics than events."""
        self.raw.append((topic, key, payload, json.dumps(headers)))

    # --- inbox ------------------------------------------------------------

    async def already_handled(self, message_ids: list[str]) -> set[str]:
        raise NotImplementedError

    def mark_handled(self, message_id: str, topic: str) -> None:
        self.handled.append((message_id, topic))

    # --- dead letters -------------------------------------------------------

    async def keep_dead_letter(self, letter: DeadLetter) -> int:
        """Keep ``letter`` in this unit's transaction and answer its id, which the
        reference put on the dead-letter topic names."""
        raise NotImplementedError

    # --- business clock ---------------------------------------------------

    async def today(self) -> date | None:
        """The latest business date this service has been told about, if any."""
        raise NotImplementedError

    async def advance_business_date(self, business_date: date) -> bool:
        """Move this service's business date forward; a date in the past changes nothing."""
        raise NotImplementedError

    # --- the transaction ----------------------------------------------------

    async def flush(self) -> None:
        """Write the repositories' changes so far (before a query that must see them)."""

    def encode_outbox(self) -> None:
        """Turn the events published so far into outbox rows in memory, without touching
        the database: a use case can do this while a long statement of its runs."""

    async def commit(self) -> None:
        self._committed = True

    async def rollback(self) -> None:
        self.events = []
        self.raw = []
        self.handled = []
        self._today = None

    async def __aenter__(self) -> Self:
        self._committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if not self._committed:
            await self.rollback()


class SqlUnitOfWork(UnitOfWork):
    """A unit of work on the service's database. Subclasses create their
    repositories in ``open_repositories`` and ``track`` every record set there,
    parents before children: that is the order they are written in."""

    def __init__(self, db: Database, kernel: KernelTables, consumer: str) -> None:
        super().__init__(consumer)
        self.db = db
        self.kernel = kernel
        self._session: AsyncSession | None = None
        self._tracked: list[Flushable] = []
        self._wrote_outbox = False

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            raise RuntimeError("a unit of work is used inside 'async with'")
        return self._session

    @property
    def is_postgres(self) -> bool:
        return not self.db.is_sqlite

    def open_repositories(self) -> None:
        """Create this service's repositories (called on entering the unit)."""

    def track(self, records: Flushable) -> None:
        self._tracked.append(records)

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self._session = self.db.new_session()
        self._tracked = []
        self.open_repositories()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            if self._session is not None:
                await self._session.close()
                self._session = None

    # --- inbox ------------------------------------------------------------

    async def already_handled(self, message_ids: list[str]) -> set[str]:
        if not message_ids:
            return set()
        inbox = self.kernel.inbox
        seen: set[str] = set()
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            rows = await self.session.execute(
                select(inbox.c.message_id).where(inbox.c.consumer == self.consumer, inbox.c.message_id.in_(chunk))
            )
            seen.update(r[0] for r in rows)
        return seen

    # --- dead letters -------------------------------------------------------

    async def keep_dead_letter(self, letter: DeadLetter) -> int:
        table = self.kernel.dead_letters
        # Whatever a careless producer sent must fit, or the dead letter would fail
        # as the message did and the partition would stop after all.
        row = {
            "direction": letter.direction,
            "topic": _fits(letter.topic, table.c.topic),
            "source_partition": letter.source_partition,
            "source_offset": letter.source_offset,
            "message_key": _fits(letter.message_key, table.c.message_key),
            "message_id": _fits(letter.message_id, table.c.message_id),
            "event_type": _fits(letter.event_type, table.c.event_type),
            "payload": letter.payload,
            "headers": _storable(letter.headers),
            "reason": _fits(letter.reason, table.c.reason),
            "consumer": _fits(self.consumer, table.c.consumer),
            "failed_at": letter.failed_at,
            "status": "dead",
        }
        result = await self.session.execute(insert(table).values(row).returning(table.c.id))
        return int(result.scalar_one())

    # --- business clock ---------------------------------------------------

    async def today(self) -> date | None:
        if self._today is None:
            row = await self.session.execute(select(self.kernel.business_clock.c.business_date).limit(1))
            self._today = row.scalar_one_or_none()
        return self._today

    async def advance_business_date(self, business_date: date) -> bool:
        clock = self.kernel.business_clock
        current = await self.today()
        if current is not None and business_date <= current:
            return False
        if current is None:
            await self.session.execute(insert(clock).values(id=1, business_date=business_date, updated_at=utc_now()))
        else:
            await self.session.execute(
                update(clock).where(clock.c.id == 1).values(business_date=business_date, updated_at=utc_now())
            )
        self._today = business_date
        return True

    # --- the transaction ----------------------------------------------------

    async def flush(self) -> None:
        for records in self._tracked:
            await records.flush(self.session)

    def encode_outbox(self) -> None:
        for event in self.events:
            headers = _headers(event.type, event.schema_version)
            self.raw.append((topic_of(type(event)), event.key, event.to_bytes(), headers))
        self.events = []

    async def flush_outbox(self) -> None:
        """Write the events queued so far to the outbox (same transaction). A use case
        that publishes tens of thousands at once calls this as it goes, so they are
        not all held in memory until commit."""
        self.encode_outbox()
        rows, self.raw = self.raw, []
        if rows:
            await self._write_outbox(rows)
            self._wrote_outbox = True

    async def commit(self) -> None:
        self._wrote_outbox = False
        await self.flush()
        if self.handled:
            now = utc_now()
            await insert_rows(
                self.session,
                self.kernel.inbox,
                ("consumer", "message_id", "topic", "handled_at"),
                [(self.consumer, message_id, topic, now) for message_id, topic in self.handled],
            )
            self.handled = []
        await self.flush_outbox()
        await self.session.commit()
        await super().commit()
        if self._wrote_outbox:
            # Whoever commits (a consumer, an officer's request), the relay hears of it
            # at once rather than at its next poll.
            outbox_committed(self.session.bind)

    async def rollback(self) -> None:
        await super().rollback()
        for records in self._tracked:
            records.reset()
        if self._session is not None:
            await self._session.rollback()

    async def _write_outbox(self, rows: list[_Raw]) -> None:
        """Outbox rows through the driver's bulk path: COPY on PostgreSQL, executemany
        on SQLite, stored exactly as the Core table's types would store them."""
        outbox = self.kernel.outbox
        conn = await self.session.connection()
        dialect = conn.dialect
        created_at = utc_now()
        if dialect.name == "postgresql":
            raw = await conn.get_raw_connection()
            driver: Any = raw.driver_connection
            async with (
                driver.cursor() as cursor,
                cursor.copy(f"COPY {outbox.name} ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                # Binary COPY: the headers go as their JSON text and the server parses them.
                copy.set_types(["text", "text", "bytea", "text", "timestamptz"])
                for topic, key, payload, headers in rows:
                    await copy.write_row((topic, key, payload, headers, created_at))
            return
        if dialect.name == "sqlite":
            # The stored form of a DateTime on SQLite is the dialect's own text format.
            stamp = outbox.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
            stored_at = stamp(created_at) if stamp is not None else created_at
            await conn.exec_driver_sql(
                f"INSERT INTO {outbox.name} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
                [(topic, key, payload, headers, stored_at) for topic, key, payload, headers in rows],
            )
            return
        await conn.execute(
            insert(outbox),
            [
                {
                    "topic": topic,
                    "message_key": key,
                    "payload": payload,
                    "headers": json.loads(headers),
                    "created_at": created_at,
                }
                for topic, key, payload, headers in rows
            ],
        )


def _fits(text: str | None, column: Column[Any]) -> str | None:
    """``text`` as the column can store it: PostgreSQL's text types refuse NUL, and no
    driver can encode a lone surrogate."""
    if text is None:
        return None
    return safe_text(text, getattr(column.type, "length", None) or len(text))


def _storable(value: object) -> object:
    """A dead letter's headers as a JSON column takes them: PostgreSQL's jsonb refuses
    an escaped NUL or lone surrogate as its text does."""
    if isinstance(value, str):
        return safe_text(value, len(value))
    if isinstance(value, dict):
        return {str(_storable(str(k))): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


@cache
def _headers(event_type: str, schema_version: int) -> str:
    return json.dumps({"type": event_type, "schema_version": str(schema_version)})


async def outbox_depth(session: AsyncSession, kernel: KernelTables) -> int:
    result = await session.execute(select(func.count()).select_from(kernel.outbox))
    return int(result.scalar_one())
