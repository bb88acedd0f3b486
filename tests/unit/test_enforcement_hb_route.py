"""An HB overpayment's case while it is recovered from ongoing Housing Benefit, through
enforcement's route table on the in-memory unit of work.

Sources: SI 2006/213 reg 102 (deduction from ongoing HB) [S36][S39]; domain §4 [S43b]: when
the award ends with money owed, the invoice on the council's terms, then its reminder with
7 more days.
"""

from __future__ import annotations

from datetime import date, timedelta

from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.internal import (
    HbDeductionsStarted,
    HbDeductionsStartedData,
    HbDeductionsStopped,
    HbDeductionsStoppedData,
    HbDeductionStopReason,
    NoticeType,
)
from tests.unit.fakes.enforcement import FakeCases
from tests.unit.test_enforcement_civil import (
    AMOUNT,
    BILLED,
    COUNCIL,
    INVOICE_DUE,
    civil_bill,
    invoice_missed,
    notices,
    served,
)
from tests.unit.test_enforcement_use_cases import days, handle

ACCOUNT = "HB-7001"
DEBT = f"HBOP-{ACCOUNT}"


def started(on: date) -> Envelope:
    return HbDeductionsStarted(
        key=ACCOUNT,
        data=HbDeductionsStartedData(
            claim_ref="CLAIM-1",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            weekly_pence=1395,
            maximum_weekly_pence=1395,
            first_week_on=on,
        ),
    )


def stopped(on: date, reason: HbDeductionStopReason, outstanding: int) -> Envelope:
    return HbDeductionsStopped(
        key=ACCOUNT,
        data=HbDeductionsStoppedData(
            claim_ref="CLAIM-1",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            stopped_on=on,
            reason=reason,
            deducted_pence=AMOUNT - outstanding,
            outstanding_pence=outstanding,
        ),
    )


async def test_while_deductions_run_a_missed_invoice_starts_no_ladder() -> None:
    uow = FakeCases()
    await handle(uow, civil_bill(ACCOUNT, DebtType.HB_OVERPAYMENT))
    await handle(uow, started(BILLED))
    assert uow.case(DEBT).stage == "hb_deduction"
    await handle(uow, invoice_missed(ACCOUNT, DEBT))
    await days(uow, INVOICE_DUE, INVOICE_DUE + timedelta(days=60))
    assert notices(uow, NoticeType.INVOICE_REMINDER) == []
    assert notices(uow, NoticeType.LETTER_BEFORE_CLAIM) == []
    assert uow.case(DEBT).stage == "hb_deduction"


async def test_an_award_ending_with_money_owed_sends_the_invoice_then_its_reminder() -> None:
    uow = FakeCases()
    await handle(uow, civil_bill(ACCOUNT, DebtType.HB_OVERPAYMENT))
    await handle(uow, started(BILLED))
    ended_on = BILLED + timedelta(days=40)
    await days(uow, BILLED, ended_on)
    await handle(uow, stopped(ended_on, HbDeductionStopReason.AWARD_ENDED, AMOUNT))
    [invoice] = notices(uow, NoticeType.INVOICE)
    terms = COUNCIL.instalments.invoice_terms(DebtType.HB_OVERPAYMENT)
    due = served(ended_on) + timedelta(days=terms)
    assert invoice.data.amounts == {"amount": AMOUNT} and invoice.data.dates == {"due_date": due}
    assert uow.case(DEBT).stage == "invoiced"
    await days(uow, ended_on + timedelta(days=1), due)
    assert notices(uow, NoticeType.INVOICE_REMINDER) == []
    await days(uow, due + timedelta(days=1), due + timedelta(days=1))
    [reminder] = notices(uow, NoticeType.INVOICE_REMINDER)
    assert reminder.data.dates["invoice_due"] == due
    assert reminder.data.dates["pay_by"] == served(due + timedelta(days=1)) + timedelta(days=7)


async def test_deductions_that_paid_the_overpayment_send_nothing() -> None:
    uow = FakeCases()
    await handle(uow, civil_bill(ACCOUNT, DebtType.HB_OVERPAYMENT))
    await handle(uow, started(BILLED))
    await handle(uow, stopped(BILLED + timedelta(days=70), HbDeductionStopReason.RECOVERED, 0))
    assert notices(uow, NoticeType.INVOICE) == []
