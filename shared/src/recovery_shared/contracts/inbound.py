"""Topics that outside systems publish to us (design §3, "Inbound").

Billing, payment channels, Bacs, the magistrates' court, enforcement agent firms
and the debtor-circumstances feed build against these; we validate them like any
other input and dead-letter what does not fit.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, model_validator

from recovery_shared.contracts.base import Contract
from recovery_shared.contracts.common import (
    MAX_REF,
    AccountRef,
    AddressBlock,
    AgentFeesPence,
    CostsPence,
    DebtType,
    EarningsDisregard,
    FinancialYear,
    FirmName,
    Flag,
    Id,
    Instalments,
    LiableParty,
    NonNegativePence,
    NonNegativeTotalPence,
    OptionalRef,
    OverpaymentDecision,
    PayFrequency,
    PositivePence,
    ReceiptPartPence,
    ReceiptPence,
    Ref,
    Text,
)
from recovery_shared.contracts.envelope import Envelope

# --- billing.charges.v1 -------------------------------------------------------


class ChargeRaisedData(Contract):
    debt_id: Id = Field(description="Unique id of the debt (one per account, type and year)")
    account_ref: AccountRef
    debt_type: DebtType
    financial_year: FinancialYear | None = Field(default=None, description="CT/NNDR year the charge is for")
    period_start: date | None = None
    period_end: date | None = None
    amount_pence: PositivePence
    bill_issued_on: date = Field(description="The date the demand notice was issued (served)")
    instalments: Instalments | None = Field(
        default=None, description="Statutory instalment schedule printed on the bill, where it has one"
    )
    twelve_instalments_requested: Flag = Field(
        default=False,
        description="Taxpayer asked in writing for 12 instalments (CT reg 21(1A); NNDR 2014/15 on)",
    )
    liable_party: LiableParty
    overpayment: OverpaymentDecision | None = Field(
        default=None, description="A Housing Benefit overpayment's decision (required for HBOP, only for HBOP)"
    )

    @model_validator(mode="after")
    def _schedule_adds_up(self) -> ChargeRaisedData:
        if self.instalments is not None:
            if not self.instalments:
                raise ValueError("instalments, when given, must not be empty")
            if sum(i.amount_pence for i in self.instalments) != self.amount_pence:
                raise ValueError("instalments must add up to amount_pence")
        if (self.debt_type == DebtType.HB_OVERPAYMENT) != (self.overpayment is not None):
            raise ValueError("an HB overpayment must carry its overpayment decision, and only an HB overpayment may")
        return self


class ChargeRaised(Envelope):
    type: Literal["charge.raised"] = "charge.raised"
    data: ChargeRaisedData


class ChargeAdjustedData(Contract):
    debt_id: Id
    account_ref: AccountRef
    new_amount_pence: NonNegativePence
    adjusted_on: date
    reason: Text = ""
    instalments: Instalments | None = Field(default=None, description="The revised schedule, if reissued")


class ChargeAdjusted(Envelope):
    type: Literal["charge.adjusted"] = "charge.adjusted"
    data: ChargeAdjustedData


BillingEvent = Annotated[ChargeRaised | ChargeAdjusted, Field(discriminator="type")]

# --- payments.receipts.v1 -----------------------------------------------------


class PaymentChannel(StrEnum):
    CASH_OFFICE = "cash_office"
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    PAYPOINT = "paypoint"
    ALLPAY = "allpay"
    DIRECT_DEBIT = "direct_debit"
    HOUSING_BENEFIT = "housing_benefit"
    """A deduction from the person's ongoing Housing Benefit for an overpayment: payments
    records it itself, each benefit week an award is live (``benefits.hb-awards.v1``)."""
    DWP_DEDUCTION = "dwp_deduction"
    ATTACHMENT_OF_EARNINGS = "attachment_of_earnings"
    ENFORCEMENT_AGENT = "enforcement_agent"
    OTHER_COUNCIL = "other_council"
    DIRECT_EARNINGS_ATTACHMENT = "direct_earnings_attachment"
    """An employer paying over what it deducted from a person's pay under a Direct
    Earnings Attachment (SI 2013/384 reg 22), directed at the overpayment it recovers."""


class PaymentReceivedData(Contract):
    receipt_ref: Ref = Field(description="The channel's unique receipt reference")
    channel: PaymentChannel
    amount_pence: ReceiptPence
    received_on: date
    payer_reference: OptionalRef = Field(default="", description="The reference the payer quoted")
    # As quoted by the payer, so bounded like a reference rather than like our debt ids:
    # one that is too long to be ours is still money to put in suspense.
    directed_debt_id: Ref | None = Field(default=None, description="A debt the payer told us to pay")


class PaymentReceived(Envelope):
    type: Literal["payment.received"] = "payment.received"
    data: PaymentReceivedData


ReceiptEvent = Annotated[PaymentReceived, Field(discriminator="type")]

# --- banking.dd-reports.v1 ----------------------------------------------------

AruddCode = Literal["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B"]
AddacsCode = Literal["0", "1", "2", "3", "B", "C", "D", "E", "R"]


class DirectDebitUnpaidData(Contract):
    mandate_ref: Ref = Field(description="Personal data adjacent: the DDI reference only")
    account_ref: AccountRef
    receipt_ref: Ref = Field(description="The collection's receipt reference")
    amount_pence: ReceiptPence
    collection_date: date
    reason_code: AruddCode


class DirectDebitUnpaid(Envelope):
    type: Literal["dd.unpaid"] = "dd.unpaid"
    data: DirectDebitUnpaidData


DirectDebitReportEvent = Annotated[DirectDebitUnpaid, Field(discriminator="type")]

# --- courts.outcomes.v1 -------------------------------------------------------


class CourtOutcomeData(Contract):
    summons_id: Ref
    account_ref: AccountRef
    hearing_date: date
    costs_pence: CostsPence = Field(default=0, description="Costs the court allowed")
    note: Text = ""


class LiabilityOrderGranted(Envelope):
    type: Literal["liability-order.granted"] = "liability-order.granted"
    data: CourtOutcomeData


class LiabilityOrderWithdrawn(Envelope):
    type: Literal["liability-order.withdrawn"] = "liability-order.withdrawn"
    data: CourtOutcomeData


class HearingAdjournedData(CourtOutcomeData):
    adjourned_to: date


class HearingAdjourned(Envelope):
    type: Literal["hearing.adjourned"] = "hearing.adjourned"
    data: HearingAdjournedData


class CountyCourtOutcomeData(Contract):
    """What the county court did on a claim the council referred (claim.referred on
    courts.county-claims.v1): recorded on the case as it stands (domain §4, §5)."""

    claim_id: Ref
    account_ref: AccountRef
    dated: date
    amount_pence: NonNegativeTotalPence = Field(default=0, description="Judgment sum, where there is one")
    costs_pence: CostsPence = Field(default=0, description="Fixed costs the court allowed")
    court_ref: OptionalRef = Field(default="", description="The court's claim number")
    note: Text = ""


class CountyJudgmentEntered(Envelope):
    type: Literal["county-judgment.entered"] = "county-judgment.entered"
    data: CountyCourtOutcomeData


class CountyWarrantIssued(Envelope):
    """A warrant of control on the judgment (county court enforcement)."""

    type: Literal["county-warrant.issued"] = "county-warrant.issued"
    data: CountyCourtOutcomeData


class CountyAttachmentMade(Envelope):
    """An attachment of earnings order made by the county court on the judgment."""

    type: Literal["county-attachment.made"] = "county-attachment.made"
    data: CountyCourtOutcomeData


CourtOutcomeEvent = Annotated[
    LiabilityOrderGranted
    | LiabilityOrderWithdrawn
    | HearingAdjourned
    | CountyJudgmentEntered
    | CountyWarrantIssued
    | CountyAttachmentMade,
    Field(discriminator="type"),
]

# --- debtors.replies.v1 -------------------------------------------------------


class ReplyKind(StrEnum):
    """What the debtor says on the Reply Form sent with a letter before claim (Pre-Action
    Protocol for Debt Claims, Annex 1) [S45]."""

    DISPUTES = "disputes"
    NEEDS_TIME = "needs_time"
    OFFERS_TO_PAY = "offers_to_pay"
    REQUESTS_DOCUMENTS = "requests_documents"


class LetterBeforeClaimRepliedData(Contract):
    account_ref: AccountRef
    debt_id: Id
    replied_on: date
    reply: ReplyKind
    offer_pence: NonNegativeTotalPence = Field(default=0, description="A repayment the debtor offers, per month")
    note: Text = ""


class LetterBeforeClaimReplied(Envelope):
    """The debtor's reply to a letter before claim, from the council's post room or
    customer portal: it holds the case for an officer (the Protocol's 30 days restart
    where documents were asked for)."""

    type: Literal["letter-before-claim.replied"] = "letter-before-claim.replied"
    data: LetterBeforeClaimRepliedData


ReplyEvent = Annotated[LetterBeforeClaimReplied, Field(discriminator="type")]

# --- agents.returns.v1 --------------------------------------------------------


class AgentOutcome(StrEnum):
    """Typical return codes; there are no statutory ones (domain §3, S33)."""

    PAID_IN_FULL = "paid_in_full"
    PART_PAID = "part_paid"
    NULLA_BONA = "nulla_bona"
    GONE_AWAY = "gone_away"
    VULNERABLE = "vulnerable"
    DECEASED = "deceased"
    INSOLVENT = "insolvent"
    BREATHING_SPACE = "breathing_space"
    RECALLED = "recalled"
    EXPIRED = "expired"


class CaseReturnedData(Contract):
    referral_id: Ref
    account_ref: AccountRef
    agent: FirmName = ""
    outcome: AgentOutcome
    amount_collected_pence: ReceiptPartPence = 0
    fees_pence: AgentFeesPence = 0
    returned_on: date


class CaseReturned(Envelope):
    type: Literal["case.returned"] = "case.returned"
    data: CaseReturnedData


AgentReturnEvent = Annotated[CaseReturned, Field(discriminator="type")]

# --- debtors.circumstances.v1 -------------------------------------------------


class BreathingSpaceKind(StrEnum):
    STANDARD = "standard"
    MENTAL_HEALTH_CRISIS = "mental_health_crisis"


class CircumstanceData(Contract):
    party_id: Id = Field(description="The person; holds reach every debt they owe us")
    account_ref: AccountRef
    effective_on: date
    reference: OptionalRef = Field(default="", description="e.g. the Insolvency Service's breathing space reference")
    note: Text = ""


class BreathingSpaceStartedData(CircumstanceData):
    kind: BreathingSpaceKind = BreathingSpaceKind.STANDARD
    expected_end: date | None = None


class BreathingSpaceStarted(Envelope):
    type: Literal["breathing-space.started"] = "breathing-space.started"
    data: BreathingSpaceStartedData


class BreathingSpaceEnded(Envelope):
    type: Literal["breathing-space.ended"] = "breathing-space.ended"
    data: CircumstanceData


class DisputeRaised(Envelope):
    type: Literal["dispute.raised"] = "dispute.raised"
    data: CircumstanceData


class DisputeResolved(Envelope):
    type: Literal["dispute.resolved"] = "dispute.resolved"
    data: CircumstanceData


class VulnerabilityFlagged(Envelope):
    type: Literal["vulnerability.flagged"] = "vulnerability.flagged"
    data: CircumstanceData


class VulnerabilityCleared(Envelope):
    type: Literal["vulnerability.cleared"] = "vulnerability.cleared"
    data: CircumstanceData


class DebtorDeceased(Envelope):
    type: Literal["debtor.deceased"] = "debtor.deceased"
    data: CircumstanceData


class InsolvencyNotified(Envelope):
    type: Literal["insolvency.notified"] = "insolvency.notified"
    data: CircumstanceData


class EmploymentReportedData(Contract):
    """Who employs a person and what they earn, as the person, their employer or HMRC's
    records told the council: what a Direct Earnings Attachment needs (SI 2013/384
    regs 17, 19 and 23) [S42][S43]."""

    party_id: Id = Field(description="The person")
    account_ref: AccountRef
    employer_ref: Ref = Field(description="The employer's reference, e.g. its PAYE reference")
    employer_name: FirmName = Field(min_length=1)
    employer_address: AddressBlock = Field(min_length=1, description="The payroll address the notice goes to")
    pay_frequency: PayFrequency
    net_earnings_pence: PositivePence = Field(
        description="Net earnings on a usual pay-day: pay less income tax, National Insurance and pension"
        " contributions (reg 17)"
    )
    next_pay_day: date
    reported_on: date


class EmploymentReported(Envelope):
    type: Literal["employment.reported"] = "employment.reported"
    data: EmploymentReportedData


class EmploymentEndedData(Contract):
    """The employer's notice that the person has left (SI 2013/384 reg 24)."""

    party_id: Id
    account_ref: AccountRef
    employer_ref: Ref
    left_on: date


