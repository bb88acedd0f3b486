"""Deductions from ongoing HB through payments' real consumer and store, on SQLite and
PostgreSQL: the award and hold repositories, and the bulk writes of their changes.

Sources: SI 2006/213 reg 102(1) [S36][S37] (2024/25 maximum £13.65 a week); SI 2020/1311
[S47] (no recovery step while a Breathing Space lasts).
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from recovery_payments.app import build_runtime
from recovery_payments.models import HB_AWARDS, RECEIPTS
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.contracts.inbound import (
    DayStarted,
    DayStartedData,
    HbAwardData,
    HbAwardStarted,
    PaymentChannel,
)
from recovery_shared.contracts.internal import HoldApplied, HoldData, HoldReleased
from tests.factories import overpayment_decision, overpayment_raised, record

MONDAY = date(2025, 3, 3)
ACCOUNT = "HBS-1"
DEBT = f"HBOP-{ACCOUNT}"


async def test_weekly_deductions_and_a_hold_are_kept_and_written_on_both_databases(database_url: str) -> None:
    runtime = build_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    decision = overpayment_decision(decided_on=date(2025, 2, 26))
    bill = overpayment_raised(ACCOUNT, debt_id=DEBT, amount_pence=50000, bill_issued_on=MONDAY, decision=decision)
    award = HbAwardStarted(
        key=ACCOUNT,
        data=HbAwardData(
            claim_ref="CLAIM-S1", account_ref=ACCOUNT, weekly_award_pence=12000, fraud=False, effective_on=MONDAY
        ),
    )
    hold = HoldData(party_id=f"P-{ACCOUNT}", account_ref=ACCOUNT, debt_ids=[DEBT], hold="breathing_space", on=MONDAY)

    def day(n: int) -> object:
        return record(topics.CLOCK_DAYS, DayStarted(data=DayStartedData(business_date=MONDAY + timedelta(days=n))))

    await runtime.handle_records(
        [record(topics.BILLING_CHARGES, bill), record(topics.BENEFITS_HB_AWARDS, award), day(0), day(1)]
    )
    # Held from day 2 to day 15: the weeks of 10 and 17 March pass with nothing deducted.
    await runtime.handle_records([record(topics.ENFORCEMENT_EVENTS, HoldApplied(key=ACCOUNT, data=hold))])
    for n in range(2, 16):
        await runtime.handle_records([day(n)])
    released = hold.model_copy(update={"on": MONDAY + timedelta(days=16)})
    await runtime.handle_records([record(topics.ENFORCEMENT_EVENTS, HoldReleased(key=ACCOUNT, data=released))])
    for n in range(16, 22):
        await runtime.handle_records([day(n)])

    async with runtime.db.session() as session:
        receipts = (
            await session.execute(
                select(RECEIPTS.c.received_on, RECEIPTS.c.amount_pence).where(
                    RECEIPTS.c.channel == PaymentChannel.HOUSING_BENEFIT.value
                )
            )
        ).all()
        awards = (await session.execute(select(HB_AWARDS.c.next_week_on, HB_AWARDS.c.deducted_pence))).all()
    await runtime.db.dispose()
    assert sorted((on, pence) for on, pence in receipts) == [(MONDAY, 1365), (MONDAY + timedelta(days=21), 1365)]
    assert [tuple(a) for a in awards] == [(MONDAY + timedelta(days=28), 2730)]
