"""Arrangements' storage: the records a unit of work holds, the repositories that load
them, and the unit of work that hands the repositories out. Every query lives here.

``Plans`` is what the use cases are written against; ``SqlPlans`` keeps it in the
service's database and ``tests/unit/fakes/arrangements.FakePlans`` in memory.

A batch is loaded up front (``Arrangements.prefetch``: the debts its events name, their
arrangements and instalments, and money held for bills not yet seen), so each event's use
case reads held records and the changes are written in bulk at commit.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import Table, bindparam, text

from recovery_arrangements.domain import MissedInstalment, PlanStatus
from recovery_arrangements.models import Arrangement, Debt, EarlyPayment, Instalment
from recovery_shared.messaging.records import IN_CHUNK, Log, Records
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork, UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


# --- records: one table row each, field names are column names --------------------------------


@dataclass(slots=True)
class DebtRecord:
    """Arrangements' own copy of a charge."""

    debt_id: str
    account_ref: str
    party_id: str
    debt_type: str
    financial_year: str | None
    amount_pence: int
    bill_issued_on: date
    twelve_instalments_requested: bool
    arrangement_id: str | None
    created_at: datetime


@dataclass(slots=True)
class ArrangementRecord:
    arrangement_id: str
    account_ref: str
    kind: str
    debt_ids: list[str]
    status: str
    misses_this_year: int
    financial_year: str | None
    balance_due_on: date | None
    created_at: datetime
    updated_at: datetime


@dataclass(slots=True)
class InstalmentRecord:
    arrangement_id: str
    seq: int
    debt_id: str | None
    due_date: date
    amount_pence: int
    paid_pence: int
    missed_reported: bool


@dataclass(slots=True)
class EarlyPaymentRecord:
    """Money held for a debt whose bill has not reached us yet, as stored."""

    id: int
    debt_id: str
    amount_pence: int
    paid_on: date


@dataclass(slots=True)
class HeldPayment:
    """Money held for a debt whose bill has not reached us yet (a new row: the database
    numbers it)."""

    debt_id: str
    amount_pence: int
    paid_on: date


class DuePlan(NamedTuple):
    """A live arrangement with instalments newly missed, and what their events need."""

    arrangement_id: str
    account_ref: str
    debt_ids: list[str]
    financial_year: str | None
    misses_before: int
    """Its misses this year before these."""
    missed: list[MissedInstalment]
    owed_before_pence: int
    """What is still unpaid on the instalments it missed before."""


# --- the repositories the use cases see -----------------------------------------------------------


class DebtRepository(Protocol):
    async def load(self, debt_ids: Collection[str]) -> list[DebtRecord]:
        """Hold these debts (those that exist) for the unit; returns them."""

    async def get(self, debt_id: str) -> DebtRecord | None: ...

    def add(self, debt: DebtRecord) -> None: ...


class ArrangementRepository(Protocol):
    async def load(self, arrangement_ids: Collection[str]) -> None: ...

    async def get(self, arrangement_id: str) -> ArrangementRecord | None: ...

    def add(self, arrangement: ArrangementRecord) -> None: ...


class InstalmentRepository(Protocol):
    async def load(self, arrangement_ids: Collection[str]) -> None:
        """Hold every instalment of these arrangements."""

    async def of_plan(self, arrangement_id: str) -> list[InstalmentRecord]:
        """One arrangement's instalments, in due order."""

    def add(self, instalment: InstalmentRecord) -> None:
        """A new instalment; the first added for an arrangement not loaded makes it a new plan."""

    def remove(self, instalment: InstalmentRecord) -> None: ...


class EarlyPaymentRepository(Protocol):
    async def load(self, debt_ids: Collection[str]) -> None: ...

    def hold(self, payment: HeldPayment) -> None: ...

    async def take(self, debt_id: str) -> list[HeldPayment]:
        """Everything held for the debt, oldest first; no longer held afterwards."""


class MissedInstalmentSweep(Protocol):
    async def report_newly_missed(self, business_date: date) -> list[DuePlan]:
        """Every instalment of a live arrangement unpaid at the end of its due day and not
        reported before, marked reported, grouped by arrangement, with each arrangement's
        count of misses this year raised by its new ones."""


