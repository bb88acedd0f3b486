"""Arrangements' use cases: one per event the service acts on (``app.ROUTES``).

Each loads what it needs through the unit of work's repositories (held in memory once
``prefetch`` has loaded the batch), asks the domain for a decision, applies it to the
records and publishes it through the mapper (``events``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from contextlib import aclosing
from datetime import date, datetime

import structlog

from recovery_arrangements import domain, events
from recovery_arrangements.store import ArrangementRecord, DebtRecord, HeldPayment, InstalmentRecord, Plans
from recovery_shared.clock import dates_to_run, financial_year_of, utc_now
from recovery_shared.contracts.envelope import Envelope, causation
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeRaised, ChargeRaisedData, DayStarted
from recovery_shared.contracts.internal import (
    AllocationPart,
    ArrangementKind,
    BalanceFellDue,
    PaymentAllocated,
    PaymentReversed,
)
from recovery_shared.council import CouncilConfig
from recovery_shared.refusal import Refused

log = structlog.get_logger("recovery.arrangements")

"""Events a sweep holds in memory before writing them to the outbox (same transaction)."""


def statutory_arrangement_id(debt_id: str) -> str:
    return f"ST-{debt_id}"


def _debt_of(event: ChargeRaised | ChargeAdjusted | BalanceFellDue) -> list[str]:
    return [event.data.debt_id]


def _debts_paid(event: PaymentAllocated | PaymentReversed) -> list[str]:
    return [part.debt_id for part in event.data.parts]


DEBTS_NAMED: dict[type[Envelope], Callable[..., list[str]]] = {
    ChargeRaised: _debt_of,
    ChargeAdjusted: _debt_of,
    PaymentAllocated: _debts_paid,
    PaymentReversed: _debts_paid,
    BalanceFellDue: _debt_of,
}
"""The debts each routed event names, for the batch's prefetch (day.started names none)."""


