"""Deductions from ongoing Housing Benefit for an overpayment, in payments: the week's rule
and the use cases on the in-memory ledger.

Sources: SI 2006/213 reg 102(1) (three times 5% of the 25+ personal allowance, five times
for fraud, 5% rounded up to the next 5p) and reg 102(2) (up to half the earnings disregard
added) [S36][S37]; reg 2 (the benefit year starts on the first Monday in April).
2024/25: £90.50 allowance, maxima £13.65 / £22.75 [S37]; 2025/26: £92.05 [DERIVED],
maxima £13.95 / £23.25.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from recovery_payments import domain
from recovery_payments.app import ROUTES
from recovery_payments.handlers import Payments
from recovery_shared.contracts.common import EarningsDisregard
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    DayStarted,
    DayStartedData,
    HbAwardChanged,
    HbAwardData,
    HbAwardEnded,
    HbAwardEndedData,
    HbAwardStarted,
    PaymentChannel,
)
from recovery_shared.contracts.internal import (
    HbDeductionsStarted,
    HbDeductionsStopped,
    HoldApplied,
    HoldData,
    HoldReleased,
    PaymentAllocated,
    PaymentReversed,
)
from recovery_shared.council import HbopPolicy, load_council_config
from recovery_shared.refusal import Refused
from recovery_shared.statute.housing_benefit import MissingFigure
from tests.factories import overpayment_decision, overpayment_raised
from tests.unit.fakes.payments import FakeLedger

PAYMENTS = Payments(load_council_config().allocation)
MONDAY = date(2025, 3, 3)
NEW_YEAR = date(2025, 4, 7)  # first Monday in April 2025
MAXIMUM = HbopPolicy()


def _owed(*balances: int) -> list[tuple[str, int]]:
    return [(f"HBOP-{n}", pence) for n, pence in enumerate(balances)]


# --- the week's rule --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("week", "fraud", "expected"),
    [
        (NEW_YEAR - timedelta(days=7), False, 1365),  # 2024/25, reg 102(1)(a)
        (NEW_YEAR - timedelta(days=7), True, 2275),  # 2024/25, reg 102(1)(b)
        (NEW_YEAR, False, 1395),  # 2025/26
        (NEW_YEAR, True, 2325),
    ],
)
def test_the_week_takes_reg_102s_maximum_for_its_benefit_year(week: date, fraud: bool, expected: int) -> None:
    deduction = domain.hb_deduction(
        week, fraud=fraud, disregard=EarningsDisregard.NONE, weekly_award_pence=20000, owed=_owed(99999), policy=MAXIMUM
    )
    assert deduction is not None
    assert (deduction.amount_pence, deduction.maximum_pence) == (expected, expected)


def test_an_earnings_disregard_adds_up_to_half_of_it() -> None:
    """Reg 102(2): a lone parent's £25 disregard adds £12.50."""
    deduction = domain.hb_deduction(
        NEW_YEAR,
        fraud=False,
        disregard=EarningsDisregard.LONE_PARENT,
        weekly_award_pence=20000,
        owed=_owed(99999),
        policy=MAXIMUM,
    )
    assert deduction is not None and deduction.amount_pence == 1395 + 1250


def test_the_councils_rate_the_award_and_the_debt_each_hold_the_deduction_down() -> None:
    def amount(policy: HbopPolicy, award: int, owed: list[tuple[str, int]]) -> int:
        d = domain.hb_deduction(
            NEW_YEAR, fraud=False, disregard=EarningsDisregard.NONE, weekly_award_pence=award, owed=owed, policy=policy
        )
        assert d is not None
        return d.amount_pence

    assert amount(HbopPolicy(weekly_deduction_pence=500), 20000, _owed(99999)) == 500
    assert amount(HbopPolicy(weekly_deduction_pence=5000), 20000, _owed(99999)) == 1395  # never above the maximum
    assert amount(MAXIMUM, 800, _owed(99999)) == 800
    assert amount(MAXIMUM, 20000, _owed(300)) == 300


def test_a_week_split_over_two_overpayments_adds_back_to_the_whole_and_pays_the_oldest_first() -> None:
    d = domain.hb_deduction(
        NEW_YEAR,
        fraud=False,
        disregard=EarningsDisregard.NONE,
        weekly_award_pence=20000,
        owed=_owed(1000, 5000),
        policy=MAXIMUM,
    )
    assert d is not None
    assert d.parts == (("HBOP-0", 1000), ("HBOP-1", 395))
    assert sum(p for _, p in d.parts) == d.amount_pence


def test_nothing_owed_takes_nothing() -> None:
    assert (
        domain.hb_deduction(
            NEW_YEAR, fraud=False, disregard=EarningsDisregard.NONE, weekly_award_pence=20000, owed=[], policy=MAXIMUM
        )
        is None
    )


