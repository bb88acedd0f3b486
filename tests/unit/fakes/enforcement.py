"""Enforcement's unit of work in memory: the same repositories as ``SqlCases``,
over dictionaries, so every use case is tested without a database or a broker."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import date
from typing import Any

from recovery_enforcement.store import (
    AgentReturnRecord,
    CaseRecord,
    Cases,
    HoldRecord,
    LadderStepRecord,
)
from recovery_shared.clock import utc_now
from tests.unit.fakes import FakeUnitOfWork


class _State:
    def __init__(self) -> None:
        self.cases: dict[str, CaseRecord] = {}
        self.holds: list[HoldRecord] = []
        self.pending: dict[str, list[list[Any]]] = {}
        self.steps: list[LadderStepRecord] = []
        self.returns: list[AgentReturnRecord] = []


class FakeCaseRepository:
    def __init__(self, state: _State) -> None:
        self.state = state
        self.loads = 0

    async def load(
        self,
        *,
        debt_ids: Iterable[str] = (),
        summons_ids: Iterable[str] = (),
        referral_ids: Iterable[str] = (),
        parties: Iterable[str] = (),
        accounts: Iterable[str] = (),
        claim_ids: Iterable[str] = (),
    ) -> None:
        self.loads += 1

    async def for_debt(self, debt_id: str) -> CaseRecord | None:
        return self.state.cases.get(debt_id)

    async def for_summons(self, summons_id: str) -> CaseRecord | None:
        return next((c for c in self.state.cases.values() if c.summons_id == summons_id), None)

    async def for_referral(self, referral_id: str) -> CaseRecord | None:
        return next((c for c in self.state.cases.values() if c.referral_id == referral_id), None)

    async def for_claim(self, claim_id: str) -> CaseRecord | None:
        return next((c for c in self.state.cases.values() if c.claim_id == claim_id), None)

    async def at_stage(self, stage: str) -> list[CaseRecord]:
        return sorted((c for c in self.state.cases.values() if c.stage == stage), key=lambda c: c.case_id)

    async def of_party(self, party_id: str) -> list[CaseRecord]:
        return sorted((c for c in self.state.cases.values() if c.party_id == party_id), key=lambda c: c.case_id)

    async def of_account(self, account_ref: str) -> list[CaseRecord]:
        return sorted((c for c in self.state.cases.values() if c.account_ref == account_ref), key=lambda c: c.case_id)

    async def due_for_action(self, today: date) -> list[CaseRecord]:
        due = [
            c
            for c in self.state.cases.values()
            if c.is_open
            and (
                (not c.held and c.next_action_on is not None and c.next_action_on <= today)
                or c.attention_since is not None
            )
        ]
        return sorted(due, key=lambda c: c.case_id)

    async def needing_attention(self) -> list[CaseRecord]:
        waiting = [c for c in self.state.cases.values() if c.attention_since is not None]
        return sorted(waiting, key=lambda c: (c.attention_since or date.min, c.case_id))

    def add(self, case: CaseRecord) -> None:
        if case.case_id in self.state.cases:
            raise ValueError(f"case {case.case_id} is already held")
        self.state.cases[case.case_id] = case


class FakeHoldRepository:
    def __init__(self, state: _State) -> None:
        self.state = state

    async def load_open(self, parties: Iterable[str]) -> None:
        return None

    async def open_holds(self, party_id: str, kind: str | None = None) -> list[HoldRecord]:
        return [
            h
            for h in self.state.holds
            if h.party_id == party_id and h.ended_on is None and (kind is None or h.kind == kind)
        ]

    async def of_party(self, party_id: str) -> list[HoldRecord]:
        return [h for h in self.state.holds if h.party_id == party_id]

    def add(self, hold: HoldRecord) -> None:
        self.state.holds.append(hold)

    async def pending(self) -> list[HoldRecord]:
        waiting = [h for h in self.state.holds if h.pending and h.ended_on is None]
        return sorted(waiting, key=lambda h: (h.started_on, h.party_id, h.kind))

    async def pending_count(self) -> int:
        return len(await self.pending())


class FakePendingSchedules:
    def __init__(self, state: _State) -> None:
        self.state = state

    async def load(self, debt_ids: Iterable[str]) -> None:
        return None

    async def take(self, debt_id: str) -> list[list[Any]] | None:
        return self.state.pending.pop(debt_id, None)

    async def keep(self, debt_id: str, schedule: list[list[Any]]) -> None:
        self.state.pending[debt_id] = schedule


class FakeCaseHistory:
    def __init__(self, state: _State) -> None:
        self.state = state

    def step(self, case_id: str, on: date, step: str, detail: str) -> None:
        self.state.steps.append(LadderStepRecord(case_id, on, step, detail, utc_now()))

    def agent_return(self, record: AgentReturnRecord) -> None:
        self.state.returns.append(record)


class FakeCases(FakeUnitOfWork, Cases):
    """Changes live in ``state``; ``rollback`` puts back what the last commit left."""

    def __init__(self) -> None:
        super().__init__("enforcement-test")
        self.state = _State()
        self._saved = copy.deepcopy(self.state)
        self._open()

    def _open(self) -> None:
        self.cases = FakeCaseRepository(self.state)
        self.holds = FakeHoldRepository(self.state)
        self.schedules = FakePendingSchedules(self.state)
        self.history = FakeCaseHistory(self.state)

    async def commit(self) -> None:
        await super().commit()
        self._saved = copy.deepcopy(self.state)

    async def rollback(self) -> None:
        await super().rollback()
        self.state = copy.deepcopy(self._saved)
        self._open()

    # --- for assertions -------------------------------------------------------------

    def case(self, debt_id: str) -> CaseRecord:
        return self.state.cases[debt_id]

    def steps(self, debt_id: str) -> list[str]:
        return [s.step for s in self.state.steps if s.case_id == debt_id]
