"""The payments ledger's tables, on this service's own metadata, and the records a
unit of work holds their rows in.

The SQLModel tables are the schema (and what the migrations are written from);
the use cases work on the plain records below, which the kernel's ``Records``
writes back in bulk. A record's fields are its table's column names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import cast

from sqlalchemy import BigInteger, DateTime, Table
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from recovery_shared.clock import utc_now
from recovery_shared.messaging.tables import add_kernel_tables


class PaymentsTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, not SQLModel's global one."""


metadata = PaymentsTable.metadata
kernel = add_kernel_tables(metadata)


class Debt(PaymentsTable, table=True):
    """A charge raised by billing: what is owed (charge plus costs) and what has been paid."""

    __tablename__ = "debt"

    debt_id: str = Field(primary_key=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    debt_type: str = Field(max_length=10)
    financial_year: str | None = Field(default=None, max_length=7)
    party_id: str = Field(index=True, max_length=100)
    bill_issued_on: date
    charged_pence: int = Field(default=0, sa_type=BigInteger)
    costs_pence: int = Field(default=0, sa_type=BigInteger)
    paid_pence: int = Field(default=0, sa_type=BigInteger)
    written_off_pence: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))

    @property
    def balance_pence(self) -> int:
        return self.charged_pence + self.costs_pence - self.paid_pence - self.written_off_pence


class DebtInstalment(PaymentsTable, table=True):
    """Instalment amounts of a debt's schedule, for exact-instalment matching."""

    __tablename__ = "debt_instalment"

    debt_id: str = Field(primary_key=True, max_length=100)
    due_date: date = Field(primary_key=True)
    amount_pence: int = Field(sa_type=BigInteger)


class Receipt(PaymentsTable, table=True):
    """Money received from a channel. Its reference is unique per channel."""

    __tablename__ = "receipt"

    channel: str = Field(primary_key=True, max_length=40)
    receipt_ref: str = Field(primary_key=True, max_length=100)
    amount_pence: int = Field(sa_type=BigInteger)
    received_on: date
    payer_reference: str = Field(default="", max_length=100)
    directed_debt_id: str | None = Field(default=None, max_length=100)
    """The debt the payer directed it to, kept so a receipt that waits in suspense
    is placed by the same rule when its account's bill comes."""
    account_ref: str | None = Field(default=None, index=True, max_length=64)
    status: str = Field(default="allocated", max_length=20, index=True)  # allocated | suspended | reversed
    suspense_reason: str | None = None
    recorded_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))


class AllocationLine(PaymentsTable, table=True):
    """One part of a receipt placed on a debt (or, with no debt, held as account credit).
    A reversal adds negative lines; lines are never edited."""

    __tablename__ = "allocation_line"

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=40)
    receipt_ref: str = Field(index=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    debt_id: str | None = Field(default=None, index=True, max_length=100)
    amount_pence: int = Field(sa_type=BigInteger)
    rule: str = Field(max_length=20)
    on: date
    recorded_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))


class HbAward(PaymentsTable, table=True):
    """A Housing Benefit award an overpayment is being recovered from, week by week
    (``benefits.hb-awards.v1``). One live award per overpayment account."""

    __tablename__ = "hb_award"

    claim_ref: str = Field(primary_key=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    weekly_award_pence: int = Field(sa_type=BigInteger)
    fraud: bool
    earnings_disregard: str = Field(max_length=20)
    next_week_on: date = Field(index=True)
    """The first day of the next benefit week a deduction is due for."""
    ended_on: date | None = None
    live: bool = Field(index=True)
    started: bool
    """Whether hb-deductions.started has been published (at the first deduction)."""
    deducted_pence: int = Field(default=0, sa_type=BigInteger)
    updated_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))


class HbHold(PaymentsTable, table=True):
    """A hold on recovering one HB overpayment (a Breathing Space, a dispute or appeal,
    ...), as enforcement applied it: no deduction from ongoing HB pays that overpayment
    while any hold on it lasts."""

    __tablename__ = "hb_hold"

    debt_id: str = Field(primary_key=True, max_length=100)
    hold: str = Field(primary_key=True, max_length=40)
    since: date


DEBTS = cast(Table, Debt.__table__)  # type: ignore[attr-defined]
INSTALMENTS = cast(Table, DebtInstalment.__table__)  # type: ignore[attr-defined]
RECEIPTS = cast(Table, Receipt.__table__)  # type: ignore[attr-defined]
ALLOCATION_LINES = cast(Table, AllocationLine.__table__)  # type: ignore[attr-defined]
HB_AWARDS = cast(Table, HbAward.__table__)  # type: ignore[attr-defined]
HB_HOLDS = cast(Table, HbHold.__table__)  # type: ignore[attr-defined]


@dataclass(slots=True)
class DebtRecord:
    """A ``debt`` row. ``paid_pence``, ``costs_pence`` and ``written_off_pence`` are
    written back as increments (see ``store.SqlDebts``)."""

    debt_id: str
    account_ref: str
    debt_type: str
    financial_year: str | None
    party_id: str
    bill_issued_on: date
    charged_pence: int
    costs_pence: int
    paid_pence: int
    written_off_pence: int
    created_at: datetime
    updated_at: datetime

    @property
    def balance_pence(self) -> int:
        return self.charged_pence + self.costs_pence - self.paid_pence - self.written_off_pence


@dataclass(slots=True)
class InstalmentRecord:
    """A ``debt_instalment`` row."""

    debt_id: str
    due_date: date
    amount_pence: int


@dataclass(slots=True)
class ReceiptRecord:
    """A ``receipt`` row; ``status`` holds a ``domain.ReceiptStatus`` value."""

    channel: str
    receipt_ref: str
    amount_pence: int
    received_on: date
    payer_reference: str
    directed_debt_id: str | None
    account_ref: str | None
    status: str
    suspense_reason: str | None
    recorded_at: datetime


@dataclass(slots=True)
class AllocationLineRecord:
    """An ``allocation_line`` row as appended (its id comes from the database)."""

    channel: str
    receipt_ref: str
    account_ref: str
    debt_id: str | None
    amount_pence: int
    rule: str
    on: date
    recorded_at: datetime


@dataclass(slots=True)
class HbAwardRecord:
    """An ``hb_award`` row."""

    claim_ref: str
    account_ref: str
    weekly_award_pence: int
    fraud: bool
    earnings_disregard: str
    next_week_on: date
    ended_on: date | None
    live: bool
    started: bool
    deducted_pence: int
    updated_at: datetime


@dataclass(slots=True)
class HbHoldRecord:
    """An ``hb_hold`` row."""

    debt_id: str
    hold: str
    since: date
