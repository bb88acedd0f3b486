"""Enforcement's use cases through its route table, on the in-memory unit of work.

Statutory sources ([S..] as in ../shared/domain.md): SI 1992/613 reg 23 [S1],
reg 35(2A) [S6]; the Taking Control of Goods (Fees) Regulations 2014 Schedule [S29];
Breathing Space, SI 2020/1311 regs 7 and 14 [S47][S47e]; a dispute or appeal does not
suspend liability [S28b][S54]; recall on vulnerability [S31][S54c].
"""

from __future__ import annotations

import copy
import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest
from structlog.testing import capture_logs

from recovery_enforcement import domain, events
from recovery_enforcement.app import ROUTES
from recovery_enforcement.handlers import _NAMES, Enforcement
from recovery_enforcement.store import CaseRecord
from recovery_shared.contracts.common import MAX_NAME, DebtType, Instalment, LiableParty
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    AgentOutcome,
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    CaseReturned,
    CaseReturnedData,
    ChargeAdjusted,
    ChargeAdjustedData,
    ChargeRaised,
    ChargeRaisedData,
    CircumstanceData,
    CourtOutcomeData,
    DayStarted,
    DayStartedData,
    DebtorDeceased,
    DisputeRaised,
    DisputeResolved,
    HearingAdjourned,
    HearingAdjournedData,
    InsolvencyNotified,
    LiabilityOrderGranted,
    LiabilityOrderWithdrawn,
    VulnerabilityCleared,
    VulnerabilityFlagged,
)
from recovery_shared.contracts.internal import (
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    BalanceChanged,
    BalanceChangedData,
    BalanceFellDue,
    CaseRecalled,
    CaseReferred,
    CostsAdded,
    HoldApplied,
    HoldReleased,
    InstalmentMissed,
    InstalmentMissedData,
    LiabilityOrderRecorded,
    NoticeIssued,
    NoticeIssuedData,
    NoticeRequested,
    NoticeType,
    StageChanged,
    SummonsListed,
)
from recovery_shared.council import load_council_config
from recovery_shared.refusal import Refused
from tests.factories import overpayment_decision
from tests.unit.fakes.enforcement import FakeCases

COUNCIL = load_council_config()
DUE = [date(2026, m, 1) for m in range(4, 13)] + [date(2027, 1, 1)]
INSTALMENT = 15000


async def handle(uow: FakeCases, event: Envelope, enforcement: Enforcement | None = None) -> None:
    """One event the way the kernel applies it: prefetch, its route's use case, commit."""
    route = ROUTES.route_for(type(event))
    assert route is not None, f"{type(event).__name__} has no route"
    use_cases = enforcement or Enforcement(COUNCIL)
    await use_cases.prefetch(uow, [event])
    uow.cause = event
    try:
        await route.use_case(use_cases, uow, event)
    except Refused:
        await uow.rollback()
        raise
    await uow.commit()


def bill(
    account: str,
    *,
    party: str | None = None,
    debt_type: DebtType = DebtType.COUNCIL_TAX,
    billed_on: date = date(2026, 3, 10),
    debt_id: str | None = None,
) -> ChargeRaised:
    return ChargeRaised(
        key=account,
        data=ChargeRaisedData(
            debt_id=debt_id or f"{debt_type.value}-{account}",
            account_ref=account,
            debt_type=debt_type,
            financial_year="2026/27",
            amount_pence=INSTALMENT * 10,
            bill_issued_on=billed_on,
            instalments=[Instalment(due_date=d, amount_pence=INSTALMENT) for d in DUE],
            liable_party=LiableParty(party_id=party or f"P-{account}", name="Test Person"),
            overpayment=overpayment_decision() if debt_type == DebtType.HB_OVERPAYMENT else None,
        ),
    )


def missed(account: str, debt_id: str, due: date = date(2026, 5, 1), misses: int = 1) -> InstalmentMissed:
    return InstalmentMissed(
        key=account,
        data=InstalmentMissedData(
            arrangement_id=f"ARR-{debt_id}",
            account_ref=account,
            debt_ids=[debt_id],
            due_date=due,
            amount_pence=INSTALMENT,
            overdue_pence=INSTALMENT,
            misses_this_year=misses,
            detected_on=due + timedelta(days=1),
        ),
    )


