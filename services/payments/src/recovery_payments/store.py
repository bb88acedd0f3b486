"""The ledger's unit of work and its repositories: every query payments runs.

``Ledger`` is what the use cases are typed against: a unit of work that hands out
the repositories below. ``SqlLedger`` is the real one. Its repositories hold rows
as records (``recovery_shared.messaging.records``): a batch's prefetch loads what
its events need in a few queries, the use cases then find everything in memory,
and the commit writes the changes in bulk. A repository that must query (an
officer's command, a message the prefetch did not foresee) first writes what this
unit has changed so far, so the query sees it.

The unit tests' in-memory twin is ``tests/unit/fakes/payments.py``.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Protocol, Self

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from recovery_payments.domain import LedgerTotals, ReceiptStatus, StatusTotal
from recovery_payments.models import (
    ALLOCATION_LINES,
    DEBTS,
    HB_AWARDS,
    HB_HOLDS,
    INSTALMENTS,
    RECEIPTS,
    AllocationLineRecord,
    DebtRecord,
    HbAwardRecord,
    HbHoldRecord,
    InstalmentRecord,
    ReceiptRecord,
)
from recovery_shared.clock import utc_now
from recovery_shared.messaging.records import IN_CHUNK, Log, Records
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork, UnitOfWork

ReceiptKey = tuple[str, str]
"""(channel, receipt_ref): a receipt reference is unique per channel."""


# --- what the use cases see ---------------------------------------------------------


class Debts(Protocol):
    async def get(self, debt_id: str) -> DebtRecord | None: ...

    async def on_account(self, account_ref: str) -> list[DebtRecord]:
        """Every debt on the account (an empty list: the ledger has no such account)."""
        ...

    def add(self, debt: DebtRecord) -> None: ...

    async def load(self, *, accounts: Collection[str], debt_ids: Collection[str], accounts_of: Collection[str]) -> None:
        """Hold every debt on ``accounts`` and on the accounts of ``accounts_of``'s
        debts, and the debts ``debt_ids`` on their own."""
        ...


class Instalments(Protocol):
    async def amounts(self, debt_ids: Sequence[str]) -> dict[str, frozenset[int]]:
        """The distinct instalment amounts of each debt's schedule (for exact matching)."""
        ...

    async def replace(self, debt_id: str, schedule: Sequence[tuple[date, int]]) -> None: ...

    async def load(self, debt_ids: Collection[str]) -> None: ...


class Receipts(Protocol):
    async def get(self, channel: str, receipt_ref: str) -> ReceiptRecord | None: ...

    async def suspended_for(self, payer_reference: str) -> list[ReceiptRecord]:
        """Receipts in suspense that quoted this reference, oldest first."""
        ...

    def add(self, receipt: ReceiptRecord) -> None: ...

    async def load(self, keys: Collection[ReceiptKey]) -> None: ...

    async def load_suspended_for(self, references: Collection[str]) -> None: ...


class AllocationLines(Protocol):
    def append(self, line: AllocationLineRecord) -> None: ...

    async def placed(self, channel: str, receipt_ref: str) -> dict[str | None, int]:
        """What a receipt has on each debt now (None: account credit), net of reversals."""
        ...


class HbAwards(Protocol):
    async def get(self, claim_ref: str) -> HbAwardRecord | None: ...

    async def live_for(self, account_ref: str) -> HbAwardRecord | None:
        """The account's live award, if it has one."""
        ...

    def add(self, award: HbAwardRecord) -> None: ...

    async def due(self, on: date) -> list[HbAwardRecord]:
        """Live awards with a benefit week starting on or before ``on`` still to deduct
        for (or, once ended, to stop), oldest week first."""
        ...


class HbHolds(Protocol):
    async def held(self, debt_ids: Collection[str]) -> set[str]:
        """Those of ``debt_ids`` with a hold on their recovery from HB."""
        ...

    async def hold(self, debt_id: str, hold: str, since: date) -> None: ...

    async def release(self, debt_id: str, hold: str) -> None: ...


class Reconciliation(Protocol):
    async def totals(self) -> LedgerTotals: ...


