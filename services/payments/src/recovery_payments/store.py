"""All of payments' queries, behind one repository per unit of work."""

from __future__ import annotations

from datetime import date

from sqlalchemy import delete, func
from sqlmodel import col, select

from recovery_payments.models import AllocationLine, Debt, DebtInstalment, Receipt
from recovery_shared.messaging.unit_of_work import UnitOfWork


class Ledger:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def debt(self, debt_id: str) -> Debt | None:
        return await self.session.get(Debt, debt_id)

    def add(self, row: Debt | Receipt | AllocationLine | DebtInstalment) -> None:
        self.session.add(row)

    async def debts_for_account(self, account_ref: str) -> list[Debt]:
        result = await self.session.exec(select(Debt).where(Debt.account_ref == account_ref))
        return list(result.all())

    async def account_exists(self, account_ref: str) -> bool:
        result = await self.session.exec(select(Debt.debt_id).where(Debt.account_ref == account_ref).limit(1))
        return result.first() is not None

    async def instalment_amounts(self, debt_ids: list[str]) -> dict[str, frozenset[int]]:
        if not debt_ids:
            return {}
        result = await self.session.exec(
            select(DebtInstalment.debt_id, DebtInstalment.amount_pence).where(col(DebtInstalment.debt_id).in_(debt_ids))
        )
        amounts: dict[str, set[int]] = {}
        for debt_id, amount in result.all():
            amounts.setdefault(debt_id, set()).add(amount)
        return {k: frozenset(v) for k, v in amounts.items()}

    async def replace_instalments(self, debt_id: str, schedule: list[tuple[date, int]]) -> None:
        await self.session.exec(delete(DebtInstalment).where(col(DebtInstalment.debt_id) == debt_id))
        for due_date, amount in schedule:
            self.session.add(DebtInstalment(debt_id=debt_id, due_date=due_date, amount_pence=amount))

    async def receipt(self, channel: str, receipt_ref: str) -> Receipt | None:
        return await self.session.get(Receipt, (channel, receipt_ref))

    async def receipt_by_ref(self, receipt_ref: str) -> Receipt | None:
        result = await self.session.exec(select(Receipt).where(Receipt.receipt_ref == receipt_ref))
        return result.first()

    async def suspended_for_reference(self, reference: str) -> list[Receipt]:
        result = await self.session.exec(
            select(Receipt)
            .where(Receipt.status == "suspended", Receipt.payer_reference == reference)
            .order_by(col(Receipt.received_on), col(Receipt.receipt_ref))
        )
        return list(result.all())

    async def net_allocation(self, channel: str, receipt_ref: str) -> dict[str | None, int]:
        """What a receipt currently has on each debt (None = account credit), after any reversals."""
        result = await self.session.exec(
            select(AllocationLine.debt_id, func.sum(AllocationLine.amount_pence))
            .where(AllocationLine.channel == channel, AllocationLine.receipt_ref == receipt_ref)
            .group_by(col(AllocationLine.debt_id))
        )
        return {debt_id: int(total) for debt_id, total in result.all() if int(total) != 0}
