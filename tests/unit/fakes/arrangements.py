"""``FakePlans``: arrangements' unit of work in memory, with the same repositories as
``recovery_arrangements.store.SqlPlans``. A rollback puts every repository back as the
last commit left it."""

from __future__ import annotations

import copy
from collections.abc import AsyncGenerator, Collection
from dataclasses import dataclass, field
from datetime import date

from recovery_arrangements import domain
from recovery_arrangements.app import ROUTES
from recovery_arrangements.store import (
    ArrangementRecord,
    DebtRecord,
    DuePlan,
    HeldPayment,
    InstalmentRecord,
    Plans,
)
from tests.unit.fakes import FakeUnitOfWork


@dataclass
class PlansState:
    debts: dict[str, DebtRecord] = field(default_factory=dict)
    arrangements: dict[str, ArrangementRecord] = field(default_factory=dict)
    instalments: dict[tuple[str, int], InstalmentRecord] = field(default_factory=dict)
    held_payments: list[HeldPayment] = field(default_factory=list)

    def plan(self, arrangement_id: str) -> list[InstalmentRecord]:
        rows = [r for (a, _), r in self.instalments.items() if a == arrangement_id]
        return sorted(rows, key=lambda r: (r.due_date, r.seq))


class FakeDebts:
    def __init__(self, state: PlansState) -> None:
        self.state = state

    async def load(self, debt_ids: Collection[str]) -> list[DebtRecord]:
        return [self.state.debts[d] for d in debt_ids if d in self.state.debts]

    async def get(self, debt_id: str) -> DebtRecord | None:
        return self.state.debts.get(debt_id)

    def add(self, debt: DebtRecord) -> None:
        assert debt.debt_id not in self.state.debts
        self.state.debts[debt.debt_id] = debt


class FakeArrangements:
    def __init__(self, state: PlansState) -> None:
        self.state = state

    async def load(self, arrangement_ids: Collection[str]) -> None:
        pass

    async def get(self, arrangement_id: str) -> ArrangementRecord | None:
        return self.state.arrangements.get(arrangement_id)

    def add(self, arrangement: ArrangementRecord) -> None:
        assert arrangement.arrangement_id not in self.state.arrangements
        self.state.arrangements[arrangement.arrangement_id] = arrangement


class FakeInstalments:
    def __init__(self, state: PlansState) -> None:
        self.state = state

    async def load(self, arrangement_ids: Collection[str]) -> None:
        pass

    async def of_plan(self, arrangement_id: str) -> list[InstalmentRecord]:
        return self.state.plan(arrangement_id)

    def add(self, instalment: InstalmentRecord) -> None:
        key = (instalment.arrangement_id, instalment.seq)
        assert key not in self.state.instalments
        self.state.instalments[key] = instalment

    def remove(self, instalment: InstalmentRecord) -> None:
        del self.state.instalments[(instalment.arrangement_id, instalment.seq)]


class FakeEarlyPayments:
    def __init__(self, state: PlansState) -> None:
        self.state = state

    async def load(self, debt_ids: Collection[str]) -> None:
        pass

    def hold(self, payment: HeldPayment) -> None:
        self.state.held_payments.append(payment)

    async def take(self, debt_id: str) -> list[HeldPayment]:
        taken = [p for p in self.state.held_payments if p.debt_id == debt_id]
        self.state.held_payments = [p for p in self.state.held_payments if p.debt_id != debt_id]
        return taken


class FakeSweep:
    """The sweep's two statements, row by row, with the domain's own predicate."""

    def __init__(self, state: PlansState) -> None:
        self.state = state

    async def newly_missed(self, business_date: date) -> AsyncGenerator[list[DuePlan], None]:
        """One slice: every arrangement at once."""
        due = []
        for arrangement in self.state.arrangements.values():
            if arrangement.status != domain.PlanStatus.LIVE:
                continue
            rows = {r.seq: r for r in self.state.plan(arrangement.arrangement_id)}
            as_values = [
                domain.Instalment(r.seq, r.due_date, r.amount_pence, r.paid_pence, r.missed_reported)
                for r in rows.values()
            ]
            newly = domain.missed_on(business_date, as_values)
            if not newly:
                continue
            owed_before = sum(i.unpaid_pence for i in as_values if i.missed_reported)
            for i in newly:
                rows[i.seq].missed_reported = True
            before = arrangement.misses_this_year
            arrangement.misses_this_year += len(newly)
            missed = [domain.MissedInstalment(i.seq, i.due_date, i.amount_pence, i.paid_pence) for i in newly]
            due.append(
                DuePlan(
                    arrangement.arrangement_id,
                    arrangement.account_ref,
                    list(arrangement.debt_ids),
                    arrangement.financial_year,
                    before,
                    missed,
                    owed_before,
                )
            )
        if due:
            yield due


class FakePlans(FakeUnitOfWork, Plans):
    def __init__(self) -> None:
        super().__init__("recovery-arrangements")
        self.publishable = ROUTES.published_types()
        self.state = PlansState()
        self._saved = PlansState()
        self.flushed_outbox = 0
        self._outbox: list[object] = []
        self.debts = FakeDebts(self.state)
        self.arrangements = FakeArrangements(self.state)
        self.instalments = FakeInstalments(self.state)
        self.early_payments = FakeEarlyPayments(self.state)
        self.sweep = FakeSweep(self.state)

    async def flush_outbox(self) -> None:
        """As the real one: the events so far leave memory, committed or not with the unit."""
        self._outbox.extend(self.events)
        self.events = []
        self.flushed_outbox += 1

    async def commit(self) -> None:
        self._saved = copy.deepcopy(self.state)
        self.committed.extend(self._outbox)
        self._outbox = []
        await super().commit()

    async def rollback(self) -> None:
        await super().rollback()
        self._outbox = []
        restored = copy.deepcopy(self._saved)
        for name in ("debts", "arrangements", "instalments", "held_payments"):
            setattr(self.state, name, getattr(restored, name))