def balance(account: str, debt_id: str, paid: int, on: date) -> BalanceChanged:
    return BalanceChanged(
        key=account,
        data=BalanceChangedData(
            debt_id=debt_id,
            account_ref=account,
            debt_type=DebtType.COUNCIL_TAX,
            charged_pence=INSTALMENT * 10,
            paid_pence=paid,
            balance_pence=INSTALMENT * 10 - paid,
            as_of=on,
        ),
    )


def circumstance(kind: type[Envelope], account: str, party: str, on: date) -> Envelope:
    data = CircumstanceData(party_id=party, account_ref=account, effective_on=on, reference="REF-1")
    if kind is BreathingSpaceStarted:
        return BreathingSpaceStarted(key=account, data=BreathingSpaceStartedData(**data.model_dump()))
    return kind(key=account, data=data)


async def days(uow: FakeCases, first: date, last: date) -> None:
    day = first
    while day <= last:
        await handle(uow, DayStarted(data=DayStartedData(business_date=day)))
        day += timedelta(days=1)


async def to_liability_order(uow: FakeCases, account: str) -> str:
    """A bill, a May miss, the reminder ignored, the summons and the order: the summons id."""
    debt = f"CT-{account}"
    await handle(uow, bill(account))
    await handle(uow, missed(account, debt))
    await days(uow, date(2026, 5, 2), date(2026, 6, 1))
    (summons,) = [s for s in uow.published(SummonsListed) if s.data.debt_ids == [debt]]
    hearing = summons.data.hearing_date
    await days(uow, date(2026, 6, 2), hearing)
    granted = CourtOutcomeData(summons_id=summons.data.summons_id, account_ref=account, hearing_date=hearing)
    await handle(uow, LiabilityOrderGranted(key=account, data=granted))
    return summons.data.summons_id


def test_every_routed_event_type_says_what_its_batch_must_load() -> None:
    assert {r.event for r in ROUTES.routes} == set(_NAMES)


# --- bills --------------------------------------------------------------------------


async def test_a_bill_opens_one_case_and_a_second_copy_changes_nothing() -> None:
    uow = FakeCases()
    await handle(uow, bill("1001"))
    await handle(uow, bill("1001"))
    case = uow.case("CT-1001")
    assert case.stage == "billed" and case.is_open and len(case.schedule) == 10
    assert case.balance_pence == INSTALMENT * 10 and uow.published(StageChanged) == []


async def test_the_same_debt_on_another_account_is_refused() -> None:
    uow = FakeCases()
    await handle(uow, bill("1001", debt_id="D-1"))
    with pytest.raises(Refused, match="another account"):
        await handle(uow, bill("1002", debt_id="D-1"))


@pytest.mark.parametrize("debt_type", [DebtType.HB_OVERPAYMENT, DebtType.TEMPORARY_ACCOMMODATION, DebtType.SUNDRY])
async def test_a_bill_of_a_type_the_council_gave_no_ladder_is_refused_with_a_reason(debt_type: DebtType) -> None:
    enforcement = Enforcement(COUNCIL.model_copy(update={"civil_ladders": {}}))
    uow = FakeCases()
    with pytest.raises(
        Refused, match=rf"no recovery ladder in the council's configuration.*civil_ladders.{debt_type.value}"
    ):
        await handle(uow, bill("1001", debt_type=debt_type), enforcement)
    assert uow.state.cases == {}
    # ... and so is an instalment missed on it: a refusal, never an unexpected error.
    with pytest.raises(Refused, match="no recovery case"):
        await handle(uow, missed("1001", f"{debt_type.value}-1001"), enforcement)


async def test_an_adjustment_to_an_unknown_debt_is_refused() -> None:
    uow = FakeCases()
    adjusted = ChargeAdjusted(
        key="1001",
        data=ChargeAdjustedData(
            debt_id="CT-1001", account_ref="1001", new_amount_pence=1, adjusted_on=date(2026, 5, 1)
        ),
    )
    with pytest.raises(Refused, match="no recovery case"):
        await handle(uow, adjusted)
    await handle(uow, bill("1001"))
    await handle(uow, adjusted)  # known: the amount itself comes as balance.changed


async def test_a_schedule_that_arrives_before_its_bill_waits_for_the_case() -> None:
    uow = FakeCases()
    schedule = ArrangementMade(
        key="1001",
        data=ArrangementMadeData(
            arrangement_id="ARR-1",
            account_ref="1001",
            kind=ArrangementKind.STATUTORY,
            debt_ids=["CT-1001"],
            instalments=[Instalment(due_date=d, amount_pence=INSTALMENT) for d in DUE],
        ),
    )
    await handle(uow, schedule)
    assert "CT-1001" in uow.state.pending
    event = bill("1001")
    await handle(uow, event.model_copy(update={"data": event.data.model_copy(update={"instalments": None})}))
    assert uow.state.pending == {}
    assert uow.case("CT-1001").schedule[1] == ("2026-05-01", INSTALMENT)


