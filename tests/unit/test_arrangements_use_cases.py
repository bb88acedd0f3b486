"""Arrangements' use cases with the fake unit of work (no database, no broker): each
routed event type, what it changes and what it publishes.

Schedules follow SI 1992/613 Sch 1 para 2 [S2] (10 monthly instalments from 1 April for a
bill issued before the year, on the council's day, the 1st); a miss is counted for reg 23
[S1]; the balance falls due under reg 23(3)-(4) [S1]; money pays the oldest instalment
first (R v Miskin [S52]); HBOP, TA and sundry debt are one payment on invoice terms
(domain §4-5 [S43b][S45]).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from recovery_arrangements.app import ROUTES
from recovery_arrangements.handlers import Arrangements
from recovery_shared.contracts.common import DebtType, Instalment
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    ChargeAdjusted,
    ChargeAdjustedData,
    ChargeRaisedData,
    DayStarted,
    DayStartedData,
)
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    ArrangementCompleted,
    ArrangementDefaulted,
    ArrangementMade,
    BalanceFellDue,
    BalanceFellDueData,
    InstalmentMissed,
    InstalmentPaid,
    PaymentAllocated,
    PaymentAllocatedData,
    PaymentReversed,
    PaymentReversedData,
)
from recovery_shared.council import load_council_config
from recovery_shared.refusal import Refused
from tests.factories import charge_raised, overpayment_decision
from tests.unit.fakes.arrangements import FakePlans

ACCOUNT = "7001"
DEBT = f"CT-{ACCOUNT}-2026"
PLAN = f"ST-{DEBT}"
USE_CASES = Arrangements(load_council_config())


async def handle(uow: FakePlans, *batch: Envelope) -> None:
    """As the kernel does: the batch's prefetch, then each event's route, then commit."""
    await ROUTES.prefetch(USE_CASES, uow, list(batch))  # type: ignore[misc]
    for event in batch:
        route = ROUTES.route_for(type(event))
        assert route is not None, type(event)
        uow.cause = event
        await route.use_case(USE_CASES, uow, event)
        uow.cause = None
    await uow.commit()


def allocated(amount: int, on: date, debt_id: str = DEBT, receipt: str = "CARD-1") -> PaymentAllocated:
    return PaymentAllocated(
        key=ACCOUNT,
        data=PaymentAllocatedData(
            receipt_ref=receipt,
            account_ref=ACCOUNT,
            amount_pence=amount,
            received_on=on,
            rule=AllocationRule.POLICY_ORDER,
            parts=[AllocationPart(debt_id=debt_id, amount_pence=amount)],
        ),
    )


def reversed_(amount: int, on: date) -> PaymentReversed:
    return PaymentReversed(
        key=ACCOUNT,
        data=PaymentReversedData(
            receipt_ref="DD-1",
            account_ref=ACCOUNT,
            amount_pence=amount,
            reversed_on=on,
            reason="Direct Debit unpaid, ARUDD reason 0",
            parts=[AllocationPart(debt_id=DEBT, amount_pence=amount)],
        ),
    )


def day(business_date: date) -> DayStarted:
    return DayStarted(data=DayStartedData(business_date=business_date))


async def day_by_day(uow: FakePlans, last: date) -> None:
    """Every day from the service's business date to ``last``, one day.started each, as
    the scheduler sends them (a jump of months is refused: the clock is bounded)."""
    today = uow.business_date
    assert today is not None
    while today < last:
        today += timedelta(days=1)
        await handle(uow, day(today))


def fell_due(due_on: date, debt_id: str = DEBT) -> BalanceFellDue:
    return BalanceFellDue(
        key=ACCOUNT,
        data=BalanceFellDueData(
            debt_id=debt_id, account_ref=ACCOUNT, due_on=due_on, reason="reminder not complied with"
        ),
    )


def adjusted(new_amount: int, on: date, instalments: list[Instalment] | None = None) -> ChargeAdjusted:
    return ChargeAdjusted(
        key=ACCOUNT,
        data=ChargeAdjustedData(
            debt_id=DEBT,
            account_ref=ACCOUNT,
            new_amount_pence=new_amount,
            adjusted_on=on,
            reason="single person discount",
            instalments=instalments,
        ),
    )


def instalments(uow: FakePlans, plan: str = PLAN) -> list[tuple[date, int, int]]:
    return [(r.due_date, r.amount_pence, r.paid_pence) for r in uow.state.plan(plan)]


async def billed(amount: int = 150000) -> FakePlans:
    uow = FakePlans()
    await handle(uow, charge_raised(ACCOUNT, amount_pence=amount))
    return uow


# --- charge.raised --------------------------------------------------------------------------


async def test_a_council_tax_bill_becomes_ten_monthly_instalments_published_once() -> None:
    """Sch 1 para 2(3)(a) [S2]: a bill issued on 10 March gets 10 instalments, April-January."""
    uow = await billed()
    await handle(uow, charge_raised(ACCOUNT, amount_pence=150000))  # a second copy of the bill
    [made] = uow.published(ArrangementMade)
    assert made.key == ACCOUNT and made.data.arrangement_id == PLAN and made.data.debt_ids == [DEBT]
    assert [(i.due_date, i.amount_pence) for i in made.data.instalments] == [
        (date(2026 + (m > 12), (m - 1) % 12 + 1, 1), 15000) for m in range(4, 14)
    ]
    assert len(instalments(uow)) == 10
    assert uow.state.debts[DEBT].arrangement_id == PLAN
    assert uow.state.arrangements[PLAN].status == "live"


async def test_a_second_bill_for_the_same_debt_saying_something_else_is_refused() -> None:
    uow = await billed()
    with pytest.raises(Refused, match="different amount"):
        await handle(uow, charge_raised(ACCOUNT, amount_pence=99900))


async def test_an_hb_overpayment_is_one_payment_on_the_councils_invoice_terms() -> None:
    """HBOP: an invoice, 14 days in the default council configuration (domain §4 [S43b])."""
    uow = FakePlans()
    bill = charge_raised(ACCOUNT, debt_type=DebtType.SUNDRY, amount_pence=25000, bill_issued_on=date(2026, 6, 3))
    data = bill.data.model_dump() | {
        "debt_type": DebtType.HB_OVERPAYMENT,
        "overpayment": overpayment_decision().model_dump(),
    }
    await handle(uow, bill.model_copy(update={"data": ChargeRaisedData.model_validate(data)}))
    [made] = uow.published(ArrangementMade)
    assert [(i.due_date, i.amount_pence) for i in made.data.instalments] == [(date(2026, 6, 17), 25000)]


async def test_a_bill_that_prints_its_own_schedule_keeps_it() -> None:
    uow = FakePlans()
    printed = [
        Instalment(due_date=date(2026, 4, 15), amount_pence=60000),
        Instalment(due_date=date(2026, 9, 15), amount_pence=40000),
    ]
    bill = charge_raised(ACCOUNT, amount_pence=100000)
    await handle(uow, bill.model_copy(update={"data": bill.data.model_copy(update={"instalments": printed})}))
    assert instalments(uow) == [(date(2026, 4, 15), 60000, 0), (date(2026, 9, 15), 40000, 0)]


async def test_money_allocated_before_the_bill_is_laid_on_the_schedule_when_it_comes() -> None:
    """The topics are read independently, so the ledger can be ahead of billing here; in
    one batch as in two."""
    for together in (False, True):
        uow = FakePlans()
        early = allocated(15000, date(2026, 3, 12))
        if together:
            await handle(uow, early, charge_raised(ACCOUNT))
        else:
            await handle(uow, early)
            assert uow.state.held_payments and not uow.published(InstalmentPaid)
            await handle(uow, charge_raised(ACCOUNT))
        paid = uow.published(InstalmentPaid)
        assert [(p.data.due_date, p.data.paid_on) for p in paid] == [(date(2026, 4, 1), date(2026, 3, 12))]
        assert uow.state.held_payments == []


# --- payment.allocated / payment.reversed ---------------------------------------------------------


async def test_a_payment_pays_the_oldest_instalments_first_and_part_pays_the_next() -> None:
    """R v Miskin [S52]: the oldest instalment due first."""
    uow = await billed()
    await handle(uow, allocated(20000, date(2026, 4, 5)))
    assert [p for _, _, p in instalments(uow)][:3] == [15000, 5000, 0]
    [paid] = uow.published(InstalmentPaid)
    assert (paid.data.due_date, paid.data.amount_pence, paid.data.paid_on) == (
        date(2026, 4, 1),
        15000,
        date(2026, 4, 5),
    )
    assert paid.causation_id is not None


async def test_paying_everything_completes_the_plan_and_more_money_is_the_ledgers() -> None:
    uow = await billed(50000)
    await handle(uow, allocated(50000, date(2026, 3, 20)))
    assert len(uow.published(InstalmentPaid)) == 10
    [completed] = uow.published(ArrangementCompleted)
    assert completed.data.on == date(2026, 3, 20)
    assert uow.state.arrangements[PLAN].status == "completed"
    await handle(uow, allocated(1000, date(2026, 3, 21), receipt="CARD-2"))
    assert sum(p for _, _, p in instalments(uow)) == 50000
    assert len(uow.published(ArrangementCompleted)) == 1


async def test_a_reversal_takes_back_the_latest_paid_and_reopens_a_completed_plan() -> None:
    uow = await billed(50000)
    await handle(uow, allocated(50000, date(2026, 3, 20)))
    await handle(uow, reversed_(10000, date(2026, 4, 4)))
    assert [p for _, _, p in instalments(uow)] == [5000] * 8 + [0, 0]
    assert uow.state.arrangements[PLAN].status == "live"


async def test_money_for_a_debt_without_a_plan_is_held() -> None:
    uow = await billed()
    await handle(uow, allocated(15000, date(2026, 4, 1), debt_id="SUNDRY-1"))
    assert [(p.debt_id, p.amount_pence) for p in uow.state.held_payments] == [("SUNDRY-1", 15000)]


# --- day.started ------------------------------------------------------------------------------------


async def test_the_sweep_reports_each_miss_once_with_its_count_and_everything_overdue() -> None:
    """reg 23 [S1]: missed = unpaid at the end of its due day; the count runs through the year."""
    uow = await billed()
    await handle(uow, day(date(2026, 4, 1)))
    assert uow.published(InstalmentMissed) == []
    second = day(date(2026, 4, 2))
    await handle(uow, second)
    await handle(uow, day(date(2026, 4, 2)))  # the same day again (a new copy): nothing
    [first] = uow.published(InstalmentMissed)
    assert first.data.model_dump() == {
        "arrangement_id": PLAN,
        "account_ref": ACCOUNT,
        "debt_ids": [DEBT],
        "financial_year": "2026/27",
        "due_date": date(2026, 4, 1),
        "amount_pence": 15000,
        "overdue_pence": 15000,
        "misses_this_year": 1,
        "detected_on": date(2026, 4, 2),
    }
    assert (first.causation_id, first.correlation_id, first.key) == (second.event_id, second.event_id, ACCOUNT)

    await handle(uow, allocated(5000, date(2026, 5, 1)))  # part of April
    await day_by_day(uow, date(2026, 6, 2))
    later = uow.published(InstalmentMissed)[1:]
    # Each found the day after it fell due, the count running on and the overdue carried.
    assert [
        (m.data.due_date, m.data.amount_pence, m.data.misses_this_year, m.data.overdue_pence, m.data.detected_on)
        for m in later
    ] == [
        (date(2026, 5, 1), 15000, 2, 10000 + 15000, date(2026, 5, 2)),
        (date(2026, 6, 1), 15000, 3, 10000 + 15000 + 15000, date(2026, 6, 2)),
    ]
    assert uow.state.arrangements[PLAN].misses_this_year == 3


async def test_a_day_beyond_the_councils_bound_is_refused_and_sweeps_nothing() -> None:
    """[clock] max_days_forward (council_default.toml): one day.started moves the business
    date at most that far; a date mistyped years ahead would report every instalment missed."""
    uow = await billed()
    await handle(uow, day(date(2026, 4, 2)))
    with pytest.raises(Refused, match="max_days_forward"):
        await handle(uow, day(date(2036, 4, 2)))
    assert uow.business_date == date(2026, 4, 2)
    assert [m.data.due_date for m in uow.published(InstalmentMissed)] == [date(2026, 4, 1)]
    assert sum(r.missed_reported for r in uow.state.plan(PLAN)) == 1


async def test_a_services_first_day_reports_every_miss_so_far_at_once() -> None:
    """A service that starts reading mid-year sets its clock from its first day.started and
    finds every instalment already missed in that one sweep, each counted in turn."""
    uow = await billed()
    await handle(uow, allocated(5000, date(2026, 4, 1)))  # part of April
    await handle(uow, day(date(2026, 6, 2)))
    missed = uow.published(InstalmentMissed)
    assert [(m.data.due_date, m.data.misses_this_year, m.data.detected_on) for m in missed] == [
        (date(2026, 4, 1), 1, date(2026, 6, 2)),
        (date(2026, 5, 1), 2, date(2026, 6, 2)),
        (date(2026, 6, 1), 3, date(2026, 6, 2)),
    ]
    assert {m.data.overdue_pence for m in missed} == {10000 + 15000 + 15000}


# --- balance.fell-due -------------------------------------------------------------------------------


async def test_a_balance_falling_due_collapses_the_plan_once_and_stops_misses() -> None:
    """reg 23(3)-(4) SI 1992/613 [S1]: what is paid stays, the rest is one balance."""
    uow = await billed()
    await handle(uow, allocated(20000, date(2026, 4, 1)))
    await handle(uow, day(date(2026, 5, 2)))
    await handle(uow, fell_due(date(2026, 5, 16)))
    await handle(uow, fell_due(date(2026, 5, 16)))  # a second notice changes nothing
    [defaulted] = uow.published(ArrangementDefaulted)
    assert defaulted.data.on == date(2026, 5, 16) and "balance of 130000p" in defaulted.data.reason
    assert uow.state.arrangements[PLAN].status == "balance_due"
    assert instalments(uow) == [
        (date(2026, 4, 1), 15000, 15000),
        (date(2026, 5, 1), 5000, 5000),
        (date(2026, 5, 16), 130000, 0),
    ]
    await day_by_day(uow, date(2026, 9, 2))
    assert len(uow.published(InstalmentMissed)) == 1
    await handle(uow, allocated(130000, date(2026, 9, 3), receipt="CARD-2"))
    assert [c.data.arrangement_id for c in uow.published(ArrangementCompleted)] == [PLAN]


async def test_a_balance_falling_due_on_a_debt_never_seen_is_refused() -> None:
    with pytest.raises(Refused, match="never seen"):
        await handle(FakePlans(), fell_due(date(2026, 5, 16), debt_id="CT-0-2026"))


# --- charge.adjusted -----------------------------------------------------------------------------------


async def test_an_adjusted_charge_is_spread_over_the_instalments_still_to_come() -> None:
    """What fell due keeps its amount; the rest in whole pounds (Sch 1 para 2(5)-(6) [S2])."""
    uow = await billed()
    await handle(uow, allocated(30000, date(2026, 5, 1)))
    await handle(uow, adjusted(110000, date(2026, 5, 20)))
    made = uow.published(ArrangementMade)
    assert len(made) == 2
    schedule = [(i.due_date, i.amount_pence) for i in made[1].data.instalments]
    assert schedule[:2] == [(date(2026, 4, 1), 15000), (date(2026, 5, 1), 15000)]
    assert {a for _, a in schedule[2:]} == {10000} and sum(a for _, a in schedule) == 110000
    assert sum(p for _, _, p in instalments(uow)) == 30000
    assert uow.state.debts[DEBT].amount_pence == 110000


async def test_a_reduction_that_covers_what_was_paid_completes_the_plan() -> None:
    uow = await billed()
    await handle(uow, allocated(30000, date(2026, 5, 1)))
    await handle(uow, adjusted(30000, date(2026, 5, 20)))
    assert len(uow.published(ArrangementCompleted)) == 1
    assert uow.state.arrangements[PLAN].status == "completed"


async def test_an_adjustment_after_the_balance_fell_due_changes_only_the_balance() -> None:
    uow = await billed()
    await handle(uow, allocated(20000, date(2026, 4, 1)))
    await handle(uow, fell_due(date(2026, 5, 16)))
    await handle(uow, adjusted(140000, date(2026, 6, 1)))
    assert len(uow.published(ArrangementMade)) == 1
    assert instalments(uow)[-1] == (date(2026, 5, 16), 120000, 0)
    assert all(r.missed_reported for r in uow.state.plan(PLAN))


async def test_a_reissued_schedule_replaces_ours() -> None:
    uow = await billed()
    await handle(uow, allocated(15000, date(2026, 4, 1)))
    reissued = [
        Instalment(due_date=date(2026, 7, 1), amount_pence=50000),
        Instalment(due_date=date(2026, 8, 1), amount_pence=50000),
    ]
    await handle(uow, adjusted(100000, date(2026, 6, 10), reissued))
    assert instalments(uow) == [(date(2026, 7, 1), 50000, 15000), (date(2026, 8, 1), 50000, 0)]


async def test_an_adjustment_to_a_debt_never_raised_is_refused() -> None:
    with pytest.raises(Refused, match="not known"):
        await handle(FakePlans(), adjusted(100000, date(2026, 6, 1)))


# --- the unit of work -------------------------------------------------------------------------------------


async def test_a_rolled_back_unit_leaves_the_plans_as_they_were() -> None:
    uow = await billed()
    async with uow:
        await USE_CASES.apply_allocation(uow, allocated(150000, date(2026, 4, 1)))
        assert uow.state.arrangements[PLAN].status == "completed"
    assert uow.state.arrangements[PLAN].status == "live"
    assert sum(p for _, _, p in instalments(uow)) == 0
    assert uow.published(InstalmentPaid) == []


def test_every_event_the_use_cases_publish_is_in_the_route_table() -> None:
    assert ROUTES.published_types() >= {ArrangementMade, InstalmentPaid, InstalmentMissed, ArrangementDefaulted}
    assert {r.event for r in ROUTES.routes} == {
        type(e)
        for e in (
            charge_raised(),
            adjusted(1, date(2026, 1, 1)),
            allocated(1, date(2026, 1, 1)),
            reversed_(1, date(2026, 1, 1)),
            day(date(2026, 1, 1)),
            fell_due(date(2026, 1, 1)),
        )
    }
