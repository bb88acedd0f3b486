"""All of notices' queries."""

from __future__ import annotations

from recovery_notices.models import NoticeDocument
from recovery_shared.messaging.unit_of_work import UnitOfWork


class Documents:
    def __init__(self, uow: UnitOfWork) -> None:
        self.uow = uow
        self.session = uow.session

    async def get(self, request_id: str) -> NoticeDocument | None:
        return await self.session.get(NoticeDocument, request_id)

    def add(self, document: NoticeDocument) -> None:
        self.session.add(document)
