"""A unit of work: one database transaction that carries the state change, the
inbox marks for the events it handled, and the outbox rows it will publish.

Nothing reaches Kafka until this commits; the relay sends the outbox afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from recovery_shared.clock import utc_now
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.messaging.outbox import outbox_committed
from recovery_shared.messaging.tables import KernelTables

# An outbox row as queued: topic, key, payload and headers (already JSON).
_Queued = tuple[str, str | None, bytes, str]

_COLUMNS = "topic, message_key, payload, headers, created_at"


class UnitOfWork:
    def __init__(self, session: AsyncSession, kernel: KernelTables, consumer: str) -> None:
        self.session = session
        self.kernel = kernel
        self.consumer = consumer
        self._outbox: list[_Queued] = []
        self._wrote_outbox = False
        self._handled: list[dict[str, Any]] = []
        self._today: date | None = None
        self.cause: Envelope | None = None

    # --- publishing -------------------------------------------------------

    def publish(self, topic: str, event: Envelope) -> None:
        """Queue ``event`` for ``topic``; it goes out only if this unit commits."""
        if self.cause is not None and event.causation_id is None:
            event = event.caused_by(self.cause)
        headers = {"type": event.type, "schema_version": str(event.schema_version)}
        self._outbox.append((topic, event.key, event.to_bytes(), json.dumps(headers)))

    def publish_raw(self, topic: str, key: str | None, payload: bytes, headers: dict[str, str]) -> None:
        self._outbox.append((topic, key, payload, json.dumps(headers)))

    def publish_many(
        self, topic: str, event_type: str, messages: Iterable[tuple[str, bytes]], *, schema_version: int = 1
    ) -> int:
        """Queue many already-encoded events of one type, as (key, envelope bytes), for
        ``topic``; returns how many. For a use case that emits thousands at once and
        builds the bytes itself: the caller vouches that each payload is a valid
        ``event_type`` envelope (``recovery_shared.contracts.parse`` accepts it) and
        carries the causation chain (``chain_ids``)."""
        headers = json.dumps({"type": event_type, "schema_version": str(schema_version)})
        before = len(self._outbox)
        self._outbox.extend([(topic, key, payload, headers) for key, payload in messages])
        return len(self._outbox) - before

    def chain_ids(self) -> tuple[str | None, str | None]:
        """(correlation_id, causation_id) for events caused by the one being handled,
        as ``publish`` would set them; (None, None) outside a consumer."""
        if self.cause is None:
            return None, None
        return str(self.cause.correlation_id or self.cause.event_id), str(self.cause.event_id)

    @property
    def pending_outbox(self) -> int:
        return len(self._outbox)

    # --- inbox ------------------------------------------------------------

    async def already_handled(self, message_ids: list[str]) -> set[str]:
        if not message_ids:
            return set()
        inbox = self.kernel.inbox
        seen: set[str] = set()
        # Chunk to stay under SQLite's bound-parameter limit.
        for start in range(0, len(message_ids), 500):
            chunk = message_ids[start : start + 500]
            rows = await self.session.execute(
                select(inbox.c.message_id).where(inbox.c.consumer == self.consumer, inbox.c.message_id.in_(chunk))
            )
            seen.update(r[0] for r in rows)
        return seen

    def mark_handled(self, message_id: str, topic: str) -> None:
        self._handled.append(
            {"consumer": self.consumer, "message_id": message_id, "topic": topic, "handled_at": utc_now()}
        )

    # --- business clock ---------------------------------------------------

    async def today(self) -> date | None:
        """The latest business date this service has been told about, if any."""
        if self._today is None:
            row = await self.session.execute(select(self.kernel.business_clock.c.business_date).limit(1))
            self._today = row.scalar_one_or_none()
        return self._today

    async def advance_business_date(self, business_date: date) -> bool:
        """Move this service's business date forward; a date in the past changes nothing."""
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

    # --- commit -----------------------------------------------------------

    async def flush_kernel_rows(self) -> None:
        if self._handled:
            await self.session.execute(insert(self.kernel.inbox), self._handled)
            self._handled = []
        if self._outbox:
            rows, self._outbox = self._outbox, []
            await self._write_outbox(rows)
            self._wrote_outbox = True

    async def _write_outbox(self, rows: list[_Queued]) -> None:
        """Insert outbox rows with the driver's bulk path, without SQLAlchemy's per-row
        parameter processing: COPY on PostgreSQL, executemany on SQLite. The values are
        stored exactly as the Core table's types would store them."""
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

    async def commit(self) -> None:
        await self.flush_kernel_rows()
        await self.session.commit()
        if self._wrote_outbox:
            self._wrote_outbox = False
            # Whoever commits (a consumer, an officer's request), the relay hears of it at
            # once rather than at its next poll.
            outbox_committed(self.session.bind)

    async def rollback(self) -> None:
        self._outbox = []
        self._wrote_outbox = False
        self._handled = []
        self._today = None
        await self.session.rollback()


async def outbox_depth(session: AsyncSession, kernel: KernelTables) -> int:
    result = await session.execute(select(func.count()).select_from(kernel.outbox))
    return int(result.scalar_one())
