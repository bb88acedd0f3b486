"""All of payments' queries, behind one repository per unit of work."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from operator import itemgetter
from typing import Any, TypeVar, cast

from sqlalchemy import ARRAY, BigInteger, ColumnElement, String, Table, any_, bindparam, delete, func, text, update
from sqlalchemy import select as core_select
from sqlmodel import col, select

from recovery_payments.models import AllocationLine, Debt, DebtInstalment, Receipt
from recovery_shared.messaging.bulk import insert_rows
from recovery_shared.messaging.unit_of_work import UnitOfWork

DEBTS = cast(Table, Debt.__table__)  # type: ignore[attr-defined]
RECEIPTS = cast(Table, Receipt.__table__)  # type: ignore[attr-defined]
LINES = cast(Table, AllocationLine.__table__)  # type: ignore[attr-defined]

# Keys per IN list on SQLite: a default batch (500 receipts) takes one query
# each, and a much larger configured batch stays far under the bound-parameter limit.
_IN_CHUNK = 2000

T = TypeVar("T")


def _chunks(values: Collection[T]) -> Iterator[list[T]]:
    items = list(values)
    for start in range(0, len(items), _IN_CHUNK):
        yield items[start : start + _IN_CHUNK]


@dataclass(slots=True)
class DebtFigures:
    """A debt's figures as read for a batch of receipts. What the batch pays is
    added to ``paid_pence`` as it goes, so a later receipt in the same batch sees
    the balance an earlier one left, exactly as it would one message at a time."""

    debt_id: str
    account_ref: str
    debt_type: str
    financial_year: str | None
    bill_issued_on: date
    charged_pence: int
    costs_pence: int
    paid_pence: int
    written_off_pence: int

    @property
    def balance_pence(self) -> int:
        return self.charged_pence + self.costs_pence - self.paid_pence - self.written_off_pence


class Ledger:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session
        bind = uow.session.bind
        self._postgres = bind is not None and bind.dialect.name == "postgresql"

    def _one_of(self, column: Any, values: Collection[Any]) -> list[ColumnElement[bool]]:
        """``column IN values`` as one condition per query to run. On PostgreSQL a
        single array parameter: the statement text (so SQLAlchemy's and psycopg's
        caches) is the same however many keys a batch has, and there is no limit."""
        if not values:
            return []
        if self._postgres:
            return [column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))]
        return [column.in_(chunk) for chunk in _chunks(values)]

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
        amounts: dict[str, set[int]] = {}
        # An ORM select, not Core, so the session flushes a schedule added
        # earlier in this unit of work before it is read.
        for condition in self._one_of(col(DebtInstalment.debt_id), debt_ids):
            result = await self.session.exec(
                # Only the distinct amounts matter: a schedule repeats one amount.
                select(DebtInstalment.debt_id, DebtInstalment.amount_pence).where(condition).distinct()
            )
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

    # --- bulk reads and writes for a batch of receipts -----------------------

    async def receipts_on_file(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, date, str]]:
        """(amount, received on, channel) of each (channel, receipt_ref) the ledger already holds."""
        r = RECEIPTS.c
        wanted = set(keys)
        channels = {channel for channel, _ in wanted}
        found: dict[tuple[str, str], tuple[int, date, str]] = {}
        # Both key columns as IN lists use the primary key index in one query on
        # either database; the few same-reference-other-channel rows this also
        # matches are dropped here.
        for condition in self._one_of(r.receipt_ref, {ref for _, ref in wanted}):
            result = await self.session.execute(
                core_select(r.channel, r.receipt_ref, r.amount_pence, r.received_on).where(
                    r.channel.in_(channels), condition
                )
            )
            for row in result.all():
                key = (str(row.channel), str(row.receipt_ref))
                if key in wanted:
                    found[key] = (int(row.amount_pence), row.received_on, key[0])
        return found

    async def debts_for_receipts(
        self, references: Collection[str], directed_debt_ids: Collection[str]
    ) -> list[DebtFigures]:
        """Every debt on an account that one of ``references`` names, or that holds
        one of ``directed_debt_ids``: all an allocation may touch or must rule out."""
        d = DEBTS.c
        columns = (
            d.debt_id,
            d.account_ref,
            d.debt_type,
            d.financial_year,
            d.bill_issued_on,
            d.charged_pence,
            d.costs_pence,
            d.paid_pence,
            d.written_off_pence,
        )
        found: dict[str, DebtFigures] = {}
        conditions = self._one_of(d.account_ref, references)
        conditions += [
            d.account_ref.in_(core_select(d.account_ref).where(directed).scalar_subquery())
            for directed in self._one_of(d.debt_id, directed_debt_ids)
        ]
        for condition in conditions:
            for row in (await self.session.execute(core_select(*columns).where(condition))).all():
                found.setdefault(row.debt_id, DebtFigures(*cast(tuple[Any, ...], row)))
        return list(found.values())

    async def record_receipts(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await _insert(self, RECEIPTS, rows)

    async def record_allocation_lines(self, rows: Sequence[Mapping[str, Any]]) -> None:
        await _insert(self, LINES, rows)

    async def add_payments(self, paid: Mapping[str, int], at: datetime) -> None:
        """Add what a batch paid to each debt. An increment rather than the figure
        read earlier, so a change another consumer made meanwhile is kept."""
        if not paid:
            return
        d = DEBTS.c
        if self._postgres:
            # One statement for the whole batch, the amounts as two parallel arrays.
            await self.session.execute(
                text(
                    "UPDATE debt SET paid_pence = debt.paid_pence + batch.paid_now, updated_at = :at "
                    "FROM unnest(:debt_ids, :amounts) AS batch(debt_id, paid_now) WHERE debt.debt_id = batch.debt_id"
                ).bindparams(
                    bindparam("debt_ids", list(paid), type_=ARRAY(String())),
                    bindparam("amounts", list(paid.values()), type_=ARRAY(BigInteger())),
                    bindparam("at", at, type_=d.updated_at.type),
                )
            )
            return
        statement = (
            update(DEBTS)
            .where(d.debt_id == bindparam("paid_debt_id"))
            .values(paid_pence=d.paid_pence + bindparam("paid_now", type_=d.paid_pence.type), updated_at=at)
        )
        await self.session.execute(
            statement, [{"paid_debt_id": debt_id, "paid_now": amount} for debt_id, amount in paid.items()]
        )


async def _insert(ledger: Ledger, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0])
    row_values = itemgetter(*columns)
    await insert_rows(ledger.session, table, columns, [row_values(row) for row in rows])