# --- the ladder -----------------------------------------------------------------------


async def test_a_missed_instalment_requests_a_reminder_whose_days_run_from_its_served_date() -> None:
    uow = FakeCases()
    await handle(uow, bill("1001"))
    await handle(uow, missed("1001", "CT-1001"))
    (request,) = uow.published(NoticeRequested)
    assert request.data.notice_type == NoticeType.REMINDER and request.data.issued_on == date(2026, 5, 2)
    # Served Wednesday 6 May (two business days; 4 May a bank holiday): 7 days end 12 May (reg 23(3)).
    assert request.data.dates["pay_by"] == date(2026, 5, 12)
    assert request.data.amounts["amount_to_pay"] == 2 * INSTALMENT  # April and May
    assert request.data.recipient_name == "Test Person" and request.data.council_name == COUNCIL.council_name
    [moved] = uow.published(StageChanged)
    assert (moved.data.from_stage, moved.data.to_stage) == ("billed", "reminder")
    assert uow.case("CT-1001").next_action_on == date(2026, 5, 13)


async def test_a_day_beyond_the_councils_bound_is_refused_and_moves_no_case() -> None:
    """[clock] max_days_forward (council_default.toml): a date mistyped years ahead would
    take every case to court at once; it is refused and the business date stays."""
    uow = FakeCases()
    await handle(uow, bill("1001"))
    await handle(uow, missed("1001", "CT-1001"))
    await days(uow, date(2026, 5, 2), date(2026, 5, 12))
    with pytest.raises(Refused, match="max_days_forward"):
        await handle(uow, DayStarted(data=DayStartedData(business_date=date(2036, 5, 13))))
    assert uow.business_date == date(2026, 5, 12) and uow.case("CT-1001").stage == "reminder"
    await days(uow, date(2026, 5, 13), date(2026, 5, 13))
    assert uow.case("CT-1001").stage == "reminder_failed"


async def test_an_ignored_reminder_leads_to_the_balance_due_a_summons_and_its_costs() -> None:
    uow = FakeCases()
    await handle(uow, bill("1001"))
    await handle(uow, missed("1001", "CT-1001"))
    await days(uow, date(2026, 5, 2), date(2026, 6, 1))
    [fell_due] = uow.published(BalanceFellDue)
    assert fell_due.data.due_on == date(2026, 5, 20)
    [summons] = uow.published(SummonsListed)
    assert summons.data.issued_on == date(2026, 5, 27) and summons.data.costs_pence == 8000
    assert summons.data.hearing_date >= date(2026, 5, 29) + timedelta(days=14)  # reg 35(2A), from service
    assert [c.data.amount_pence for c in uow.published(CostsAdded)] == [8000]
    assert [n.data.notice_type for n in uow.published(NoticeRequested)] == [NoticeType.REMINDER, NoticeType.SUMMONS]


async def test_a_liability_order_then_a_referral_with_the_compliance_fee_then_a_nulla_bona_return() -> None:
    uow = FakeCases()
    summons_id = await to_liability_order(uow, "1001")
    [order] = uow.published(LiabilityOrderRecorded)
    granted_on = order.data.granted_on
    assert order.data.costs_pence == 2000  # the council's liability order costs
    await days(uow, granted_on + timedelta(days=1), granted_on + timedelta(days=20))
    [referral] = uow.published(CaseReferred)
    assert referral.data.referred_on == granted_on + timedelta(days=14)
    assert referral.data.compliance_fee_pence == 7500  # £75: Fees Regulations 2014 Schedule [S29]
    assert referral.data.liability_order_ref == summons_id
    returned = CaseReturned(
        key="1001",
        data=CaseReturnedData(
            referral_id=referral.data.referral_id,
            account_ref="1001",
            outcome=AgentOutcome.NULLA_BONA,
            returned_on=granted_on + timedelta(days=60),
        ),
    )
    await handle(uow, returned)
    case = uow.case("CT-1001")
    assert case.stage == "nulla_bona" and not case.is_open
    assert [r.outcome for r in uow.state.returns] == ["nulla_bona"]


