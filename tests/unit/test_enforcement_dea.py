"""Recovering an HB overpayment by Direct Earnings Attachment, through enforcement's route
table on the in-memory unit of work.

Sources: the Social Security (Overpayments and Recovery) Regulations 2013 (SI 2013/384)
Part 6 [S42][S42c][S43]: reg 20(3) and Sch 2 Tables A/B (standard rates), reg 20(3B) and
Tables C/D (the higher rates where the person was found guilty of an offence; inserted by
SI 2015/499 reg 5); reg 17, the protected earnings proportion of 60% (so never more than
40% of net pay); reg 22, the employer pays a month's deductions over by the 19th of the
next month; reg 24, the employer tells the council when the person leaves. Domain §4: the
council's order of recovery routes once the invoice (14 days) and its reminder (7 more
days) go unpaid [S39][S43b].
"""

from __future__ import annotations

from datetime import date, timedelta

from recovery_enforcement.handlers import Enforcement
from recovery_shared.contracts.common import DebtType, HbopClassification, PayFrequency
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    DayStarted,
    DayStartedData,
    DisputeRaised,
    DisputeResolved,
    EmploymentEnded,
    EmploymentEndedData,
    EmploymentReported,
    EmploymentReportedData,
    PaymentChannel,
)
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    BalanceChanged,
    BalanceChangedData,
    NoticeRequested,
    NoticeType,
    PaymentAllocated,
    PaymentAllocatedData,
)
from tests.factories import overpayment_decision
from tests.unit.fakes.enforcement import FakeCases
from tests.unit.test_enforcement_civil import COUNCIL, INVOICE_DUE, civil_bill, invoice_missed, notices
from tests.unit.test_enforcement_use_cases import circumstance, days, handle

EMPLOYER = "123/AB45678"
# A council that takes no request to the DWP: the letters follow a DEA directly.
COURT_AFTER_DEA = Enforcement(
    COUNCIL.model_copy(
        update={
            "hbop": COUNCIL.hbop.model_copy(update={"after_invoice": ["direct_earnings_attachment", "county_court"]})
        }
    )
)


def employed(
    account: str,
    net_pence: int,
    frequency: PayFrequency = PayFrequency.WEEKLY,
    *,
    on: date,
    next_pay_day: date | None = None,
    employer: str = EMPLOYER,
) -> Envelope:
    return EmploymentReported(
        key=account,
        data=EmploymentReportedData(
            party_id=f"P-{account}",
            account_ref=account,
            employer_ref=employer,
            employer_name=f"Employer {employer}",
            employer_address=["Payroll", "1 Mill Lane", "AB2 3CD"],
            pay_frequency=frequency,
            net_earnings_pence=net_pence,
            next_pay_day=next_pay_day or on,
            reported_on=on,
        ),
    )


def left(account: str, on: date, employer: str = EMPLOYER) -> Envelope:
    return EmploymentEnded(
        key=account,
        data=EmploymentEndedData(party_id=f"P-{account}", account_ref=account, employer_ref=employer, left_on=on),
    )


def remitted(account: str, debt_id: str, pence: int, on: date, ref: str) -> Envelope:
    return PaymentAllocated(
        key=account,
        data=PaymentAllocatedData(
            receipt_ref=ref,
            account_ref=account,
            amount_pence=pence,
            received_on=on,
            rule=AllocationRule.DIRECTED,
            parts=[AllocationPart(debt_id=debt_id, amount_pence=pence)],
            channel=PaymentChannel.DIRECT_EARNINGS_ATTACHMENT,
        ),
    )


async def overpayment_past_its_reminder(
    uow: FakeCases,
    account: str,
    classification: HbopClassification = HbopClassification.CLAIMANT_ERROR,
    enforcement: Enforcement | None = None,
) -> tuple[str, date]:
    """An HBOP invoice missed and its reminder ignored to its last day: the debt id and
    the day the next route is chosen."""
    debt = f"HBOP-{account}"
    bill = civil_bill(account, DebtType.HB_OVERPAYMENT, overpayment=overpayment_decision(classification))
    await handle(uow, bill, enforcement)
    await handle(uow, invoice_missed(account, debt), enforcement)
    [reminder] = notices(uow, NoticeType.INVOICE_REMINDER)
    pay_by = reminder.data.dates["pay_by"]
    await _days(uow, INVOICE_DUE + timedelta(days=1), pay_by, enforcement)
    return debt, pay_by + timedelta(days=1)


