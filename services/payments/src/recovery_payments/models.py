"""The payments ledger's tables, on this service's own metadata."""

from __future__ import annotations

from datetime import date, datetime

from recovery_shared.clock import utc_now
from recovery_shared.messaging.tables import add_kernel_tables
from sqlalchemy import BigInteger, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class PaymentsTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, not SQLModel's global one."""


metadata = PaymentsTable.metadata
kernel = add_kernel_tables(metadata)


class Debt(PaymentsTable, table=True):
    """A charge raised by billing: what is owed, and what has been paid against it."""

    __tablename__ = "debt"

    debt_id: str = Field(primary_key=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    debt_type: str = Field(max_length=10)
    financial_year: str | None = Field(default=None, max_length=7)
    party_id: str = Field(index=True, max_length=100)
    bill_issued_on: date
    charged_pence: int = Field(default=0, sa_type=BigInteger)
    paid_pence: int = Field(default=0, sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))

    @property
    def balance_pence(self) -> int:
        return self.charged_pence - self.paid_pence
