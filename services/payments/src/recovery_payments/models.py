"""The payments ledger's tables, on this service's own metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, DateTime
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
