"""Arrangements' use cases: one method per thing that can happen to an instalment plan."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

import structlog

from recovery_arrangements import domain, missed_events
from recovery_arrangements.missed_events import MissedEventEncoder, PlanFields, new_event_ids
from recovery_arrangements.models import BALANCE_DUE, COMPLETED, LIVE, Arrangement, Debt, Instalment
from recovery_arrangements.store import Plans
from recovery_shared import topics
from recovery_shared.clock import financial_year_of, utc_now
from recovery_shared.contracts import parse
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.common import Instalment as ScheduledInstalment
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeRaised, DayStarted
from recovery_shared.contracts.internal import (
    ArrangementCompleted,
    ArrangementDefaulted,
    ArrangementEndedData,
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    BalanceFellDue,
    InstalmentPaid,
    InstalmentPaidData,
    PaymentAllocated,
    PaymentReversed,
)
from recovery_shared.council import CouncilConfig
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.unit_of_work import UnitOfWork

log = structlog.get_logger("recovery.arrangements")

STATUTORY_DEBT_TYPES = frozenset({DebtType.COUNCIL_TAX, DebtType.BUSINESS_RATES})
# An arrangement still taking money: instalments on a live plan, or the single balance.
PAYABLE_STATUSES = frozenset({LIVE, BALANCE_DUE})
SWEEP_OUTBOX_CHUNK = 5000


def statutory_arrangement_id(debt_id: str) -> str:
    return f"ST-{debt_id}"


class Arrangements:
    """The instalment plans' use cases, bound to the council's configuration."""

    def __init__(self, council: CouncilConfig) -> None:
        self.council = council

    # --- billing.charges.v1 -------------------------------------------------------

    async def on_charge(self, uow: UnitOfWork, event: object) -> None:
        if isinstance(event, ChargeRaised):
            await self.open_statutory_arrangement(Plans(uow), event)
        elif isinstance(event, ChargeAdjusted):
            await self.adjust_arrangement(Plans(uow), event)

    def schedule_for(
        self, debt: Debt, financial_year: str, printed: Sequence[ScheduledInstalment] | None
    ) -> domain.Schedule:
        """The bill's own schedule if it carries one; the statutory one for CT and NNDR; one
        payment on invoice terms for everything else."""
        if printed:
            return [(i.due_date, i.amount_pence) for i in printed]
        rules = self.council.instalment_rules(debt.debt_type)
        if DebtType(debt.debt_type) in STATUTORY_DEBT_TYPES and rules is not None:
            return domain.statutory_schedule(
                debt.amount_pence,
                debt.bill_issued_on,
                financial_year,
                rules,
                self.council.instalment_day_of_month,
                debt.twelve_instalments_requested,
            )
        return domain.invoice_schedule(debt.amount_pence, debt.bill_issued_on, rules)

    async def open_statutory_arrangement(self, plans: Plans, event: ChargeRaised) -> None:
        data = event.data
        debt = await plans.debt(data.debt_id)
        if debt is not None:
            if not domain.same_charge(debt.amount_pence, debt.account_ref, data):
                raise Refused(f"debt {data.debt_id} is already held for a different amount or account")
            if debt.arrangement_id is not None:
                return  # a second copy of the bill
        else:
            debt = Debt(
                debt_id=data.debt_id,
                account_ref=data.account_ref,
                party_id=data.liable_party.party_id,
                debt_type=data.debt_type.value,
                financial_year=data.financial_year,
                amount_pence=data.amount_pence,
                bill_issued_on=data.bill_issued_on,
                twelve_instalments_requested=data.twelve_instalments_requested,
            )
        # The bill's year; failing that, the year its period starts in (a bill issued in March
        # is usually for the coming year), and only then the year it was issued in.
        year = data.financial_year or financial_year_of(data.period_start or data.bill_issued_on)
        schedule = self.schedule_for(debt, year, data.instalments)
        arrangement = Arrangement(
            arrangement_id=statutory_arrangement_id(debt.debt_id),
            account_ref=debt.account_ref,
            kind=ArrangementKind.STATUTORY.value,
            debt_ids=[debt.debt_id],
            status=LIVE,
            financial_year=year,
        )
        debt.arrangement_id = arrangement.arrangement_id
        rows = [
            Instalment(
                arrangement_id=arrangement.arrangement_id,
                seq=n,
                debt_id=debt.debt_id,
                due_date=due,
                amount_pence=amount,
            )
            for n, (due, amount) in enumerate(schedule, start=1)
        ]
        plans.add(debt)
        plans.add(arrangement)
        for row in rows:
            plans.add(row)
        publish_made(plans.uow, arrangement, rows)
        for early in await plans.take_early_payments(debt.debt_id):
            self._apply(plans.uow, arrangement, rows, early.amount_pence, early.paid_on)

    async def adjust_arrangement(self, plans: Plans, event: ChargeAdjusted) -> None:
        """A changed charge keeps what has been paid and what already fell due, and spreads the
        rest over the instalments still to come (domain.rebuild_after_adjustment); a reissued
        schedule on the adjustment replaces ours. The whole new schedule goes out again as
        arrangement.made, because readers (the ledger's instalment matching, enforcement's
        reminder sums) keep the full schedule and replace it on each arrangement.made. On a
        plan whose balance has fallen due, only the balance changes and no new schedule is
        published: the instalments are gone."""
        data = event.data
        debt = await plans.debt(data.debt_id)
        if debt is None:
            raise Refused(f"debt {data.debt_id} is not known; it must be raised before it is adjusted")
        debt.amount_pence = data.new_amount_pence
        plans.add(debt)
        if debt.arrangement_id is None:
            return
        arrangement = await plans.arrangement(debt.arrangement_id)
        if arrangement is None:
            return
        rows = await plans.instalments(arrangement.arrangement_id)
        was_paid = {r.seq for r in rows if r.paid_pence >= r.amount_pence}
        collapsed = arrangement.balance_due_on is not None  # balance due, or paid off since
        if arrangement.balance_due_on is not None:
            plan = domain.rebalance_collapsed(rows, data.new_amount_pence, arrangement.balance_due_on)
        elif data.instalments:
            plan = [domain.Planned(n, i.due_date, i.amount_pence) for n, i in enumerate(data.instalments, start=1)]
            domain.apply_payment(plan, min(sum(r.paid_pence for r in rows), data.new_amount_pence))
            was_paid = set()  # a reissued schedule numbers its instalments afresh
        else:
            rules = self.council.instalment_rules(debt.debt_type)
            plan = domain.rebuild_after_adjustment(
                rows,
                data.new_amount_pence,
                data.adjusted_on,
                rules.minimum_instalment_pence if rules is not None else 1,
                rules.minimum_days_after_issue if rules is not None else domain.INVOICE_TERMS_DAYS,
            )
        reported = {r.seq: (r.due_date, r.missed_reported) for r in rows}
        await plans.delete_instalments(rows)
        new_rows = [
            Instalment(
                arrangement_id=arrangement.arrangement_id,
                seq=p.seq,
                debt_id=debt.debt_id,
                due_date=p.due_date,
                amount_pence=p.amount_pence,
                paid_pence=p.paid_pence,
                # A miss already reported stays reported; the balance of a collapsed plan is
                # enforcement's to chase, never reported as missed.
                missed_reported=collapsed or reported.get(p.seq) == (p.due_date, True),
            )
            for p in plan
        ]
        for row in new_rows:
            plans.add(row)
        uow = plans.uow
        if not collapsed:
            if new_rows:
                publish_made(uow, arrangement, new_rows)
            for row in new_rows:
                if row.seq not in was_paid and row.paid_pence >= row.amount_pence:
                    publish_paid(uow, arrangement, row, data.adjusted_on)
        self._settle_status(uow, arrangement, new_rows, data.adjusted_on, plans)

    # --- payments.events.v1 -----------------------------------------------------------

    async def on_payment_event(self, uow: UnitOfWork, event: object) -> None:
        if isinstance(event, PaymentAllocated):
            parts, sign, on = event.data.parts, 1, event.data.received_on
        elif isinstance(event, PaymentReversed):
            parts, sign, on = event.data.parts, -1, event.data.reversed_on
        else:
            return  # balances, suspense, refunds and DD notices are the ledger's business
        by_debt: dict[str, int] = defaultdict(int)
        for part in parts:
            by_debt[part.debt_id] += sign * part.amount_pence
        plans = Plans(uow)
        for debt_id, amount in by_debt.items():
            await self.apply_to_debt(plans, debt_id, amount, on)

    async def apply_to_debt(self, plans: Plans, debt_id: str, amount_pence: int, on: date) -> None:
        debt = await plans.debt(debt_id)
        if debt is None or debt.arrangement_id is None:
            # The ledger can be ahead of our copy of billing; the money waits for the schedule.
            plans.hold_early_payment(debt_id, amount_pence, on)
            return
        arrangement = await plans.arrangement(debt.arrangement_id)
        if arrangement is None:
            return
        if arrangement.status not in PAYABLE_STATUSES and amount_pence > 0:
            return  # nothing left to pay: an overpayment is the ledger's credit
        rows = await plans.instalments(arrangement.arrangement_id)
        mine = [r for r in rows if r.debt_id in (debt_id, None)]
        self._apply(plans.uow, arrangement, mine, amount_pence, on, all_rows=rows)
        plans.add(arrangement)

    def _apply(
        self,
        uow: UnitOfWork,
        arrangement: Arrangement,
        rows: list[Instalment],
        amount_pence: int,
        on: date,
        *,
        all_rows: list[Instalment] | None = None,
    ) -> None:
        applied = domain.apply_payment(rows, amount_pence)
        for row in applied.fully_paid:
            publish_paid(uow, arrangement, row, on)
        self._settle_status(uow, arrangement, all_rows if all_rows is not None else rows, on, None)

    def _settle_status(
        self, uow: UnitOfWork, arrangement: Arrangement, rows: Iterable[Instalment], on: date, plans: Plans | None
    ) -> None:
        """Complete a plan whose instalments are all paid; reopen one a reversal or an increase
        left owing (as it was: live, or with its balance due)."""
        paid_up = domain.all_paid(rows)
        if paid_up and arrangement.status in PAYABLE_STATUSES:
            arrangement.status = COMPLETED
            publish_ended(uow, ArrangementCompleted, arrangement, on, "all instalments paid")
        elif not paid_up and arrangement.status == COMPLETED:
            arrangement.status = BALANCE_DUE if arrangement.balance_due_on is not None else LIVE
        arrangement.updated_at = utc_now()
        if plans is not None:
            plans.add(arrangement)

    # --- clock.days.v1 -----------------------------------------------------------------

    async def on_day(self, uow: UnitOfWork, event: object) -> None:
        if not isinstance(event, DayStarted):
            return
        today = event.data.business_date
        if not await uow.advance_business_date(today):
            return  # a replayed or older day: the sweep for it has run
        await sweep_missed_instalments(Plans(uow), today)

    # --- enforcement.events.v1 -----------------------------------------------------------

    async def on_enforcement_event(self, uow: UnitOfWork, event: object) -> None:
        if isinstance(event, BalanceFellDue):
            await self.balance_fell_due(Plans(uow), event)

    async def balance_fell_due(self, plans: Plans, event: BalanceFellDue) -> None:
        """The right to instalments is lost (reg 23(3)-(4) [S1]; NNDR reg 8 [S24]): the unpaid
        instalments collapse into one due on the date enforcement gives, the plan is defaulted,
        and no further instalment.missed is published for it: enforcement drives the case."""
        data = event.data
        debt = await plans.debt(data.debt_id)
        if debt is None:
            raise Refused(f"balance fell due on debt {data.debt_id}, which arrangements has never seen")
        if debt.arrangement_id is None:
            return
        arrangement = await plans.arrangement(debt.arrangement_id)
        if arrangement is None or arrangement.status != LIVE:
            return  # already collapsed (a second notice), or nothing left owing
        rows = await plans.instalments(arrangement.arrangement_id)
        kept, balance = domain.collapse_for_balance_due(rows, data.due_on)
        if balance is None:
            return
        await plans.delete_instalments(rows)
        for p in [*kept, balance]:
            plans.add(
                Instalment(
                    arrangement_id=arrangement.arrangement_id,
                    seq=p.seq,
                    debt_id=debt.debt_id,
                    due_date=p.due_date,
                    amount_pence=p.amount_pence,
                    paid_pence=p.paid_pence,
                    missed_reported=True,  # paid, or the balance enforcement now chases
                )
            )
        arrangement.status = BALANCE_DUE
        arrangement.balance_due_on = data.due_on
        arrangement.updated_at = utc_now()
        plans.add(arrangement)
        publish_ended(
            plans.uow,
            ArrangementDefaulted,
            arrangement,
            data.due_on,
            f"balance of {balance.amount_pence}p fell due on {data.due_on.isoformat()}: {data.reason}",
        )


# --- the daily sweep ---------------------------------------------------------------------


async def sweep_missed_instalments(plans: Plans, today: date) -> int:
    """Publish one instalment.missed per instalment newly missed as of ``today``, set-based:
    two updates that raise the arrangements' miss counts and mark the due rows reported,
    returning what the events need, and a look at what is still owed on earlier misses for
    the arrangements that had any (store.Plans, "the daily sweep"). No per-row ORM loads or
    updates, and no pydantic model per event: the events are encoded in bulk
    (missed_events) and queued with ``UnitOfWork.publish_many``."""
    await plans.hold_instalments()
    due = await plans.report_newly_missed(today)
    if not due:
        return 0
    owed_before = await plans.unpaid_on_earlier_misses(due)
    uow = plans.uow
    correlation_id, causation_id = uow.chain_ids()
    encoder = MissedEventEncoder(
        detected_on=today, occurred_at=utc_now(), correlation_id=correlation_id, causation_id=causation_id
    )
    missed = sum(len(plan.missed) for plan in due)
    event_ids = iter(new_event_ids(missed))
    checked = False
    batch: list[tuple[str, bytes]] = []
    for plan in due:
        fields = PlanFields(plan.arrangement_id, plan.account_ref, plan.debt_ids_json, plan.financial_year)
        for miss in domain.count_misses(plan.missed, plan.misses_before, owed_before.get(plan.arrangement_id, 0)):
            payload = encoder.encode(
                next(event_ids), fields, miss.due_date, miss.unpaid_pence, miss.overdue_pence, miss.misses_this_year
            )
            if not checked:
                # One event per sweep through the real contract: the encoder and
                # InstalmentMissed cannot drift apart unnoticed.
                parse(topics.ARRANGEMENT_EVENTS, payload)
                checked = True
            batch.append((plan.account_ref, payload))
        if len(batch) >= SWEEP_OUTBOX_CHUNK:
            # Write the outbox as we go (same transaction): a day with a hundred thousand misses
            # would otherwise hold every event in memory until commit.
            publish_missed(uow, batch)
            await uow.flush_kernel_rows()
            batch = []
    publish_missed(uow, batch)
    log.info("missed instalments swept", business_date=today.isoformat(), missed=missed)
    return missed


# --- publishing ----------------------------------------------------------------------------


def publish_missed(uow: UnitOfWork, encoded: list[tuple[str, bytes]]) -> None:
    uow.publish_many(
        topics.ARRANGEMENT_EVENTS, missed_events.EVENT_TYPE, encoded, schema_version=missed_events.SCHEMA_VERSION
    )


def publish_made(uow: UnitOfWork, arrangement: Arrangement, rows: Sequence[Instalment]) -> None:
    ordered = sorted(rows, key=lambda r: (r.due_date, r.seq))
    uow.publish(
        topics.ARRANGEMENT_EVENTS,
        ArrangementMade(
            key=arrangement.account_ref,
            data=ArrangementMadeData(
                arrangement_id=arrangement.arrangement_id,
                account_ref=arrangement.account_ref,
                kind=ArrangementKind(arrangement.kind),
                debt_ids=list(arrangement.debt_ids),
                instalments=[ScheduledInstalment(due_date=r.due_date, amount_pence=r.amount_pence) for r in ordered],
            ),
        ),
    )


def publish_paid(uow: UnitOfWork, arrangement: Arrangement, row: Instalment, on: date) -> None:
    uow.publish(
        topics.ARRANGEMENT_EVENTS,
        InstalmentPaid(
            key=arrangement.account_ref,
            data=InstalmentPaidData(
                arrangement_id=arrangement.arrangement_id,
                account_ref=arrangement.account_ref,
                debt_ids=list(arrangement.debt_ids),
                due_date=row.due_date,
                amount_pence=row.amount_pence,
                paid_on=on,
            ),
        ),
    )


def publish_ended(
    uow: UnitOfWork,
    kind: type[ArrangementCompleted] | type[ArrangementDefaulted],
    arrangement: Arrangement,
    on: date,
    reason: str,
) -> None:
    uow.publish(
        topics.ARRANGEMENT_EVENTS,
        kind(
            key=arrangement.account_ref,
            data=ArrangementEndedData(
                arrangement_id=arrangement.arrangement_id,
                account_ref=arrangement.account_ref,
                debt_ids=list(arrangement.debt_ids),
                on=on,
                reason=reason,
            ),
        ),
    )
