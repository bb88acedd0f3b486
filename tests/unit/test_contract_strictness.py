"""Strict contracts (issue 9, part 3): what an upstream system sends is read as it
is or refused, never coerced, never unbounded.

- amounts and flags are JSON integers and booleans only ("100", true, 100.0 and 1
  are refused), and every amount has an upper bound (``contracts.common``);
- every string, list and map has a bound, so the largest valid event of every type
  is far smaller than the broker's 1 MB message limit (a receipt's allocation over
  every debt of an account, within the relay's limit);
- a message read from a topic must carry its own ``event_id`` (a redelivery must be
  recognisable) and its ``schema_version``; a newer version is refused and an older
  one upcast.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_payments import events as payments_events
from recovery_payments.domain import Allocation, Reversal
from recovery_payments.models import DebtRecord, ReceiptRecord
from recovery_shared import topics
from recovery_shared.contracts import (
    TOPIC_CONTRACTS,
    ContractError,
    event_types,
    parse,
    topic_of,
    upcaster,
)
from recovery_shared.contracts.common import (
    MAX_AGENT_FEES_PENCE,
    MAX_CHARGE_PENCE,
    MAX_COSTS_PENCE,
    MAX_DEBTS_ON_AN_ACCOUNT,
    MAX_ID,
    MAX_RECEIPT_PENCE,
    MAX_TOTAL_PENCE,
    DebtType,
    EarningsDisregard,
    HbopClassification,
    Instalment,
    LiableParty,
    LiableRole,
    OverpaymentDecision,
    PayFrequency,
)
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
    CountyAttachmentMade,
    CountyCourtOutcomeData,
    CountyJudgmentEntered,
    CountyWarrantIssued,
    CourtOutcomeData,
    DayStarted,
    DayStartedData,
    DebtorDeceased,
    DeductionAccepted,
    DeductionAcceptedData,
    DeductionRefused,
    DeductionRefusedData,
    DirectDebitUnpaid,
    DirectDebitUnpaidData,
    DisputeRaised,
    DisputeResolved,
    EmploymentEnded,
    EmploymentEndedData,
    EmploymentReported,
    EmploymentReportedData,
    HbAwardChanged,
    HbAwardData,
    HbAwardEnded,
    HbAwardEndedData,
    HbAwardStarted,
    HearingAdjourned,
    HearingAdjournedData,
    InsolvencyNotified,
    LetterBeforeClaimReplied,
    LetterBeforeClaimRepliedData,
    LiabilityOrderGranted,
    LiabilityOrderWithdrawn,
    PaymentChannel,
    PaymentReceived,
    PaymentReceivedData,
    ReplyKind,
    VulnerabilityCleared,
    VulnerabilityFlagged,
)
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    ArrangementCompleted,
    ArrangementDefaulted,
    ArrangementEndedData,
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    BalanceChanged,
    BalanceChangedData,
    BalanceFellDue,
    BalanceFellDueData,
    CaseRecalled,
    CaseRecalledData,
    CaseReferred,
    CaseReferredData,
    ClaimReferred,
    ClaimReferredData,
    CostsAdded,
    CostsAddedData,
    DeductionCancelled,
    DeductionCancelledData,
    DeductionRequested,
    DeductionRequestedData,
    HbDeductionsStarted,
    HbDeductionsStartedData,
    HbDeductionsStopped,
    HbDeductionsStoppedData,
    HbDeductionStopReason,
    HoldApplied,
    HoldData,
    HoldReleased,
    InstalmentMissed,
    InstalmentMissedData,
    InstalmentPaid,
    InstalmentPaidData,
    LiabilityOrderRecorded,
    LiabilityOrderRecordedData,
    NoticeFailed,
    NoticeFailedData,
    NoticeIssued,
    NoticeIssuedData,
    NoticeRequested,
    NoticeRequestedData,
    NoticeType,
    PaymentAllocated,
    PaymentAllocatedData,
    PaymentReversed,
    PaymentReversedData,
    PaymentSuspended,
    PaymentSuspendedData,
    StageChanged,
    StageChangedData,
    SummonsListed,
    SummonsListedData,
)
from recovery_shared.messaging.outbox import record_size
from recovery_shared.settings import ServiceSettings

ON = date(2026, 5, 4)
ACCOUNT = "1001"
DEBT = "CT-1001-2026"
BROKER_LIMIT = 1_000_000  # Kafka's default max.message.bytes
RELAY_LIMIT: int = ServiceSettings.model_fields["max_message_bytes"].default
BIGINT = 2**63 - 1


def _circumstance() -> CircumstanceData:
    return CircumstanceData(party_id="P-1001", account_ref=ACCOUNT, effective_on=ON, reference="BS-1", note="n")


def _court() -> CourtOutcomeData:
    return CourtOutcomeData(summons_id=f"SUM-{DEBT}", account_ref=ACCOUNT, hearing_date=ON, costs_pence=2000)


def _hold() -> HoldData:
    return HoldData(party_id="P-1001", account_ref=ACCOUNT, debt_ids=[DEBT], hold="breathing_space", on=ON)


def _ended() -> ArrangementEndedData:
    return ArrangementEndedData(arrangement_id=f"ST-{DEBT}", account_ref=ACCOUNT, debt_ids=[DEBT], on=ON, reason="r")


def _parts() -> list[AllocationPart]:
    return [AllocationPart(debt_id=DEBT, amount_pence=1500, financial_year="2026/27")]


# One valid event of every type, each with every optional list, map and flag given,
# so that every amount and flag a type has appears in its sample.
HB_AWARD = HbAwardData(
    claim_ref="CLAIM-1",
    account_ref=ACCOUNT,
    weekly_award_pence=12000,
    fraud=True,
    earnings_disregard=EarningsDisregard.SINGLE,
    effective_on=ON,
)

SAMPLES: list[Envelope] = [
    ChargeRaised(
        key=ACCOUNT,
        data=ChargeRaisedData(
            debt_id=DEBT,
            account_ref=ACCOUNT,
            debt_type=DebtType.HB_OVERPAYMENT,
            financial_year="2026/27",
            amount_pence=3000,
            bill_issued_on=ON,
            instalments=[
                Instalment(due_date=ON, amount_pence=1000),
                Instalment(due_date=date(2026, 6, 1), amount_pence=2000),
            ],
            twelve_instalments_requested=True,
            liable_party=LiableParty(party_id="P-1001", name="A Person", address_lines=["1 High St"], postcode="X1"),
            overpayment=OverpaymentDecision(
                classification=HbopClassification.COUNCIL_OFFICIAL_ERROR,
                period_start=date(2026, 1, 5),
                period_end=date(2026, 3, 29),
                liable_role=LiableRole.PAYEE,
                reason="rent changed",
                calculation="12 weeks at £2.50",
                decided_on=ON,
                could_reasonably_have_realised=True,
            ),
        ),
    ),
    ChargeAdjusted(
        key=ACCOUNT,
        data=ChargeAdjustedData(
            debt_id=DEBT,
            account_ref=ACCOUNT,
            new_amount_pence=1000,
            adjusted_on=ON,
            reason="rebilled",
            instalments=[Instalment(due_date=ON, amount_pence=1000)],
        ),
    ),
    PaymentReceived(
        key=ACCOUNT,
        data=PaymentReceivedData(
            receipt_ref="CARD-1",
            channel=PaymentChannel.CARD,
            amount_pence=1500,
            received_on=ON,
            payer_reference=ACCOUNT,
            directed_debt_id=DEBT,
        ),
    ),
    DirectDebitUnpaid(
        key=ACCOUNT,
        data=DirectDebitUnpaidData(
            mandate_ref="DDI-1",
            account_ref=ACCOUNT,
            receipt_ref="DD-1",
            amount_pence=1500,
            collection_date=ON,
            reason_code="1",
        ),
    ),
    LiabilityOrderGranted(key=ACCOUNT, data=_court()),
    LiabilityOrderWithdrawn(key=ACCOUNT, data=_court()),
    HearingAdjourned(
        key=ACCOUNT,
        data=HearingAdjournedData(
            summons_id=f"SUM-{DEBT}", account_ref=ACCOUNT, hearing_date=ON, costs_pence=0, adjourned_to=ON
        ),
    ),
    CaseReturned(
        key=ACCOUNT,
        data=CaseReturnedData(
            referral_id=f"REF-{DEBT}",
            account_ref=ACCOUNT,
            agent="North Bailiffs",
            outcome=AgentOutcome.PART_PAID,
            amount_collected_pence=5000,
            fees_pence=23500,
            returned_on=ON,
        ),
    ),
    BreathingSpaceStarted(
        key=ACCOUNT,
        data=BreathingSpaceStartedData(party_id="P-1001", account_ref=ACCOUNT, effective_on=ON, expected_end=ON),
    ),
    BreathingSpaceEnded(key=ACCOUNT, data=_circumstance()),
    DisputeRaised(key=ACCOUNT, data=_circumstance()),
    DisputeResolved(key=ACCOUNT, data=_circumstance()),
    VulnerabilityFlagged(key=ACCOUNT, data=_circumstance()),
    VulnerabilityCleared(key=ACCOUNT, data=_circumstance()),
    DebtorDeceased(key=ACCOUNT, data=_circumstance()),
    InsolvencyNotified(key=ACCOUNT, data=_circumstance()),
    EmploymentReported(
        key=ACCOUNT,
        data=EmploymentReportedData(
            party_id="P-1001",
            account_ref=ACCOUNT,
            employer_ref="123/AB456",
            employer_name="Mill Lane Bakery Ltd",
            employer_address=["Payroll", "1 Mill Lane", "AB2 3CD"],
            pay_frequency=PayFrequency.MONTHLY,
            net_earnings_pence=150000,
            next_pay_day=ON,
            reported_on=ON,
        ),
    ),
    EmploymentEnded(
        key=ACCOUNT,
        data=EmploymentEndedData(party_id="P-1001", account_ref=ACCOUNT, employer_ref="123/AB456", left_on=ON),
    ),
    DeductionAccepted(
        key=ACCOUNT,
        data=DeductionAcceptedData(
            request_id="DWP-1",
            account_ref=ACCOUNT,
            debt_id="HBOP-1001",
            weekly_pence=1395,
            first_deduction_on=ON,
            answered_on=ON,
        ),
    ),
    DeductionRefused(
        key=ACCOUNT,
        data=DeductionRefusedData(
            request_id="DWP-1",
            account_ref=ACCOUNT,
            debt_id="HBOP-1001",
            reason="No benefit in payment",
            answered_on=ON,
        ),
    ),
    DeductionRequested(
        key=ACCOUNT,
        data=DeductionRequestedData(
            request_id="DWP-1",
            case_id="HBOP-1001",
            account_ref=ACCOUNT,
            debt_ids=["HBOP-1001"],
            party_id="P-1001",
            owed_pence=42000,
            fraud=False,
            requested_on=ON,
            answer_by=ON,
        ),
    ),
    DeductionCancelled(
        key=ACCOUNT,
        data=DeductionCancelledData(
            request_id="DWP-1",
            account_ref=ACCOUNT,
            debt_ids=["HBOP-1001"],
            cancelled_on=ON,
            reason="the overpayment is paid in full",
        ),
    ),
    DayStarted(data=DayStartedData(business_date=ON)),
    PaymentAllocated(
        key=ACCOUNT,
        data=PaymentAllocatedData(
            receipt_ref="CARD-1",
            account_ref=ACCOUNT,
            amount_pence=2000,
            received_on=ON,
            rule=AllocationRule.POLICY_ORDER,
            parts=_parts(),
            credit_pence=500,
            channel=PaymentChannel.CARD,
        ),
    ),
    PaymentSuspended(
        key=ACCOUNT,
        data=PaymentSuspendedData(
            receipt_ref="CARD-2", amount_pence=700, received_on=ON, payer_reference="NOPE", reason="no account"
        ),
    ),
    PaymentReversed(
        key=ACCOUNT,
        data=PaymentReversedData(
            receipt_ref="CARD-1", account_ref=ACCOUNT, amount_pence=1500, reversed_on=ON, reason="r", parts=_parts()
        ),
    ),
    BalanceChanged(
        key=ACCOUNT,
        data=BalanceChangedData(
            debt_id=DEBT,
            account_ref=ACCOUNT,
            debt_type=DebtType.COUNCIL_TAX,
            charged_pence=150000,
            paid_pence=1500,
            balance_pence=148500,
            as_of=ON,
        ),
    ),
    ArrangementMade(
        key=ACCOUNT,
        data=ArrangementMadeData(
            arrangement_id=f"ST-{DEBT}",
            account_ref=ACCOUNT,
            kind=ArrangementKind.STATUTORY,
            debt_ids=[DEBT],
            instalments=[Instalment(due_date=ON, amount_pence=15000)],
        ),
    ),
    InstalmentPaid(
        key=ACCOUNT,
        data=InstalmentPaidData(
            arrangement_id=f"ST-{DEBT}",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            due_date=ON,
            amount_pence=15000,
            paid_on=ON,
        ),
    ),
    InstalmentMissed(
        key=ACCOUNT,
        data=InstalmentMissedData(
            arrangement_id=f"ST-{DEBT}",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            financial_year="2026/27",
            due_date=ON,
            amount_pence=15000,
            overdue_pence=30000,
            misses_this_year=2,
            detected_on=ON,
        ),
    ),
    ArrangementDefaulted(key=ACCOUNT, data=_ended()),
    ArrangementCompleted(key=ACCOUNT, data=_ended()),
    StageChanged(
        key=ACCOUNT,
        data=StageChangedData(
            case_id=DEBT,
            debt_id=DEBT,
            account_ref=ACCOUNT,
            debt_type=DebtType.COUNCIL_TAX,
            from_stage="billed",
            to_stage="reminder",
            on=ON,
            reason="missed",
        ),
    ),
    BalanceFellDue(key=ACCOUNT, data=BalanceFellDueData(debt_id=DEBT, account_ref=ACCOUNT, due_on=ON, reason="r")),
    HoldApplied(key=ACCOUNT, data=_hold()),
    HoldReleased(key=ACCOUNT, data=_hold()),
    SummonsListed(
        key=ACCOUNT,
        data=SummonsListedData(
            summons_id=f"SUM-{DEBT}",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            court="Example Magistrates' Court",
            issued_on=ON,
            hearing_date=ON,
            amount_pence=150000,
            costs_pence=8000,
        ),
    ),
    LiabilityOrderRecorded(
        key=ACCOUNT,
        data=LiabilityOrderRecordedData(
            summons_id=f"SUM-{DEBT}",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            granted_on=ON,
            amount_pence=150000,
            costs_pence=2000,
        ),
    ),
    CostsAdded(
        key=ACCOUNT,
        data=CostsAddedData(debt_id=DEBT, account_ref=ACCOUNT, amount_pence=8000, kind="summons", added_on=ON),
    ),
    NoticeRequested(
        key=ACCOUNT,
        data=NoticeRequestedData(
            request_id=f"{DEBT}:reminder:2026-05-04",
            notice_type=NoticeType.REMINDER,
            account_ref=ACCOUNT,
            case_id=DEBT,
            debt_ids=[DEBT],
            council_name="Example District Council",
            recipient_name="A Person",
            recipient_address=["1 High St", "Exampleton"],
            amounts={"amount_to_pay": 30000},
            dates={"pay_by": ON},
            issued_on=ON,
            template_data={"debt_type": "CT"},
        ),
    ),
    NoticeIssued(
        key=ACCOUNT,
        data=NoticeIssuedData(
            request_id=f"{DEBT}:reminder:2026-05-04",
            document_id=str(uuid.uuid4()),
            notice_type=NoticeType.REMINDER,
            account_ref=ACCOUNT,
            case_id=DEBT,
            debt_ids=[DEBT],
            checksum_sha256="0" * 64,
            location="file:///documents/1.pdf",
            served_on=ON,
            size_bytes=4321,
            template_version="1",
        ),
    ),
    NoticeFailed(
        key=ACCOUNT,
        data=NoticeFailedData(
            request_id=f"{DEBT}:reminder:2026-05-04",
            notice_type=NoticeType.REMINDER,
            account_ref=ACCOUNT,
            case_id=DEBT,
            reason="no template",
        ),
    ),
    CaseReferred(
        key=ACCOUNT,
        data=CaseReferredData(
            referral_id=f"REF-{DEBT}",
            case_id=DEBT,
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            agent="North Bailiffs",
            referred_on=ON,
            liability_order_ref=f"SUM-{DEBT}",
            amount_pence=160000,
            compliance_fee_pence=7500,
            debtor_is_vulnerable=True,
        ),
    ),
    CaseRecalled(
        key=ACCOUNT,
        data=CaseRecalledData(
            referral_id=f"REF-{DEBT}", case_id=DEBT, account_ref=ACCOUNT, recalled_on=ON, reason="vulnerable"
        ),
    ),
    *[
        outcome(
            key=ACCOUNT,
            data=CountyCourtOutcomeData(
                claim_id=f"CLM-{DEBT}",
                account_ref=ACCOUNT,
                dated=ON,
                amount_pence=3000,
                costs_pence=8000,
                court_ref="K00AB123",
                note="",
            ),
        )
        for outcome in (CountyJudgmentEntered, CountyWarrantIssued, CountyAttachmentMade)
    ],
    HbAwardStarted(key=ACCOUNT, data=HB_AWARD),
    HbAwardChanged(key=ACCOUNT, data=HB_AWARD),
    HbAwardEnded(key=ACCOUNT, data=HbAwardEndedData(claim_ref="CLAIM-1", account_ref=ACCOUNT, ended_on=ON)),
    HbDeductionsStarted(
        key=ACCOUNT,
        data=HbDeductionsStartedData(
            claim_ref="CLAIM-1",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            weekly_pence=1395,
            maximum_weekly_pence=1395,
            first_week_on=ON,
        ),
    ),
    HbDeductionsStopped(
        key=ACCOUNT,
        data=HbDeductionsStoppedData(
            claim_ref="CLAIM-1",
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            stopped_on=ON,
            reason=HbDeductionStopReason.AWARD_ENDED,
            deducted_pence=2790,
            outstanding_pence=210,
        ),
    ),
    LetterBeforeClaimReplied(
        key=ACCOUNT,
        data=LetterBeforeClaimRepliedData(
            account_ref=ACCOUNT,
            debt_id=DEBT,
            replied_on=ON,
            reply=ReplyKind.OFFERS_TO_PAY,
            offer_pence=500,
            note="can pay monthly",
        ),
    ),
    ClaimReferred(
        key=ACCOUNT,
        data=ClaimReferredData(
            claim_id=f"CLM-{DEBT}",
            case_id=DEBT,
            account_ref=ACCOUNT,
            debt_ids=[DEBT],
            debt_type=DebtType.SUNDRY,
            referred_on=ON,
            amount_pence=3000,
            claimant="A Council",
            defendant_name="A Person",
            defendant_address=["1 High St", "X1"],
            letter_before_claim_on=ON,
            notice_of_intention_on=ON,
            particulars="garden waste service 2026/27",
        ),
    ),
]

ALL_TYPES = [event_type for topic in TOPIC_CONTRACTS for event_type in event_types(topic)]
INBOUND_TOPICS = [
    topics.BILLING_CHARGES,
    topics.PAYMENT_RECEIPTS,
    topics.BANKING_DD_REPORTS,
    topics.COURT_OUTCOMES,
    topics.AGENT_RETURNS,
    topics.DEBTOR_CIRCUMSTANCES,
    topics.DEBTOR_REPLIES,
    topics.CLOCK_DAYS,
]


def sample(event_type: type[Envelope]) -> Envelope:
    return next(s for s in SAMPLES if type(s) is event_type)


def body_of(event: Envelope) -> dict[str, Any]:
    return dict(event.to_json_dict())


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()


def read(event_type: type[Envelope], body: dict[str, Any]) -> Envelope:
    return parse(topic_of(event_type), encode(body))


def name(event_type: type[Envelope]) -> str:
    type_name: str = event_type.model_fields["type"].default
    return type_name


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every scalar in a JSON document, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path, node


def replaced(body: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(body))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


def amounts_of(event_type: type[Envelope]) -> list[tuple[Any, ...]]:
    # template_data's values may be text or a number, so a number there may be a string.
    return [
        path
        for path, value in leaves(body_of(sample(event_type)))
        if type(value) is int and "template_data" not in path
    ]


def flags_of(event_type: type[Envelope]) -> list[tuple[Any, ...]]:
    return [path for path, value in leaves(body_of(sample(event_type))) if type(value) is bool]


def test_every_event_type_has_a_sample_that_parses_as_itself() -> None:
    assert sorted(map(name, ALL_TYPES)) == sorted(name(type(s)) for s in SAMPLES)
    for event in SAMPLES:
        assert parse(topic_of(type(event)), event.to_bytes()) == event


# --- amounts and flags ------------------------------------------------------------


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_amounts_are_json_integers_only(event_type: type[Envelope]) -> None:
    body = body_of(sample(event_type))
    paths = amounts_of(event_type)
    assert paths, "every envelope has at least its schema_version"
    for path in paths:
        original = dict(leaves(body))[path]
        for value in (str(original), float(original), True, None):
            with pytest.raises(ContractError, match=r"valid integer|newer than|could not be read"):
                read(event_type, replaced(body, path, value))


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_no_amount_is_unbounded(event_type: type[Envelope]) -> None:
    """Nothing a contract accepts overflows a BIGINT column, in either direction."""
    body = body_of(sample(event_type))
    for path in amounts_of(event_type):
        for value in (BIGINT + 1, -BIGINT - 2, 10**40):
            with pytest.raises(ContractError):
                read(event_type, replaced(body, path, value))


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_flags_are_json_booleans_only(event_type: type[Envelope]) -> None:
    body = body_of(sample(event_type))
    for path in flags_of(event_type):
        for value in ("yes", "true", 1, 0, None):
            with pytest.raises(ContractError, match="valid boolean"):
                read(event_type, replaced(body, path, value))


def test_samples_carry_every_flag_the_contracts_have() -> None:
    flagged = {name(t) for t in ALL_TYPES if flags_of(t)}
    assert flagged == {"charge.raised", "case.referred", "hb-award.started", "hb-award.changed", "deduction.requested"}


@pytest.mark.parametrize(
    ("event_type", "path", "largest"),
    [
        (PaymentReceived, ("data", "amount_pence"), MAX_RECEIPT_PENCE),
        (DirectDebitUnpaid, ("data", "amount_pence"), MAX_RECEIPT_PENCE),
        (PaymentAllocated, ("data", "amount_pence"), MAX_RECEIPT_PENCE),
        (ChargeAdjusted, ("data", "new_amount_pence"), MAX_CHARGE_PENCE),
        (LiabilityOrderGranted, ("data", "costs_pence"), MAX_COSTS_PENCE),
        (CostsAdded, ("data", "amount_pence"), MAX_COSTS_PENCE),
        (CaseReferred, ("data", "compliance_fee_pence"), MAX_COSTS_PENCE),
        (CaseReturned, ("data", "fees_pence"), MAX_AGENT_FEES_PENCE),
        (CaseReturned, ("data", "amount_collected_pence"), MAX_RECEIPT_PENCE),
        (BalanceChanged, ("data", "charged_pence"), MAX_TOTAL_PENCE),
        (SummonsListed, ("data", "amount_pence"), MAX_TOTAL_PENCE),
    ],
)
def test_each_kind_of_amount_stops_at_its_stated_bound(
    event_type: type[Envelope], path: tuple[str, ...], largest: int
) -> None:
    body = body_of(sample(event_type))
    assert dict(leaves(read(event_type, replaced(body, path, largest)).to_json_dict()))[path] == largest
    with pytest.raises(ContractError, match="less than or equal to"):
        read(event_type, replaced(body, path, largest + 1))


def test_a_bill_and_its_instalments_may_be_as_large_as_a_business_rates_bill_gets() -> None:
    body = body_of(sample(ChargeRaised))
    body["data"]["amount_pence"] = MAX_CHARGE_PENCE
    body["data"]["instalments"] = [{"due_date": "2026-04-01", "amount_pence": MAX_CHARGE_PENCE}]
    assert read(ChargeRaised, body).data.amount_pence == MAX_CHARGE_PENCE
    body["data"]["amount_pence"] = body["data"]["instalments"][0]["amount_pence"] = MAX_CHARGE_PENCE + 1
    with pytest.raises(ContractError, match="less than or equal to"):
        read(ChargeRaised, body)


def test_a_running_balance_may_be_negative_within_its_bound() -> None:
    body = body_of(sample(BalanceChanged))
    assert read(BalanceChanged, replaced(body, ("data", "balance_pence"), -MAX_TOTAL_PENCE)).data.balance_pence < 0
    with pytest.raises(ContractError, match="greater than or equal to"):
        read(BalanceChanged, replaced(body, ("data", "balance_pence"), -MAX_TOTAL_PENCE - 1))


def test_the_bounds_cannot_overflow_a_bigint_even_summed_a_million_times() -> None:
    for bound in (MAX_RECEIPT_PENCE, MAX_CHARGE_PENCE, MAX_TOTAL_PENCE, MAX_COSTS_PENCE, MAX_AGENT_FEES_PENCE):
        assert bound * 10**5 < BIGINT
    assert MAX_RECEIPT_PENCE * 10**9 < BIGINT  # a billion receipts in one ledger sum


def test_services_building_events_in_code_get_the_same_strictness() -> None:
    with pytest.raises(ValueError, match="valid integer"):
        PaymentReceivedData(
            receipt_ref="CARD-1",
            channel=PaymentChannel.CARD,
            amount_pence=True,
            received_on=ON,
        )
    with pytest.raises(ValueError, match="less than or equal to"):
        CostsAddedData(debt_id=DEBT, account_ref=ACCOUNT, amount_pence=MAX_COSTS_PENCE + 1, kind="summons", added_on=ON)


# --- bounded text, lists and maps; the largest event -------------------------------------


def _resolve(node: Any, defs: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(node, dict):
        raise Unbounded(f"a value of any shape ({node})")
    while "$ref" in node:
        node = defs[node["$ref"].split("/")[-1]]
    resolved: dict[str, Any] = node
    return resolved


# The only patterns the contracts use, each with the longest string it admits.
PATTERN_EXAMPLES = {r"^\d{4}/\d{2}$": "2026/27", r"^[0-9a-f]{64}$": "f" * 64}
FORMAT_EXAMPLES = {
    "date": "9999-12-31",
    "date-time": "9999-12-31T23:59:59.999999+23:59",
    "uuid": str(uuid.uuid4()),
}
# The character pydantic-core writes at greatest length: a control character, escaped
# as \\u0001, six bytes for each character a bound counts.
WIDEST = "\x01"


class Unbounded(AssertionError):
    pass


def largest(node: dict[str, Any], defs: dict[str, Any], path: str) -> Any:
    """The JSON value of a schema at its greatest encoded size: every optional field
    given, every string, list and map at its bound. An upper bound on every valid
    value, whether or not the cross-field rules allow all of it at once; a schema
    with no bound fails (``Unbounded``)."""
    node = _resolve(node, defs)
    for bound in ("maxLength", "maxItems", "maxProperties"):
        # Checked before anything is built, so that an absurd bound fails the test
        # rather than exhausting the machine's memory.
        if node.get(bound, 0) > BROKER_LIMIT:
            raise Unbounded(f"{path}: {bound} {node[bound]:,} could never fit in one message")
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return max(node["enum"], key=lambda v: len(json.dumps(v)))
    if "anyOf" in node:
        options = [largest(option, defs, path) for option in node["anyOf"]]
        return max(options, key=lambda v: len(json.dumps(v)))
    kind = node.get("type")
    if kind == "object":
        if "properties" in node:
            return {key: largest(value, defs, f"{path}.{key}") for key, value in node["properties"].items()}
        if "maxProperties" not in node:
            raise Unbounded(f"{path}: a map with no bound on its entries")
        key_schema = node.get("propertyNames", {})
        if "maxLength" not in key_schema:
            raise Unbounded(f"{path}: a map with no bound on its names")
        value = largest(node["additionalProperties"], defs, f"{path}.*")
        width = key_schema["maxLength"]
        return {f"{n:0{width}d}".replace("0", WIDEST): value for n in range(node["maxProperties"])}
    if kind == "array":
        if "maxItems" not in node:
            raise Unbounded(f"{path}: a list with no bound on its length")
        return [largest(node["items"], defs, f"{path}[]")] * node["maxItems"]
    if kind == "string":
        if "pattern" in node:
            return PATTERN_EXAMPLES[node["pattern"]]
        if "format" in node:
            return FORMAT_EXAMPLES[node["format"]]
        if "maxLength" not in node:
            raise Unbounded(f"{path}: text with no bound on its length")
        return WIDEST * node["maxLength"]
    if kind == "integer":
        if "maximum" not in node or "minimum" not in node:
            raise Unbounded(f"{path}: an integer with no bound (only schema_version may be open above)")
        return max(node["maximum"], node["minimum"], key=lambda v: len(str(v)))
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    raise Unbounded(f"{path}: a value of any shape ({node})")


def largest_event(event_type: type[Envelope]) -> dict[str, Any]:
    schema = event_type.model_json_schema()
    defs = schema.get("$defs", {})
    # schema_version has no upper bound of its own (a newer one is refused by parse).
    schema["properties"]["schema_version"] = {"type": "integer", "minimum": 1, "maximum": 1}
    # The envelope's data is typed by each event class; Any here would be a bug.
    return {key: largest(value, defs, key) for key, value in schema["properties"].items()}


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_every_text_list_and_map_is_bounded(event_type: type[Envelope]) -> None:
    largest_event(event_type)  # raises Unbounded, naming the field


def test_an_unbounded_field_would_be_caught() -> None:
    defs: dict[str, Any] = {}
    for schema in (
        {"type": "string"},
        {"type": "array", "items": {"type": "string", "maxLength": 1}},
        {"type": "object", "additionalProperties": True, "maxProperties": 3, "propertyNames": {"maxLength": 2}},
        {"type": "integer", "minimum": 0},
        {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 1}},
    ):
        with pytest.raises(Unbounded):
            largest(schema, defs, "field")


# A receipt's allocation names every debt of the account it pays, which only the
# council's billing bounds (contracts/common.py, MAX_DEBTS_ON_AN_ACCOUNT): its largest
# must still be sent by the relay; every other event stays far below the broker's limit.
ACCOUNT_WIDE = (PaymentAllocated, PaymentReversed)


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_the_largest_valid_event_is_far_below_the_brokers_limit(event_type: type[Envelope]) -> None:
    body = largest_event(event_type)
    body["type"] = name(event_type)
    try:
        encoded = event_type.model_validate(body).to_bytes()
    except ValueError as exc:
        # Only a bill's schedule cannot be at its largest with the bill also at its
        # largest (the instalments must add up): measure the bytes as they stand.
        assert event_type is ChargeRaised and "add up" in str(exc), exc
        encoded = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    # As the relay measures it: the record's key and headers count too.
    size = record_size(body["key"].encode(), encoded, {"type": body["type"], "schema_version": "1"})
    limit = RELAY_LIMIT if event_type in ACCOUNT_WIDE else BROKER_LIMIT // 4
    assert size < limit, f"{name(event_type)}: {size:,} bytes"


def _account_debt(n: int) -> DebtRecord:
    moment = datetime(2026, 3, 10, tzinfo=UTC)
    debt_id = f"NNDR-{n:05d}-".ljust(MAX_ID, "0")
    return DebtRecord(debt_id, ACCOUNT, "NNDR", "2026/27", "P-1001", ON, 150000, 0, 0, 0, moment, moment)


def test_a_receipt_spread_over_every_debt_of_the_largest_account_is_published_and_reversed() -> None:
    """A business with hundreds of hereditaments on one account, billed over several
    years: one receipt reaches every debt, so one payment.allocated names them all, and
    its reversal takes back from each. Neither may be refused for its size."""
    debts = {d.debt_id: d for d in map(_account_debt, range(MAX_DEBTS_ON_AN_ACCOUNT))}
    receipt = ReceiptRecord(
        "bank_transfer", "BT-1", MAX_RECEIPT_PENCE, ON, ACCOUNT, None, ACCOUNT, "allocated", None, datetime.now(UTC)
    )
    parts = [(debt_id, 1000) for debt_id in debts]
    allocation = Allocation(AllocationRule.POLICY_ORDER, parts, MAX_RECEIPT_PENCE - 1000 * len(parts))
    allocated = payments_events.payment_allocated(receipt, ACCOUNT, allocation, allocation.rule, debts, cause=None)
    reversed_ = payments_events.payment_reversed(
        receipt,
        ACCOUNT,
        Reversal([*parts, (None, allocation.credit_pence)]),
        debts,
        reason="cheque bounced",
        on=ON,
        cause=None,
    )
    for event in (allocated, reversed_):
        read_back = parse(topics.PAYMENT_EVENTS, event.to_bytes())
        assert [(p.debt_id, p.amount_pence) for p in read_back.data.parts] == parts
        assert record_size(event.key, event.to_bytes(), {"type": event.type, "schema_version": "1"}) < RELAY_LIMIT
    with pytest.raises(ValueError, match=f"at most {MAX_DEBTS_ON_AN_ACCOUNT} items"):
        PaymentAllocatedData(
            **{**allocated.data.model_dump(), "parts": [*allocated.data.parts, allocated.data.parts[0]]}
        )


# --- event_id and schema_version -------------------------------------------------------


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_a_message_without_its_own_event_id_is_refused(event_type: type[Envelope]) -> None:
    body = body_of(sample(event_type))
    del body["event_id"]
    with pytest.raises(ContractError, match="event_id is missing: every message must carry its own id"):
        read(event_type, body)


def test_the_reason_for_a_missing_event_id_also_names_the_other_faults() -> None:
    body = body_of(sample(PaymentReceived))
    del body["event_id"]
    body["data"]["amount_pence"] = "100"
    with pytest.raises(ContractError, match=r"event_id is missing.*amount_pence: Input should be a valid integer"):
        read(PaymentReceived, body)


def test_events_built_in_code_still_get_a_fresh_id() -> None:
    first, second = (
        PaymentReceived(key=ACCOUNT, data=sample(PaymentReceived).data),
        PaymentReceived(key=ACCOUNT, data=sample(PaymentReceived).data),
    )
    assert first.event_id != second.event_id
    # ... and what they send carries it, so the reader gets the same id every time.
    assert parse(topics.PAYMENT_RECEIPTS, first.to_bytes()).event_id == first.event_id


def test_a_message_without_its_schema_version_is_refused() -> None:
    body = body_of(sample(DayStarted))
    del body["schema_version"]
    with pytest.raises(ContractError, match="schema_version is missing"):
        read(DayStarted, body)


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_each_event_type_states_the_version_it_reads_and_writes_it(event_type: type[Envelope]) -> None:
    assert isinstance(event_type.SCHEMA_VERSION, int) and event_type.SCHEMA_VERSION >= 1
    assert event_type.model_fields["schema_version"].default == event_type.SCHEMA_VERSION
    assert sample(event_type).schema_version == event_type.SCHEMA_VERSION


@pytest.mark.parametrize("event_type", ALL_TYPES, ids=name)
def test_a_newer_schema_version_is_refused_with_what_to_do(event_type: type[Envelope]) -> None:
    body = body_of(sample(event_type))
    body["schema_version"] = event_type.SCHEMA_VERSION + 1
    expected = (
        f"{name(event_type)} schema_version {event_type.SCHEMA_VERSION + 1} is newer than this service reads "
        f"({event_type.SCHEMA_VERSION}): upgrade the service"
    )
    with pytest.raises(ContractError) as refused:
        read(event_type, body)
    assert str(refused.value) == expected


def test_a_newer_version_is_named_even_when_its_shape_no_longer_fits() -> None:
    body = body_of(sample(PaymentReceived))
    body["schema_version"] = 2
    body["data"] = {"amount": {"pence": 100}}
    with pytest.raises(ContractError, match="schema_version 2 is newer than this service reads"):
        read(PaymentReceived, body)


def _payer_ref_renamed(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["payer_reference"] = body["data"].pop("payer_ref")
    return body


def _v1_receipt() -> dict[str, Any]:
    body = body_of(sample(PaymentReceived))
    body["data"]["payer_ref"] = body["data"].pop("payer_reference")
    return body


def test_an_older_version_is_upcast_before_it_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    """There is no older version yet: this one exists only inside the test. Version 2
    renamed data.payer_ref to data.payer_reference."""
    monkeypatch.setattr(PaymentReceived, "SCHEMA_VERSION", 2)
    v1 = _v1_receipt()
    with pytest.raises(ContractError, match=r"schema_version 1 is older than this service reads \(2\) and no upcaster"):
        read(PaymentReceived, v1)

    upcaster("payment.received", 1)(_payer_ref_renamed)
    try:
        with pytest.raises(ValueError, match="already registered"):
            upcaster("payment.received", 1)(_payer_ref_renamed)
        event = read(PaymentReceived, v1)
        assert isinstance(event, PaymentReceived)
        assert event.schema_version == 2 and event.data.payer_reference == ACCOUNT
        assert str(event.event_id) == v1["event_id"]
        # A version-2 message is read as it is, with no upcaster involved.
        v2 = body_of(sample(PaymentReceived)) | {"schema_version": 2}
        assert read(PaymentReceived, v2).data.payer_reference == ACCOUNT
    finally:
        from recovery_shared.contracts.upcasting import remove_upcaster

        remove_upcaster("payment.received", 1)
    with pytest.raises(ContractError, match="no upcaster"):
        read(PaymentReceived, v1)


def test_upcasters_run_in_order_and_a_failing_one_refuses_the_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from recovery_shared.contracts.upcasting import remove_upcaster

    monkeypatch.setattr(DayStarted, "SCHEMA_VERSION", 3)
    steps: list[int] = []

    def one_to_two(body: dict[str, Any]) -> dict[str, Any]:
        steps.append(body["schema_version"])
        body["data"] = {"business_day": body["data"].pop("date")}
        return body

    def two_to_three(body: dict[str, Any]) -> dict[str, Any]:
        steps.append(body["schema_version"])
        body["data"] = {"business_date": body["data"].pop("business_day")}
        return body

    upcaster("day.started", 1)(one_to_two)
    upcaster("day.started", 2)(two_to_three)
    try:
        v1 = body_of(sample(DayStarted)) | {"schema_version": 1, "data": {"date": "2026-05-05"}}
        event = read(DayStarted, v1)
        assert isinstance(event, DayStarted)
        assert steps == [1, 2] and event.schema_version == 3 and event.data.business_date == date(2026, 5, 5)

        broken = body_of(sample(DayStarted)) | {"schema_version": 1, "data": {}}
        with pytest.raises(ContractError, match="schema_version 1 could not be upcast: KeyError"):
            read(DayStarted, broken)
    finally:
        remove_upcaster("day.started", 1)
        remove_upcaster("day.started", 2)


# --- nothing but a ContractError, whatever arrives ---------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=150, deadline=None)
@given(
    topic=st.sampled_from(sorted(TOPIC_CONTRACTS)),
    raw=st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.builds(
            lambda base, path_value: encode(base | path_value),
            st.sampled_from([body_of(s) for s in SAMPLES]),
            st.dictionaries(st.sampled_from(["type", "event_id", "schema_version", "key", "data"]), JSON, max_size=3),
        ),
    ),
)
def test_whatever_arrives_is_read_or_refused_with_a_reason(topic: str, raw: bytes) -> None:
    try:
        parse(topic, raw)
    except ContractError as exc:
        assert str(exc).strip()