async def test_court_outcomes_for_unknown_summonses_are_refused_and_adjournments_move_the_hearing() -> None:
    uow = FakeCases()
    unknown = CourtOutcomeData(summons_id="SUM-X", account_ref="1001", hearing_date=date(2026, 6, 1))
    with pytest.raises(Refused, match="unknown summons"):
        await handle(uow, LiabilityOrderGranted(key="1001", data=unknown))
    await handle(uow, bill("1001"))
    await handle(uow, missed("1001", "CT-1001"))
    await days(uow, date(2026, 5, 2), date(2026, 6, 1))
    [summons] = uow.published(SummonsListed)
    adjourned = HearingAdjournedData(
        summons_id=summons.data.summons_id,
        account_ref="1001",
        hearing_date=summons.data.hearing_date,
        adjourned_to=date(2026, 7, 7),
    )
    await handle(uow, HearingAdjourned(key="1001", data=adjourned))
    assert uow.case("CT-1001").hearing_date == date(2026, 7, 7)
    withdrawn = CourtOutcomeData(summons_id=summons.data.summons_id, account_ref="1001", hearing_date=date(2026, 7, 7))
    await handle(uow, LiabilityOrderWithdrawn(key="1001", data=withdrawn))
    assert uow.case("CT-1001").stage == "withdrawn" and not uow.case("CT-1001").is_open


async def test_a_cleared_balance_closes_the_case_and_recalls_it_from_the_agent() -> None:
    uow = FakeCases()
    await to_liability_order(uow, "1001")
    await days(uow, date(2026, 6, 2), date(2026, 7, 31))
    [referral] = uow.published(CaseReferred)
    await handle(uow, balance("1001", "CT-1001", INSTALMENT * 10, date(2026, 8, 3)))
    [recall] = uow.published(CaseRecalled)
    assert recall.data.referral_id == referral.data.referral_id and recall.data.reason == "paid in full"
    assert uow.case("CT-1001").stage == "paid" and uow.case("CT-1001").next_action_on is None


async def test_a_served_notice_goes_into_the_case_history() -> None:
    uow = FakeCases()
    await handle(uow, bill("1001"))
    issued = NoticeIssued(
        key="1001",
        data=NoticeIssuedData(
            request_id="CT-1001:reminder:2026-05-02",
            document_id="DOC-1",
            notice_type=NoticeType.REMINDER,
            account_ref="1001",
            case_id="CT-1001",
            checksum_sha256="0" * 64,
            location="/tmp/doc.pdf",
            served_on=date(2026, 5, 6),
        ),
    )
    await handle(uow, issued)
    assert uow.steps("CT-1001") == ["served_reminder"]


# --- holds ------------------------------------------------------------------------------


async def test_a_breathing_space_reaches_every_debt_the_person_owed_when_it_started_and_stops_the_ladder() -> None:
    """Reg 14: every debt the council holds for the person, on any account; a debt
    arising after the start is not covered [S47e]."""
    uow = FakeCases()
    await handle(uow, bill("1001", party="P-1"))
    await handle(uow, bill("1002", party="P-1"))
    await handle(uow, bill("1003", party="P-1", billed_on=date(2026, 6, 1)))  # arises after the start
    await handle(uow, bill("2001", party="P-2"))
    await handle(uow, missed("1001", "CT-1001"))
    await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1", date(2026, 5, 4)))
    [applied] = uow.published(HoldApplied)
    assert sorted(applied.data.debt_ids) == ["CT-1001", "CT-1002"]
    assert applied.data.hold == "breathing_space" and applied.data.on == date(2026, 5, 4)
    assert [uow.case(d).held for d in ("CT-1001", "CT-1002", "CT-1003", "CT-2001")] == [True, True, False, False]
    # A second notification of the same breathing space changes nothing.
    await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1", date(2026, 5, 4)))
    assert len(uow.published(HoldApplied)) == 1

    await days(uow, date(2026, 5, 2), date(2026, 7, 2))
    await handle(uow, missed("1002", "CT-1002", due=date(2026, 6, 1)))
    during = [n for n in uow.published(NoticeRequested) if n.data.issued_on >= date(2026, 5, 4)]
    assert during == [] and uow.published(BalanceFellDue) == []

    await handle(uow, circumstance(BreathingSpaceEnded, "1001", "P-1", date(2026, 7, 3)))
    [released] = uow.published(HoldReleased)
    assert sorted(released.data.debt_ids) == ["CT-1001", "CT-1002"] and released.data.on == date(2026, 7, 3)
    # No time ran while it lasted: the reminder's days (to 12 May) move on by the 60 days held.
    assert uow.case("CT-1001").reminder_pay_by == date(2026, 5, 12) + timedelta(days=60)
    # The miss it held back on the second debt is answered now, with a reminder.
    assert [(n.data.debt_ids, n.data.issued_on) for n in uow.published(NoticeRequested)][-1] == (
        ["CT-1002"],
        date(2026, 7, 3),
    )
    await days(uow, date(2026, 7, 3), date(2026, 8, 31))
    assert {f.data.debt_id for f in uow.published(BalanceFellDue)} == {"CT-1001", "CT-1002"}


