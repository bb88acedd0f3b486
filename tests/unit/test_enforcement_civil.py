"""The civil ladder for HB overpayments, Temporary Accommodation and sundry debt, through
enforcement's route table on the in-memory unit of work.

Sources ([S..] as in ../shared/domain.md): an invoice's reminder gives 7 more days [S43b];
the Pre-Action Protocol for Debt Claims: 30 days to reply to a letter before claim, 30
days after supplying documents asked for, 14 days' notice before issuing [S45][S45b];
the Limitation Act 1980 s.5 (contract debts) and s.9 (sums recoverable by statute, an HB
overpayment through s.75(7) SSAA 1992), six years [S44][S45]; an HB overpayment from
official error nobody could reasonably have realised is not recoverable and any other is
notified within 14 days, with a month to ask for a reconsideration (SI 2006/213 reg 100(2);
SI 2001/1002 regs 4, 10, 18) [S35][S36b][S39]; Breathing Space reaches every debt of the
person (SI 2020/1311 reg 14) [S47].
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from recovery_enforcement import domain
from recovery_enforcement.handlers import Enforcement
from recovery_notices.domain import compose_notice
from recovery_shared.contracts.common import DebtType, HbopClassification, LiableParty, OverpaymentDecision
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    ChargeRaised,
    ChargeRaisedData,
    CountyAttachmentMade,
    CountyCourtOutcomeData,
    CountyJudgmentEntered,
    CountyWarrantIssued,
    LetterBeforeClaimReplied,
    LetterBeforeClaimRepliedData,
    ReplyKind,
)
from recovery_shared.contracts.internal import (
    BalanceChanged,
    BalanceChangedData,
    ClaimReferred,
    CostsAdded,
    InstalmentMissed,
    InstalmentMissedData,
    NoticeRequested,
    NoticeType,
)
from recovery_shared.council import load_council_config
from recovery_shared.refusal import Refused
from recovery_shared.statute.service import served_on
from tests.factories import overpayment_decision
from tests.unit.fakes.enforcement import FakeCases
from tests.unit.test_enforcement_use_cases import bill, circumstance, days, handle

COUNCIL = load_council_config()
AMOUNT = 42000
BILLED = date(2026, 3, 10)
INVOICE_DUE = date(2026, 3, 24)  # the council's 14 days' invoice terms


def served(issued: date) -> date:
    return served_on(issued, COUNCIL.service)


def civil_bill(
    account: str,
    debt_type: DebtType = DebtType.TEMPORARY_ACCOMMODATION,
    *,
    party: str | None = None,
    billed_on: date = BILLED,
    overpayment: OverpaymentDecision | None = None,
) -> ChargeRaised:
    if debt_type == DebtType.HB_OVERPAYMENT and overpayment is None:
        overpayment = overpayment_decision(decided_on=billed_on)
    return ChargeRaised(
        key=account,
        data=ChargeRaisedData(
            debt_id=f"{debt_type.value}-{account}",
            account_ref=account,
            debt_type=debt_type,
            amount_pence=AMOUNT,
            bill_issued_on=billed_on,
            liable_party=LiableParty(
                party_id=party or f"P-{account}",
                name="Test Person",
                address_lines=["1 High Street"],
                postcode="AB1 2CD",
            ),
            overpayment=overpayment,
        ),
    )


def invoice_missed(account: str, debt_id: str, due: date = INVOICE_DUE, detected: date | None = None) -> Envelope:
    return InstalmentMissed(
        key=account,
        data=InstalmentMissedData(
            arrangement_id=f"ARR-{debt_id}",
            account_ref=account,
            debt_ids=[debt_id],
            due_date=due,
            amount_pence=AMOUNT,
            overdue_pence=AMOUNT,
            misses_this_year=1,
            detected_on=detected or due + timedelta(days=1),
        ),
    )


def replied(account: str, debt_id: str, reply: ReplyKind, on: date) -> Envelope:
    return LetterBeforeClaimReplied(
        key=account,
        data=LetterBeforeClaimRepliedData(account_ref=account, debt_id=debt_id, replied_on=on, reply=reply),
    )


def notices(uow: FakeCases, kind: NoticeType) -> list[NoticeRequested]:
    return [n for n in uow.published(NoticeRequested) if n.data.notice_type == kind]


async def to_letter_before_claim(uow: FakeCases, account: str) -> tuple[str, date]:
    """A TA invoice missed, its reminder unpaid: the debt id and the letter's issue date."""
    debt = f"TA-{account}"
    await handle(uow, civil_bill(account))
    await handle(uow, invoice_missed(account, debt))
    [reminder] = notices(uow, NoticeType.INVOICE_REMINDER)
    await days(uow, INVOICE_DUE + timedelta(days=1), reminder.data.dates["pay_by"] + timedelta(days=1))
    [letter] = notices(uow, NoticeType.LETTER_BEFORE_CLAIM)
    return debt, letter.data.issued_on


