"""Notices' use cases."""

from __future__ import annotations

from recovery_notices.models import NoticeDocument
from recovery_notices.store import Documents
from recovery_shared.contracts.internal import NoticeRequested
from recovery_shared.messaging.unit_of_work import UnitOfWork


async def accept_request(uow: UnitOfWork, event: NoticeRequested) -> None:
    documents = Documents(uow)
    data = event.data
    if await documents.get(data.request_id) is not None:
        return  # a second copy of a request never makes a second notice
    documents.add(
        NoticeDocument(
            request_id=data.request_id,
            notice_type=data.notice_type.value,
            account_ref=data.account_ref,
            case_id=data.case_id,
            issued_on=data.issued_on,
        )
    )
