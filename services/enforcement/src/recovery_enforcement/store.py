"""All of enforcement's queries."""

from __future__ import annotations

from recovery_enforcement.models import RecoveryCase
from recovery_shared.messaging.unit_of_work import UnitOfWork


class Cases:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def case(self, case_id: str) -> RecoveryCase | None:
        return await self.session.get(RecoveryCase, case_id)

    def add(self, case: RecoveryCase) -> None:
        self.session.add(case)