async def test_a_breathing_space_recalls_an_agent_case() -> None:
    uow = FakeCases()
    await to_liability_order(uow, "1001")
    await days(uow, date(2026, 6, 2), date(2026, 7, 31))
    [referral] = uow.published(CaseReferred)
    await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1001", date(2026, 8, 3)))
    [recall] = uow.published(CaseRecalled)
    assert recall.data.referral_id == referral.data.referral_id and recall.data.reason == "breathing space"
    case = uow.case("CT-1001")
    assert case.stage == "liability_order" and case.held and case.referred_on is None


async def test_a_dispute_does_not_pause_recovery_unless_the_council_chooses_so() -> None:
    """An appeal or dispute does not suspend Council Tax liability [S28b][S54]."""
    uow = FakeCases()
    await handle(uow, bill("1001"))
    await handle(uow, missed("1001", "CT-1001"))
    await handle(uow, circumstance(DisputeRaised, "1001", "P-1001", date(2026, 5, 4)))
    assert uow.published(HoldApplied) == [] and not uow.case("CT-1001").held
    await days(uow, date(2026, 5, 2), date(2026, 5, 25))
    assert [f.data.due_on for f in uow.published(BalanceFellDue)] == [date(2026, 5, 20)]
    await handle(uow, circumstance(DisputeResolved, "1001", "P-1001", date(2026, 5, 26)))
    assert "dispute_raised" in uow.steps("CT-1001") and "dispute_resolved" in uow.steps("CT-1001")

    chooses_to_pause = COUNCIL.holds.model_copy(update={"dispute_pauses_recovery": True})
    pausing = Enforcement(COUNCIL.model_copy(update={"holds": chooses_to_pause}))
    uow = FakeCases()
    await handle(uow, bill("1001"), pausing)
    await handle(uow, circumstance(DisputeRaised, "1001", "P-1001", date(2026, 5, 4)), pausing)
    [applied] = uow.published(HoldApplied)
    assert applied.data.hold == "dispute" and uow.case("CT-1001").held
    await handle(uow, circumstance(DisputeResolved, "1001", "P-1001", date(2026, 5, 26)), pausing)
    [released] = uow.published(HoldReleased)
    assert released.data.debt_ids == ["CT-1001"] and not uow.case("CT-1001").held


@pytest.mark.parametrize(("event", "hold"), [(DebtorDeceased, "deceased"), (InsolvencyNotified, "insolvency")])
async def test_death_and_insolvency_hold_every_debt_of_the_person_and_recall_agent_cases(
    event: type[Envelope], hold: str
) -> None:
    uow = FakeCases()
    await to_liability_order(uow, "1001")
    await handle(uow, bill("1002", party="P-1001"))
    await days(uow, date(2026, 6, 2), date(2026, 7, 31))
    [referral] = uow.published(CaseReferred)
    await handle(uow, circumstance(event, "1001", "P-1001", date(2026, 8, 3)))
    [applied] = uow.published(HoldApplied)
    assert applied.data.hold == hold and sorted(applied.data.debt_ids) == ["CT-1001", "CT-1002"]
    [recall] = uow.published(CaseRecalled)
    assert recall.data.referral_id == referral.data.referral_id
    await days(uow, date(2026, 8, 3), date(2026, 9, 30))
    assert len(uow.published(CaseReferred)) == 1  # nothing more while held