class Arrangements:
    """The instalment plans' use cases, bound to the council's choices."""

    def __init__(self, council: CouncilConfig) -> None:
        self.choices = council.instalments
        self.clock = council.clock

    async def prefetch(self, uow: Plans, batch: list[Envelope]) -> None:
        """Load what a batch's events need in a few queries: the debts they name, those
        debts' arrangements and every instalment of them, and money held for the bills."""
        debt_ids: set[str] = set()
        for event in batch:
            named = DEBTS_NAMED.get(type(event))
            if named is not None:
                debt_ids.update(named(event))
        if not debt_ids:
            return
        debts = await uow.debts.load(debt_ids)
        plan_ids = {d.arrangement_id for d in debts if d.arrangement_id is not None}
        await uow.arrangements.load(plan_ids)
        await uow.instalments.load(plan_ids)
        await uow.early_payments.load([e.data.debt_id for e in batch if type(e) is ChargeRaised])

    # --- billing.charges.v1 -------------------------------------------------------------

    async def open_schedule(self, uow: Plans, event: ChargeRaised) -> None:
        """Each bill becomes an instalment plan: its statutory schedule (Council Tax and
        Business Rates), the schedule printed on it, or one payment on invoice terms; money
        that arrived before the bill is laid on it at once. An HB overpayment the council
        may not recover gets no plan."""
        data = event.data
        if not domain.is_owed(data.overpayment):
            # Enforcement records and reports it; the debt id names no one.
            log.info("bill not recoverable, no schedule made", debt_id=data.debt_id)
            return
        debt = await uow.debts.get(data.debt_id)
        if debt is not None:
            if not domain.same_charge(debt.amount_pence, debt.account_ref, data.amount_pence, data.account_ref):
                raise Refused(f"debt {data.debt_id} is already held for a different amount or account")
            if debt.arrangement_id is not None:
                return  # a second copy of the bill
        # The bill's year; failing that, the year its period starts in (a bill issued in March
        # is usually for the coming year), and only then the year it was issued in.
        year = data.financial_year or financial_year_of(data.period_start or data.bill_issued_on)
        bill = domain.Bill(
            debt_id=data.debt_id,
            debt_type=data.debt_type,
            amount_pence=data.amount_pence,
            issued_on=data.bill_issued_on,
            financial_year=year,
            twelve_requested=data.twelve_instalments_requested,
            printed=[(i.due_date, i.amount_pence) for i in data.instalments] if data.instalments else None,
        )
        schedule = domain.schedule_for(bill, self.choices)
        now = utc_now()
        arrangement = ArrangementRecord(
            arrangement_id=statutory_arrangement_id(data.debt_id),
            account_ref=data.account_ref,
            kind=ArrangementKind.STATUTORY.value,
            debt_ids=[data.debt_id],
            status=domain.PlanStatus.LIVE.value,
            misses_this_year=0,
            financial_year=year,
            balance_due_on=None,
            created_at=now,
            updated_at=now,
        )
        if debt is None:
            debt = _new_debt(data, now)
            uow.debts.add(debt)
        debt.arrangement_id = arrangement.arrangement_id
        uow.arrangements.add(arrangement)
        _replace_instalments(uow, arrangement.arrangement_id, data.debt_id, [], schedule)
        uow.publish(events.arrangement_made(arrangement, schedule))
        for early in await uow.early_payments.take(data.debt_id):
            await self._pay_debt(uow, early.debt_id, early.amount_pence, early.paid_on)

    async def adjust_schedule(self, uow: Plans, event: ChargeAdjusted) -> None:
        """A changed charge keeps what has been paid and what already fell due and spreads
        the rest over the instalments still to come (a schedule reissued with it replaces
        ours); the whole new schedule goes out again. Once the balance has fallen due only
        the balance changes."""
        data = event.data
        debt = await uow.debts.get(data.debt_id)
        if debt is None:
            raise Refused(f"debt {data.debt_id} is not known; it must be raised before it is adjusted")
        debt.amount_pence = data.new_amount_pence
        loaded = await _plan_of(uow, debt)
        if loaded is None:
            return
        arrangement, rows, plan = loaded
        adjusted = domain.adjust(
            plan,
            data.new_amount_pence,
            data.adjusted_on,
            domain.spread_rules(debt.debt_type, self.choices),
            [(i.due_date, i.amount_pence) for i in data.instalments] if data.instalments else None,
        )
        _replace_instalments(uow, arrangement.arrangement_id, debt.debt_id, rows, adjusted.instalments)
        if adjusted.republished:
            uow.publish(events.arrangement_made(arrangement, adjusted.instalments))
        for instalment in adjusted.newly_paid:
            uow.publish(events.instalment_paid(arrangement, instalment, data.adjusted_on))
        _settle(uow, arrangement, adjusted.settled, data.adjusted_on)

    # --- payments.events.v1 ---------------------------------------------------------------

    async def apply_allocation(self, uow: Plans, event: PaymentAllocated) -> None:
        """Money allocated to a debt pays its instalments, oldest due first; a completed
        instalment is published as paid, a plan paid off as completed. Money for a bill not
        yet seen is held until the schedule is built."""
        for debt_id, amount in _by_debt(event.data.parts, 1).items():
            await self._pay_debt(uow, debt_id, amount, event.data.received_on)

    async def apply_reversal(self, uow: Plans, event: PaymentReversed) -> None:
        """A reversed payment takes the money back from the latest-paid instalments, which
        the next sweep reports as missed if they fell due; a completed plan reopens."""
        for debt_id, amount in _by_debt(event.data.parts, -1).items():
            await self._pay_debt(uow, debt_id, amount, event.data.reversed_on)

    async def _pay_debt(self, uow: Plans, debt_id: str, amount_pence: int, on: date) -> None:
        debt = await uow.debts.get(debt_id)
        if debt is None or debt.arrangement_id is None:
            # The ledger can be ahead of our copy of billing; the money waits for the schedule.
            uow.early_payments.hold(HeldPayment(debt_id, amount_pence, on))
            return
        loaded = await _plan_of(uow, debt)
        if loaded is None:
            return
        arrangement, rows, plan = loaded
        paid = domain.pay(plan, debt_id, amount_pence)
        if paid is None:
            return
        by_seq = {row.seq: row for row in rows}
        for instalment in paid.instalments:
            by_seq[instalment.seq].paid_pence = instalment.paid_pence
        for instalment in paid.fully_paid:
            uow.publish(events.instalment_paid(arrangement, instalment, on))
        _settle(uow, arrangement, paid.settled, on)

    # --- clock.days.v1 ----------------------------------------------------------------------

    async def sweep_missed_instalments(self, uow: Plans, event: DayStarted) -> None:
        """Each business day: every instalment unpaid at the end of its due day is reported
        missed, once, with the plan's count of misses this year and everything overdue.
        After a gap each day in it is swept in turn, so a miss is dated the day it was
        found; a day too far ahead is refused and the business date stays."""
        days = dates_to_run(await uow.today(), event.data.business_date, max_days_forward=self.clock.max_days_forward)
        if not days:
            return  # a replayed or older day: the sweep for it has run
        await uow.advance_business_date(days[-1])
        chain = causation(event)
        for day in days:
            await self._sweep(uow, day, chain)

    async def _sweep(self, uow: Plans, today: date, chain: dict[str, uuid.UUID]) -> None:
        mapper = events.MissedEvents(
            detected_on=today,
            occurred_at=utc_now(),
            correlation_id=chain["correlation_id"],
            causation_id=chain["causation_id"],
        )
        missed = 0
        async with aclosing(uow.sweep.newly_missed(today)) as slices:
            async for due in slices:
                for plan in due:
                    for miss in domain.count_misses(plan.missed, plan.misses_before, plan.owed_before_pence):
                        uow.publish(mapper.missed(plan, miss))
                    missed += len(plan.missed)
                # While the sweep marks the next slice: each slice's events leave memory as
                # outbox rows, so a day with a hundred thousand misses never holds them all.
                uow.encode_outbox()
        log.info("missed instalments swept", business_date=today.isoformat(), missed=missed)

    # --- enforcement.events.v1 --------------------------------------------------------------

    async def collapse_schedule(self, uow: Plans, event: BalanceFellDue) -> None:
        """The right to instalments is lost: the unpaid instalments collapse into one due on
        the date enforcement gives, and the plan is defaulted; no further instalment.missed
        is published for it, as enforcement now drives the case."""
        data = event.data
        debt = await uow.debts.get(data.debt_id)
        if debt is None:
            raise Refused(f"balance fell due on debt {data.debt_id}, which arrangements has never seen")
        loaded = await _plan_of(uow, debt)
        if loaded is None:
            return
        arrangement, rows, plan = loaded
        collapsed = domain.collapse(plan, data.due_on)
        if collapsed is None:
            return  # already collapsed (a second notice), or nothing left owing
        _replace_instalments(uow, arrangement.arrangement_id, debt.debt_id, rows, collapsed.instalments)
        arrangement.status = domain.PlanStatus.BALANCE_DUE.value
        arrangement.balance_due_on = data.due_on
        arrangement.updated_at = utc_now()
        uow.publish(events.arrangement_defaulted(arrangement, collapsed, data.due_on, data.reason))


