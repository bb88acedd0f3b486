"""Notices' tables, on this service's own metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from recovery_shared.clock import utc_now
from recovery_shared.messaging.tables import add_kernel_tables


class NoticesTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, not SQLModel's global one."""


metadata = NoticesTable.metadata
kernel = add_kernel_tables(metadata)


class NoticeDocument(NoticesTable, table=True):
    """One requested notice and, once rendered, where its PDF is."""

    __tablename__ = "notice_document"

    request_id: str = Field(primary_key=True, max_length=200)
    notice_type: str = Field(max_length=40)
    account_ref: str = Field(index=True, max_length=64)
    case_id: str = Field(default="", max_length=100)
    issued_on: date
    status: str = Field(default="requested", max_length=20)
    document_id: str | None = Field(default=None, max_length=64)
    location: str | None = None
    checksum_sha256: str | None = Field(default=None, max_length=64)
    served_on: date | None = None
    requested_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