async def test_vulnerability_recalls_an_agent_case_and_no_referral_is_made_until_it_is_cleared() -> None:
    """Councils may recall on evidence of vulnerability [S31][S54c]."""
    uow = FakeCases()
    await to_liability_order(uow, "1001")
    await days(uow, date(2026, 6, 2), date(2026, 7, 31))
    [referral] = uow.published(CaseReferred)
    await handle(uow, circumstance(VulnerabilityFlagged, "1001", "P-1001", date(2026, 8, 3)))
    [recall] = uow.published(CaseRecalled)
    assert recall.data.reason == "debtor vulnerable" and uow.case("CT-1001").vulnerable
    await days(uow, date(2026, 8, 3), date(2026, 8, 31))
    assert len(uow.published(CaseReferred)) == 1
    await handle(uow, circumstance(VulnerabilityCleared, "1001", "P-1001", date(2026, 9, 1)))
    await days(uow, date(2026, 9, 1), date(2026, 9, 2))
    again = uow.published(CaseReferred)
    assert len(again) == 2 and again[1].data.referred_on == date(2026, 9, 1)
    assert referral.data.referral_id == again[1].data.referral_id


async def test_a_refused_event_leaves_nothing_behind() -> None:
    uow = FakeCases()
    await handle(uow, bill("1001"))
    both = missed("1001", "CT-1001")
    both = both.model_copy(update={"data": both.data.model_copy(update={"debt_ids": ["CT-1001", "CT-NOPE"]})})
    with pytest.raises(Refused, match="CT-NOPE"):
        await handle(uow, both)  # the first debt's reminder was decided before the refusal
    assert uow.case("CT-1001").stage == "billed" and uow.case("CT-1001").reminders_sent == 0
    assert uow.events == [] and uow.state.steps == []


# --- holds for people we hold no case of yet --------------------------------------------------


async def pending_holds(uow: FakeCases) -> list[tuple[str, str, date, str]]:
    return [(h.party_id, h.kind, h.started_on, h.reference) for h in await Enforcement(COUNCIL).pending_holds(uow)]


async def test_a_breathing_space_for_someone_we_hold_no_case_of_waits_and_holds_their_case_from_its_start() -> None:
    """SI 2020/1311: the moratorium covers the debts owed when it started, however late we
    learn of the debt; nothing progresses on the ladder until it ends [S47][S47e]."""
    uow = FakeCases()
    with capture_logs() as logged:
        await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1", date(2026, 5, 4)))
    assert await pending_holds(uow) == [("P-1", "breathing_space", date(2026, 5, 4), "REF-1")]
    assert uow.published(HoldApplied) == []
    [report] = [entry for entry in logged if entry["event"].startswith("hold kept pending")]
    assert report["pending_holds"] == 1 and report["kind"] == "breathing_space"

    await days(uow, date(2026, 5, 4), date(2026, 5, 9))
    await handle(uow, bill("1001", party="P-1"))  # billed 10 March: owed when it started
    [applied] = uow.published(HoldApplied)
    assert (applied.data.debt_ids, applied.data.hold, applied.data.on) == (
        ["CT-1001"],
        "breathing_space",
        date(2026, 5, 4),
    )
    case = uow.case("CT-1001")
    assert case.held and case.held_since == date(2026, 5, 4)
    assert await pending_holds(uow) == []
    assert [h.case_ids for h in uow.state.holds] == [["CT-1001"]]

    # While it lasts the debt does not move: a miss is not answered, no day moves it.
    await handle(uow, missed("1001", "CT-1001"))
    await days(uow, date(2026, 5, 10), date(2026, 7, 2))
    assert uow.published(NoticeRequested) == [] and uow.published(StageChanged) == []

    await handle(uow, circumstance(BreathingSpaceEnded, "1001", "P-1", date(2026, 7, 3)))
    [released] = uow.published(HoldReleased)
    assert released.data.debt_ids == ["CT-1001"] and not uow.case("CT-1001").held
    # The miss it held back is answered now, with a reminder issued the day it ended.
    [reminder] = uow.published(NoticeRequested)
    assert (reminder.data.notice_type, reminder.data.issued_on) == (NoticeType.REMINDER, date(2026, 7, 3))


async def test_a_pending_breathing_space_does_not_reach_a_debt_arising_after_it_started() -> None:
    uow = FakeCases()
    await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1", date(2026, 5, 4)))
    await handle(uow, bill("1001", party="P-1", billed_on=date(2026, 6, 1)))
    assert not uow.case("CT-1001").held and uow.published(HoldApplied) == []
    assert await pending_holds(uow) == [("P-1", "breathing_space", date(2026, 5, 4), "REF-1")]


async def test_the_ending_event_ends_a_pending_hold_and_a_case_opened_later_is_not_held() -> None:
    uow = FakeCases()
    await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1", date(2026, 5, 4)))
    await handle(uow, circumstance(BreathingSpaceEnded, "1001", "P-1", date(2026, 7, 3)))
    assert await pending_holds(uow) == []
    await handle(uow, bill("1001", party="P-1"))
    assert not uow.case("CT-1001").held
    assert uow.published(HoldApplied) == [] and uow.published(HoldReleased) == []