class EmploymentEnded(Envelope):
    type: Literal["employment.ended"] = "employment.ended"
    data: EmploymentEndedData


CircumstanceEvent = Annotated[
    BreathingSpaceStarted
    | BreathingSpaceEnded
    | DisputeRaised
    | DisputeResolved
    | VulnerabilityFlagged
    | VulnerabilityCleared
    | DebtorDeceased
    | InsolvencyNotified
    | EmploymentReported
    | EmploymentEnded,
    Field(discriminator="type"),
]

# --- benefits.deduction-responses.v1 ------------------------------------------
# The DWP's answer to a request to recover an overpayment from the person's other
# benefits (benefits.deduction-requests.v1) [S40][S41].


class DeductionAcceptedData(Contract):
    request_id: Ref
    account_ref: AccountRef
    debt_id: Id
    weekly_pence: PositivePence = Field(description="What the DWP will deduct each week")
    first_deduction_on: date
    answered_on: date


class DeductionAccepted(Envelope):
    type: Literal["deduction.accepted"] = "deduction.accepted"
    data: DeductionAcceptedData


class DeductionRefusedData(Contract):
    request_id: Ref
    account_ref: AccountRef
    debt_id: Id
    reason: Text = Field(min_length=1, description="e.g. no benefit in payment, or deductions at the limit")
    answered_on: date


