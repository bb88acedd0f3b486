"""Topics the services publish (design §3, "Internal and outbound")."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from recovery_shared.contracts.base import Contract
from recovery_shared.contracts.common import (
    MAX_CODE,
    MAX_DEBTS_ON_AN_ACCOUNT,
    MAX_DOCUMENT_BYTES,
    MAX_INSTALMENTS,
    MAX_NAMED_ENTRIES,
    MAX_TEMPLATE_ENTRIES,
    MAX_TEMPLATE_TEXT,
    AccountRef,
    AddressBlock,
    Code,
    CostsPence,
    DebtIds,
    DebtType,
    FinancialYear,
    FirmName,
    Flag,
    Id,
    Instalments,
    Location,
    Name,
    NonNegativeTotalPence,
    OptionalRef,
    PenceAmount,
    PositiveCostsPence,
    PositivePence,
    ReceiptPartPence,
    ReceiptPence,
    Ref,
    Text,
    TotalPence,
)
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import PaymentChannel

# --- payments.events.v1 -------------------------------------------------------


class AllocationPart(Contract):
    debt_id: Id
    amount_pence: ReceiptPence
    financial_year: FinancialYear | None = None


AllocationParts = Annotated[list[AllocationPart], Field(max_length=MAX_DEBTS_ON_AN_ACCOUNT)]


class AllocationRule(StrEnum):
    """Which step of the council's allocation policy placed the money (domain §10)."""

    DIRECTED = "directed"
    INSTALMENT_MATCH = "instalment_match"
    POLICY_ORDER = "policy_order"
    OFFICER = "officer"


class PaymentAllocatedData(Contract):
    receipt_ref: Ref
    account_ref: AccountRef
    amount_pence: ReceiptPence
    received_on: date
    rule: AllocationRule
    parts: AllocationParts = Field(default_factory=list, description="Empty when it all went to credit")
    credit_pence: ReceiptPartPence = Field(default=0, description="Left over after every debt is cleared")
    channel: PaymentChannel | None = Field(
        default=None, description="How the money came (None on events from before channels were carried)"
    )


class PaymentAllocated(Envelope):
    type: Literal["payment.allocated"] = "payment.allocated"
    data: PaymentAllocatedData


class PaymentSuspendedData(Contract):
    receipt_ref: Ref
    amount_pence: ReceiptPence
    received_on: date
    payer_reference: OptionalRef = ""
    reason: Text


class PaymentSuspended(Envelope):
    type: Literal["payment.suspended"] = "payment.suspended"
    data: PaymentSuspendedData


class PaymentReversedData(Contract):
    receipt_ref: Ref
    account_ref: AccountRef
    amount_pence: ReceiptPence
    reversed_on: date
    reason: Text
    parts: AllocationParts = Field(default_factory=list, description="What was taken back from each debt")


class PaymentReversed(Envelope):
    type: Literal["payment.reversed"] = "payment.reversed"
    data: PaymentReversedData


class BalanceChangedData(Contract):
    debt_id: Id
    account_ref: AccountRef
    debt_type: DebtType
    charged_pence: NonNegativeTotalPence = Field(description="The charge and the costs added to it")
    paid_pence: PenceAmount
    balance_pence: PenceAmount
    as_of: date


class BalanceChanged(Envelope):
    type: Literal["balance.changed"] = "balance.changed"
    data: BalanceChangedData


class HbDeductionStopReason(StrEnum):
    RECOVERED = "recovered"
    """Every overpayment on the account is paid: nothing more is deducted."""
    AWARD_ENDED = "award_ended"
    """The Housing Benefit award ended with money still owed: the next route takes over."""


class HbDeductionsStartedData(Contract):
    claim_ref: Ref
    account_ref: AccountRef
    debt_ids: DebtIds = Field(description="The overpayments the deductions pay, oldest first")
    weekly_pence: ReceiptPence = Field(description="What is deducted each benefit week for the first week")
    maximum_weekly_pence: ReceiptPence = Field(description="The reg 102 maximum for that benefit year")
    first_week_on: date


class HbDeductionsStarted(Envelope):
    """Payments has begun taking an overpayment from the person's ongoing Housing Benefit:
    the case's route is deduction from HB while the award lasts."""

    type: Literal["hb-deductions.started"] = "hb-deductions.started"
    data: HbDeductionsStartedData