class Ledger(UnitOfWork):
    """A unit of work on the ledger: its repositories, the inbox, the outbox."""

    debts: Debts
    instalments: Instalments
    receipts: Receipts
    allocation_lines: AllocationLines
    hb_awards: HbAwards
    hb_holds: HbHolds
    reconciliation: Reconciliation
    _audit_time: datetime | None = None

    def audit_time(self) -> datetime:
        """When this unit records what it does, for the audit columns (``created_at``,
        ``recorded_at`` ...) and never for a rule: one stamp per transaction, as a
        database's ``now()`` is, so a batch's rows share it (and it is converted for
        the database once)."""
        if self._audit_time is None:
            self._audit_time = utc_now()
        return self._audit_time

    async def __aenter__(self) -> Self:
        self._audit_time = None
        return await super().__aenter__()


# --- on the database ----------------------------------------------------------------


def one_of(unit: SqlUnitOfWork, column: Any, values: Collection[Any]) -> list[ColumnElement[bool]]:
    """``column IN values``, as one condition per statement to run. On PostgreSQL a
    single array parameter (``= ANY``): the statement text, and so the prepared
    statement, is the same however many keys a batch has, and there is no limit.
    On SQLite IN lists, chunked under the bound-parameter limit."""
    if not values:
        return []
    items = list(values)
    if unit.is_postgres:
        return [column == any_(bindparam(None, items, type_=ARRAY(column.type)))]
    return [column.in_(items[i : i + IN_CHUNK]) for i in range(0, len(items), IN_CHUNK)]


class _Repository:
    def __init__(self, unit: SqlUnitOfWork) -> None:
        self.unit = unit

    async def rows(self, records: Records[Any], conditions: Iterable[ColumnElement[bool]]) -> list[Any]:
        found: list[Any] = []
        for condition in conditions:
            result = await self.unit.session.execute(records.select().where(condition))
            found.extend(records.remember(result.all()))
        return found

    async def one(self, records: Records[Any], key: Hashable) -> Any:
        """The record with this primary key, read once per unit (None: there is none)."""
        if not records.knows(key):
            await self.rows(records, records.keys_in([key]))
            records.absent([key])
        return records.held(key)


class SqlDebts(_Repository):
    def __init__(self, unit: SqlUnitOfWork) -> None:
        super().__init__(unit)
        # Money accumulated on a debt is written as an increment, so two consumers
        # paying onto the same debt never lose each other's receipts.
        self.records = Records(
            DEBTS, DebtRecord, key=("debt_id",), counters=("paid_pence", "costs_pence", "written_off_pence")
        )
        self._accounts: dict[str, list[DebtRecord]] = {}
        """Accounts whose every debt is held, and those debts."""

    async def get(self, debt_id: str) -> DebtRecord | None:
        if not self.records.knows(debt_id):
            await self.load(accounts=(), debt_ids=(debt_id,), accounts_of=())
        return self.records.held(debt_id)

    async def on_account(self, account_ref: str) -> list[DebtRecord]:
        if account_ref not in self._accounts:
            await self.load(accounts=(account_ref,), debt_ids=(), accounts_of=())
        return self._accounts[account_ref]

    def add(self, debt: DebtRecord) -> None:
        self.records.add(debt)
        if debt.account_ref in self._accounts:
            self._accounts[debt.account_ref].append(debt)

    async def load(self, *, accounts: Collection[str], debt_ids: Collection[str], accounts_of: Collection[str]) -> None:
        accounts = {a for a in accounts if a not in self._accounts}
        debt_ids = {d for d in debt_ids if not self.records.knows(d)}
        accounts_of = set(accounts_of)
        if not (accounts or debt_ids or accounts_of):
            return
        await self.unit.flush()
        d = DEBTS.c
        conditions = one_of(self.unit, d.account_ref, accounts) + one_of(self.unit, d.debt_id, debt_ids)
        conditions += [
            d.account_ref.in_(select(d.account_ref).where(directed).scalar_subquery())
            for directed in one_of(self.unit, d.debt_id, accounts_of)
        ]
        found: list[DebtRecord] = await self.rows(self.records, conditions)
        whole = accounts | {r.account_ref for r in found if r.debt_id in accounts_of}
        new_accounts = whole - self._accounts.keys()
        for account in new_accounts:
            self._accounts[account] = []
        placed: set[str] = set()
        for record in found:
            if record.account_ref in new_accounts and record.debt_id not in placed:
                placed.add(record.debt_id)
                self._accounts[record.account_ref].append(record)
        self.records.absent(debt_ids | accounts_of)

    async def flush(self, session: AsyncSession) -> None:
        await self.records.flush(session)

    def reset(self) -> None:
        self.records.reset()
        self._accounts.clear()


