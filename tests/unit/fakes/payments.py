"""The ledger in memory: ``FakeLedger`` has the repositories of ``store.Ledger``
over plain dicts, so every payments use case is tested without a database.

A commit keeps what the unit changed; a rollback (a refused message) puts back
the state of the last commit, as the database would."""

from __future__ import annotations

import copy
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date

from recovery_payments.domain import LedgerTotals, ReceiptStatus, StatusTotal
from recovery_payments.models import AllocationLineRecord, DebtRecord, HbAwardRecord, InstalmentRecord, ReceiptRecord
from recovery_payments.store import Ledger, ReceiptKey
from tests.unit.fakes import FakeUnitOfWork


@dataclass
class LedgerState:
    debts: dict[str, DebtRecord] = field(default_factory=dict)
    schedules: dict[str, list[InstalmentRecord]] = field(default_factory=dict)
    receipts: dict[ReceiptKey, ReceiptRecord] = field(default_factory=dict)
    lines: list[AllocationLineRecord] = field(default_factory=list)
    awards: dict[str, HbAwardRecord] = field(default_factory=dict)
    holds: set[tuple[str, str]] = field(default_factory=set)


class FakeDebts:
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def get(self, debt_id: str) -> DebtRecord | None:
        return self.state.debts.get(debt_id)

    async def on_account(self, account_ref: str) -> list[DebtRecord]:
        return [d for d in self.state.debts.values() if d.account_ref == account_ref]

    def add(self, debt: DebtRecord) -> None:
        if debt.debt_id in self.state.debts:
            raise ValueError(f"debt {debt.debt_id} is already held")
        self.state.debts[debt.debt_id] = debt

    async def load(self, *, accounts: Collection[str], debt_ids: Collection[str], accounts_of: Collection[str]) -> None:
        """Everything is always held."""


class FakeInstalments:
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def amounts(self, debt_ids: Sequence[str]) -> dict[str, frozenset[int]]:
        return {d: frozenset(i.amount_pence for i in self.state.schedules.get(d, [])) for d in debt_ids}

    async def replace(self, debt_id: str, schedule: Sequence[tuple[date, int]]) -> None:
        self.state.schedules[debt_id] = [InstalmentRecord(debt_id, due, amount) for due, amount in schedule]

    async def load(self, debt_ids: Collection[str]) -> None:
        """Everything is always held."""


class FakeReceipts:
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def get(self, channel: str, receipt_ref: str) -> ReceiptRecord | None:
        return self.state.receipts.get((channel, receipt_ref))

    async def suspended_for(self, payer_reference: str) -> list[ReceiptRecord]:
        waiting = [
            r
            for r in self.state.receipts.values()
            if r.payer_reference == payer_reference and r.status == ReceiptStatus.SUSPENDED
        ]
        return sorted(waiting, key=lambda r: (r.received_on, r.receipt_ref))

    def add(self, receipt: ReceiptRecord) -> None:
        key = (receipt.channel, receipt.receipt_ref)
        if key in self.state.receipts:
            raise ValueError(f"receipt {key} is already held")
        self.state.receipts[key] = receipt

    async def load(self, keys: Collection[ReceiptKey]) -> None:
        """Everything is always held."""

    async def load_suspended_for(self, references: Collection[str]) -> None:
        """Everything is always held."""


class FakeAllocationLines:
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    def append(self, line: AllocationLineRecord) -> None:
        self.state.lines.append(line)

    async def placed(self, channel: str, receipt_ref: str) -> dict[str | None, int]:
        placed: dict[str | None, int] = {}
        for line in self.state.lines:
            if (line.channel, line.receipt_ref) == (channel, receipt_ref):
                placed[line.debt_id] = placed.get(line.debt_id, 0) + line.amount_pence
        return {debt_id: total for debt_id, total in placed.items() if total != 0}


class FakeHbAwards:
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def get(self, claim_ref: str) -> HbAwardRecord | None:
        return self.state.awards.get(claim_ref)

    async def live_for(self, account_ref: str) -> HbAwardRecord | None:
        return next((a for a in self.state.awards.values() if a.account_ref == account_ref and a.live), None)

    def add(self, award: HbAwardRecord) -> None:
        assert award.claim_ref not in self.state.awards
        self.state.awards[award.claim_ref] = award

    async def due(self, on: date) -> list[HbAwardRecord]:
        due = [a for a in self.state.awards.values() if a.live and a.next_week_on <= on]
        return sorted(due, key=lambda a: (a.next_week_on, a.claim_ref))


class FakeHbHolds:
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def held(self, debt_ids: Collection[str]) -> set[str]:
        return {debt_id for debt_id, _ in self.state.holds} & set(debt_ids)

    async def hold(self, debt_id: str, hold: str, since: date) -> None:
        self.state.holds.add((debt_id, hold))

    async def release(self, debt_id: str, hold: str) -> None:
        self.state.holds.discard((debt_id, hold))


class FakeReconciliation:
    def __init__(self, state: LedgerState) -> None:
        self.state = state

    async def totals(self) -> LedgerTotals:
        by_status: dict[str, StatusTotal] = {}
        placed: dict[ReceiptKey, int] = {}
        for line in self.state.lines:
            key = (line.channel, line.receipt_ref)
            placed[key] = placed.get(key, 0) + line.amount_pence
        broken = 0
        for key, receipt in self.state.receipts.items():
            total = by_status.get(receipt.status, StatusTotal(0, 0))
            by_status[receipt.status] = StatusTotal(total.count + 1, total.pence + receipt.amount_pence)
            expected = receipt.amount_pence if receipt.status == ReceiptStatus.ALLOCATED else 0
            broken += placed.get(key, 0) != expected
        return LedgerTotals(
            receipts=by_status,
            allocated_to_debts_pence=sum(line.amount_pence for line in self.state.lines if line.debt_id is not None),
            held_as_credit_pence=sum(line.amount_pence for line in self.state.lines if line.debt_id is None),
            receipts_out_of_balance=broken,
        )


class FakeLedger(FakeUnitOfWork, Ledger):
    def __init__(self) -> None:
        super().__init__("recovery-payments")
        self._saved = LedgerState()
        self._open(LedgerState())

    def _open(self, state: LedgerState) -> None:
        self.state = state
        self.debts = FakeDebts(state)
        self.instalments = FakeInstalments(state)
        self.receipts = FakeReceipts(state)
        self.allocation_lines = FakeAllocationLines(state)
        self.hb_awards = FakeHbAwards(state)
        self.hb_holds = FakeHbHolds(state)
        self.reconciliation = FakeReconciliation(state)

    async def commit(self) -> None:
        await super().commit()
        self._saved = copy.deepcopy(self.state)

    async def rollback(self) -> None:
        await super().rollback()
        self._open(copy.deepcopy(self._saved))