class HbDeductionsStoppedData(Contract):
    claim_ref: Ref
    account_ref: AccountRef
    debt_ids: DebtIds = Field(description="The overpayments the deductions were paying")
    stopped_on: date
    reason: HbDeductionStopReason
    deducted_pence: NonNegativeTotalPence = Field(description="Everything deducted under the award")
    outstanding_pence: NonNegativeTotalPence = Field(description="What is still owed on those overpayments")


class HbDeductionsStopped(Envelope):
    """No more is deducted from the award: the overpayments are paid, or the award ended
    and the next recovery route (the invoice) takes over."""

    type: Literal["hb-deductions.stopped"] = "hb-deductions.stopped"
    data: HbDeductionsStoppedData


PaymentEvent = Annotated[
    PaymentAllocated | PaymentSuspended | PaymentReversed | BalanceChanged | HbDeductionsStarted | HbDeductionsStopped,
    Field(discriminator="type"),
]

# --- arrangements.events.v1 ---------------------------------------------------


class ArrangementKind(StrEnum):
    STATUTORY = "statutory"
    NEGOTIATED = "negotiated"


class ArrangementMadeData(Contract):
    arrangement_id: Ref
    account_ref: AccountRef
    kind: ArrangementKind
    debt_ids: DebtIds = Field(min_length=1)
    instalments: Instalments = Field(min_length=1)


class ArrangementMade(Envelope):
    type: Literal["arrangement.made"] = "arrangement.made"
    data: ArrangementMadeData


class InstalmentPaidData(Contract):
    arrangement_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    due_date: date
    amount_pence: PositivePence
    paid_on: date


class InstalmentPaid(Envelope):
    type: Literal["instalment.paid"] = "instalment.paid"
    data: InstalmentPaidData


class InstalmentMissedData(Contract):
    arrangement_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    financial_year: FinancialYear | None = None
    due_date: date
    amount_pence: PositivePence = Field(description="What is unpaid of this instalment")
    overdue_pence: TotalPence = Field(description="Everything unpaid that has fallen due so far")
    # No more misses than a schedule has instalments.
    misses_this_year: int = Field(strict=True, ge=1, le=MAX_INSTALMENTS)
    detected_on: date


class InstalmentMissed(Envelope):
    type: Literal["instalment.missed"] = "instalment.missed"
    data: InstalmentMissedData


class ArrangementEndedData(Contract):
    arrangement_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    on: date
    reason: Text = ""


class ArrangementDefaulted(Envelope):
    type: Literal["arrangement.defaulted"] = "arrangement.defaulted"
    data: ArrangementEndedData


class ArrangementCompleted(Envelope):
    type: Literal["arrangement.completed"] = "arrangement.completed"
    data: ArrangementEndedData


ArrangementEvent = Annotated[
    ArrangementMade | InstalmentPaid | InstalmentMissed | ArrangementDefaulted | ArrangementCompleted,
    Field(discriminator="type"),
]

# --- enforcement.events.v1 ----------------------------------------------------


class StageChangedData(Contract):
    case_id: Ref
    debt_id: Id
    account_ref: AccountRef
    debt_type: DebtType
    from_stage: Code
    to_stage: Code
    on: date
    reason: Text = ""


class StageChanged(Envelope):
    type: Literal["stage.changed"] = "stage.changed"
    data: StageChangedData


class BalanceFellDueData(Contract):
    """The right to pay by instalments is lost: the whole unpaid balance is due now."""

    debt_id: Id
    account_ref: AccountRef
    due_on: date
    reason: Text


class BalanceFellDue(Envelope):
    type: Literal["balance.fell-due"] = "balance.fell-due"
    data: BalanceFellDueData


class HoldData(Contract):
    party_id: Id
    account_ref: AccountRef
    debt_ids: DebtIds
    hold: Code = Field(description="breathing_space, dispute, vulnerability, ...")
    on: date


class HoldApplied(Envelope):
    type: Literal["hold.applied"] = "hold.applied"
    data: HoldData


class HoldReleased(Envelope):
    type: Literal["hold.released"] = "hold.released"
    data: HoldData