# --- the ladder -----------------------------------------------------------------------


async def test_a_ta_invoice_unpaid_goes_through_the_protocol_to_a_county_court_claim() -> None:
    uow = FakeCases()
    debt = "TA-2001"
    await handle(uow, civil_bill("2001"))
    assert uow.case(debt).stage == "billed" and uow.published(NoticeRequested) == []

    await handle(uow, invoice_missed("2001", debt))
    [reminder] = notices(uow, NoticeType.INVOICE_REMINDER)
    issued = INVOICE_DUE + timedelta(days=1)
    # The reminder gives 7 days from its served date [S43b].
    assert reminder.data.amounts == {"balance": AMOUNT}
    assert reminder.data.dates == {"invoice_due": INVOICE_DUE, "pay_by": served(issued) + timedelta(days=7)}
    pay_by = reminder.data.dates["pay_by"]

    await days(uow, issued, pay_by)
    assert notices(uow, NoticeType.LETTER_BEFORE_CLAIM) == []
    await days(uow, pay_by + timedelta(days=1), pay_by + timedelta(days=1))
    [letter] = notices(uow, NoticeType.LETTER_BEFORE_CLAIM)
    letter_on = pay_by + timedelta(days=1)
    # 30 days to reply, from the letter's served date (Protocol) [S45].
    assert letter.data.issued_on == letter_on and letter.data.amounts == {"balance": AMOUNT}
    assert letter.data.dates == {"reply_by": served(letter_on) + timedelta(days=30)}
    reply_by = letter.data.dates["reply_by"]

    await days(uow, letter_on + timedelta(days=1), reply_by)
    assert notices(uow, NoticeType.NOTICE_OF_INTENTION) == []
    await days(uow, reply_by + timedelta(days=1), reply_by + timedelta(days=1))
    [intention] = notices(uow, NoticeType.NOTICE_OF_INTENTION)
    intention_on = reply_by + timedelta(days=1)
    # 14 days' notice before issuing (Protocol) [S45].
    assert intention.data.dates == {
        "letter_before_claim_on": letter_on,
        "claim_after": served(intention_on) + timedelta(days=14),
    }
    claim_after = intention.data.dates["claim_after"]

    await days(uow, intention_on + timedelta(days=1), claim_after)
    assert uow.published(ClaimReferred) == []
    await days(uow, claim_after + timedelta(days=1), claim_after + timedelta(days=10))
    [claim] = uow.published(ClaimReferred)
    assert claim.key == "2001"
    data = claim.data
    assert (data.claim_id, data.case_id, data.debt_ids, data.debt_type) == (
        f"CLM-{debt}",
        debt,
        [debt],
        DebtType.TEMPORARY_ACCOMMODATION,
    )
    assert (data.referred_on, data.amount_pence, data.claimant) == (
        claim_after + timedelta(days=1),
        AMOUNT,
        COUNCIL.council_name,
    )
    assert (data.defendant_name, data.defendant_address) == ("Test Person", ["1 High Street", "AB1 2CD"])
    assert (data.letter_before_claim_on, data.notice_of_intention_on) == (letter_on, intention_on)
    assert "Temporary Accommodation" in data.particulars and str(INVOICE_DUE) in data.particulars
    case = uow.case(debt)
    assert (case.stage, case.is_open, case.claim_id, case.next_action_on) == (
        "claim_referred",
        True,
        data.claim_id,
        None,
    )


async def test_paid_in_full_at_any_point_closes_the_case() -> None:
    uow = FakeCases()
    debt, letter_on = await to_letter_before_claim(uow, "2002")
    paid = BalanceChanged(
        key="2002",
        data=BalanceChangedData(
            debt_id=debt,
            account_ref="2002",
            debt_type=DebtType.TEMPORARY_ACCOMMODATION,
            charged_pence=AMOUNT,
            paid_pence=AMOUNT,
            balance_pence=0,
            as_of=letter_on + timedelta(days=3),
        ),
    )
    await handle(uow, paid)
    await days(uow, letter_on + timedelta(days=1), letter_on + timedelta(days=80))
    assert (uow.case(debt).stage, uow.case(debt).is_open) == ("paid", False)
    assert notices(uow, NoticeType.NOTICE_OF_INTENTION) == [] and uow.published(ClaimReferred) == []


