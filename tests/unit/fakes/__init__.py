"""Fake units of work: every use case unit-tested without a database or a broker.

``FakeUnitOfWork`` keeps the kernel's side of a unit (inbox, business clock,
published events, dead letters) in memory; each service's fake adds in-memory repositories
with the same methods as its real ones (``fakes/<service>.py``).
"""

from __future__ import annotations

from datetime import date

from recovery_shared.messaging.unit_of_work import DeadLetter, UnitOfWork


class FakeUnitOfWork(UnitOfWork):
    def __init__(self, consumer: str = "test") -> None:
        super().__init__(consumer)
        self.inbox: set[str] = set()
        self.business_date: date | None = None
        self.committed: list[object] = []
        """Every event published by a committed unit, in order."""
        self.commits = 0
        self.dead_letters: list[tuple[int, DeadLetter]] = []
        """Every dead letter a committed unit kept, with its id."""
        self._pending_dead_letters: list[tuple[int, DeadLetter]] = []
        self._last_dead_letter_id = 0

    async def already_handled(self, message_ids: list[str]) -> set[str]:
        return self.inbox & set(message_ids)

    async def keep_dead_letter(self, letter: DeadLetter) -> int:
        # Ids are not reused after a rollback, as a database's sequence would not.
        self._last_dead_letter_id += 1
        self._pending_dead_letters.append((self._last_dead_letter_id, letter))
        return self._last_dead_letter_id

    async def today(self) -> date | None:
        return self.business_date

    async def advance_business_date(self, business_date: date) -> bool:
        if self.business_date is not None and business_date <= self.business_date:
            return False
        self.business_date = business_date
        return True

    async def commit(self) -> None:
        self.inbox.update(message_id for message_id, _ in self.handled)
        self.handled = []
        self.committed.extend(self.events)
        self.events = []
        self.raw = []
        self.dead_letters.extend(self._pending_dead_letters)
        self._pending_dead_letters = []
        self.commits += 1
        await super().commit()

    async def rollback(self) -> None:
        self._pending_dead_letters = []
        await super().rollback()

    def published(self, event_type: type) -> list:  # type: ignore[type-arg]
        """Committed and pending events of one type, in order."""
        return [e for e in [*self.committed, *self.events] if isinstance(e, event_type)]
