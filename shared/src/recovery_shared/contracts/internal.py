"""Topics the services publish (design §3, "Internal and outbound")."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from recovery_shared.contracts.common import (
    AccountRef,
    DebtType,
    Instalment,
    NonNegativePence,
    PenceAmount,
    PositivePence,
)
from recovery_shared.contracts.envelope import Contract, Envelope

# --- payments.events.v1 -------------------------------------------------------


class AllocationPart(Contract):
    debt_id: str
    amount_pence: PositivePence
    financial_year: str | None = None


class AllocationRule(StrEnum):
    """Which step of the council's allocation policy placed the money (domain §10)."""

    DIRECTED = "directed"
    INSTALMENT_MATCH = "instalment_match"
    POLICY_ORDER = "policy_order"
    OFFICER = "officer"


class PaymentAllocatedData(Contract):
    receipt_ref: str
    account_ref: AccountRef
    amount_pence: PositivePence
    received_on: date
    rule: AllocationRule
    parts: list[AllocationPart] = Field(default_factory=list, description="Empty when it all went to credit")
    credit_pence: NonNegativePence = Field(default=0, description="Left over after every debt is cleared")


class PaymentAllocated(Envelope):
    type: Literal["payment.allocated"] = "payment.allocated"
    data: PaymentAllocatedData


class PaymentSuspendedData(Contract):
    receipt_ref: str
    amount_pence: PositivePence
    received_on: date
    payer_reference: str = ""
    reason: str


class PaymentSuspended(Envelope):
    type: Literal["payment.suspended"] = "payment.suspended"
    data: PaymentSuspendedData


class PaymentReversedData(Contract):
    receipt_ref: str
    account_ref: AccountRef
    amount_pence: PositivePence
    reversed_on: date
    reason: str
    parts: list[AllocationPart] = Field(default_factory=list, description="What was taken back from each debt")


class PaymentReversed(Envelope):
    type: Literal["payment.reversed"] = "payment.reversed"
    data: PaymentReversedData


class BalanceChangedData(Contract):
    debt_id: str
    account_ref: AccountRef
    debt_type: DebtType
    charged_pence: NonNegativePence
    paid_pence: PenceAmount
    balance_pence: PenceAmount
    as_of: date


class BalanceChanged(Envelope):
    type: Literal["balance.changed"] = "balance.changed"
    data: BalanceChangedData


PaymentEvent = Annotated[
    PaymentAllocated | PaymentSuspended | PaymentReversed | BalanceChanged,
    Field(discriminator="type"),
]

# --- arrangements.events.v1 ---------------------------------------------------


class ArrangementKind(StrEnum):
    STATUTORY = "statutory"
    NEGOTIATED = "negotiated"


class ArrangementMadeData(Contract):
    arrangement_id: str
    account_ref: AccountRef
    kind: ArrangementKind
    debt_ids: list[str] = Field(min_length=1)
    instalments: list[Instalment] = Field(min_length=1)


class ArrangementMade(Envelope):
    type: Literal["arrangement.made"] = "arrangement.made"
    data: ArrangementMadeData


class InstalmentPaidData(Contract):
    arrangement_id: str
    account_ref: AccountRef
    debt_ids: list[str]
    due_date: date
    amount_pence: PositivePence
    paid_on: date


class InstalmentPaid(Envelope):
    type: Literal["instalment.paid"] = "instalment.paid"
    data: InstalmentPaidData


class InstalmentMissedData(Contract):
    arrangement_id: str
    account_ref: AccountRef
    debt_ids: list[str]
    financial_year: str | None = None
    due_date: date
    amount_pence: PositivePence = Field(description="What is unpaid of this instalment")
    overdue_pence: PositivePence = Field(description="Everything unpaid that has fallen due so far")
    misses_this_year: int = Field(ge=1)
    detected_on: date


class InstalmentMissed(Envelope):
    type: Literal["instalment.missed"] = "instalment.missed"
    data: InstalmentMissedData


class ArrangementEndedData(Contract):
    arrangement_id: str
    account_ref: AccountRef
    debt_ids: list[str]
    on: date
    reason: str = ""


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
    case_id: str
    debt_id: str
    account_ref: AccountRef
    debt_type: DebtType
    from_stage: str
    to_stage: str
    on: date
    reason: str = ""


class StageChanged(Envelope):
    type: Literal["stage.changed"] = "stage.changed"
    data: StageChangedData


class BalanceFellDueData(Contract):
    """The right to pay by instalments is lost: the whole unpaid balance is due now."""

    debt_id: str
    account_ref: AccountRef
    due_on: date
    reason: str


