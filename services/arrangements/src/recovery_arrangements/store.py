"""All of arrangements' queries."""

from __future__ import annotations

from recovery_arrangements.models import Debt
from recovery_shared.messaging.unit_of_work import UnitOfWork


class Plans:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def debt(self, debt_id: str) -> Debt | None:
        return await self.session.get(Debt, debt_id)

    def add_debt(self, debt: Debt) -> None:
        self.session.add(debt)
