"""Enforcement's tables, on this service's own metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from recovery_shared.clock import utc_now
from recovery_shared.messaging.tables import add_kernel_tables


class EnforcementTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, not SQLModel's global one."""


metadata = EnforcementTable.metadata
kernel = add_kernel_tables(metadata)


class RecoveryCase(EnforcementTable, table=True):
    """One debt's position on its recovery ladder."""

    __tablename__ = "recovery_case"

    case_id: str = Field(primary_key=True, max_length=100)
    debt_id: str = Field(unique=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    party_id: str = Field(index=True, max_length=100)
    debt_type: str = Field(max_length=10)
    financial_year: str | None = Field(default=None, max_length=7)
    amount_pence: int = Field(sa_type=BigInteger)
    bill_issued_on: date
    stage: str = Field(default="billed", max_length=40)
    opened_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