async def test_a_council_sending_no_reminder_writes_the_letter_before_claim_on_the_miss() -> None:
    ladder = COUNCIL.civil_ladders[DebtType.SUNDRY].model_copy(
        update={"notices": [NoticeType.LETTER_BEFORE_CLAIM, NoticeType.NOTICE_OF_INTENTION]}
    )
    council = COUNCIL.model_copy(update={"civil_ladders": {**COUNCIL.civil_ladders, DebtType.SUNDRY: ladder}})
    uow = FakeCases()
    enforcement = Enforcement(council)
    await handle(uow, civil_bill("2003", DebtType.SUNDRY), enforcement)
    await handle(uow, invoice_missed("2003", "SUNDRY-2003"), enforcement)
    assert notices(uow, NoticeType.INVOICE_REMINDER) == []
    [letter] = notices(uow, NoticeType.LETTER_BEFORE_CLAIM)
    assert letter.data.issued_on == INVOICE_DUE + timedelta(days=1)


# --- replies and the officer's commands -------------------------------------------------


async def test_a_reply_asking_for_time_holds_the_case_until_the_officer_continues_to_claim() -> None:
    uow = FakeCases()
    debt, letter_on = await to_letter_before_claim(uow, "2101")
    await handle(uow, replied("2101", debt, ReplyKind.NEEDS_TIME, letter_on + timedelta(days=10)))
    case = uow.case(debt)
    assert (case.stage, case.reply, case.reply_by, case.next_action_on) == ("reply_received", "needs_time", None, None)
    await days(uow, letter_on + timedelta(days=1), letter_on + timedelta(days=120))
    assert notices(uow, NoticeType.NOTICE_OF_INTENTION) == []  # nothing automatic while the officer considers it

    outcome = await Enforcement(COUNCIL).continue_to_claim(uow, debt)
    await uow.commit()
    today = letter_on + timedelta(days=120)
    assert outcome == {"case_id": debt, "stage": "notice_of_intention", "on": today.isoformat()}
    [intention] = notices(uow, NoticeType.NOTICE_OF_INTENTION)
    assert intention.data.issued_on == today
    assert intention.data.dates["claim_after"] == served(today) + timedelta(days=14)  # Protocol [S45]
    await days(uow, today + timedelta(days=1), intention.data.dates["claim_after"] + timedelta(days=1))
    [claim] = uow.published(ClaimReferred)
    assert claim.data.notice_of_intention_on == today


async def test_documents_asked_for_restart_the_thirty_days_from_their_service() -> None:
    uow = FakeCases()
    debt, letter_on = await to_letter_before_claim(uow, "2102")
    await handle(uow, replied("2102", debt, ReplyKind.REQUESTS_DOCUMENTS, letter_on + timedelta(days=5)))
    await days(uow, letter_on + timedelta(days=1), letter_on + timedelta(days=20))
    supplied_on = letter_on + timedelta(days=20)
    await Enforcement(COUNCIL).supply_documents(uow, debt)
    await uow.commit()
    case = uow.case(debt)
    # 30 days after supplying the documents (Protocol) [S45].
    reply_by = served(supplied_on) + timedelta(days=30)
    assert (case.stage, case.reply_by, case.next_action_on) == (
        "letter_before_claim",
        reply_by,
        reply_by + timedelta(days=1),
    )
    await days(uow, supplied_on + timedelta(days=1), reply_by)
    assert notices(uow, NoticeType.NOTICE_OF_INTENTION) == []
    await days(uow, reply_by + timedelta(days=1), reply_by + timedelta(days=1))
    [intention] = notices(uow, NoticeType.NOTICE_OF_INTENTION)
    assert intention.data.issued_on == reply_by + timedelta(days=1)


async def test_an_officer_command_for_a_case_in_the_wrong_stage_is_refused_with_what_it_is_for() -> None:
    uow = FakeCases()
    await handle(uow, civil_bill("2103"))
    await handle(uow, invoice_missed("2103", "TA-2103"))
    await days(uow, INVOICE_DUE + timedelta(days=1), INVOICE_DUE + timedelta(days=2))
    enforcement = Enforcement(COUNCIL)
    with pytest.raises(Refused, match="at invoice_reminder: 'continue to claim' is for a case held on the debtor's"):
        await enforcement.continue_to_claim(uow, "TA-2103")
    with pytest.raises(Refused, match="'documents supplied' is for a case held on the debtor's reply"):
        await enforcement.supply_documents(uow, "TA-2103")
    with pytest.raises(Refused, match="no recovery case for debt TA-9999"):
        await enforcement.supply_documents(uow, "TA-9999")