class SummonsListedData(Contract):
    summons_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    court: Name
    issued_on: date
    hearing_date: date
    amount_pence: TotalPence
    costs_pence: CostsPence


class SummonsListed(Envelope):
    type: Literal["summons.listed"] = "summons.listed"
    data: SummonsListedData


class LiabilityOrderRecordedData(Contract):
    summons_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    granted_on: date
    amount_pence: TotalPence
    costs_pence: CostsPence


class LiabilityOrderRecorded(Envelope):
    type: Literal["liability-order.recorded"] = "liability-order.recorded"
    data: LiabilityOrderRecordedData


class CostsAddedData(Contract):
    debt_id: Id
    account_ref: AccountRef
    amount_pence: PositiveCostsPence
    kind: Code = Field(description="summons, liability_order, ...")
    added_on: date


class CostsAdded(Envelope):
    type: Literal["costs.added"] = "costs.added"
    data: CostsAddedData


EnforcementEvent = Annotated[
    StageChanged | BalanceFellDue | HoldApplied | HoldReleased | SummonsListed | LiabilityOrderRecorded | CostsAdded,
    Field(discriminator="type"),
]

# --- notices.requests.v1 / notices.events.v1 ----------------------------------


class NoticeType(StrEnum):
    REMINDER = "reminder"
    SECOND_REMINDER = "second_reminder"
    FINAL_NOTICE = "final_notice"
    SUMMONS = "summons"
    NNDR_FURTHER_NOTICE = "nndr_further_notice"
    AGENT_REFERRAL_LETTER = "agent_referral_letter"
    INVOICE = "invoice"
    INVOICE_REMINDER = "invoice_reminder"
    LETTER_BEFORE_CLAIM = "letter_before_claim"
    NOTICE_OF_INTENTION = "notice_of_intention"
    HBOP_DECISION = "hbop_decision"
    DEA_EMPLOYER = "dea_employer"
    """The Direct Earnings Attachment notice to the employer (SI 2013/384 reg 19)."""
    DEA_DEBTOR = "dea_debtor"
    """The copy to the person whose earnings are attached, with what will be deducted."""
    DEA_REMITTANCE_MISSED = "dea_remittance_missed"
    """To the employer: a month's deductions were not paid over by the 19th (reg 22)."""
    DWP_DEDUCTION_REQUESTED = "dwp_deduction_requested"
    """To the person: the council has asked the DWP to recover the overpayment from their
    other benefits, and what happens next."""
    DEA_DISCHARGED = "dea_discharged"
    """To the employer: stop deducting; the attachment is discharged (reg 26), the debt
    being paid or recovery being held (a Breathing Space, death, insolvency)."""


EntryName = Annotated[str, Field(min_length=1, max_length=MAX_CODE)]
TemplateValue = Annotated[str, Field(max_length=MAX_TEMPLATE_TEXT)] | Flag | None
"""What a template may be given: text or a flag, never a nested structure (a figure
goes in ``amounts`` or ``dates``, where it is typed)."""


class NoticeRequestedData(Contract):
    request_id: Ref = Field(description="Unique per notice; a second copy never renders twice")
    notice_type: NoticeType
    account_ref: AccountRef
    case_id: OptionalRef = ""
    debt_ids: DebtIds = Field(default_factory=list)
    council_name: Name
    recipient_name: Name = Field(default="", description="Personal data")
    recipient_address: AddressBlock = Field(
        default_factory=list, description="Personal data: the address lines, then the postcode"
    )
    amounts: dict[EntryName, PenceAmount] = Field(
        default_factory=dict, max_length=MAX_NAMED_ENTRIES, description="Named amounts in pence"
    )
    dates: dict[EntryName, date] = Field(default_factory=dict, max_length=MAX_NAMED_ENTRIES, description="Named dates")
    issued_on: date
    template_data: dict[EntryName, TemplateValue] = Field(default_factory=dict, max_length=MAX_TEMPLATE_ENTRIES)


class NoticeRequested(Envelope):
    type: Literal["notice.requested"] = "notice.requested"
    data: NoticeRequestedData


NoticeRequestEvent = Annotated[NoticeRequested, Field(discriminator="type")]