@pytest.mark.parametrize(("event", "hold"), [(DebtorDeceased, "deceased"), (InsolvencyNotified, "insolvency")])
async def test_death_or_insolvency_notified_before_any_case_holds_every_case_opened_for_the_person(
    event: type[Envelope], hold: str
) -> None:
    uow = FakeCases()
    await handle(uow, circumstance(event, "1001", "P-1", date(2026, 5, 4)))
    assert await pending_holds(uow) == [("P-1", hold, date(2026, 5, 4), "REF-1")]
    await handle(uow, bill("1001", party="P-1"))
    await handle(uow, bill("1002", party="P-1", billed_on=date(2026, 6, 1)))
    assert [a.data.debt_ids for a in uow.published(HoldApplied)] == [["CT-1001"], ["CT-1002"]]
    assert uow.case("CT-1001").held and uow.case("CT-1002").held
    assert await pending_holds(uow) == []


async def test_a_vulnerability_flag_for_someone_we_hold_no_case_of_waits_for_their_case_and_its_clearing() -> None:
    uow = FakeCases()
    await handle(uow, circumstance(VulnerabilityFlagged, "1001", "P-1", date(2026, 5, 4)))
    assert await pending_holds(uow) == [("P-1", "vulnerability", date(2026, 5, 4), "REF-1")]
    await handle(uow, bill("1001", party="P-1"))
    assert uow.case("CT-1001").vulnerable and not uow.case("CT-1001").held
    assert await pending_holds(uow) == []
    await handle(uow, circumstance(VulnerabilityCleared, "1001", "P-1", date(2026, 6, 1)))
    assert not uow.case("CT-1001").vulnerable
    await handle(uow, bill("1002", party="P-1"))
    assert not uow.case("CT-1002").vulnerable  # cleared: a later case does not carry it


async def test_a_vulnerability_flag_does_not_keep_a_case_held_when_its_breathing_space_ends() -> None:
    uow = FakeCases()
    await handle(uow, bill("1001", party="P-1"))
    await handle(uow, circumstance(VulnerabilityFlagged, "1001", "P-1", date(2026, 5, 1)))
    await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1", date(2026, 5, 4)))
    await handle(uow, circumstance(BreathingSpaceEnded, "1001", "P-1", date(2026, 7, 3)))
    [released] = uow.published(HoldReleased)
    assert released.data.debt_ids == ["CT-1001"]
    case = uow.case("CT-1001")
    assert not case.held and case.vulnerable


async def test_a_dispute_that_pauses_recovery_waits_for_a_case_on_its_account_and_is_resolved() -> None:
    chooses_to_pause = COUNCIL.holds.model_copy(update={"dispute_pauses_recovery": True})
    pausing = Enforcement(COUNCIL.model_copy(update={"holds": chooses_to_pause}))
    uow = FakeCases()
    await handle(uow, circumstance(DisputeRaised, "1001", "P-1", date(2026, 5, 4)), pausing)
    assert await pending_holds(uow) == [("P-1", "dispute", date(2026, 5, 4), "REF-1")]
    await handle(uow, bill("2001", party="P-1"), pausing)  # another account: a dispute is about its own
    await handle(uow, bill("1001", party="P-1"), pausing)
    assert [a.data.debt_ids for a in uow.published(HoldApplied)] == [["CT-1001"]]
    assert uow.case("CT-1001").held and not uow.case("CT-2001").held
    await handle(uow, circumstance(DisputeResolved, "1001", "P-1", date(2026, 5, 26)), pausing)
    [released] = uow.published(HoldReleased)
    assert released.data.debt_ids == ["CT-1001"] and not uow.case("CT-1001").held


# --- a case that cannot be moved -----------------------------------------------------------


def unmarked(case: CaseRecord) -> CaseRecord:
    """The case without its mark for officers: what the ladder holds of it."""
    return dataclasses.replace(case, attention_reason=None, attention_since=None)