async def test_a_reply_after_the_notice_of_intention_stops_the_claim_and_a_held_case_takes_no_officer_step() -> None:
    uow = FakeCases()
    debt, letter_on = await to_letter_before_claim(uow, "2105")
    await days(uow, letter_on + timedelta(days=1), letter_on + timedelta(days=36))
    [intention] = notices(uow, NoticeType.NOTICE_OF_INTENTION)
    # Replying within the 14 days' notice (Protocol) [S45] holds the claim for an officer.
    await handle(uow, replied("2105", debt, ReplyKind.OFFERS_TO_PAY, intention.data.issued_on + timedelta(days=4)))
    await days(uow, letter_on + timedelta(days=37), letter_on + timedelta(days=90))
    assert uow.published(ClaimReferred) == [] and uow.case(debt).stage == "reply_received"
    # A breathing space (SI 2020/1311) [S47]: no step, the officer's included, until it ends.
    await handle(uow, circumstance(BreathingSpaceStarted, "2105", "P-2105", letter_on + timedelta(days=91)))
    with pytest.raises(Refused, match=r"is held since .*: no step is taken while a hold stands"):
        await Enforcement(COUNCIL).continue_to_claim(uow, debt)
    assert notices(uow, NoticeType.NOTICE_OF_INTENTION) == [intention]


async def test_a_reply_for_a_debt_with_no_letter_before_claim_is_refused_saying_what_to_check() -> None:
    uow = FakeCases()
    await handle(uow, civil_bill("2104"))
    with pytest.raises(Refused, match=r"has had no letter before claim .* check the debt id on the Reply Form"):
        await handle(uow, replied("2104", "TA-2104", ReplyKind.DISPUTES, BILLED + timedelta(days=30)))
    with pytest.raises(Refused, match="no recovery case here"):
        await handle(uow, replied("2104", "TA-0000", ReplyKind.DISPUTES, BILLED + timedelta(days=30)))


# --- the Limitation Act ------------------------------------------------------------------


async def test_a_debt_fallen_due_more_than_six_years_before_is_never_claimed() -> None:
    uow = FakeCases()
    old_due = date(2019, 4, 1)
    await handle(uow, civil_bill("2201", billed_on=date(2019, 3, 18)))
    await handle(uow, invoice_missed("2201", "TA-2201", due=old_due, detected=date(2026, 5, 5)))
    case = uow.case("TA-2201")
    # Limitation Act 1980 s.5: six years from the due date [S45].
    assert (case.stage, case.is_open) == ("statute_barred", False)
    assert uow.published(NoticeRequested) == []
    listed = await Enforcement(COUNCIL).statute_barred_cases(uow)
    assert [c.case_id for c in listed] == ["TA-2201"]


async def test_a_debt_whose_six_years_run_out_on_the_way_is_closed_before_the_claim() -> None:
    uow = FakeCases()
    due = date(2020, 5, 1)  # the sixth anniversary, 1 May 2026, falls inside the Protocol's 30 days
    await handle(uow, civil_bill("2202", DebtType.HB_OVERPAYMENT, billed_on=date(2020, 4, 17)))
    await handle(uow, invoice_missed("2202", "HBOP-2202", due=due, detected=date(2026, 3, 25)))
    await days(uow, date(2026, 3, 25), date(2026, 7, 31))
    assert len(notices(uow, NoticeType.LETTER_BEFORE_CLAIM)) == 1
    assert notices(uow, NoticeType.NOTICE_OF_INTENTION) == [] and uow.published(ClaimReferred) == []
    case = uow.case("HBOP-2202")
    assert (case.stage, case.is_open) == ("statute_barred", False)
    barred = next(s.detail for s in uow.state.steps if s.step == "statute_barred")
    assert "Limitation Act 1980 s.9" in barred


# --- HB overpayments ---------------------------------------------------------------------