async def _days(uow: FakeCases, first: date, last: date, enforcement: Enforcement | None) -> None:
    if enforcement is None:
        await days(uow, first, last)
        return
    day = first
    while day <= last:
        await handle(uow, DayStarted(data=DayStartedData(business_date=day)), enforcement)
        day += timedelta(days=1)


def employer_notice(uow: FakeCases) -> NoticeRequested:
    [notice] = notices(uow, NoticeType.DEA_EMPLOYER)
    return notice


async def test_an_unpaid_overpayment_of_someone_in_work_goes_to_a_dea_not_a_letter_before_claim() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5001")
    await handle(uow, employed("5001", 30000, on=decided - timedelta(days=5), next_pay_day=date(2026, 4, 10)))
    assert uow.case(debt).stage == "invoice_reminder"  # the reminder's days still run
    await days(uow, decided, decided)

    case = uow.case(debt)
    assert case.stage == "dea" and notices(uow, NoticeType.LETTER_BEFORE_CLAIM) == []
    notice = employer_notice(uow)
    # £300 a week is in the band "exceeding £270 but not exceeding £375": 11% (Table A).
    assert notice.data.amounts == {"owed": 42000, "deduction": 3300, "net_earnings": 30000}
    assert notice.data.template_data["percent"] == "11" and notice.data.template_data["fraud"] is False
    # Addressed to the employer, naming the employee (the notice, never a log, carries the name).
    assert notice.data.recipient_name == f"Employer {EMPLOYER}"
    assert notice.data.recipient_address == ["Payroll", "1 Mill Lane", "AB2 3CD"]
    assert notice.data.template_data["employee_name"] == "Test Person"
    # The first pay-day at least 22 days after the notice is sent (reg 19(3)); paid over by
    # the 19th of the next month (reg 22).
    first_pay_day = notice.data.dates["first_pay_day"]
    earliest = decided + timedelta(days=22)
    assert first_pay_day >= earliest and (first_pay_day - date(2026, 4, 10)).days % 7 == 0
    assert first_pay_day - timedelta(days=7) < earliest
    assert notice.data.dates["remit_by"] == date(first_pay_day.year, first_pay_day.month + 1, 19)
    [copy] = notices(uow, NoticeType.DEA_DEBTOR)
    assert (
        copy.data.recipient_name == "Test Person"
        and copy.data.template_data["employer_name"] == notice.data.recipient_name
    )
    assert copy.data.amounts == notice.data.amounts


async def test_a_fraud_overpayment_is_attached_at_the_higher_rate_on_monthly_pay() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5002", HbopClassification.FRAUD)
    assert uow.case(debt).hbop_classification == "fraud"
    await handle(uow, employed("5002", 150000, PayFrequency.MONTHLY, on=decided - timedelta(days=2)))
    await days(uow, decided, decided)
    notice = employer_notice(uow)
    # £1,500 a month: "exceeding £1,160 but not exceeding £1,615", 22% under Table D (reg 20(3B)).
    assert notice.data.template_data == notice.data.template_data | {"percent": "22", "fraud": True}
    assert notice.data.amounts["deduction"] == 33000


async def test_employment_reported_after_the_letter_before_claim_attaches_at_once() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5003", enforcement=COURT_AFTER_DEA)
    await _days(uow, decided, decided, COURT_AFTER_DEA)
    assert uow.case(debt).stage == "letter_before_claim"
    await handle(uow, employed("5003", 60000, on=decided + timedelta(days=3)), COURT_AFTER_DEA)
    # £600 a week: over £520, 20% (Table A), £120.00.
    assert uow.case(debt).stage == "dea" and employer_notice(uow).data.amounts["deduction"] == 12000


async def test_earnings_in_the_nil_band_pass_to_the_councils_next_route() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5004")
    await handle(uow, employed("5004", 10000, on=decided - timedelta(days=1)))  # £100 a week: nil (Table A)
    await days(uow, decided, decided)
    assert uow.case(debt).stage == "dwp_requested" and notices(uow, NoticeType.DEA_EMPLOYER) == []
    assert "dea_not_possible" in uow.steps(debt)


async def test_a_council_that_goes_straight_to_court_sends_the_letter_before_claim() -> None:
    hbop = COUNCIL.hbop.model_copy(update={"after_invoice": ["county_court"]})
    enforcement = Enforcement(COUNCIL.model_copy(update={"hbop": hbop}))
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5005", enforcement=enforcement)
    await handle(uow, employed("5005", 30000, on=decided - timedelta(days=1)), enforcement)
    await _days(uow, decided, decided, enforcement)
    assert uow.case(debt).stage == "letter_before_claim" and notices(uow, NoticeType.DEA_EMPLOYER) == []


