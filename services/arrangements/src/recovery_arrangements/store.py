"""All of arrangements' queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import JSON, BigInteger, Date, Integer, String, delete, text
from sqlmodel import col
from sqlmodel import select as select_rows

from recovery_arrangements.models import LIVE, Arrangement, Debt, EarlyPayment, Instalment
from recovery_shared.messaging.unit_of_work import UnitOfWork


class DueRow(NamedTuple):
    """One newly missed instalment with what its event needs from the arrangement."""

    arrangement_id: str
    seq: int
    due_date: date
    amount_pence: int
    paid_pence: int
    account_ref: str
    debt_ids: list[str]
    misses_this_year: int
    financial_year: str | None


class Plans:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    # --- debts and arrangements ------------------------------------------------------

    async def debt(self, debt_id: str) -> Debt | None:
        return await self.session.get(Debt, debt_id)

    def add(self, row: Debt | Arrangement | Instalment | EarlyPayment) -> None:
        self.session.add(row)

    async def arrangement(self, arrangement_id: str) -> Arrangement | None:
        return await self.session.get(Arrangement, arrangement_id)

    async def instalments(self, arrangement_id: str) -> list[Instalment]:
        result = await self.session.exec(
            select_rows(Instalment)
            .where(Instalment.arrangement_id == arrangement_id)
            .order_by(col(Instalment.due_date), col(Instalment.seq))
        )
        return list(result.all())

    async def delete_instalments(self, rows: Sequence[Instalment]) -> None:
        for row in rows:
            await self.session.delete(row)
        await self.session.flush()

    # --- payments that arrived before their charge -----------------------------------

    def hold_early_payment(self, debt_id: str, amount_pence: int, on: date) -> None:
        self.session.add(EarlyPayment(debt_id=debt_id, amount_pence=amount_pence, paid_on=on))

    async def take_early_payments(self, debt_id: str) -> list[EarlyPayment]:
        result = await self.session.exec(
            select_rows(EarlyPayment).where(EarlyPayment.debt_id == debt_id).order_by(col(EarlyPayment.id))
        )
        rows = list(result.all())
        if rows:
            await self.session.execute(delete(EarlyPayment).where(col(EarlyPayment.debt_id) == debt_id))
        return rows

    # --- the daily sweep -----------------------------------------------------------------
    #
    # Four statements whatever the number of schedules, each driven by the partial index of
    # awaited instalments (models.Instalment): the due rows joined to their arrangements, what
    # is still owed on earlier misses of those arrangements, the arrangements' miss counts,
    # and the rows marked reported. The selects and the updates must see the same rows, so
    # the sweep first holds off every other writer to the instalment table (on SQLite the
    # business-clock write before it already holds the database's only write lock).

    def _is_sqlite(self) -> bool:
        return self.session.bind is not None and self.session.bind.dialect.name == "sqlite"

    async def hold_instalments(self) -> None:
        """Until this transaction ends, nobody else writes instalments (payments and charges
        wait; readers do not). PostgreSQL only; see above for SQLite."""
        if not self._is_sqlite():
            await self.session.execute(text("LOCK TABLE instalment IN SHARE ROW EXCLUSIVE MODE"))
            # JIT compiles for longer than these statements run.
            await self.session.execute(text("SET LOCAL jit = off"))

    def _awaiting(self) -> str:
        """``Instalment.awaiting`` as each dialect renders it, i.e. the index's predicate verbatim."""
        return "awaiting = 1" if self._is_sqlite() else "awaiting"

    async def newly_missed(self, business_date: date) -> list[DueRow]:
        """Every instalment unpaid at the end of its due day, not yet reported, on a live
        arrangement, with what its event needs: one range scan of the awaited-instalments
        index, each row joined to its arrangement. (SQLite, with no statistics on the range,
        might rather scan every arrangement; its CROSS JOIN keeps the index as the outer loop.)"""
        join = "CROSS JOIN" if self._is_sqlite() else "JOIN"
        query = text(
            f"""SELECT i.arrangement_id, i.seq, i.due_date, i.amount_pence, i.paid_pence,
                       a.account_ref, a.debt_ids, a.misses_this_year, a.financial_year
                FROM instalment AS i {join} arrangement AS a ON a.arrangement_id = i.arrangement_id
                WHERE i.{self._awaiting()} AND i.due_date < :day AND a.status = :live"""
        ).columns(
            arrangement_id=String,
            seq=Integer,
            due_date=Date,
            amount_pence=BigInteger,
            paid_pence=BigInteger,
            account_ref=String,
            debt_ids=JSON,
            misses_this_year=Integer,
            financial_year=String,
        )
        result = await self.session.execute(query, {"day": business_date, "live": LIVE})
        return [DueRow._make(row) for row in result]

    async def unpaid_on_earlier_misses(self, business_date: date) -> dict[str, int]:
        """For each arrangement with a new miss, what is still unpaid on instalments reported
        missed before."""
        result = await self.session.execute(
            text(
                f"""SELECT i.arrangement_id, SUM(i.amount_pence - i.paid_pence) FROM instalment AS i
                    WHERE i.missed_reported = :reported AND i.paid_pence < i.amount_pence
                      AND i.arrangement_id IN (
                          SELECT arrangement_id FROM instalment WHERE {self._awaiting()} AND due_date < :day)
                    GROUP BY i.arrangement_id"""
            ),
            {"reported": True, "day": business_date},
        )
        return {str(row[0]): int(row[1]) for row in result}

    async def mark_missed(self, business_date: date) -> None:
        """Add each live arrangement's new misses to its count for the year, then mark those
        instalments reported: the same predicate as ``newly_missed``, so the same rows."""
        # SQLite would group by walking the whole primary key; "+" stops it using that index.
        group_by = "+arrangement_id" if self._is_sqlite() else "arrangement_id"
        await self.session.execute(
            text(
                f"""UPDATE arrangement SET misses_this_year = arrangement.misses_this_year + due.n
                    FROM (SELECT arrangement_id, COUNT(*) AS n FROM instalment
                          WHERE {self._awaiting()} AND due_date < :day GROUP BY {group_by}) AS due
                    WHERE arrangement.arrangement_id = due.arrangement_id AND arrangement.status = :live"""
            ),
            {"day": business_date, "live": LIVE},
        )
        await self.session.execute(
            text(
                f"""UPDATE instalment SET missed_reported = :reported
                    WHERE {self._awaiting()} AND due_date < :day AND EXISTS (
                        SELECT 1 FROM arrangement AS a
                        WHERE a.arrangement_id = instalment.arrangement_id AND a.status = :live)"""
            ),
            {"reported": True, "day": business_date, "live": LIVE},
        )