async def test_an_official_error_nobody_could_have_realised_opens_no_recovery_and_is_listed() -> None:
    uow = FakeCases()
    decision = overpayment_decision(
        HbopClassification.COUNCIL_OFFICIAL_ERROR, decided_on=BILLED, could_reasonably_have_realised=False
    )
    await handle(uow, civil_bill("2301", DebtType.HB_OVERPAYMENT, overpayment=decision))
    case = uow.case("HBOP-2301")
    # SI 2006/213 reg 100(2): not recoverable [S36b][S39].
    assert (case.stage, case.is_open) == ("not_recoverable", False)
    await handle(uow, invoice_missed("2301", "HBOP-2301"))
    await days(uow, INVOICE_DUE, INVOICE_DUE + timedelta(days=60))
    assert uow.published(NoticeRequested) == []
    [listed] = await Enforcement(COUNCIL).not_recoverable_overpayments(uow)
    assert (listed.case_id, listed.charged_pence, listed.hbop_classification, listed.hbop_decided_on) == (
        "HBOP-2301",
        AMOUNT,
        "council_official_error",
        BILLED,
    )
    assert decision.reason in [s.detail for s in uow.state.steps if s.step == "not_recoverable"]


async def test_a_recoverable_overpayment_requests_its_decision_notice_at_once() -> None:
    uow = FakeCases()
    decision = overpayment_decision(HbopClassification.CLAIMANT_ERROR, decided_on=BILLED - timedelta(days=3))
    await handle(uow, civil_bill("2302", DebtType.HB_OVERPAYMENT, overpayment=decision))
    [notice] = notices(uow, NoticeType.HBOP_DECISION)
    assert notice.data.issued_on == BILLED and notice.data.amounts == {"overpaid": AMOUNT}
    # A month from service to ask for a reconsideration (SI 2001/1002 reg 4) [S39].
    reconsider_by = served(BILLED).replace(month=served(BILLED).month + 1)
    assert notice.data.dates == {
        "period_start": decision.period_start,
        "period_end": decision.period_end,
        "decided_on": decision.decided_on,
        "reconsider_by": reconsider_by,
    }
    fields = ("classification", "reason", "calculation", "liable_role", "could_reasonably_have_realised")
    assert {k: notice.data.template_data[k] for k in fields} == {
        "classification": "claimant_error",
        "reason": decision.reason,
        "calculation": decision.calculation,
        "liable_role": "claimant",
        "could_reasonably_have_realised": True,
    }
    assert "hbop_notified_late" not in uow.steps("HBOP-2302")
    assert uow.case("HBOP-2302").is_open


async def test_a_decision_reaching_us_too_late_to_notify_within_fourteen_days_is_noted() -> None:
    uow = FakeCases()
    decision = overpayment_decision(decided_on=BILLED - timedelta(days=20))
    await handle(uow, civil_bill("2303", DebtType.HB_OVERPAYMENT, overpayment=decision))
    assert len(notices(uow, NoticeType.HBOP_DECISION)) == 1
    # Notified within 14 days of the decision (SI 2001/1002 reg 10) [S35][S39].
    assert "hbop_notified_late" in uow.steps("HBOP-2303")


# --- holds and the county court --------------------------------------------------------


async def test_a_breathing_space_on_the_persons_council_tax_account_holds_their_sundry_case() -> None:
    uow = FakeCases()
    await handle(uow, bill("2401", party="P-24"))  # the person's Council Tax account
    await handle(uow, civil_bill("2402", DebtType.SUNDRY, party="P-24"))
    await handle(uow, invoice_missed("2402", "SUNDRY-2402"))
    [reminder] = notices(uow, NoticeType.INVOICE_REMINDER)
    pay_by = reminder.data.dates["pay_by"]
    started = INVOICE_DUE + timedelta(days=3)
    await handle(uow, circumstance(BreathingSpaceStarted, "2401", "P-24", started))  # SI 2020/1311 reg 14 [S47]
    assert uow.case("SUNDRY-2402").held
    await days(uow, INVOICE_DUE + timedelta(days=1), pay_by + timedelta(days=60))
    assert notices(uow, NoticeType.LETTER_BEFORE_CLAIM) == []
    ended = pay_by + timedelta(days=60)
    await handle(uow, circumstance(BreathingSpaceEnded, "2401", "P-24", ended))
    # The clock stopped while the hold lasted: the reminder's remaining days run from the end.
    resumed_pay_by = pay_by + (ended - started)
    assert uow.case("SUNDRY-2402").reminder_pay_by == resumed_pay_by
    await days(uow, ended + timedelta(days=1), resumed_pay_by)
    assert notices(uow, NoticeType.LETTER_BEFORE_CLAIM) == []
    await days(uow, resumed_pay_by + timedelta(days=1), resumed_pay_by + timedelta(days=1))
    assert len(notices(uow, NoticeType.LETTER_BEFORE_CLAIM)) == 1


