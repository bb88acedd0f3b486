"""Arrangements' tables, on this service's own metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from recovery_shared.clock import utc_now
from recovery_shared.messaging.tables import add_kernel_tables


class ArrangementsTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, not SQLModel's global one."""


metadata = ArrangementsTable.metadata
kernel = add_kernel_tables(metadata)


class Debt(ArrangementsTable, table=True):
    """Arrangements' own copy of a charge: what a schedule is built from."""

    __tablename__ = "debt"

    debt_id: str = Field(primary_key=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    party_id: str = Field(index=True, max_length=100)
    debt_type: str = Field(max_length=10)
    financial_year: str | None = Field(default=None, max_length=7)
    amount_pence: int = Field(sa_type=BigInteger)
    bill_issued_on: date
    twelve_instalments_requested: bool = False
    created_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
