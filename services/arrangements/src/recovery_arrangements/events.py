"""The mapper: arrangements' decisions as the contract's events on arrangements.events.v1."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Protocol

from recovery_arrangements import domain
from recovery_shared.contracts.common import Instalment as ScheduledInstalment
from recovery_shared.contracts.envelope import new_event_id
from recovery_shared.contracts.internal import (
    ArrangementCompleted,
    ArrangementDefaulted,
    ArrangementEndedData,
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    InstalmentMissed,
    InstalmentPaid,
    InstalmentPaidData,
)


class PlanHeader(Protocol):
    """What every event about an arrangement repeats."""

    @property
    def arrangement_id(self) -> str: ...

    @property
    def account_ref(self) -> str: ...

    @property
    def debt_ids(self) -> list[str]: ...


class MadePlan(PlanHeader, Protocol):
    @property
    def kind(self) -> str: ...


class SweptPlan(PlanHeader, Protocol):
    @property
    def financial_year(self) -> str | None: ...


def arrangement_made(plan: MadePlan, instalments: Iterable[domain.Instalment]) -> ArrangementMade:
    """The whole schedule: readers (the ledger's instalment matching, enforcement's
    reminder sums) replace what they hold with it each time."""
    return ArrangementMade(
        key=plan.account_ref,
        data=ArrangementMadeData(
            arrangement_id=plan.arrangement_id,
            account_ref=plan.account_ref,
            kind=ArrangementKind(plan.kind),
            debt_ids=list(plan.debt_ids),
            instalments=[
                ScheduledInstalment(due_date=i.due_date, amount_pence=i.amount_pence)
                for i in domain.in_due_order(instalments)
            ],
        ),
    )


def instalment_paid(plan: PlanHeader, instalment: domain.Instalment, on: date) -> InstalmentPaid:
    return InstalmentPaid(
        key=plan.account_ref,
        data=InstalmentPaidData(
            arrangement_id=plan.arrangement_id,
            account_ref=plan.account_ref,
            debt_ids=list(plan.debt_ids),
            due_date=instalment.due_date,
            amount_pence=instalment.amount_pence,
            paid_on=on,
        ),
    )


def _ended(plan: PlanHeader, on: date, reason: str) -> ArrangementEndedData:
    return ArrangementEndedData(
        arrangement_id=plan.arrangement_id,
        account_ref=plan.account_ref,
        debt_ids=list(plan.debt_ids),
        on=on,
        reason=reason,
    )


def arrangement_completed(plan: PlanHeader, on: date) -> ArrangementCompleted:
    return ArrangementCompleted(key=plan.account_ref, data=_ended(plan, on, "all instalments paid"))


def arrangement_defaulted(
    plan: PlanHeader, collapsed: domain.Collapsed, due_on: date, why: str
) -> ArrangementDefaulted:
    reason = f"balance of {collapsed.balance.amount_pence}p fell due on {due_on.isoformat()}: {why}"
    return ArrangementDefaulted(key=plan.account_ref, data=_ended(plan, due_on, reason))


_validate_missed = InstalmentMissed.__pydantic_validator__.validate_python


class MissedEvents:
    """instalment.missed for one day's sweep: what every event of the day shares is
    worked out once, then one event per miss, built from the contract's own models
    (validated: pydantic-core builds them faster than ``model_construct`` would)."""

    __slots__ = ("causation_id", "correlation_id", "detected_on", "occurred_at")

    def __init__(
        self, *, detected_on: date, occurred_at: datetime, correlation_id: uuid.UUID, causation_id: uuid.UUID
    ) -> None:
        self.detected_on = detected_on
        self.occurred_at = occurred_at
        self.correlation_id = correlation_id
        self.causation_id = causation_id

    def missed(self, plan: SweptPlan, miss: domain.Miss) -> InstalmentMissed:
        event_id = new_event_id()
        # The contract's own validator, given the whole envelope at once: one call into
        # pydantic-core per event instead of two model constructors.
        event: InstalmentMissed = _validate_missed(
            {
                "event_id": event_id,
                "occurred_at": self.occurred_at,
                "correlation_id": self.correlation_id,
                "causation_id": self.causation_id,
                "key": plan.account_ref,
                "data": {
                    "arrangement_id": plan.arrangement_id,
                    "account_ref": plan.account_ref,
                    "debt_ids": plan.debt_ids,
                    "financial_year": plan.financial_year,
                    "due_date": miss.due_date,
                    "amount_pence": miss.unpaid_pence,
                    "overdue_pence": miss.overdue_pence,
                    "misses_this_year": miss.misses_this_year,
                    "detected_on": self.detected_on,
                },
            }
        )
        return event
