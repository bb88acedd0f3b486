"""Enforcement's tables, on this service's own metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, DateTime, false
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from recovery_shared.clock import utc_now
from recovery_shared.messaging.tables import add_kernel_tables


class EnforcementTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, not SQLModel's global one."""


metadata = EnforcementTable.metadata
kernel = add_kernel_tables(metadata)


class PendingSchedule(EnforcementTable, table=True):
    """An instalment schedule that arrived before its bill.

    arrangement.made and charge.raised travel on different topics, so either can
    come first; the schedule waits here until the case opens."""

    __tablename__ = "pending_schedule"

    debt_id: str = Field(primary_key=True, max_length=100)
    schedule: list[list[object]] = Field(default_factory=list, sa_type=JSON)
    received_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))


class RecoveryCase(EnforcementTable, table=True):
    """One debt's position on its recovery ladder, and the dates its next steps hang on."""

    __tablename__ = "recovery_case"

    case_id: str = Field(primary_key=True, max_length=100)
    debt_id: str = Field(unique=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    party_id: str = Field(index=True, max_length=100)
    debt_type: str = Field(max_length=10)
    financial_year: str | None = Field(default=None, max_length=7)
    bill_issued_on: date
    # Personal data for the notices' address block; never logged.
    recipient_name: str = ""
    recipient_address: list[str] = Field(default_factory=list, sa_type=JSON)
    stage: str = Field(default="billed", max_length=40, index=True)
    is_open: bool = Field(default=True, index=True)
    # What payments says about the debt (balance.changed).
    charged_pence: int = Field(default=0, sa_type=BigInteger)
    paid_pence: int = Field(default=0, sa_type=BigInteger)
    balance_pence: int = Field(default=0, sa_type=BigInteger)
    # The statutory schedule (arrangement.made): [[iso date, pence], ...].
    schedule: list[list[object]] = Field(default_factory=list, sa_type=JSON)
    # Reminders (reg 23 / NNDR reg 8).
    reminders_sent: int = 0
    reminder_issued_on: date | None = None
    reminder_pay_by: date | None = None
    reminder_required_pence: int = Field(default=0, sa_type=BigInteger)
    charge_at_last_notice_pence: int = Field(default=0, sa_type=BigInteger)
    unanswered_miss_on: date | None = None
    # The right to instalments lost: the whole balance falls due.
    failure_on: date | None = None
    balance_due_on: date | None = None
    balance_fell_due: bool = False
    final_notice_issued_on: date | None = None
    summons_id: str | None = Field(default=None, max_length=100)
    summons_issued_on: date | None = None
    hearing_date: date | None = None
    liability_order_on: date | None = None
    referral_id: str | None = Field(default=None, max_length=100)
    referral_due_on: date | None = None
    referred_on: date | None = None
    agent: str | None = Field(default=None, max_length=100)
    # The civil ladder (HBOP, TA, sundry debt): the Pre-Action Protocol's letters and the
    # county court claim; the invoice's due date starts the Limitation Act's six years.
    fell_due_on: date | None = None
    letter_before_claim_on: date | None = None
    reply_by: date | None = None
    reply: str | None = Field(default=None, max_length=30)
    notice_of_intention_on: date | None = None
    claim_after: date | None = None
    claim_id: str | None = Field(default=None, max_length=100)
    claim_referred_on: date | None = None
    # An HB overpayment's decision, as officers list it (no personal data).
    hbop_classification: str | None = Field(default=None, max_length=40)
    hbop_decided_on: date | None = None
    # The person's employer and pay as last reported, and a Direct Earnings Attachment in
    # force (an HB overpayment): what the employer should pay over, and what it has.
    employment: dict[str, object] | None = Field(default=None, sa_type=JSON)
    attachment: dict[str, object] | None = Field(default=None, sa_type=JSON)
    # A request to the DWP to recover an HB overpayment from other benefits, its answer,
    # and what the DWP has paid over.
    benefit_deduction: dict[str, object] | None = Field(default=None, sa_type=JSON)
    # Holds freeze the case; the clock stops while they last.
    held: bool = Field(default=False, index=True)
    held_since: date | None = None
    vulnerable: bool = False
    next_action_on: date | None = Field(default=None, index=True)
    opened_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    # A case whose decision or events could not be built is left as it was and marked
    # here for officers (GET /officer/cases/needing-attention); the daily run retries it.
    attention_reason: str | None = Field(default=None, max_length=1000)
    attention_since: date | None = Field(default=None, index=True)


class Hold(EnforcementTable, table=True):
    """A breathing space, dispute, death or insolvency notified for a person, or a
    vulnerability flag (which pauses nothing, but every case of theirs carries it), and
    the cases it reaches. Pending: it reaches no case yet (we hold no debt of theirs it
    covers); it waits here, listed for officers, until a case opens for the person."""

    __tablename__ = "hold"

    id: int | None = Field(default=None, primary_key=True)
    party_id: str = Field(index=True, max_length=100)
    account_ref: str = Field(max_length=64)
    kind: str = Field(max_length=30)
    reference: str = Field(default="", max_length=100)
    started_on: date
    ended_on: date | None = None
    case_ids: list[str] = Field(default_factory=list, sa_type=JSON)
    pending: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


class LadderStep(EnforcementTable, table=True):
    """The case history an officer reads: every stage change, notice, court step and referral."""

    __tablename__ = "ladder_step"

    id: int | None = Field(default=None, primary_key=True)
    case_id: str = Field(index=True, max_length=100)
    on: date
    step: str = Field(max_length=40)
    detail: str = ""
    recorded_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))


class AgentReturn(EnforcementTable, table=True):
    __tablename__ = "agent_return"

    id: int | None = Field(default=None, primary_key=True)
    referral_id: str = Field(index=True, max_length=100)
    case_id: str = Field(index=True, max_length=100)
    outcome: str = Field(max_length=30)
    amount_collected_pence: int = Field(default=0, sa_type=BigInteger)
    fees_pence: int = Field(default=0, sa_type=BigInteger)
    returned_on: date