class Plans(UnitOfWork):
    """A unit of work on instalment plans."""

    debts: DebtRepository
    arrangements: ArrangementRepository
    instalments: InstalmentRepository
    early_payments: EarlyPaymentRepository
    sweep: MissedInstalmentSweep

    async def flush_outbox(self) -> None:
        """Write the events published so far (a huge sweep calls this as it goes)."""


# --- in the database ----------------------------------------------------------------------------------


def _chunks(values: Collection[str]) -> list[list[str]]:
    items = list(values)
    return [items[i : i + IN_CHUNK] for i in range(0, len(items), IN_CHUNK)]


def _table(model: Any) -> Table:
    table: Table = model.__table__
    return table


class SqlDebts:
    def __init__(self, uow: SqlPlans) -> None:
        self.uow = uow
        self.records = Records(_table(Debt), DebtRecord, key=("debt_id",))

    async def load(self, debt_ids: Collection[str]) -> list[DebtRecord]:
        unknown = [d for d in set(debt_ids) if not self.records.knows(d)]
        for condition in self.records.key_column_in(unknown):
            self.records.remember(await self.uow.session.execute(self.records.select().where(condition)))
        self.records.absent(unknown)
        return [debt for d in debt_ids if (debt := self.records.held(d)) is not None]

    async def get(self, debt_id: str) -> DebtRecord | None:
        if not self.records.knows(debt_id):
            await self.load([debt_id])
        return self.records.held(debt_id)

    def add(self, debt: DebtRecord) -> None:
        self.records.add(debt)


class SqlArrangements:
    def __init__(self, uow: SqlPlans) -> None:
        self.uow = uow
        self.records = Records(_table(Arrangement), ArrangementRecord, key=("arrangement_id",))

    async def load(self, arrangement_ids: Collection[str]) -> None:
        unknown = [a for a in set(arrangement_ids) if not self.records.knows(a)]
        for condition in self.records.key_column_in(unknown):
            self.records.remember(await self.uow.session.execute(self.records.select().where(condition)))
        self.records.absent(unknown)

    async def get(self, arrangement_id: str) -> ArrangementRecord | None:
        if not self.records.knows(arrangement_id):
            await self.load([arrangement_id])
        return self.records.held(arrangement_id)

    def add(self, arrangement: ArrangementRecord) -> None:
        self.records.add(arrangement)

    def holds_any(self) -> bool:
        return bool(self.records.held_records())

    def refresh_misses(self, counts: dict[str, int]) -> None:
        """The sweep changed these arrangements' miss counts in the database: held ones
        follow, so a later write of the same record keeps the new count."""
        for arrangement_id, misses in counts.items():
            held = self.records.held(arrangement_id)
            if held is not None:
                held.misses_this_year = misses


class SqlInstalments:
    """Instalments, held per arrangement: an arrangement's are loaded all at once, so the
    plan a use case sees is always whole."""

    def __init__(self, uow: SqlPlans) -> None:
        self.uow = uow
        # Money paid onto an instalment is written as an increment.
        self.records = Records(
            _table(Instalment), InstalmentRecord, key=("arrangement_id", "seq"), counters=("paid_pence",)
        )
        self._plans: dict[str, dict[int, InstalmentRecord]] = {}

    async def load(self, arrangement_ids: Collection[str]) -> None:
        wanted = [a for a in set(arrangement_ids) if a not in self._plans]
        for arrangement_id in wanted:
            self._plans[arrangement_id] = {}
        column = self.records.table.c.arrangement_id
        for chunk in _chunks(wanted):
            rows = await self.uow.session.execute(self.records.select().where(column.in_(chunk)))
            for instalment in self.records.remember(rows):
                self._plans[instalment.arrangement_id][instalment.seq] = instalment

    async def of_plan(self, arrangement_id: str) -> list[InstalmentRecord]:
        if arrangement_id not in self._plans:
            await self.load([arrangement_id])
        return sorted(self._plans[arrangement_id].values(), key=lambda i: (i.due_date, i.seq))

    def add(self, instalment: InstalmentRecord) -> None:
        self.records.add(instalment)
        self._plans.setdefault(instalment.arrangement_id, {})[instalment.seq] = instalment

    def remove(self, instalment: InstalmentRecord) -> None:
        self.records.remove(instalment)
        self._plans[instalment.arrangement_id].pop(instalment.seq, None)

    def refresh_reported(self, marked: dict[str, list[MissedInstalment]]) -> None:
        """The sweep marked these instalments reported in the database: held ones follow."""
        for arrangement_id, missed in marked.items():
            plan = self._plans.get(arrangement_id)
            if plan is None:
                continue
            for m in missed:
                if (held := plan.get(m.seq)) is not None:
                    held.missed_reported = True

    async def flush(self, session: AsyncSession) -> None:
        await self.records.flush(session)

    def reset(self) -> None:
        self.records.reset()
        self._plans.clear()


