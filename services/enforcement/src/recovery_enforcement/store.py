"""All of enforcement's queries."""

from __future__ import annotations

from datetime import date

from sqlmodel import col, select

from recovery_enforcement.models import AgentReturn, Hold, LadderStep, PendingSchedule, RecoveryCase
from recovery_shared.messaging.unit_of_work import UnitOfWork


class Cases:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def case(self, case_id: str) -> RecoveryCase | None:
        return await self.session.get(RecoveryCase, case_id)

    async def case_for_debt(self, debt_id: str) -> RecoveryCase | None:
        # A case is keyed by its debt (on_charge), so this is an identity-map lookup
        # once the batch's cases are loaded (``load_cases``), not a query per event.
        return await self.session.get(RecoveryCase, debt_id)

    async def load_cases(self, debt_ids: set[str]) -> list[RecoveryCase]:
        """Every case a batch of events names, in one query per 500. The session's identity
        map holds objects weakly: the caller keeps the list for as long as the batch runs."""
        ids = sorted(debt_ids)
        loaded: list[RecoveryCase] = []
        for start in range(0, len(ids), 500):
            result = await self.session.exec(
                select(RecoveryCase).where(col(RecoveryCase.case_id).in_(ids[start : start + 500]))
            )
            loaded.extend(result.all())
        return loaded

    async def case_for_summons(self, summons_id: str) -> RecoveryCase | None:
        result = await self.session.exec(select(RecoveryCase).where(RecoveryCase.summons_id == summons_id))
        return result.first()

    async def case_for_referral(self, referral_id: str) -> RecoveryCase | None:
        result = await self.session.exec(select(RecoveryCase).where(RecoveryCase.referral_id == referral_id))
        return result.first()

    async def cases_for_party(self, party_id: str) -> list[RecoveryCase]:
        result = await self.session.exec(select(RecoveryCase).where(RecoveryCase.party_id == party_id))
        return list(result.all())

    async def cases_for_account(self, account_ref: str) -> list[RecoveryCase]:
        result = await self.session.exec(select(RecoveryCase).where(RecoveryCase.account_ref == account_ref))
        return list(result.all())

    async def due_for_action(self, today: date) -> list[RecoveryCase]:
        result = await self.session.exec(
            select(RecoveryCase)
            .where(
                col(RecoveryCase.is_open).is_(True),
                col(RecoveryCase.held).is_(False),
                col(RecoveryCase.next_action_on) <= today,
            )
            .order_by(col(RecoveryCase.case_id))
        )
        return list(result.all())

    async def open_holds(self, party_id: str, kind: str) -> list[Hold]:
        result = await self.session.exec(
            select(Hold).where(Hold.party_id == party_id, Hold.kind == kind, col(Hold.ended_on).is_(None))
        )
        return list(result.all())

    async def any_open_hold_on(self, case_id: str, party_id: str) -> bool:
        result = await self.session.exec(select(Hold).where(Hold.party_id == party_id, col(Hold.ended_on).is_(None)))
        return any(case_id in hold.case_ids for hold in result.all())

    async def take_pending_schedule(self, debt_id: str) -> list[list[object]] | None:
        pending = await self.session.get(PendingSchedule, debt_id)
        if pending is None:
            return None
        await self.session.delete(pending)
        return list(pending.schedule)

    async def keep_pending_schedule(self, debt_id: str, schedule: list[list[object]]) -> None:
        pending = await self.session.get(PendingSchedule, debt_id)
        if pending is None:
            self.session.add(PendingSchedule(debt_id=debt_id, schedule=schedule))
        else:
            pending.schedule = schedule
            self.session.add(pending)

    def add(self, row: RecoveryCase | Hold | LadderStep | AgentReturn) -> None:
        self.session.add(row)
