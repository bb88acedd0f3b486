"""What notices says, built from what it decided: the mapper from a rendered (or
refused) notice to ``notice.issued`` / ``notice.failed``."""

from __future__ import annotations

from recovery_notices.domain import NoticeContent
from recovery_shared.contracts.internal import (
    NoticeFailed,
    NoticeFailedData,
    NoticeIssued,
    NoticeIssuedData,
    NoticeRequestedData,
)


def notice_issued(
    request: NoticeRequestedData,
    content: NoticeContent,
    *,
    document_id: str,
    checksum_sha256: str,
    location: str,
    size: int,
) -> NoticeIssued:
    """What ``notice.issued`` says of a rendered notice: its served date (the
    council's service rule, not the issue date) and the template version it was
    worded with."""
    data = NoticeIssuedData(
        request_id=request.request_id,
        document_id=document_id,
        notice_type=request.notice_type,
        account_ref=request.account_ref,
        case_id=request.case_id,
        debt_ids=list(request.debt_ids),
        checksum_sha256=checksum_sha256,
        location=location,
        served_on=content.served_on,
        size_bytes=size,
        template_version=content.template_version,
    )
    return NoticeIssued(key=request.account_ref, data=data)


def notice_failed(request: NoticeRequestedData, reason: str) -> NoticeFailed:
    """A request the notice cannot be served without, and why (for the case's history)."""
    return NoticeFailed(
        key=request.account_ref,
        data=NoticeFailedData(
            request_id=request.request_id,
            notice_type=request.notice_type,
            account_ref=request.account_ref,
            case_id=request.case_id,
            reason=reason,
        ),
    )
