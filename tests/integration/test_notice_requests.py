"""notices.requests.v1 through the kernel's consumer: each request is rendered,
filed and announced once. Runs on a throwaway SQLite file and folder; the
PostgreSQL race between two instances is in tests/e2e/test_notices_scaling.py."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from structlog.testing import capture_logs

from recovery_notices.app import build_runtime
from recovery_notices.handlers import Notices
from recovery_notices.models import NoticeDocument
from recovery_notices.settings import NoticesSettings
from recovery_notices.storage import document_id_for
from recovery_shared import topics
from recovery_shared.contracts.internal import NoticeRequested, NoticeType
from recovery_shared.messaging.consumer import InboxConsumer
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import record
from tests.unit.test_notice_rendering import request
from tests.unit.test_notice_templates import council_folder


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
    settings = NoticesSettings(
        database_url=f"sqlite:///{tmp_path / 'notices.sqlite'}", documents_dir=tmp_path / "documents"
    )
    runtime = build_runtime(settings)
    runtime.migrate()
    yield runtime
    await runtime.db.dispose()


def consumer(runtime: ServiceRuntime) -> InboxConsumer:
    return runtime.consumer


def notices(runtime: ServiceRuntime) -> Notices:
    service = runtime.use_cases
    assert isinstance(service, Notices)
    return service


def requested(notice_type: NoticeType = NoticeType.REMINDER, account: str = "1001", **kw: Any) -> NoticeRequested:
    data = request(notice_type, account_ref=account, request_id=f"CASE-{account}:{notice_type.value}:2026-05-02", **kw)
    return NoticeRequested(key=account, data=data)


def copy_with_new_event_id(event: NoticeRequested) -> NoticeRequested:
    return event.model_copy(update={"event_id": uuid.uuid4()})


async def outbox(runtime: ServiceRuntime) -> list[tuple[str, dict[str, Any], dict[str, str]]]:
    box = runtime.kernel.outbox
    async with runtime.db.session() as session:
        rows = (await session.execute(select(box).order_by(box.c.id))).all()
    return [(r.topic, json.loads(r.payload), r.headers) for r in rows]


async def document(runtime: ServiceRuntime, request_id: str) -> NoticeDocument | None:
    async with runtime.db.session() as session:
        return await session.get(NoticeDocument, request_id)


def pdfs(runtime: ServiceRuntime) -> list[Path]:
    root: Path = runtime.settings.resolved_documents_dir()  # type: ignore[attr-defined]
    return sorted(root.rglob("*.pdf"))


async def test_a_request_is_rendered_filed_recorded_and_announced(runtime: ServiceRuntime) -> None:
    event = requested(NoticeType.SUMMONS)
    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, event)])

    [(topic, issued, headers)] = await outbox(runtime)
    assert topic == topics.NOTICE_EVENTS and headers["type"] == "notice.issued"
    data = issued["data"]
    document_id = document_id_for(event.data.request_id)
    path = runtime.settings.resolved_documents_dir() / "2026" / "05" / f"{document_id}.pdf"  # type: ignore[attr-defined]
    pdf = path.read_bytes()
    assert pdf.startswith(b"%PDF")
    assert data == {
        "request_id": event.data.request_id,
        "document_id": document_id,
        "notice_type": "summons",
        "account_ref": "1001",
        "case_id": "CASE-1001",
        "debt_ids": ["CT-1001-2026"],
        "checksum_sha256": hashlib.sha256(pdf).hexdigest(),
        "location": path.as_uri(),
        # Issued Saturday 2 May; second-class post, two business days, Monday 4 May a bank holiday.
        "served_on": "2026-05-06",
        "size_bytes": len(pdf),
        "template_version": "1.0",
    }
    assert issued["key"] == "1001" and issued["causation_id"] == str(event.event_id)
    row = await document(runtime, event.data.request_id)
    assert row is not None and row.status == "issued" and row.served_on == date(2026, 5, 6)
    assert (row.document_id, row.checksum_sha256, row.size_bytes) == (document_id, data["checksum_sha256"], len(pdf))
    assert pdfs(runtime) == [path]
    assert not list(path.parent.glob(".*.tmp"))  # no temporary file left behind


async def test_a_second_copy_of_a_request_never_makes_a_second_notice(runtime: ServiceRuntime) -> None:
    event = requested()
    again_new_id = copy_with_new_event_id(event)
    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, event)])
    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, again_new_id)])
    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, event)])  # a redelivery
    # ... and copies inside one batch.
    other = requested(account="1002")
    await consumer(runtime).handle(
        [record(topics.NOTICE_REQUESTS, other), record(topics.NOTICE_REQUESTS, copy_with_new_event_id(other))]
    )

    issued = [d["data"]["request_id"] for t, d, _ in await outbox(runtime) if d["type"] == "notice.issued"]
    assert sorted(issued) == [event.data.request_id, other.data.request_id]
    assert len(pdfs(runtime)) == 2
    assert notices(runtime).stats.rendered == 2 and notices(runtime).stats.already_handled == 2
    assert consumer(runtime).counts[topics.NOTICE_REQUESTS].duplicates == 1


async def test_a_request_its_notice_cannot_be_made_from_is_announced_as_failed(runtime: ServiceRuntime) -> None:
    event = requested(NoticeType.SUMMONS, dates={})  # a summons without a hearing date
    good = requested(account="1002")
    with capture_logs() as logs:
        await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, event), record(topics.NOTICE_REQUESTS, good)])

    rows = await outbox(runtime)
    assert [(t, d["type"]) for t, d, _ in rows] == [
        (topics.NOTICE_EVENTS, "notice.failed"),
        (topics.NOTICE_EVENTS, "notice.issued"),
    ]
    failed = rows[0][1]["data"]
    assert failed["request_id"] == event.data.request_id and failed["notice_type"] == "summons"
    assert "a summons needs dates['hearing_date']" in failed["reason"]
    row = await document(runtime, event.data.request_id)
    assert row is not None and row.status == "failed" and "hearing_date" in (row.failure_reason or "")
    assert consumer(runtime).counts[topics.NOTICE_REQUESTS].dead_lettered == 0  # announced, not dead-lettered
    assert len(pdfs(runtime)) == 1
    assert any(e["event"] == "notice not issued" for e in logs)
    # A copy of the failed request changes nothing.
    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, copy_with_new_event_id(event))])
    assert len(await outbox(runtime)) == 2


async def test_a_rerender_after_a_crash_overwrites_the_same_file(runtime: ServiceRuntime) -> None:
    event = requested()
    document_id = document_id_for(event.data.request_id)
    path = runtime.settings.resolved_documents_dir() / "2026" / "05" / f"{document_id}.pdf"  # type: ignore[attr-defined]
    path.parent.mkdir(parents=True)
    path.write_bytes(b"%PDF-1.4 half a notice from a crashed attempt")

    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, event)])
    [(_, issued, _)] = await outbox(runtime)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == issued["data"]["checksum_sha256"]
    assert pdfs(runtime) == [path]


async def test_logs_carry_references_but_no_personal_data(runtime: ServiceRuntime) -> None:
    event = requested(recipient_name="Alex Example", recipient_address=["1 High Street", "EX1 1AA"])
    with capture_logs() as logs:
        await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, event)])
    [issued] = [e for e in logs if e["event"] == "notice issued"]
    assert issued["request_id"] == event.data.request_id and issued["render_ms"] > 0
    flat = json.dumps(logs, default=str)
    for personal in ("Alex Example", "High Street", "EX1 1AA"):
        assert personal not in flat


async def test_a_request_the_first_release_only_recorded_is_rendered_when_it_comes_again(
    runtime: ServiceRuntime,
) -> None:
    event = requested()
    async with runtime.db.session() as session:
        await session.execute(
            insert(NoticeDocument.__table__).values(  # type: ignore[attr-defined]
                request_id=event.data.request_id,
                notice_type="reminder",
                account_ref="1001",
                case_id="CASE-1001",
                issued_on=date(2026, 5, 2),
                status="requested",
                requested_at=event.occurred_at,
            )
        )
        await session.commit()
    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, event)])
    assert [d["type"] for _, d, _ in await outbox(runtime)] == ["notice.issued"]
    row = await document(runtime, event.data.request_id)
    assert row is not None and row.status == "issued"


@pytest.mark.parametrize("notice_type", list(NoticeType))
async def test_every_notice_type_goes_through(runtime: ServiceRuntime, notice_type: NoticeType) -> None:
    await consumer(runtime).handle([record(topics.NOTICE_REQUESTS, requested(notice_type))])
    [(_, issued, _)] = await outbox(runtime)
    assert issued["type"] == "notice.issued" and issued["data"]["notice_type"] == notice_type.value


async def test_a_councils_own_template_folder_words_the_notice_and_its_version_is_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTICES_TEMPLATES_DIR", str(council_folder(tmp_path)))
    settings = NoticesSettings(
        database_url=f"sqlite:///{tmp_path / 'council.sqlite'}", documents_dir=tmp_path / "documents"
    )
    runtime = build_runtime(settings)
    runtime.migrate()
    try:
        await consumer(runtime).handle(
            [record(topics.NOTICE_REQUESTS, requested()), record(topics.NOTICE_REQUESTS, requested(account="1002"))]
        )
        versions = [d["data"]["template_version"] for _, d, _ in await outbox(runtime)]
    finally:
        await runtime.db.dispose()
    assert versions == ["westshire-2026.2", "westshire-2026.2"]
