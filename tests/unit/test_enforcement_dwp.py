"""Recovering an HB overpayment from the person's other benefits through the DWP, through
enforcement's route table on the in-memory unit of work.

Sources: domain §4 [S39][S40][S41]: the council may ask the DWP (Debt Management) to recover
an HB overpayment by deduction from other benefits it pays; the council keeps the debt and
the DWP sets the weekly rate (SSAA 1992 s.75; SI 2013/384 Part 5). The order of routes once
the invoice and reminder go unpaid, and the days to wait for the DWP's answer, are the
council's ([hbop] after_invoice, dwp_answer_days, dwp_paid_every_days). Breathing Space
stops every step to recover (SI 2020/1311 reg 7) [S47].
"""

from __future__ import annotations

from datetime import date, timedelta

from recovery_enforcement.handlers import Enforcement
from recovery_shared.contracts.common import DebtType, HbopClassification
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    PaymentChannel,
)
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    BalanceChanged,
    BalanceChangedData,
    DeductionCancelled,
    DeductionRequested,
    NoticeType,
    PaymentAllocated,
    PaymentAllocatedData,
)
from tests.factories import deduction_accepted, deduction_refused
from tests.unit.fakes.enforcement import FakeCases
from tests.unit.test_enforcement_civil import AMOUNT, COUNCIL, notices
from tests.unit.test_enforcement_dea import overpayment_past_its_reminder
from tests.unit.test_enforcement_use_cases import circumstance, days, handle

WEEKLY = 1395


def accepted(account: str, request_id: str, first_on: date, answered_on: date) -> Envelope:
    return deduction_accepted(account, request_id, f"HBOP-{account}", WEEKLY, first_on, answered_on)


def refused(account: str, request_id: str, on: date) -> Envelope:
    return deduction_refused(account, request_id, f"HBOP-{account}", on)


def dwp_paid(account: str, pence: int, on: date) -> Envelope:
    return PaymentAllocated(
        key=account,
        data=PaymentAllocatedData(
            receipt_ref=f"DWP-{account}-{on}",
            account_ref=account,
            amount_pence=pence,
            received_on=on,
            rule=AllocationRule.DIRECTED,
            parts=[AllocationPart(debt_id=f"HBOP-{account}", amount_pence=pence)],
            channel=PaymentChannel.DWP_DEDUCTION,
        ),
    )


async def asked(
    uow: FakeCases, account: str, classification: HbopClassification = HbopClassification.CLAIMANT_ERROR
) -> tuple[DeductionRequested, date]:
    """No employer known: the reminder unpaid, the DWP is asked. The request and its day."""
    _, next_day = await overpayment_past_its_reminder(uow, account, classification)
    await days(uow, next_day, next_day)
    [request] = uow.published(DeductionRequested)
    return request, next_day


async def test_with_no_employer_known_the_dwp_is_asked_and_the_person_told() -> None:
    uow = FakeCases()
    request, on = await asked(uow, "6001")
    data = request.data
    assert (data.owed_pence, data.fraud, data.requested_on) == (AMOUNT, False, on)
    assert data.answer_by == on + timedelta(days=COUNCIL.hbop.dwp_answer_days)
    assert (data.person_name, data.person_address) == ("Test Person", ["1 High Street", "AB1 2CD"])
    assert uow.case("HBOP-6001").stage == "dwp_requested"
    [letter] = notices(uow, NoticeType.DWP_DEDUCTION_REQUESTED)
    assert letter.data.amounts == {"owed": AMOUNT} and letter.data.dates == {"answer_by": data.answer_by}
    assert notices(uow, NoticeType.LETTER_BEFORE_CLAIM) == []


async def test_a_fraud_overpayment_is_asked_for_at_the_higher_rate() -> None:
    uow = FakeCases()
    request, _ = await asked(uow, "6002", HbopClassification.FRAUD)
    assert request.data.fraud is True