class SqlInstalments(_Repository):
    """Schedules as the ledger uses them: a debt's distinct instalment amounts (all
    that exact-instalment matching asks), and a schedule replaced whole. Nothing
    reads a schedule row by row, so none is held: a replacement deletes the debt's
    rows and inserts the new ones when the unit is written."""

    def __init__(self, unit: SqlUnitOfWork) -> None:
        super().__init__(unit)
        self._amounts: dict[str, frozenset[int]] = {}
        self._new = Log(INSTALMENTS, InstalmentRecord)
        self._replaced: set[str] = set()

    async def amounts(self, debt_ids: Sequence[str]) -> dict[str, frozenset[int]]:
        amounts = self._amounts
        try:
            return {debt_id: amounts[debt_id] for debt_id in debt_ids}
        except KeyError:
            await self.load(debt_ids)
            return {debt_id: amounts[debt_id] for debt_id in debt_ids}

    async def replace(self, debt_id: str, schedule: Sequence[tuple[date, int]]) -> None:
        if debt_id in self._replaced:
            self._new.pending[:] = [i for i in self._new.pending if i.debt_id != debt_id]
        self._replaced.add(debt_id)
        for due_date, amount in schedule:
            self._new.append(InstalmentRecord(debt_id, due_date, amount))
        self._amounts[debt_id] = frozenset(amount for _, amount in schedule)

    async def load(self, debt_ids: Collection[str]) -> None:
        # A schedule replaced in this unit is already known, so no flush is needed.
        wanted = {d for d in debt_ids if d not in self._amounts}
        if not wanted:
            return
        i = INSTALMENTS.c
        found: dict[str, set[int]] = {debt_id: set() for debt_id in wanted}
        for condition in one_of(self.unit, i.debt_id, wanted):
            result = await self.unit.session.execute(select(i.debt_id, i.amount_pence).where(condition).distinct())
            rows: list[Any] = list(result.all())
            for debt_id, amount in rows:
                found[debt_id].add(amount)
        self._amounts.update((debt_id, frozenset(amounts)) for debt_id, amounts in found.items())

    async def flush(self, session: AsyncSession) -> None:
        if not self._replaced:
            return
        for condition in one_of(self.unit, INSTALMENTS.c.debt_id, self._replaced):
            await session.execute(delete(INSTALMENTS).where(condition))
        self._replaced = set()
        await self._new.flush(session)

    def reset(self) -> None:
        self._amounts.clear()
        self._new.reset()
        self._replaced = set()


