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


class DocumentStatus:
    """What became of a request. A row is claimed as ``rendering`` and set to
    ``issued`` or ``failed`` in the same transaction, so others only ever see those two."""

    RENDERING = "rendering"
    ISSUED = "issued"
    FAILED = "failed"


# Rows written by the first release, which recorded requests but rendered nothing.
LEGACY_REQUESTED = "requested"


class NoticeDocument(NoticesTable, table=True):
    """One requested notice and, once rendered, where its PDF is.

    The primary key on ``request_id`` is what makes a request render once however
    many instances race for it: the first to insert the row wins, the others wait
    for its transaction and then find the row there.
    """

    __tablename__ = "notice_document"

    request_id: str = Field(primary_key=True, max_length=200)
    notice_type: str = Field(max_length=40)
    account_ref: str = Field(index=True, max_length=64)
    case_id: str = Field(default="", max_length=100)
    issued_on: date
    status: str = Field(default=DocumentStatus.RENDERING, max_length=20)
    document_id: str | None = Field(default=None, max_length=64, unique=True, index=True)
    location: str | None = None
    checksum_sha256: str | None = Field(default=None, max_length=64)
    size_bytes: int | None = None
    served_on: date | None = None
    failure_reason: str | None = None
    requested_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    completed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