async def test_the_dwp_paying_what_it_promised_reconciles_and_a_short_payment_is_noted() -> None:
    uow = FakeCases()
    request, on = await asked(uow, "6003")
    first = on + timedelta(days=10)
    await handle(uow, accepted("6003", request.data.request_id, first, on + timedelta(days=5)))
    case = uow.case("HBOP-6003")
    assert case.stage == "dwp_deduction" and case.benefit_deduction["weekly_pence"] == WEEKLY
    every = COUNCIL.hbop.dwp_paid_every_days
    # The first payment over covers the weeks from the first deduction to its due day.
    weeks = -(-every // 7)
    due = first + timedelta(days=every)
    await handle(uow, dwp_paid("6003", weeks * WEEKLY, due))
    await days(uow, on + timedelta(days=1), due + timedelta(days=7))
    assert "dwp_remittances_reconciled" in uow.steps("HBOP-6003")
    # The next one is short.
    next_due = due + timedelta(days=every)
    await handle(uow, dwp_paid("6003", WEEKLY, next_due))
    await days(uow, due + timedelta(days=8), next_due + timedelta(days=7))
    assert "dwp_remittance_short" in uow.steps("HBOP-6003")
    short = [s for s in uow.state.steps if s.case_id == "HBOP-6003" and s.step == "dwp_remittance_short"]
    expected = 2 * weeks * WEEKLY
    assert f"short by £{(expected - (weeks + 1) * WEEKLY) / 100:,.2f}" in short[0].detail
    # Officers list it to chase the DWP (GET /officer/remittances/behind).
    [behind] = await Enforcement(COUNCIL).remittances_behind(uow)
    assert behind.case_id == "HBOP-6003"
    assert behind.benefit_deduction["short_pence"] == expected - (weeks + 1) * WEEKLY


async def test_a_refusal_passes_to_the_letter_before_claim() -> None:
    uow = FakeCases()
    request, on = await asked(uow, "6004")
    await handle(uow, refused("6004", request.data.request_id, on + timedelta(days=9)))
    assert uow.case("HBOP-6004").stage == "letter_before_claim"
    [letter] = notices(uow, NoticeType.LETTER_BEFORE_CLAIM)
    assert letter.data.issued_on == on + timedelta(days=9)


async def test_no_answer_in_the_councils_days_passes_on_and_a_late_yes_is_cancelled() -> None:
    uow = FakeCases()
    request, on = await asked(uow, "6005")
    answer_by = request.data.answer_by
    await days(uow, on + timedelta(days=1), answer_by)
    assert uow.case("HBOP-6005").stage == "dwp_requested"
    await days(uow, answer_by + timedelta(days=1), answer_by + timedelta(days=1))
    assert uow.case("HBOP-6005").stage == "letter_before_claim" and "dwp_unanswered" in uow.steps("HBOP-6005")
    await handle(
        uow, accepted("6005", request.data.request_id, answer_by + timedelta(days=7), answer_by + timedelta(days=2))
    )
    [cancel] = uow.published(DeductionCancelled)
    assert cancel.data.request_id == request.data.request_id
    assert uow.case("HBOP-6005").stage == "letter_before_claim"


async def test_paid_in_full_the_dwp_is_told_to_stop() -> None:
    uow = FakeCases()
    request, on = await asked(uow, "6006")
    await handle(uow, accepted("6006", request.data.request_id, on + timedelta(days=10), on + timedelta(days=3)))
    paid = BalanceChanged(
        key="6006",
        data=BalanceChangedData(
            debt_id="HBOP-6006",
            account_ref="6006",
            debt_type=DebtType.HB_OVERPAYMENT,
            charged_pence=AMOUNT,
            paid_pence=AMOUNT,
            balance_pence=0,
            as_of=on + timedelta(days=30),
        ),
    )
    await handle(uow, paid)
    [cancel] = uow.published(DeductionCancelled)
    assert cancel.data.reason == "the overpayment is paid in full"
    assert (uow.case("HBOP-6006").stage, uow.case("HBOP-6006").is_open) == ("paid", False)


async def test_a_breathing_space_cancels_the_request_and_its_end_asks_again() -> None:
    """SI 2020/1311 reg 7 [S47]: no step to recover while it lasts."""
    uow = FakeCases()
    request, on = await asked(uow, "6007")
    await handle(uow, accepted("6007", request.data.request_id, on + timedelta(days=10), on + timedelta(days=3)))
    start, end = on + timedelta(days=20), on + timedelta(days=80)
    await days(uow, on + timedelta(days=1), start)
    await handle(uow, circumstance(BreathingSpaceStarted, "6007", "P-6007", start))
    [cancel] = uow.published(DeductionCancelled)
    assert "breathing space" in cancel.data.reason
    await days(uow, start + timedelta(days=1), end)
    assert "dwp_remittance_short" not in uow.steps("HBOP-6007")  # nothing is expected while it lasts
    await handle(uow, circumstance(BreathingSpaceEnded, "6007", "P-6007", end))
    first, again = uow.published(DeductionRequested)
    assert again.data.requested_on == end and again.data.request_id != first.data.request_id
    assert uow.case("HBOP-6007").stage == "dwp_requested"


async def test_ta_and_sundry_debts_are_never_sent_to_the_dwp() -> None:
    from tests.unit.test_enforcement_civil import to_letter_before_claim

    uow = FakeCases()
    await to_letter_before_claim(uow, "6008")
    assert uow.published(DeductionRequested) == []
