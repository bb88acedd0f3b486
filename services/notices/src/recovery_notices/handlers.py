"""Notices' use case: a requested notice is composed, rendered, filed and
announced once, however often the request arrives and however many instances
of the service share the work."""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass

import structlog

from recovery_notices import domain, events
from recovery_notices.render import STANDARD, Typeface, render_pdf
from recovery_notices.storage import DocumentFiling, document_id_for
from recovery_notices.store import NoticesUnit
from recovery_notices.templating import NoticeTemplates, load_templates
from recovery_shared.contracts.internal import NoticeRequested, NoticeRequestedData
from recovery_shared.council import CouncilConfig
from recovery_shared.refusal import Refused

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
    """The notices use cases, bound to where documents are filed, the council's
    configuration, the typeface and the templates that word each notice."""

    def __init__(
        self,
        filing: DocumentFiling,
        council: CouncilConfig | None = None,
        face: Typeface = STANDARD,
        templates: NoticeTemplates | None = None,
    ) -> None:
        self.filing = filing
        self.council = council
        self.face = face
        self.templates = templates if templates is not None else load_templates()
        self.stats = RenderStats()

    async def issue_notice(self, uow: NoticesUnit, event: NoticeRequested) -> None:
        """Render the requested notice from its template, file the PDF and announce it
        (notice.issued, with checksum, location, served date and template version) once,
        however often the request arrives; a request the notice cannot be served
        without is answered with notice.failed and the reason."""
        data = event.data
        document_id = document_id_for(data.request_id)
        claimed = await uow.documents.claim(
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
            content = domain.compose_notice(data, self.council, self.templates)
        except Refused as exc:
            await self._refuse(uow, data, str(exc))
            return
        await self._render_and_file(uow, data, content, document_id)

    async def _refuse(self, uow: NoticesUnit, data: NoticeRequestedData, reason: str) -> None:
        await uow.documents.record_failed(data.request_id, reason)
        uow.publish(events.notice_failed(data, reason))
        self.stats.failed += 1
        log.warning("notice not issued", request_id=data.request_id, notice_type=data.notice_type.value, reason=reason)

    async def _render_and_file(
        self, uow: NoticesUnit, data: NoticeRequestedData, content: domain.NoticeContent, document_id: str
    ) -> None:
        started = time.perf_counter()
        pdf = await asyncio.to_thread(render_pdf, content, document_id, self.face)
        elapsed = time.perf_counter() - started
        path = await asyncio.to_thread(self.filing.store, document_id, data.issued_on, pdf)
        checksum = hashlib.sha256(pdf).hexdigest()
        location = path.as_uri()
        await uow.documents.record_issued(
            data.request_id,
            location=location,
            checksum_sha256=checksum,
            size_bytes=len(pdf),
            served_on=content.served_on,
        )
        uow.publish(
            events.notice_issued(
                data, content, document_id=document_id, checksum_sha256=checksum, location=location, size=len(pdf)
            )
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