class SqlReceipts(_Repository):
    def __init__(self, unit: SqlUnitOfWork) -> None:
        super().__init__(unit)
        # A receipt's status is its state: changing it is a compare-and-set on the status
        # this unit read, so two officers (or an officer and the consumer) reversing or
        # allocating one receipt at once give one effect; the other unit is stale and
        # runs again (``records.StaleRecord``).
        self.records = Records(RECEIPTS, ReceiptRecord, key=("channel", "receipt_ref"), guards=("status",))
        self._suspended: dict[str, list[ReceiptRecord]] = {}
        """Per payer reference whose suspended receipts are held: those receipts."""

    async def get(self, channel: str, receipt_ref: str) -> ReceiptRecord | None:
        key = (channel, receipt_ref)
        if not self.records.knows(key):
            await self.load((key,))
        return self.records.held(key)

    async def suspended_for(self, payer_reference: str) -> list[ReceiptRecord]:
        if payer_reference not in self._suspended:
            await self.load_suspended_for((payer_reference,))
        # One held earlier in this unit may have been allocated since.
        waiting = [r for r in self._suspended[payer_reference] if r.status == ReceiptStatus.SUSPENDED]
        return sorted(waiting, key=lambda r: (r.received_on, r.receipt_ref))

    def add(self, receipt: ReceiptRecord) -> None:
        self.records.add(receipt)
        if receipt.status == ReceiptStatus.SUSPENDED and receipt.payer_reference in self._suspended:
            self._suspended[receipt.payer_reference].append(receipt)

    async def load(self, keys: Collection[ReceiptKey]) -> None:
        wanted = {k for k in keys if not self.records.knows(k)}
        if not wanted:
            return
        r = RECEIPTS.c
        channels = sorted({channel for channel, _ in wanted})
        # Both key columns as IN lists use the primary key index in one statement on
        # either database; the few same-reference-other-channel rows it also matches
        # are dropped here.
        for condition in one_of(self.unit, r.receipt_ref, {ref for _, ref in wanted}):
            result = await self.unit.session.execute(self.records.select().where(r.channel.in_(channels), condition))
            self.records.remember(row for row in result.all() if (row.channel, row.receipt_ref) in wanted)
        self.records.absent(wanted)

    async def load_suspended_for(self, references: Collection[str]) -> None:
        wanted = {ref for ref in references if ref not in self._suspended}
        if not wanted:
            return
        await self.unit.flush()
        for reference in wanted:
            self._suspended[reference] = []
        r = RECEIPTS.c
        conditions = [
            (r.status == ReceiptStatus.SUSPENDED.value) & condition
            for condition in one_of(self.unit, r.payer_reference, wanted)
        ]
        found: list[ReceiptRecord] = await self.rows(self.records, conditions)
        for receipt in found:
            self._suspended[receipt.payer_reference].append(receipt)

    async def flush(self, session: AsyncSession) -> None:
        await self.records.flush(session)

    def reset(self) -> None:
        self.records.reset()
        self._suspended.clear()


class SqlAllocationLines(_Repository):
    def __init__(self, unit: SqlUnitOfWork) -> None:
        super().__init__(unit)
        self.log = Log(ALLOCATION_LINES, AllocationLineRecord)

    def append(self, line: AllocationLineRecord) -> None:
        self.log.append(line)

    async def placed(self, channel: str, receipt_ref: str) -> dict[str | None, int]:
        await self.unit.flush()
        line = ALLOCATION_LINES.c
        result = await self.unit.session.execute(
            select(line.debt_id, func.sum(line.amount_pence))
            .where(line.channel == channel, line.receipt_ref == receipt_ref)
            .group_by(line.debt_id)
        )
        rows: list[Any] = list(result.all())
        return {debt_id: int(total) for debt_id, total in rows if int(total) != 0}

    async def flush(self, session: AsyncSession) -> None:
        await self.log.flush(session)

    def reset(self) -> None:
        self.log.reset()


class SqlHbAwards(_Repository):
    def __init__(self, unit: SqlUnitOfWork) -> None:
        super().__init__(unit)
        self.records = Records(HB_AWARDS, HbAwardRecord, key=("claim_ref",))

    async def get(self, claim_ref: str) -> HbAwardRecord | None:
        award: HbAwardRecord | None = await self.one(self.records, claim_ref)
        return award

    async def live_for(self, account_ref: str) -> HbAwardRecord | None:
        await self.unit.flush()
        a = HB_AWARDS.c
        found: list[HbAwardRecord] = await self.rows(self.records, [(a.account_ref == account_ref) & a.live])
        live = [r for r in found if r.live]
        return live[0] if live else None

    def add(self, award: HbAwardRecord) -> None:
        self.records.add(award)

    async def due(self, on: date) -> list[HbAwardRecord]:
        await self.unit.flush()
        a = HB_AWARDS.c
        found: list[HbAwardRecord] = await self.rows(self.records, [a.live & (a.next_week_on <= on)])
        due = [r for r in found if r.live and r.next_week_on <= on]
        return sorted(due, key=lambda r: (r.next_week_on, r.claim_ref))

    async def flush(self, session: AsyncSession) -> None:
        await self.records.flush(session)

    def reset(self) -> None:
        self.records.reset()


