"""All of arrangements' queries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import bindparam, delete, text
from sqlmodel import col
from sqlmodel import select as select_rows

from recovery_arrangements.models import LIVE, Arrangement, Debt, EarlyPayment, Instalment
from recovery_shared.messaging.unit_of_work import UnitOfWork


class DuePlan(NamedTuple):
    """A live arrangement with instalments newly missed, and what their events need."""

    arrangement_id: str
    account_ref: str
    debt_ids_json: str
    """The arrangement's debt ids as stored: a JSON list, passed into the events as it is."""
    financial_year: str | None
    misses_before: int
    """Its misses this year before these."""
    missed: list[tuple[int, date, int, int]]
    """The newly missed instalments: (seq, due date, amount, paid)."""


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
    # Two statements whatever the number of schedules, both driven by the partial index of
    # awaited instalments (models.Instalment): the arrangements' miss counts raised, and the
    # newly missed instalments marked reported, each returning what the events need. The
    # updates read the rows they change, so there is no separate select of the due rows:
    # each row is visited once. Both must see the same rows, so the sweep first holds off
    # every other writer to the instalment table (on SQLite the business-clock write
    # before it already holds the database's only write lock). Only arrangements that
    # had missed before need a third look, at what is still owed on those misses.

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

    async def report_newly_missed(self, business_date: date) -> list[DuePlan]:
        """Every instalment unpaid at the end of its due day and not yet reported, on a live
        arrangement, marked reported, grouped by arrangement with what its events need; each
        arrangement's count of misses this year raised by its new ones. Both updates take
        the same rows: a range scan of the awaited-instalments index up to the day. The
        columns come back as the driver gives them, without SQLAlchemy's per-row type
        processing: a day can bring tens of thousands."""
        sqlite = self._is_sqlite()
        # SQLite would group by walking the whole primary key; "+" stops it using that index.
        group_by = "+arrangement_id" if sqlite else "arrangement_id"
        counted: Sequence[Any] = (
            await self.session.execute(
                text(
                    f"""UPDATE arrangement SET misses_this_year = arrangement.misses_this_year + due.n
                        FROM (SELECT arrangement_id, COUNT(*) AS n FROM instalment
                              WHERE {self._awaiting()} AND due_date < :day GROUP BY {group_by}) AS due
                        WHERE arrangement.arrangement_id = due.arrangement_id AND arrangement.status = :live
                        RETURNING arrangement.arrangement_id, arrangement.account_ref,
                                  CAST(arrangement.debt_ids AS TEXT), arrangement.misses_this_year,
                                  arrangement.financial_year"""
                ),
                {"day": business_date, "live": LIVE},
            )
        ).all()
        if not counted:
            return []
        marked: Sequence[Any] = (
            await self.session.execute(
                text(
                    f"""UPDATE instalment SET missed_reported = :reported
                        WHERE {self._awaiting()} AND due_date < :day AND EXISTS (
                            SELECT 1 FROM arrangement AS a
                            WHERE a.arrangement_id = instalment.arrangement_id AND a.status = :live)
                        RETURNING arrangement_id, seq, due_date, amount_pence, paid_pence"""
                ),
                {"reported": True, "day": business_date, "live": LIVE},
            )
        ).all()
        missed: dict[str, list[tuple[int, date, int, int]]] = defaultdict(list)
        for arrangement_id, seq, due, amount, paid in marked:
            # SQLite hands dates back as the ISO text SQLAlchemy stored.
            missed[arrangement_id].append((seq, date.fromisoformat(due) if sqlite else due, amount, paid))
        plans = []
        for arrangement_id, account_ref, debt_ids_json, misses_now, financial_year in counted:
            rows = missed.get(arrangement_id, [])
            plans.append(
                DuePlan(arrangement_id, account_ref, debt_ids_json, financial_year, misses_now - len(rows), rows)
            )
        return plans

    async def unpaid_on_earlier_misses(self, plans: Sequence[DuePlan]) -> dict[str, int]:
        """For each of ``plans`` (just reported by ``report_newly_missed``) that had missed
        before, what is still unpaid on those earlier misses: what is unpaid on all its
        reported instalments, less what is unpaid on the new ones. A plan that had never
        missed has nothing reported before, so most days this reads nothing at all."""
        earlier = {plan.arrangement_id: plan for plan in plans if plan.misses_before}
        owed: dict[str, int] = {}
        ids = list(earlier)
        query = text(
            f"""SELECT arrangement_id, SUM(amount_pence - paid_pence) FROM instalment
                WHERE arrangement_id IN :ids AND {"missed_reported = 1" if self._is_sqlite() else "missed_reported"}
                  AND paid_pence < amount_pence
                GROUP BY arrangement_id"""
        ).bindparams(bindparam("ids", expanding=True))
        # Chunked to stay under SQLite's bound-parameter limit.
        for start in range(0, len(ids), 1000):
            rows: Sequence[Any] = (await self.session.execute(query, {"ids": ids[start : start + 1000]})).all()
            for arrangement_id, unpaid in rows:
                new = sum(amount - paid for _, _, amount, paid in earlier[arrangement_id].missed)
                if unpaid > new:
                    owed[arrangement_id] = int(unpaid) - new
        return owed