class SqlEarlyPayments:
    def __init__(self, uow: SqlPlans) -> None:
        self.uow = uow
        self.stored = Records(_table(EarlyPayment), EarlyPaymentRecord, key=("id",))
        self.new = Log(_table(EarlyPayment), HeldPayment)
        self._by_debt: dict[str, list[EarlyPaymentRecord]] = {}

    async def load(self, debt_ids: Collection[str]) -> None:
        wanted = [d for d in set(debt_ids) if d not in self._by_debt]
        for debt_id in wanted:
            self._by_debt[debt_id] = []
        table = self.stored.table
        for chunk in _chunks(wanted):
            query = self.stored.select().where(table.c.debt_id.in_(chunk)).order_by(table.c.id)
            for payment in self.stored.remember(await self.uow.session.execute(query)):
                self._by_debt[payment.debt_id].append(payment)

    def hold(self, payment: HeldPayment) -> None:
        self.new.append(payment)

    async def take(self, debt_id: str) -> list[HeldPayment]:
        await self.load([debt_id])
        stored = self._by_debt[debt_id]
        self._by_debt[debt_id] = []
        for payment in stored:
            self.stored.remove(payment)
        taken = [HeldPayment(p.debt_id, p.amount_pence, p.paid_on) for p in stored]
        pending = self.new.pending
        if any(p.debt_id == debt_id for p in pending):
            taken += [p for p in pending if p.debt_id == debt_id]
            pending[:] = [p for p in pending if p.debt_id != debt_id]
        return taken

    async def flush(self, session: AsyncSession) -> None:
        await self.stored.flush(session)
        await self.new.flush(session)

    def reset(self) -> None:
        self.stored.reset()
        self.new.reset()
        self._by_debt.clear()