class SqlHbHolds(_Repository):
    def __init__(self, unit: SqlUnitOfWork) -> None:
        super().__init__(unit)
        self.records = Records(HB_HOLDS, HbHoldRecord, key=("debt_id", "hold"))

    async def held(self, debt_ids: Collection[str]) -> set[str]:
        if not debt_ids:
            return set()
        await self.unit.flush()
        h = HB_HOLDS.c
        found: set[str] = set()
        for condition in one_of(self.unit, h.debt_id, debt_ids):
            result = await self.unit.session.execute(select(h.debt_id).where(condition).distinct())
            found.update(row[0] for row in result.all())
        return found

    async def hold(self, debt_id: str, hold: str, since: date) -> None:
        if await self.one(self.records, (debt_id, hold)) is None:
            self.records.add(HbHoldRecord(debt_id, hold, since))

    async def release(self, debt_id: str, hold: str) -> None:
        record = await self.one(self.records, (debt_id, hold))
        if record is not None:
            self.records.remove(record)

    async def flush(self, session: AsyncSession) -> None:
        await self.records.flush(session)

    def reset(self) -> None:
        self.records.reset()


class SqlReconciliation(_Repository):
    async def totals(self) -> LedgerTotals:
        await self.unit.flush()
        session = self.unit.session
        r, line = RECEIPTS.c, ALLOCATION_LINES.c
        by_status: Sequence[Any] = (
            await session.execute(
                select(r.status, func.count(), func.coalesce(func.sum(r.amount_pence), 0)).group_by(r.status)
            )
        ).all()
        lines: Any = (
            await session.execute(
                select(
                    func.coalesce(func.sum(line.amount_pence).filter(line.debt_id.is_not(None)), 0),
                    func.coalesce(func.sum(line.amount_pence).filter(line.debt_id.is_(None)), 0),
                )
            )
        ).one()
        on_debts, as_credit = lines
        # A receipt's lines must add to its amount (allocated) or to nothing (suspended/reversed).
        per_receipt = (
            select(r.status, r.amount_pence, func.coalesce(func.sum(line.amount_pence), 0).label("placed"))
            .select_from(
                RECEIPTS.join(
                    ALLOCATION_LINES, (line.receipt_ref == r.receipt_ref) & (line.channel == r.channel), isouter=True
                )
            )
            .group_by(r.channel, r.receipt_ref, r.status, r.amount_pence)
            .subquery()
        )
        p = per_receipt.c
        allocated = ReceiptStatus.ALLOCATED.value
        broken: int = (
            await session.execute(
                select(func.count())
                .select_from(per_receipt)
                .where(
                    ((p.status == allocated) & (p.placed != p.amount_pence))
                    | ((p.status != allocated) & (p.placed != 0))
                )
            )
        ).scalar_one()
        return LedgerTotals(
            receipts={str(status): StatusTotal(int(count), int(pence)) for status, count, pence in by_status},
            allocated_to_debts_pence=int(on_debts),
            held_as_credit_pence=int(as_credit),
            receipts_out_of_balance=int(broken),
        )


class SqlLedger(SqlUnitOfWork, Ledger):
    """The ledger on the service's database (SQLite or PostgreSQL)."""

    def open_repositories(self) -> None:
        self.debts = debts = SqlDebts(self)
        self.instalments = instalments = SqlInstalments(self)
        self.receipts = receipts = SqlReceipts(self)
        self.allocation_lines = lines = SqlAllocationLines(self)
        self.hb_awards = awards = SqlHbAwards(self)
        self.hb_holds = hb_holds = SqlHbHolds(self)
        self.reconciliation = SqlReconciliation(self)
        # Parents before children: the order they are written in. Each repository
        # flushes its records and, on rollback, forgets what it had indexed.
        for repository in (debts, instalments, receipts, lines, awards, hb_holds):
            self.track(repository)