async def test_only_an_hb_overpayment_is_attached() -> None:
    """A DEA recovers an amount recoverable under the Social Security Administration Act
    1992 (SI 2013/384 reg 17): TA and sundry debts take the county court route."""
    uow = FakeCases()
    await handle(uow, civil_bill("5006"))
    await handle(uow, invoice_missed("5006", "TA-5006"))
    await handle(uow, employed("5006", 30000, on=INVOICE_DUE))
    await days(uow, INVOICE_DUE + timedelta(days=1), INVOICE_DUE + timedelta(days=20))
    assert uow.case("TA-5006").stage == "letter_before_claim" and notices(uow, NoticeType.DEA_EMPLOYER) == []


async def test_each_months_remittance_is_checked_the_day_after_the_19th_and_a_shortfall_followed_up() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5007")
    await handle(uow, employed("5007", 30000, on=decided, next_pay_day=date(2026, 4, 10)))
    await days(uow, decided, decided)
    first = employer_notice(uow).data.dates["first_pay_day"]
    month_end = date(first.year, first.month + 1, 1) - timedelta(days=1)
    pay_days = (month_end - first).days // 7 + 1
    due = date(first.year, first.month + 1, 19)
    # The employer pays the first month over in full by the 19th.
    await handle(uow, remitted("5007", debt, pay_days * 3300, due - timedelta(days=2), "DEA-1"))
    await days(uow, decided + timedelta(days=1), due + timedelta(days=1))
    assert notices(uow, NoticeType.DEA_REMITTANCE_MISSED) == []
    assert "dea_remittances_reconciled" in uow.steps(debt)

    # The next month's pay-days go unremitted past the 19th: the employer is asked why.
    next_end = date(due.year, due.month + 1, 1) - timedelta(days=1)
    next_due = date(due.year, due.month + 1, 19)
    await days(uow, due + timedelta(days=2), next_due + timedelta(days=1))
    [follow_up] = notices(uow, NoticeType.DEA_REMITTANCE_MISSED)
    expected = ((next_end - first).days // 7 + 1) * 3300
    assert follow_up.data.amounts == {
        "expected": expected,
        "received": pay_days * 3300,
        "shortfall": expected - pay_days * 3300,
    }
    assert follow_up.data.dates == {"deducted_through": next_end, "remit_by": next_due}
    assert follow_up.data.recipient_name == f"Employer {EMPLOYER}"
    assert uow.case(debt).stage == "dea"


async def test_other_payments_are_not_counted_as_remittances() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5008")
    await handle(uow, employed("5008", 30000, on=decided))
    await days(uow, decided, decided)
    card = remitted("5008", debt, 5000, decided + timedelta(days=2), "CARD-1")
    card = card.model_copy(update={"data": card.data.model_copy(update={"channel": PaymentChannel.CARD})})
    await handle(uow, card)
    assert uow.case(debt).attachment == uow.case(debt).attachment | {"remitted_pence": 0}


async def test_the_employer_saying_the_person_left_ends_the_attachment_and_the_letters_follow() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5009", enforcement=COURT_AFTER_DEA)
    await handle(uow, employed("5009", 30000, on=decided), COURT_AFTER_DEA)
    await _days(uow, decided, decided, COURT_AFTER_DEA)
    await handle(uow, left("5009", decided + timedelta(days=20)), COURT_AFTER_DEA)
    case = uow.case(debt)
    assert (case.stage, case.attachment, case.employment) == ("letter_before_claim", None, None)
    [letter] = notices(uow, NoticeType.LETTER_BEFORE_CLAIM)
    assert letter.data.issued_on == decided + timedelta(days=20)


async def test_a_new_employer_gets_a_new_notice() -> None:
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5010")
    await handle(uow, employed("5010", 30000, on=decided))
    await days(uow, decided, decided)
    await handle(uow, employed("5010", 40000, on=decided + timedelta(days=30), employer="999/ZZ1"))
    first, second = notices(uow, NoticeType.DEA_EMPLOYER)
    assert first.data.recipient_name == f"Employer {EMPLOYER}"
    assert second.data.recipient_name == "Employer 999/ZZ1" and second.data.amounts["deduction"] == 6000  # 15%
    assert uow.case(debt).stage == "dea" and uow.case(debt).attachment["employer_ref"] == "999/ZZ1"


async def test_a_breathing_space_discharges_the_attachment_and_its_end_serves_a_fresh_one() -> None:
    """SI 2020/1311 [S47]: no step to recover while the moratorium lasts, so the employer is
    told to stop (the notice discharged, SI 2013/384 reg 26); afterwards a new notice."""
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5011")
    await handle(uow, employed("5011", 30000, on=decided))
    await days(uow, decided, decided)
    start, end = decided + timedelta(days=10), decided + timedelta(days=70)
    await days(uow, decided + timedelta(days=1), start)
    await handle(uow, circumstance(BreathingSpaceStarted, "5011", "P-5011", start))
    [discharged] = notices(uow, NoticeType.DEA_DISCHARGED)
    assert discharged.data.recipient_name == f"Employer {EMPLOYER}"
    assert discharged.data.dates == {"discharged_on": start}
    assert "breathing space" in str(discharged.data.template_data["reason"])
    assert uow.case(debt).attachment is None
    await days(uow, start + timedelta(days=1), end)
    assert notices(uow, NoticeType.DEA_REMITTANCE_MISSED) == []  # nothing is expected while it lasts
    await handle(uow, circumstance(BreathingSpaceEnded, "5011", "P-5011", end))
    _, again = notices(uow, NoticeType.DEA_EMPLOYER)
    assert again.data.issued_on == end and again.data.dates["first_pay_day"] >= end + timedelta(days=22)
    assert uow.case(debt).stage == "dea" and uow.case(debt).attachment is not None


async def test_paid_in_full_the_employer_is_told_to_stop() -> None:
    """SI 2013/384 reg 26: the council discharges the notice once the overpayment is recovered."""
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5012")
    await handle(uow, employed("5012", 30000, on=decided))
    await days(uow, decided, decided)
    await handle(uow, paid_off("5012", debt, decided + timedelta(days=40)))
    [discharged] = notices(uow, NoticeType.DEA_DISCHARGED)
    assert discharged.data.template_data["reason"] == "the overpayment is paid in full"
    assert (uow.case(debt).stage, uow.case(debt).is_open) == ("paid", False)


def paid_off(account: str, debt_id: str, on: date) -> Envelope:
    return BalanceChanged(
        key=account,
        data=BalanceChangedData(
            debt_id=debt_id,
            account_ref=account,
            debt_type=DebtType.HB_OVERPAYMENT,
            charged_pence=42000,
            paid_pence=42000,
            balance_pence=0,
            as_of=on,
        ),
    )


async def test_an_appeal_against_the_overpayment_pauses_its_recovery_until_decided() -> None:
    """The council's [holds] hbop_appeal_pauses_recovery (on by default; SI 2001/1002
    reg 11(2)(c) lets it suspend) [S39]: the attachment is discharged while the appeal is
    decided, and a fresh notice follows; a Council Tax dispute still pauses nothing."""
    assert COUNCIL.holds.hbop_appeal_pauses_recovery and not COUNCIL.holds.dispute_pauses_recovery
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5013")
    await handle(uow, employed("5013", 30000, on=decided))
    await days(uow, decided, decided + timedelta(days=5))
    appeal = decided + timedelta(days=5)
    await handle(uow, circumstance(DisputeRaised, "5013", "P-5013", appeal))
    case = uow.case(debt)
    assert (case.held, case.attachment) == (True, None)
    [discharged] = notices(uow, NoticeType.DEA_DISCHARGED)
    assert "dispute" in str(discharged.data.template_data["reason"])
    decided_appeal = appeal + timedelta(days=40)
    await days(uow, appeal + timedelta(days=1), decided_appeal)
    await handle(uow, circumstance(DisputeResolved, "5013", "P-5013", decided_appeal))
    assert uow.case(debt).held is False and uow.case(debt).stage == "dea"
    assert len(notices(uow, NoticeType.DEA_EMPLOYER)) == 2


async def test_a_council_may_let_recovery_run_on_during_an_overpayment_appeal() -> None:
    choice = COUNCIL.holds.model_copy(update={"hbop_appeal_pauses_recovery": False})
    enforcement = Enforcement(COUNCIL.model_copy(update={"holds": choice}))
    uow = FakeCases()
    debt, decided = await overpayment_past_its_reminder(uow, "5014", enforcement=enforcement)
    await handle(uow, circumstance(DisputeRaised, "5014", "P-5014", decided), enforcement)
    assert uow.case(debt).held is False and "dispute_raised" in uow.steps(debt)
