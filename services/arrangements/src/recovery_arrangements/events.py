"""The mapper: arrangements' decisions as the contract's events on arrangements.events.v1."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from typing import Protocol

from recovery_arrangements import domain
from recovery_shared.contracts.common import Instalment as ScheduledInstalment
from recovery_shared.contracts.internal import (
    ArrangementCompleted,
    ArrangementDefaulted,
    ArrangementEndedData,
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    InstalmentMissed,
    InstalmentMissedData,
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


# The RFC 4122 variant bits: the first hex digit of the fourth group is 8, 9, a or b.
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def new_event_ids(count: int) -> Iterator[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the system's random
    source rather than one ``uuid4()`` each: a sweep names tens of thousands of events."""
    pool = os.urandom(16 * count).hex()
    for start in range(0, 32 * count, 32):
        h = pool[start : start + 32]
        yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


class MissedEvents:
    """instalment.missed for one day's sweep: what every event of the day shares is
    worked out once, then one event per miss, built from the contract's own models
    (validated: pydantic-core builds them faster than ``model_construct`` would)."""

    __slots__ = ("_ids", "causation_id", "correlation_id", "detected_on", "occurred_at")

    def __init__(
        self, *, detected_on: date, occurred_at: datetime, correlation_id: uuid.UUID, causation_id: uuid.UUID
    ) -> None:
        self.detected_on = detected_on
        self.occurred_at = occurred_at
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self._ids: Iterator[str] = iter(())

    def missed(self, plan: SweptPlan, miss: domain.Miss) -> InstalmentMissed:
        event_id = next(self._ids, None)
        if event_id is None:
            self._ids = new_event_ids(1024)
            event_id = next(self._ids)
        return InstalmentMissed(
            event_id=event_id,
            occurred_at=self.occurred_at,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            key=plan.account_ref,
            data=InstalmentMissedData(
                arrangement_id=plan.arrangement_id,
                account_ref=plan.account_ref,
                debt_ids=plan.debt_ids,
                financial_year=plan.financial_year,
                due_date=miss.due_date,
                amount_pence=miss.unpaid_pence,
                overdue_pence=miss.overdue_pence,
                misses_this_year=miss.misses_this_year,
                detected_on=self.detected_on,
            ),
        )