def test_a_year_with_no_allowance_says_where_to_set_it_and_the_councils_figure_is_used() -> None:
    week = date(2026, 4, 13)  # 2026/27: not yet in the statute table
    with pytest.raises(MissingFigure, match=r"\[hbop\] personal_allowance_pence"):
        domain.hb_deduction(
            week,
            fraud=False,
            disregard=EarningsDisregard.NONE,
            weekly_award_pence=20000,
            owed=_owed(9999),
            policy=MAXIMUM,
        )
    policy = HbopPolicy(personal_allowance_pence={"2026/27": 9500})  # 5% = 475 -> 3 x 475
    d = domain.hb_deduction(
        week, fraud=False, disregard=EarningsDisregard.NONE, weekly_award_pence=20000, owed=_owed(9999), policy=policy
    )
    assert d is not None and d.amount_pence == 1425


def test_a_backdated_award_deducts_from_the_first_week_not_yet_begun() -> None:
    assert domain.first_hb_week(MONDAY, None) == MONDAY
    assert domain.first_hb_week(MONDAY, MONDAY) == MONDAY
    assert domain.first_hb_week(MONDAY, MONDAY + timedelta(days=1)) == MONDAY + timedelta(days=7)
    assert domain.first_hb_week(MONDAY, MONDAY + timedelta(days=15)) == MONDAY + timedelta(days=21)


# --- the use cases ----------------------------------------------------------------------


async def deliver(uow: FakeLedger, *batch: Envelope) -> None:
    async with uow:
        for event in batch:
            route = ROUTES.route_for(type(event))
            assert route is not None, type(event)
            await route.use_case(PAYMENTS, uow, event)
        await uow.commit()


def overpayment(account: str, pence: int) -> Envelope:
    decision = overpayment_decision(decided_on=date(2025, 2, 26))
    return overpayment_raised(
        account, debt_id=f"HBOP-{account}", amount_pence=pence, bill_issued_on=MONDAY, decision=decision
    )


def award(account: str, *, fraud: bool = False, weekly: int = 12000, changed: bool = False) -> Envelope:
    data = HbAwardData(
        claim_ref=f"CLAIM-{account}", account_ref=account, weekly_award_pence=weekly, fraud=fraud, effective_on=MONDAY
    )
    return HbAwardChanged(key=account, data=data) if changed else HbAwardStarted(key=account, data=data)


def day(on: date) -> DayStarted:
    return DayStarted(data=DayStartedData(business_date=on))


async def run_days(uow: FakeLedger, first: date, last: date) -> None:
    on = first
    while on <= last:
        await deliver(uow, day(on))
        on += timedelta(days=1)


async def test_weekly_deductions_are_receipts_on_the_hb_channel_and_a_replayed_day_takes_nothing_twice() -> None:
    uow = FakeLedger()
    await deliver(uow, overpayment("A1", 5000), award("A1"))
    await run_days(uow, MONDAY, MONDAY + timedelta(days=8))
    await deliver(uow, day(MONDAY + timedelta(days=7)))  # a copy of a day already run
    receipts = sorted(uow.state.receipts.values(), key=lambda r: r.received_on)
    assert [(r.channel, r.received_on, r.amount_pence) for r in receipts] == [
        (PaymentChannel.HOUSING_BENEFIT.value, MONDAY, 1365),
        (PaymentChannel.HOUSING_BENEFIT.value, MONDAY + timedelta(days=7), 1365),
    ]
    assert uow.state.debts["HBOP-A1"].paid_pence == 2730
    assert (await uow.reconciliation.totals()).balanced
    started = uow.published(HbDeductionsStarted)
    assert len(started) == 1 and started[0].data.weekly_pence == 1365


async def test_deductions_stop_at_nil() -> None:
    uow = FakeLedger()
    await deliver(uow, overpayment("A2", 3000), award("A2"))
    await run_days(uow, MONDAY, MONDAY + timedelta(days=28))
    paid = [e.data.amount_pence for e in uow.published(PaymentAllocated)]
    assert paid == [1365, 1365, 270]
    [stopped] = uow.published(HbDeductionsStopped)
    assert (stopped.data.reason, stopped.data.outstanding_pence, stopped.data.deducted_pence) == ("recovered", 0, 3000)
    assert uow.state.debts["HBOP-A2"].balance_pence == 0


async def test_an_award_ending_stops_the_deductions_after_its_last_week() -> None:
    uow = FakeLedger()
    await deliver(uow, overpayment("A3", 50000), award("A3"))
    await run_days(uow, MONDAY, MONDAY + timedelta(days=9))
    ended = HbAwardEnded(
        key="A3", data=HbAwardEndedData(claim_ref="CLAIM-A3", account_ref="A3", ended_on=MONDAY + timedelta(days=13))
    )
    await deliver(uow, ended)
    await run_days(uow, MONDAY + timedelta(days=10), MONDAY + timedelta(days=30))
    assert [e.data.amount_pence for e in uow.published(PaymentAllocated)] == [1365, 1365]
    [stopped] = uow.published(HbDeductionsStopped)
    assert (stopped.data.reason, stopped.data.outstanding_pence) == ("award_ended", 50000 - 2730)