async def test_a_county_judgment_is_recorded_with_its_costs_added_to_the_debt() -> None:
    uow = FakeCases()
    debt, letter_on = await to_letter_before_claim(uow, "2501")
    await days(uow, letter_on + timedelta(days=1), letter_on + timedelta(days=70))
    [claim] = uow.published(ClaimReferred)
    judged_on = letter_on + timedelta(days=100)
    judgment = CountyCourtOutcomeData(
        claim_id=claim.data.claim_id, account_ref="2501", dated=judged_on, amount_pence=AMOUNT, costs_pence=11500
    )
    await handle(uow, CountyJudgmentEntered(key="2501", data=judgment))
    [costs] = uow.published(CostsAdded)
    assert (costs.data.debt_id, costs.data.amount_pence, costs.data.kind) == (debt, 11500, "county_judgment")
    assert uow.case(debt).stage == "county_judgment"
    warrant = judgment.model_copy(update={"dated": judged_on + timedelta(days=30), "costs_pence": 0})
    await handle(uow, CountyWarrantIssued(key="2501", data=warrant))
    assert uow.case(debt).stage == "county_warrant" and len(uow.published(CostsAdded)) == 1
    attachment = judgment.model_copy(update={"dated": judged_on + timedelta(days=60), "costs_pence": 1000})
    await handle(uow, CountyAttachmentMade(key="2501", data=attachment))
    assert uow.case(debt).stage == "county_attachment"
    assert [(c.data.kind, c.data.amount_pence) for c in uow.published(CostsAdded)][1:] == [("county_attachment", 1000)]
    unknown = judgment.model_copy(update={"claim_id": "CLM-NOPE"})
    with pytest.raises(Refused, match="which no case on account 2501 referred: check the claim id"):
        await handle(uow, CountyJudgmentEntered(key="2501", data=unknown))


# --- configuration ------------------------------------------------------------------------


def test_a_civil_ladder_without_the_protocols_letters_stops_the_service() -> None:
    from pydantic import ValidationError

    from recovery_shared.council import CivilLadder

    with pytest.raises(ValidationError, match="Pre-Action Protocol"):
        CivilLadder(notices=[NoticeType.INVOICE_REMINDER, NoticeType.LETTER_BEFORE_CLAIM], reminder_pay_days=7)


def test_the_default_reminder_gives_seven_days() -> None:
    # An invoice reminder with 7 more days [S43b].
    assert {t: ladder.reminder_pay_days for t, ladder in COUNCIL.civil_ladders.items()} == {
        DebtType.HB_OVERPAYMENT: 7,
        DebtType.TEMPORARY_ACCOMMODATION: 7,
        DebtType.SUNDRY: 7,
    }


def test_a_debt_type_the_council_configured_no_ladder_for_is_refused_saying_what_to_add() -> None:
    council = COUNCIL.model_copy(update={"civil_ladders": {}})
    with pytest.raises(Refused, match=r"add \[civil_ladders.TA\] to the council's TOML"):
        domain.rules_for(council, DebtType.TEMPORARY_ACCOMMODATION)


# --- the notice interface -----------------------------------------------------------------


async def test_every_civil_notice_enforcement_requests_is_one_notices_can_compose() -> None:
    """The interface between the two services: each request carries what its notice needs
    (the Protocol's dates [S45], the overpayment decision's items, SI 2006/213 Sch 9 [S36b])."""
    uow = FakeCases()
    await handle(uow, civil_bill("2601", DebtType.HB_OVERPAYMENT))
    await handle(uow, invoice_missed("2601", "HBOP-2601"))
    await days(uow, INVOICE_DUE + timedelta(days=1), INVOICE_DUE + timedelta(days=120))
    requested = uow.published(NoticeRequested)
    kinds = [n.data.notice_type for n in requested]
    # No employer known and no answer from the DWP: its letter, then the Protocol's.
    assert kinds == [
        NoticeType.HBOP_DECISION,
        NoticeType.INVOICE_REMINDER,
        NoticeType.DWP_DEDUCTION_REQUESTED,
        NoticeType.LETTER_BEFORE_CLAIM,
        NoticeType.NOTICE_OF_INTENTION,
    ]
    for notice in requested:
        compose_notice(notice.data, COUNCIL)  # refuses a request lacking what its notice must say
