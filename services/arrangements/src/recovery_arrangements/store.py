"""Arrangements' storage: the records a unit of work holds, the repositories that load
them, and the unit of work that hands the repositories out. Every query lives here.

``Plans`` is what the use cases are written against; ``SqlPlans`` keeps it in the
service's database and ``tests/unit/fakes/arrangements.FakePlans`` in memory.

A batch is loaded up front (``Arrangements.prefetch``: the debts its events name, their
arrangements and instalments, and money held for bills not yet seen), so each event's use
case reads held records and the changes are written in bulk at commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import AsyncGenerator, Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from sqlalchemy import ARRAY, Integer, String, Table, bindparam, text

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


SWEEP_SLICE = 7000
"""Arrangements per slice of the daily sweep: small enough that building one slice's
events overlaps marking the next, large enough that the slices are few (each slice
looks through the awaited-instalments index again)."""


SWEEP_HANDOFF = 250
"""Arrangements handed to the caller at a time within a slice."""


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
    def newly_missed(self, business_date: date) -> AsyncGenerator[list[DuePlan], None]:
        """Every instalment of a live arrangement unpaid at the end of its due day and not
        reported before, marked reported, grouped by arrangement, with each arrangement's
        count of misses this year raised by its new ones; a slice of arrangements at a
        time. Between slices the events published so far are written to the outbox; the
        caller must not otherwise use the unit while it iterates (use ``aclosing``)."""


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


def _decode_lists(texts: list[str]) -> list[list[str]]:
    """Many JSON arrays (each plan's debt ids, as the database stores them), decoded in
    one call: the sweep has one per plan, and a call each was a twentieth of its time."""
    decoded: list[list[str]] = json.loads("[" + ",".join(texts) + "]") if texts else []
    return decoded


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
    """The daily sweep, set-based, driven by the partial index of awaited instalments
    (models.Instalment), so no row is read twice; each statement returns what the events
    need, and the database works while the caller builds the events:

    - PostgreSQL: one statement marks the day's misses and returns each arrangement's
      row with them; the arrangements' counts are raised while the caller builds.
    - SQLite: one statement raises the counts; then the misses are marked a slice of
      arrangements at a time, each slice while the caller builds the previous one's.

    The counts and the marks must see the same rows, so nobody else writes instalments
    meanwhile (a table lock on PostgreSQL; on SQLite the business-clock write before it
    already holds the database's only write lock)."""

    def __init__(self, uow: SqlPlans) -> None:
        self.uow = uow

    def newly_missed(self, business_date: date) -> AsyncGenerator[list[DuePlan], None]:
        if self.uow.is_postgres:
            return self._newly_missed_on_postgresql(business_date)
        return self._newly_missed_on_sqlite(business_date)

    async def _newly_missed_on_postgresql(self, business_date: date) -> AsyncGenerator[list[DuePlan], None]:
        """One statement marks the day's misses and returns, beside each, what its
        arrangement says (PostgreSQL's UPDATE ... FROM returns the joined row); the
        arrangements' counts are then raised by the server while the caller builds."""
        uow = self.uow
        await uow.flush()  # the statements below read the tables
        session = uow.session
        # Until this transaction ends, nobody else writes instalments (payments and
        # charges wait; readers do not). JIT compiles for longer than these run.
        await session.execute(text("LOCK TABLE instalment IN SHARE ROW EXCLUSIVE MODE"))
        await session.execute(text("SET LOCAL jit = off"))
        rows: Sequence[Any] = (
            await session.execute(
                text(
                    """UPDATE instalment SET missed_reported = true FROM arrangement AS a
                       WHERE instalment.awaiting AND instalment.due_date < :day
                         AND a.arrangement_id = instalment.arrangement_id AND a.status = :live
                       RETURNING instalment.arrangement_id, instalment.seq, instalment.due_date,
                                 instalment.amount_pence, instalment.paid_pence, a.account_ref,
                                 CAST(a.debt_ids AS TEXT), a.misses_this_year, a.financial_year"""
                ),
                {"day": business_date, "live": PlanStatus.LIVE.value},
            )
        ).all()
        missed: dict[str, list[MissedInstalment]] = defaultdict(list)
        plans: dict[str, tuple[str, str, int, str | None]] = {}
        for arrangement_id, seq, due, amount, paid, account_ref, debt_ids, before, year in rows:
            missed[arrangement_id].append(MissedInstalment(seq, due, amount, paid))
            plans.setdefault(arrangement_id, (account_ref, debt_ids, before, year))
        if not plans:
            return
        counts = {arrangement_id: plan[2] + len(missed[arrangement_id]) for arrangement_id, plan in plans.items()}
        had_missed = [arrangement_id for arrangement_id, plan in plans.items() if plan[2] > 0]
        owed = await self._unpaid_on_earlier_misses(session, had_missed, less=missed)
        if uow.arrangements.holds_any():
            uow.arrangements.refresh_misses(counts)
        uow.instalments.refresh_reported(missed)
        raised = {arrangement_id: len(mine) for arrangement_id, mine in missed.items()}
        counting: asyncio.Future[None] | None = asyncio.ensure_future(self._raise_counts(session, raised))
        await asyncio.sleep(0)  # let it reach the server before the caller builds
        try:
            debt_lists = _decode_lists([plan[1] for plan in plans.values()])
            due = [
                DuePlan(
                    arrangement_id,
                    account_ref,
                    debt_ids,
                    year,
                    before,
                    missed[arrangement_id],
                    owed.get(arrangement_id, 0),
                )
                for (arrangement_id, (account_ref, _, before, year)), debt_ids in zip(
                    plans.items(), debt_lists, strict=True
                )
            ]
            for start in range(0, len(due), SWEEP_HANDOFF):
                await asyncio.sleep(0)
                yield due[start : start + SWEEP_HANDOFF]
            assert counting is not None
            await counting
            counting = None
        finally:
            if counting is not None:
                with contextlib.suppress(Exception):
                    await counting

    async def _raise_counts(self, session: AsyncSession, raised: dict[str, int]) -> None:
        """Each arrangement's count of misses this year, raised by its new ones (an
        increment, so nothing another writer did to the row is lost)."""
        await session.execute(
            text(
                """UPDATE arrangement SET misses_this_year = arrangement.misses_this_year + c.missed
                   FROM unnest(:ids, :missed) AS c(arrangement_id, missed)
                   WHERE arrangement.arrangement_id = c.arrangement_id"""
            ).bindparams(
                bindparam("ids", list(raised), type_=ARRAY(String())),
                bindparam("missed", list(raised.values()), type_=ARRAY(Integer())),
            )
        )

    async def _newly_missed_on_sqlite(self, business_date: date) -> AsyncGenerator[list[DuePlan], None]:
        """Counts raised in one statement, then misses marked a slice of arrangements at a
        time while the caller builds the previous slice's events: SQLite does all of an
        UPDATE ... RETURNING in one step, outside Python's lock, in its own thread."""
        uow = self.uow
        # The statements below read the tables (and the clock's write before them holds
        # SQLite's only write lock): this unit's changes so far go first.
        await uow.flush()
        session = uow.session
        counted = sorted(await self._count_misses(session, business_date))
        if not counted:
            return
        if uow.arrangements.holds_any():
            uow.arrangements.refresh_misses({row[0]: row[3] for row in counted})
        # Read before anything is marked, so what is reported is exactly the earlier misses.
        # Only an arrangement whose count is now above one can have any.
        owed = await self._unpaid_on_earlier_misses(session, [row[0] for row in counted if row[3] > 1])
        slices = [counted[i : i + SWEEP_SLICE] for i in range(0, len(counted), SWEEP_SLICE)]
        marking: asyncio.Future[dict[str, list[MissedInstalment]]] | None = None
        try:
            marking = await self._start_marking(session, business_date, slices[0])
            for n, this in enumerate(slices):
                assert marking is not None
                missed = await marking
                marking = None
                await uow.flush_outbox()  # the previous slice's events, already encoded
                if n + 1 < len(slices):
                    marking = await self._start_marking(session, business_date, slices[n + 1])
                uow.instalments.refresh_reported(missed)
                debt_lists = _decode_lists([row[2] for row in this])
                due = [
                    DuePlan(
                        arrangement_id,
                        account_ref,
                        debt_ids,
                        year,
                        misses_now - len(mine),
                        mine,
                        owed.get(arrangement_id, 0),
                    )
                    for (arrangement_id, account_ref, _, misses_now, year), debt_ids in zip(
                        this, debt_lists, strict=True
                    )
                    if (mine := missed.get(arrangement_id))
                ]
                for start in range(0, len(due), SWEEP_HANDOFF):
                    # Back to the event loop between handfuls, so the next slice's statement
                    # makes its way to the database while the caller builds.
                    await asyncio.sleep(0)
                    yield due[start : start + SWEEP_HANDOFF]
        finally:
            if marking is not None:
                # Left early (the caller failed): the statement must finish before the
                # unit rolls back on this session.
                with contextlib.suppress(Exception):
                    await marking

    async def _start_marking(
        self, session: AsyncSession, business_date: date, plans: Sequence[Any]
    ) -> asyncio.Future[dict[str, list[MissedInstalment]]]:
        marking = asyncio.ensure_future(self._mark_reported(session, business_date, [row[0] for row in plans]))
        await asyncio.sleep(0)  # let it reach the database before the caller builds
        return marking

    async def _count_misses(self, session: AsyncSession, business_date: date) -> Sequence[Any]:
        # SQLite would group by walking the whole primary key; "+" stops it using that index.
        result = await session.execute(
            text(
                """UPDATE arrangement SET misses_this_year = arrangement.misses_this_year + due.n
                    FROM (SELECT arrangement_id, COUNT(*) AS n FROM instalment
                          WHERE awaiting = 1 AND due_date < :day GROUP BY +arrangement_id) AS due
                    WHERE arrangement.arrangement_id = due.arrangement_id AND arrangement.status = :live
                    RETURNING arrangement.arrangement_id, arrangement.account_ref,
                              CAST(arrangement.debt_ids AS TEXT), arrangement.misses_this_year,
                              arrangement.financial_year"""
            ),
            {"day": business_date, "live": PlanStatus.LIVE.value},
        )
        return result.all()

    async def _mark_reported(
        self, session: AsyncSession, business_date: date, arrangement_ids: list[str]
    ) -> dict[str, list[MissedInstalment]]:
        """A slice of arrangements' newly missed instalments, marked reported. The ids are
        the live arrangements the count just raised, in this transaction, with no other
        writer, so no instalment's arrangement needs a look; the rows are still found
        through the awaited-instalments index (the unary "+" keeps SQLite's planner off
        the primary key). The columns come back as the driver gives them, without
        SQLAlchemy's per-row type processing."""
        result = await session.execute(
            text(
                """UPDATE instalment SET missed_reported = 1
                   WHERE awaiting = 1 AND due_date < :day AND +instalment.arrangement_id IN :ids
                   RETURNING arrangement_id, seq, due_date, amount_pence, paid_pence"""
            ).bindparams(bindparam("ids", arrangement_ids, expanding=True)),
            {"day": business_date},
        )
        missed: dict[str, list[MissedInstalment]] = defaultdict(list)
        rows: Sequence[Any] = result.all()
        for arrangement_id, seq, due, amount, paid in rows:
            # SQLite hands dates back as the ISO text SQLAlchemy stored.
            missed[arrangement_id].append(MissedInstalment(seq, date.fromisoformat(due), amount, paid))
        return missed

    async def _unpaid_on_earlier_misses(
        self,
        session: AsyncSession,
        arrangement_ids: list[str],
        *,
        less: dict[str, list[MissedInstalment]] | None = None,
    ) -> dict[str, int]:
        """What is still unpaid on each arrangement's earlier misses: on every instalment
        reported missed and not yet paid, less (where today's are already marked) what is
        unpaid on today's, ``less``. Only arrangements that can have any are asked about,
        so most days this reads nothing at all."""
        reported = "missed_reported" if self.uow.is_postgres else "missed_reported = 1"
        query = text(
            f"""SELECT arrangement_id, SUM(amount_pence - paid_pence) FROM instalment
                WHERE arrangement_id IN :ids AND {reported} AND paid_pence < amount_pence
                GROUP BY arrangement_id"""
        ).bindparams(bindparam("ids", expanding=True))
        owed: dict[str, int] = {}
        for chunk in _chunks(arrangement_ids):
            rows: Sequence[Any] = (await session.execute(query, {"ids": chunk})).all()
            for arrangement_id, unpaid in rows:
                today = sum(m.amount_pence - m.paid_pence for m in (less or {}).get(arrangement_id, ()))
                if unpaid and int(unpaid) > today:
                    owed[arrangement_id] = int(unpaid) - today
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