async def test_a_change_to_the_award_applies_to_the_weeks_to_come() -> None:
    uow = FakeLedger()
    await deliver(uow, overpayment("A4", 50000), award("A4"))
    await run_days(uow, MONDAY, MONDAY + timedelta(days=1))
    await deliver(uow, award("A4", fraud=True, changed=True))
    await run_days(uow, MONDAY + timedelta(days=2), MONDAY + timedelta(days=7))
    assert [e.data.amount_pence for e in uow.published(PaymentAllocated)] == [1365, 2275]


async def test_a_second_award_for_an_account_already_recovered_from_one_is_refused() -> None:
    uow = FakeLedger()
    await deliver(uow, overpayment("A5", 50000), award("A5"))
    other = HbAwardStarted(
        key="A5",
        data=HbAwardData(
            claim_ref="CLAIM-OTHER", account_ref="A5", weekly_award_pence=9000, fraud=False, effective_on=MONDAY
        ),
    )
    with pytest.raises(Refused, match="end that award"):
        await deliver(uow, other)
    with pytest.raises(Refused, match=r"hb-award\.started first"):
        await deliver(uow, award("A6", changed=True))


def hold(account: str, debt_ids: list[str], kind: str, on: date, *, released: bool = False) -> Envelope:
    data = HoldData(party_id=f"P-{account}", account_ref=account, debt_ids=debt_ids, hold=kind, on=on)
    return HoldReleased(key=account, data=data) if released else HoldApplied(key=account, data=data)


async def test_a_hold_on_the_overpayment_pauses_its_deductions_until_it_is_released() -> None:
    """A Breathing Space (SI 2020/1311) or an appeal holds recovery of the overpayment; the
    weeks it lasts are not deducted, and deductions carry on after it."""
    uow = FakeLedger()
    await deliver(uow, overpayment("A7", 50000), award("A7"))
    await run_days(uow, MONDAY, MONDAY + timedelta(days=1))
    await deliver(uow, hold("A7", ["HBOP-A7", "CT-OTHER"], "breathing_space", MONDAY + timedelta(days=2)))
    await run_days(uow, MONDAY + timedelta(days=2), MONDAY + timedelta(days=15))
    await deliver(uow, hold("A7", ["HBOP-A7"], "breathing_space", MONDAY + timedelta(days=16), released=True))
    await run_days(uow, MONDAY + timedelta(days=16), MONDAY + timedelta(days=21))
    weeks = [e.data.received_on for e in uow.published(PaymentAllocated)]
    assert weeks == [MONDAY, MONDAY + timedelta(days=21)]
    assert uow.published(HbDeductionsStopped) == []


async def test_a_held_overpayment_is_skipped_and_the_others_on_the_account_are_still_deducted() -> None:
    uow = FakeLedger()
    second = overpayment("A8", 1000)
    second = second.model_copy(update={"data": second.data.model_copy(update={"debt_id": "HBOP-A8-2"})})
    await deliver(uow, overpayment("A8", 50000), second, award("A8"))
    await deliver(uow, hold("A8", ["HBOP-A8"], "dispute", MONDAY))
    await run_days(uow, MONDAY, MONDAY + timedelta(days=7))
    parts = [(p.debt_id, p.amount_pence) for e in uow.published(PaymentAllocated) for p in e.data.parts]
    assert parts == [("HBOP-A8-2", 1000)]
    assert uow.published(HbDeductionsStopped) == []  # the held one is still owed


async def test_an_award_ended_from_a_past_day_gives_back_what_was_deducted_for_the_weeks_after_it() -> None:
    """No deduction can be taken from benefit that was not paid (SI 2006/213 reg 102
    deducts from the benefit payable): the week that began after the award's end is
    reversed, the weeks before it stand."""
    uow = FakeLedger()
    await deliver(uow, overpayment("A9", 50000), award("A9"))
    await run_days(uow, MONDAY, MONDAY + timedelta(days=15))  # weeks of 3, 10 and 17 March
    ended = HbAwardEnded(
        key="A9", data=HbAwardEndedData(claim_ref="CLAIM-A9", account_ref="A9", ended_on=MONDAY + timedelta(days=9))
    )
    await deliver(uow, ended)
    await deliver(uow, ended)  # a copy changes nothing
    [reversed_] = uow.published(PaymentReversed)
    assert reversed_.data.receipt_ref == domain.hb_receipt_ref(MONDAY + timedelta(days=14), "HBOP-A9")
    assert reversed_.data.amount_pence == 1365
    assert uow.state.debts["HBOP-A9"].paid_pence == 2730
    [stopped] = uow.published(HbDeductionsStopped)
    assert (stopped.data.reason, stopped.data.deducted_pence, stopped.data.outstanding_pence) == (
        "award_ended",
        2730,
        50000 - 2730,
    )
    assert (await uow.reconciliation.totals()).balanced