# --- applying decisions to the records ------------------------------------------------------


def _new_debt(data: ChargeRaisedData, now: datetime) -> DebtRecord:
    return DebtRecord(
        debt_id=data.debt_id,
        account_ref=data.account_ref,
        party_id=data.liable_party.party_id,
        debt_type=data.debt_type.value,
        financial_year=data.financial_year,
        amount_pence=data.amount_pence,
        bill_issued_on=data.bill_issued_on,
        twelve_instalments_requested=data.twelve_instalments_requested,
        arrangement_id=None,
        created_at=now,
    )


async def _plan_of(
    uow: Plans, debt: DebtRecord
) -> tuple[ArrangementRecord, list[InstalmentRecord], domain.Plan] | None:
    """The arrangement paying a debt, its instalment records, and the plan they make."""
    if debt.arrangement_id is None:
        return None
    arrangement = await uow.arrangements.get(debt.arrangement_id)
    if arrangement is None:
        return None
    rows = await uow.instalments.of_plan(arrangement.arrangement_id)
    instalments = tuple(
        domain.Instalment(r.seq, r.due_date, r.amount_pence, r.paid_pence, r.missed_reported, r.debt_id) for r in rows
    )
    return (
        arrangement,
        rows,
        domain.Plan(domain.PlanStatus(arrangement.status), arrangement.balance_due_on, instalments),
    )


def _replace_instalments(
    uow: Plans,
    arrangement_id: str,
    debt_id: str,
    rows: Iterable[InstalmentRecord],
    instalments: Iterable[domain.Instalment],
) -> None:
    """Make the plan's records the decided instalments: changed in place where the number
    is kept, added or removed otherwise."""
    held = {row.seq: row for row in rows}
    for i in instalments:
        row = held.pop(i.seq, None)
        if row is None:
            uow.instalments.add(
                InstalmentRecord(
                    arrangement_id, i.seq, debt_id, i.due_date, i.amount_pence, i.paid_pence, i.missed_reported
                )
            )
            continue
        row.debt_id = debt_id
        row.due_date = i.due_date
        row.amount_pence = i.amount_pence
        row.paid_pence = i.paid_pence
        row.missed_reported = i.missed_reported
    for row in held.values():
        uow.instalments.remove(row)


def _settle(uow: Plans, arrangement: ArrangementRecord, settled: domain.Settled, on: date) -> None:
    if settled.status != arrangement.status:
        arrangement.status = settled.status.value
        arrangement.updated_at = utc_now()
    if settled.completed:
        uow.publish(events.arrangement_completed(arrangement, on))


def _by_debt(parts: Collection[AllocationPart], sign: int) -> dict[str, int]:
    by_debt: dict[str, int] = defaultdict(int)
    for part in parts:
        by_debt[part.debt_id] += sign * part.amount_pence
    return by_debt