async def test_a_case_whose_events_cannot_be_built_waits_for_an_officer_and_the_others_move_on() -> None:
    """One case's data breaking an event's bound (here a name longer than a notice
    carries) must not stop the daily run for every other case in the council."""
    uow = FakeCases()
    accounts = ("1001", "1002", "1003")
    for account in accounts:
        await handle(uow, bill(account))
        await handle(uow, missed(account, f"CT-{account}"))
    await days(uow, date(2026, 5, 2), date(2026, 5, 26))
    bad = uow.case("CT-1002")
    name = bad.recipient_name
    bad.recipient_name = "Test Person " * (MAX_NAME // 10)
    await uow.commit()
    before, steps_before = copy.deepcopy(bad), uow.steps("CT-1002")

    with capture_logs() as logged:
        await days(uow, date(2026, 5, 27), date(2026, 5, 27))  # the summons day: no Refused, no error
    assert uow.business_date == date(2026, 5, 27)
    assert sorted(s.data.debt_ids[0] for s in uow.published(SummonsListed)) == ["CT-1001", "CT-1003"]
    assert unmarked(uow.case("CT-1002")) == before and uow.steps("CT-1002") == steps_before
    [waiting] = await Enforcement(COUNCIL).cases_needing_attention(uow)
    assert (waiting.case_id, waiting.attention_since) == ("CT-1002", date(2026, 5, 27))
    assert waiting.attention_reason is not None and "recipient_name" in waiting.attention_reason
    assert "Test Person" not in waiting.attention_reason
    [report] = [entry for entry in logged if entry["log_level"] == "warning" and "attention" in entry["event"]]
    assert report["case_ids"] == ["CT-1002"] and report["needing_attention"] == 1
    assert "Test Person" not in repr(logged)

    await days(uow, date(2026, 5, 28), date(2026, 5, 28))  # retried, still failing: still waiting
    assert [c.case_id for c in await Enforcement(COUNCIL).cases_needing_attention(uow)] == ["CT-1002"]
    assert uow.case("CT-1002").attention_since == date(2026, 5, 27)

    uow.case("CT-1002").recipient_name = name  # an officer corrects the record
    await uow.commit()
    await days(uow, date(2026, 5, 29), date(2026, 5, 29))
    [summons] = [s for s in uow.published(SummonsListed) if s.data.debt_ids == ["CT-1002"]]
    assert summons.data.issued_on == date(2026, 5, 29)
    assert await Enforcement(COUNCIL).cases_needing_attention(uow) == []
    assert uow.case("CT-1002").attention_reason is None and uow.case("CT-1002").stage == "summons"


async def test_a_hold_reaches_every_debt_it_can_and_one_that_fails_is_held_on_the_next_day(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A breathing space over all a person's debts: an agent case whose recall cannot be
    built is left as it was and marked, the others are held; the next day's run applies
    the hold to it once its cause is gone (SI 2020/1311 reg 7 [S47])."""
    uow = FakeCases()
    await to_liability_order(uow, "1001")
    await handle(uow, bill("1002", party="P-1001"))
    await handle(uow, bill("1003", party="P-1001"))
    await days(uow, date(2026, 6, 2), date(2026, 7, 31))
    assert uow.case("CT-1001").stage == "agent"
    before = copy.deepcopy(uow.case("CT-1001"))
    real = events.for_decision

    def refusing(decision: domain.Decision, case: CaseRecord, council_name: str) -> Any:
        if case.case_id == "CT-1001":
            raise Refused("the recall cannot be sent")
        return real(decision, case, council_name)

    monkeypatch.setattr(events, "for_decision", refusing)
    await handle(uow, circumstance(BreathingSpaceStarted, "1001", "P-1001", date(2026, 8, 3)))
    [applied] = uow.published(HoldApplied)
    assert applied.data.debt_ids == ["CT-1002", "CT-1003"]
    assert uow.case("CT-1002").held and uow.case("CT-1003").held
    assert unmarked(uow.case("CT-1001")) == before and uow.published(CaseRecalled) == []
    [waiting] = await Enforcement(COUNCIL).cases_needing_attention(uow)
    assert waiting.case_id == "CT-1001" and "the recall cannot be sent" in (waiting.attention_reason or "")

    monkeypatch.setattr(events, "for_decision", real)
    await days(uow, date(2026, 8, 4), date(2026, 8, 4))
    case = uow.case("CT-1001")
    assert case.held and case.held_since == date(2026, 8, 3) and case.stage == "liability_order"
    assert [r.data.reason for r in uow.published(CaseRecalled)] == ["breathing space"]
    assert [a.data.debt_ids for a in uow.published(HoldApplied)] == [["CT-1002", "CT-1003"], ["CT-1001"]]
    assert await Enforcement(COUNCIL).cases_needing_attention(uow) == []
