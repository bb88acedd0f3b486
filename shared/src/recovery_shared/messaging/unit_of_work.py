"""A unit of work: one database transaction that carries the state change, the
inbox marks for the events it handled, and the outbox rows it will publish.

Nothing reaches Kafka until this commits; the relay sends the outbox afterwards.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from recovery_shared.clock import utc_now
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.messaging.tables import KernelTables


class UnitOfWork:
    def __init__(self, session: AsyncSession, kernel: KernelTables, consumer: str) -> None:
        self.session = session
        self.kernel = kernel
        self.consumer = consumer
        self._outbox: list[dict[str, Any]] = []
        self._handled: list[dict[str, Any]] = []
        self._today: date | None = None
        self.cause: Envelope | None = None

    # --- publishing -------------------------------------------------------

    def publish(self, topic: str, event: Envelope) -> None:
        """Queue ``event`` for ``topic``; it goes out only if this unit commits."""
        if self.cause is not None and event.causation_id is None:
            event = event.caused_by(self.cause)
        headers = {"type": event.type, "schema_version": str(event.schema_version)}
        self._outbox.append(
            {
                "topic": topic,
                "message_key": event.key,
                "payload": event.to_bytes(),
                "headers": headers,
                "created_at": utc_now(),
            }
        )

    def publish_raw(self, topic: str, key: str | None, payload: bytes, headers: dict[str, str]) -> None:
        self._outbox.append(
            {
                "topic": topic,
                "message_key": key,
                "payload": payload,
                "headers": headers,
                "created_at": utc_now(),
            }
        )

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
            await self.session.execute(insert(self.kernel.outbox), self._outbox)
            self._outbox = []

    async def commit(self) -> None:
        await self.flush_kernel_rows()
        await self.session.commit()

    async def rollback(self) -> None:
        self._outbox = []
        self._handled = []
        self._today = None
        await self.session.rollback()


async def outbox_depth(session: AsyncSession, kernel: KernelTables) -> int:
    result = await session.execute(select(func.count()).select_from(kernel.outbox))
    return int(result.scalar_one())
