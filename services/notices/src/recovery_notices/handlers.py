"""Notices' use case: a requested notice is composed, rendered, filed and
announced once, however often the request arrives and however many instances
of the service share the work."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass

import structlog

from recovery_notices import domain
from recovery_notices.render import STANDARD, Typeface, render_pdf
from recovery_notices.settings import configured_templates
from recovery_notices.storage import DocumentFiling, document_id_for
from recovery_notices.store import Documents
from recovery_shared import topics
from recovery_shared.contracts.internal import (
    NoticeFailed,
    NoticeFailedData,
    NoticeIssued,
    NoticeRequested,
)
from recovery_shared.council import CouncilConfig
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.unit_of_work import UnitOfWork

log = structlog.get_logger("recovery.notices")


@dataclass
class RenderStats:
    """This instance's rendering work (renders repeated after a rollback count again)."""

    rendered: int = 0
    failed: int = 0
    already_handled: int = 0
    render_seconds: float = 0.0
    slowest_render_seconds: float = 0.0

    def report(self) -> dict[str, float | int]:
        mean = self.render_seconds / self.rendered if self.rendered else 0.0
        return {
            "rendered": self.rendered,
            "failed": self.failed,
            "already_handled": self.already_handled,
            "mean_render_ms": round(mean * 1000, 2),
            "slowest_render_ms": round(self.slowest_render_seconds * 1000, 2),
        }


class Notices:
    def __init__(self, filing: DocumentFiling, council: CouncilConfig | None = None, face: Typeface = STANDARD) -> None:
        self.filing = filing
        self.council = council
        self.face = face
        self.stats = RenderStats()

    async def accept_request(self, uow: UnitOfWork, event: NoticeRequested) -> None:
        data = event.data
        documents = Documents(uow)
        document_id = document_id_for(data.request_id)
        claimed = await documents.claim(
            request_id=data.request_id,
            notice_type=data.notice_type.value,
            account_ref=data.account_ref,
            case_id=data.case_id,
            issued_on=data.issued_on,
            document_id=document_id,
        )
        if not claimed:
            # A second copy of a request (even under a new event id), or another
            # instance got there first: never a second notice.
            self.stats.already_handled += 1
            log.info("notice request already handled", request_id=data.request_id)
            return
        try:
            content = domain.compose_notice(data, self.council, configured_templates())
        except Refused as exc:
            reason = str(exc)
            await documents.record_failed(data.request_id, reason)
            uow.publish(
                topics.NOTICE_EVENTS,
                NoticeFailed(
                    key=data.account_ref,
                    data=NoticeFailedData(
                        request_id=data.request_id,
                        notice_type=data.notice_type,
                        account_ref=data.account_ref,
                        case_id=data.case_id,
                        reason=reason,
                    ),
                ),
            )
            self.stats.failed += 1
            log.warning(
                "notice not issued", request_id=data.request_id, notice_type=data.notice_type.value, reason=reason
            )
            return

        started = time.perf_counter()
        pdf = await asyncio.to_thread(render_pdf, content, document_id, self.face)
        elapsed = time.perf_counter() - started
        path = await asyncio.to_thread(self.filing.store, document_id, data.issued_on, pdf)
        checksum = hashlib.sha256(pdf).hexdigest()
        location = path.as_uri()
        await documents.record_issued(
            data.request_id,
            location=location,
            checksum_sha256=checksum,
            size_bytes=len(pdf),
            served_on=content.served_on,
        )
        uow.publish(
            topics.NOTICE_EVENTS,
            NoticeIssued(
                key=data.account_ref,
                data=domain.notice_issued_data(
                    data, content, document_id=document_id, checksum_sha256=checksum, location=location, size=len(pdf)
                ),
            ),
        )
        self.stats.rendered += 1
        self.stats.render_seconds += elapsed
        self.stats.slowest_render_seconds = max(self.stats.slowest_render_seconds, elapsed)
        log.info(
            "notice issued",
            request_id=data.request_id,
            notice_type=data.notice_type.value,
            document_id=document_id,
            size_bytes=len(pdf),
            render_ms=round(elapsed * 1000, 2),
        )
