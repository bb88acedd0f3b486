"""Notices' storage: the unit of work and the one repository, of requested documents."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.base import Executable
from sqlmodel import col

from recovery_notices.models import LEGACY_REQUESTED, DocumentStatus, NoticeDocument
from recovery_shared.clock import utc_now
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork, UnitOfWork


class DocumentsRepository(Protocol):
    async def claim(
        self, *, request_id: str, notice_type: str, account_ref: str, case_id: str, issued_on: date, document_id: str
    ) -> bool: ...

    async def record_issued(
        self, request_id: str, *, location: str, checksum_sha256: str, size_bytes: int, served_on: date
    ) -> None: ...

    async def record_failed(self, request_id: str, reason: str) -> None: ...


class NoticesUnit(UnitOfWork):
    """What notices' use cases work with: the requested documents."""

    documents: DocumentsRepository


class SqlNoticesUnit(SqlUnitOfWork, NoticesUnit):
    def open_repositories(self) -> None:
        self.documents = Documents(self)


class Documents:
    """Rendering is claimed per request with one statement, not loaded and
    batched: a notice is rendered once by whichever instance claims it first,
    and the claim must be visible to the others at once."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self.uow = uow

    @property
    def session(self) -> AsyncSession:
        return self.uow.session

    async def claim(
        self, *, request_id: str, notice_type: str, account_ref: str, case_id: str, issued_on: date, document_id: str
    ) -> bool:
        """Take a request for this transaction: True if no one had it.

        ``INSERT ... ON CONFLICT`` on the primary key, changing nothing when the
        row is there: on PostgreSQL an instance racing for the same request waits
        here until the winner's transaction ends, then gets False (or True, if the
        winner rolled back).
        """
        values = {
            "request_id": request_id,
            "notice_type": notice_type,
            "account_ref": account_ref,
            "case_id": case_id,
            "issued_on": issued_on,
            "status": DocumentStatus.RENDERING,
            "document_id": document_id,
            "requested_at": utc_now(),
        }
        table = NoticeDocument.__table__  # type: ignore[attr-defined]
        # A row left as 'requested' by the first release (which recorded requests
        # without rendering them) is taken over, so a request sent again is rendered.
        take_over = {"set_": {"status": DocumentStatus.RENDERING}, "where": table.c.status == LEGACY_REQUESTED}
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            statement: Executable = (
                postgresql.insert(table)
                .values(values)
                .on_conflict_do_update(index_elements=["request_id"], **take_over)
                .returning(table.c.request_id)
            )
        elif dialect == "sqlite":
            statement = (
                sqlite.insert(table)
                .values(values)
                .on_conflict_do_update(index_elements=["request_id"], **take_over)
                .returning(table.c.request_id)
            )
        else:
            raise NotImplementedError(f"notices runs on PostgreSQL or SQLite, not {dialect}")
        result = await self.session.execute(statement)
        return result.first() is not None

    async def record_issued(
        self, request_id: str, *, location: str, checksum_sha256: str, size_bytes: int, served_on: date
    ) -> None:
        await self.session.execute(
            update(NoticeDocument)
            .where(col(NoticeDocument.request_id) == request_id)
            .values(
                status=DocumentStatus.ISSUED,
                location=location,
                checksum_sha256=checksum_sha256,
                size_bytes=size_bytes,
                served_on=served_on,
                completed_at=utc_now(),
            )
        )

    async def record_failed(self, request_id: str, reason: str) -> None:
        await self.session.execute(
            update(NoticeDocument)
            .where(col(NoticeDocument.request_id) == request_id)
            .values(status=DocumentStatus.FAILED, failure_reason=reason, completed_at=utc_now())
        )