class DeductionRefused(Envelope):
    type: Literal["deduction.refused"] = "deduction.refused"
    data: DeductionRefusedData


DeductionResponseEvent = Annotated[DeductionAccepted | DeductionRefused, Field(discriminator="type")]

# --- benefits.hb-awards.v1 ----------------------------------------------------
# The council's Housing Benefit system tells recovery when a person's award starts,
# changes and ends. While an award is live, an overpayment is recovered by deduction
# from it (SI 2006/213 reg 102) [S36][S39]; keyed by the overpayment account.


class HbAwardData(Contract):
    claim_ref: Ref = Field(description="The HB claim the award is paid under")
    account_ref: AccountRef = Field(description="The overpayment account the deductions pay")
    weekly_award_pence: PositivePence = Field(description="The weekly Housing Benefit award, before any deduction")
    fraud: Flag = Field(description="The overpayment arose from fraud (reg 102(1)(b)'s higher maximum applies)")
    earnings_disregard: EarningsDisregard = Field(
        default=EarningsDisregard.NONE, description="The claimant's earnings disregard (reg 102(2)'s uplift)"
    )
    effective_on: date = Field(description="The first day of the benefit week the award (or change) applies from")


class HbAwardStarted(Envelope):
    type: Literal["hb-award.started"] = "hb-award.started"
    data: HbAwardData


class HbAwardChanged(Envelope):
    type: Literal["hb-award.changed"] = "hb-award.changed"
    data: HbAwardData


class HbAwardEndedData(Contract):
    claim_ref: Ref
    account_ref: AccountRef
    ended_on: date = Field(description="The last day of the award: no deduction is taken for a week after it")


class HbAwardEnded(Envelope):
    type: Literal["hb-award.ended"] = "hb-award.ended"
    data: HbAwardEndedData


HbAwardEvent = Annotated[HbAwardStarted | HbAwardChanged | HbAwardEnded, Field(discriminator="type")]

# --- clock.days.v1 ------------------------------------------------------------

CLOCK_KEY = "business-clock"


class DayStartedData(Contract):
    business_date: date


class DayStarted(Envelope):
    type: Literal["day.started"] = "day.started"
    key: str = Field(default=CLOCK_KEY, min_length=1, max_length=MAX_REF)
    data: DayStartedData


ClockEvent = Annotated[DayStarted, Field(discriminator="type")]