class NoticeIssuedData(Contract):
    request_id: Ref
    document_id: Id
    notice_type: NoticeType
    account_ref: AccountRef
    case_id: OptionalRef = ""
    debt_ids: DebtIds = Field(default_factory=list)
    checksum_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    location: Location = Field(description="Where the PDF is stored")
    served_on: date
    size_bytes: int = Field(default=0, strict=True, ge=0, le=MAX_DOCUMENT_BYTES)
    template_version: Code | None = Field(
        default=None, description="The version of the wording template the notice was rendered from"
    )


class NoticeIssued(Envelope):
    type: Literal["notice.issued"] = "notice.issued"
    data: NoticeIssuedData


class NoticeFailedData(Contract):
    request_id: Ref
    notice_type: NoticeType
    account_ref: AccountRef
    case_id: OptionalRef = ""
    reason: Text


class NoticeFailed(Envelope):
    type: Literal["notice.failed"] = "notice.failed"
    data: NoticeFailedData


NoticeEvent = Annotated[NoticeIssued | NoticeFailed, Field(discriminator="type")]

# --- agents.referrals.v1 ------------------------------------------------------


class CaseReferredData(Contract):
    referral_id: Ref
    case_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    agent: FirmName
    referred_on: date
    liability_order_ref: Ref
    amount_pence: TotalPence = Field(description="Debt and court costs passed to the agent")
    compliance_fee_pence: CostsPence = Field(description="Taking Control of Goods (Fees) Regs 2014 Sch 1")
    debtor_is_vulnerable: Flag = False


class CaseReferred(Envelope):
    type: Literal["case.referred"] = "case.referred"
    data: CaseReferredData


class CaseRecalledData(Contract):
    referral_id: Ref
    case_id: Ref
    account_ref: AccountRef
    recalled_on: date
    reason: Text


class CaseRecalled(Envelope):
    type: Literal["case.recalled"] = "case.recalled"
    data: CaseRecalledData


AgentReferralEvent = Annotated[CaseReferred | CaseRecalled, Field(discriminator="type")]

# --- courts.county-claims.v1 --------------------------------------------------


class ClaimReferredData(Contract):
    """A debt claim for the county court (HBOP, TA, sundry debt), for the council's legal
    team or its claims service to issue: everything the claim form's particulars need,
    and the Pre-Action Protocol steps taken before it [S44][S45]."""

    claim_id: Ref
    case_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    debt_type: DebtType
    referred_on: date
    amount_pence: TotalPence = Field(description="The sum claimed: what is still owed")
    claimant: Name = Field(description="The council")
    defendant_name: Name = Field(default="", description="Personal data")
    defendant_address: AddressBlock = Field(default_factory=list, description="Personal data")
    letter_before_claim_on: date
    notice_of_intention_on: date
    particulars: Text = Field(description="What the debt is for and when it fell due")


class ClaimReferred(Envelope):
    type: Literal["claim.referred"] = "claim.referred"
    data: ClaimReferredData


CountyClaimEvent = Annotated[ClaimReferred, Field(discriminator="type")]

# --- benefits.deduction-requests.v1 -------------------------------------------------
# Enforcement asks the DWP to recover an HB overpayment from the person's other benefits
# (DWP Debt Management; the council keeps the debt) [S40][S41], and tells it to stop.


class DeductionRequestedData(Contract):
    request_id: Ref = Field(description="Unique per request; the DWP's answer quotes it")
    case_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    party_id: Id
    person_name: Name = Field(default="", description="Personal data")
    person_address: AddressBlock = Field(default_factory=list, description="Personal data")
    owed_pence: TotalPence = Field(description="The most to recover: what is owed when asked")
    fraud: Flag = Field(description="The overpayment was fraud: the higher rates of deduction apply")
    requested_on: date
    answer_by: date = Field(description="After this day with no answer the council takes its next route")


class DeductionRequested(Envelope):
    type: Literal["deduction.requested"] = "deduction.requested"
    data: DeductionRequestedData


class DeductionCancelledData(Contract):
    request_id: Ref
    account_ref: AccountRef
    debt_ids: DebtIds
    cancelled_on: date
    reason: Text


class DeductionCancelled(Envelope):
    type: Literal["deduction.cancelled"] = "deduction.cancelled"
    data: DeductionCancelledData


DeductionRequestEvent = Annotated[DeductionRequested | DeductionCancelled, Field(discriminator="type")]