class SqlSweep:
    """The daily sweep, set-based.

    Two statements whatever the number of schedules, both driven by the partial index of
    awaited instalments (models.Instalment): the arrangements' miss counts raised, and the
    newly missed instalments marked reported, each returning what the events need. The
    updates read the rows they change, so there is no separate select of the due rows: each
    row is visited once. Both must see the same rows, so the sweep first holds off every
    other writer to the instalment table (on SQLite the business-clock write before it
    already holds the database's only write lock). Only arrangements that had missed before
    need a third look, at what is still owed on those misses."""

    def __init__(self, uow: SqlPlans) -> None:
        self.uow = uow

    @property
    def _awaiting(self) -> str:
        """``Instalment.awaiting`` as each dialect renders it, i.e. the index's predicate verbatim."""
        return "awaiting" if self.uow.is_postgres else "awaiting = 1"

    async def report_newly_missed(self, business_date: date) -> list[DuePlan]:
        uow = self.uow
        # The statements below read the tables: this unit's changes so far go first.
        await uow.flush()
        session = uow.session
        if uow.is_postgres:
            # Until this transaction ends, nobody else writes instalments (payments and
            # charges wait; readers do not).
            await session.execute(text("LOCK TABLE instalment IN SHARE ROW EXCLUSIVE MODE"))
            # JIT compiles for longer than these statements run.
            await session.execute(text("SET LOCAL jit = off"))
        counted = await self._count_misses(session, business_date)
        if not counted:
            return []
        missed = await self._mark_reported(session, business_date)
        if uow.arrangements.holds_any():
            uow.arrangements.refresh_misses({row[0]: row[3] for row in counted})
        uow.instalments.refresh_reported(missed)
        owed = await self._unpaid_on_earlier_misses(session, counted, missed)
        loads = json.loads
        return [
            DuePlan(
                arrangement_id,
                account_ref,
                loads(debt_ids),
                year,
                misses_now - len(mine),
                mine,
                owed.get(arrangement_id, 0),
            )
            for arrangement_id, account_ref, debt_ids, misses_now, year in counted
            if (mine := missed.get(arrangement_id))
        ]

    async def _count_misses(self, session: AsyncSession, business_date: date) -> Sequence[Any]:
        # SQLite would group by walking the whole primary key; "+" stops it using that index.
        group_by = "arrangement_id" if self.uow.is_postgres else "+arrangement_id"
        result = await session.execute(
            text(
                f"""UPDATE arrangement SET misses_this_year = arrangement.misses_this_year + due.n
                    FROM (SELECT arrangement_id, COUNT(*) AS n FROM instalment
                          WHERE {self._awaiting} AND due_date < :day GROUP BY {group_by}) AS due
                    WHERE arrangement.arrangement_id = due.arrangement_id AND arrangement.status = :live
                    RETURNING arrangement.arrangement_id, arrangement.account_ref,
                              CAST(arrangement.debt_ids AS TEXT), arrangement.misses_this_year,
                              arrangement.financial_year"""
            ),
            {"day": business_date, "live": PlanStatus.LIVE.value},
        )
        return result.all()

    async def _mark_reported(self, session: AsyncSession, business_date: date) -> dict[str, list[MissedInstalment]]:
        """The columns come back as the driver gives them, without SQLAlchemy's per-row
        type processing: a day can bring tens of thousands."""
        result = await session.execute(
            text(
                f"""UPDATE instalment SET missed_reported = :reported
                    WHERE {self._awaiting} AND due_date < :day AND EXISTS (
                        SELECT 1 FROM arrangement AS a
                        WHERE a.arrangement_id = instalment.arrangement_id AND a.status = :live)
                    RETURNING arrangement_id, seq, due_date, amount_pence, paid_pence"""
            ),
            {"reported": True, "day": business_date, "live": PlanStatus.LIVE.value},
        )
        missed: dict[str, list[MissedInstalment]] = defaultdict(list)
        # SQLite hands dates back as the ISO text SQLAlchemy stored.
        as_date = (lambda d: d) if self.uow.is_postgres else date.fromisoformat
        rows: Sequence[Any] = result.all()
        for arrangement_id, seq, due, amount, paid in rows:
            missed[arrangement_id].append(MissedInstalment(seq, as_date(due), amount, paid))
        return missed

    async def _unpaid_on_earlier_misses(
        self, session: AsyncSession, counted: Sequence[Any], missed: dict[str, list[MissedInstalment]]
    ) -> dict[str, int]:
        """For each arrangement that had missed before, what is still unpaid on those earlier
        misses: what is unpaid on all its reported instalments, less what is unpaid on the
        new ones. One that had never missed has nothing reported before, so most days this
        reads nothing at all."""
        earlier = {
            arrangement_id: missed.get(arrangement_id, [])
            for arrangement_id, _, _, misses_now, _ in counted
            if misses_now > len(missed.get(arrangement_id, ()))
        }
        reported = "missed_reported" if self.uow.is_postgres else "missed_reported = 1"
        query = text(
            f"""SELECT arrangement_id, SUM(amount_pence - paid_pence) FROM instalment
                WHERE arrangement_id IN :ids AND {reported} AND paid_pence < amount_pence
                GROUP BY arrangement_id"""
        ).bindparams(bindparam("ids", expanding=True))
        owed: dict[str, int] = {}
        for chunk in _chunks(earlier):
            rows: Sequence[Any] = (await session.execute(query, {"ids": chunk})).all()
            for arrangement_id, unpaid in rows:
                new = sum(m.amount_pence - m.paid_pence for m in earlier[arrangement_id])
                if unpaid > new:
                    owed[arrangement_id] = int(unpaid) - new
        return owed


class SqlPlans(SqlUnitOfWork, Plans):
    """Instalment plans in the service's database."""

    debts: SqlDebts
    arrangements: SqlArrangements
    instalments: SqlInstalments
    early_payments: SqlEarlyPayments
    sweep: SqlSweep

    def open_repositories(self) -> None:
        self.debts = SqlDebts(self)
        self.arrangements = SqlArrangements(self)
        self.instalments = SqlInstalments(self)
        self.early_payments = SqlEarlyPayments(self)
        self.sweep = SqlSweep(self)
        # Written in this order: parents before children.
        self.track(self.debts.records)
        self.track(self.arrangements.records)
        self.track(self.instalments)
        self.track(self.early_payments)