class BalanceFellDue(Envelope):
    type: Literal["balance.fell-due"] = "balance.fell-due"
    data: BalanceFellDueData


class HoldData(Contract):
    party_id: str
    account_ref: AccountRef
    debt_ids: list[str]
    hold: str = Field(description="breathing_space, dispute, vulnerability, ...")
    on: date


class HoldApplied(Envelope):
    type: Literal["hold.applied"] = "hold.applied"
    data: HoldData


class HoldReleased(Envelope):
    type: Literal["hold.released"] = "hold.released"
    data: HoldData


class SummonsListedData(Contract):
    summons_id: str
    account_ref: AccountRef
    debt_ids: list[str]
    court: str
    issued_on: date
    hearing_date: date
    amount_pence: PositivePence
    costs_pence: NonNegativePence


class SummonsListed(Envelope):
    type: Literal["summons.listed"] = "summons.listed"
    data: SummonsListedData


class LiabilityOrderRecordedData(Contract):
    summons_id: str
    account_ref: AccountRef
    debt_ids: list[str]
    granted_on: date
    amount_pence: PositivePence
    costs_pence: NonNegativePence


class LiabilityOrderRecorded(Envelope):
    type: Literal["liability-order.recorded"] = "liability-order.recorded"
    data: LiabilityOrderRecordedData


class CostsAddedData(Contract):
    debt_id: str
    account_ref: AccountRef
    amount_pence: PositivePence
    kind: str = Field(description="summons, liability_order, ...")
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
    LETTER_BEFORE_CLAIM = "letter_before_claim"


class NoticeRequestedData(Contract):
    request_id: str = Field(min_length=1, description="Unique per notice; a second copy never renders twice")
    notice_type: NoticeType
    account_ref: AccountRef
    case_id: str = ""
    debt_ids: list[str] = Field(default_factory=list)
    council_name: str
    recipient_name: str = Field(default="", description="Personal data")
    recipient_address: list[str] = Field(default_factory=list, description="Personal data")
    amounts: dict[str, int] = Field(default_factory=dict, description="Named amounts in pence")
    dates: dict[str, date] = Field(default_factory=dict, description="Named dates")
    issued_on: date
    template_data: dict[str, Any] = Field(default_factory=dict)


class NoticeRequested(Envelope):
    type: Literal["notice.requested"] = "notice.requested"
    data: NoticeRequestedData


NoticeRequestEvent = Annotated[NoticeRequested, Field(discriminator="type")]


class NoticeIssuedData(Contract):
    request_id: str
    document_id: str
    notice_type: NoticeType
    account_ref: AccountRef
    case_id: str = ""
    debt_ids: list[str] = Field(default_factory=list)
    checksum_sha256: str
    location: str = Field(description="Where the PDF is stored")
    served_on: date
    size_bytes: int = 0
    template_version: str | None = Field(
        default=None, description="The version of the wording template the notice was rendered from"
    )


class NoticeIssued(Envelope):
    type: Literal["notice.issued"] = "notice.issued"
    data: NoticeIssuedData


class NoticeFailedData(Contract):
    request_id: str
    notice_type: NoticeType
    account_ref: AccountRef
    case_id: str = ""
    reason: str


class NoticeFailed(Envelope):
    type: Literal["notice.failed"] = "notice.failed"
    data: NoticeFailedData


NoticeEvent = Annotated[NoticeIssued | NoticeFailed, Field(discriminator="type")]

# --- agents.referrals.v1 ------------------------------------------------------


class CaseReferredData(Contract):
    referral_id: str
    case_id: str
    account_ref: AccountRef
    debt_ids: list[str]
    agent: str
    referred_on: date
    liability_order_ref: str
    amount_pence: PositivePence = Field(description="Debt and court costs passed to the agent")
    compliance_fee_pence: NonNegativePence = Field(description="Taking Control of Goods (Fees) Regs 2014 Sch 1")
    debtor_is_vulnerable: bool = False


class CaseReferred(Envelope):
    type: Literal["case.referred"] = "case.referred"
    data: CaseReferredData


class CaseRecalledData(Contract):
    referral_id: str
    case_id: str
    account_ref: AccountRef
    recalled_on: date
    reason: str


class CaseRecalled(Envelope):
    type: Literal["case.recalled"] = "case.recalled"
    data: CaseRecalledData


AgentReferralEvent = Annotated[CaseReferred | CaseRecalled, Field(discriminator="type")]
