"""All of payments' queries, behind one repository per unit of work."""

from __future__ import annotations

from recovery_shared.messaging.unit_of_work import UnitOfWork
from sqlmodel import select

from recovery_payments.models import Debt


class Ledger:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def debt(self, debt_id: str) -> Debt | None:
        return await self.session.get(Debt, debt_id)

    def add_debt(self, debt: Debt) -> None:
        self.session.add(debt)

    async def debts_for_account(self, account_ref: str) -> list[Debt]:
        result = await self.session.exec(select(Debt).where(Debt.account_ref == account_ref))
        return list(result.all())
