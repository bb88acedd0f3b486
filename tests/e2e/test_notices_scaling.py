"""Notice generation scales out: several notices instances in one consumer group
share notices.requests.v1 (6 partitions, keyed by account) and one PostgreSQL
database, and every request still makes exactly one notice (design §1, §5)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from sqlalchemy import func, select

from benchmarks.common import wait_for_members
from recovery_notices.app import build_runtime
from recovery_notices.models import NoticeDocument
from recovery_notices.settings import NoticesSettings
from recovery_shared import topics
from recovery_shared.contracts.internal import NoticeRequested, NoticeType
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import record
from tests.processes import ServiceProcess, collect, envelope_of, publish, start_group_at_end
from tests.unit.test_notice_rendering import request

pytestmark = pytest.mark.e2e

REQUESTS = 60
COPIES_WITH_NEW_EVENT_IDS = 5
EXACT_REDELIVERIES = 3


def notice_request(run: str, i: int) -> NoticeRequested:
    notice_type = list(NoticeType)[i % len(NoticeType)]
    account = f"S{run}-{i:03d}"
    data = request(
        notice_type,
        account_ref=account,
        case_id=f"CASE-{account}",
        request_id=f"CASE-{account}:{notice_type.value}:2026-05-02",
        recipient_name=f"Scaling Person {run}{i}",
        recipient_address=[f"{i} Partition Road", "Exampleton"],
    )
    return NoticeRequested(key=account, data=data)


async def rendering(proc: ServiceProcess) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{proc.port}/rendering", timeout=5)
        report: dict[str, Any] = response.json()
        return report


async def test_two_instances_share_the_requests_and_each_notice_is_issued_once(
    kafka_bootstrap: str, postgres_url: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    group = f"recovery-notices-scale-{run}"
    documents = tmp_path / "documents"
    await start_group_at_end(kafka_bootstrap, group, topics.NOTICE_REQUESTS)
    env = {"NOTICES_DATABASE_URL": postgres_url, "NOTICES_DOCUMENTS_DIR": str(documents)}
    # Started together: they also race to migrate the one database.
    instances = [
        ServiceProcess("notices", tmp_path, kafka_bootstrap, group_id=group, extra_env=env).start() for _ in range(2)
    ]
    try:
        for proc in instances:
            await proc.wait_healthy()
        await wait_for_members(kafka_bootstrap, group, members=2)

        events = [notice_request(run, i) for i in range(REQUESTS)]
        copies = [e.model_copy(update={"event_id": uuid.uuid4()}) for e in events[:COPIES_WITH_NEW_EVENT_IDS]]
        redeliveries = events[-EXACT_REDELIVERIES:]
        started = time.time()
        await publish(kafka_bootstrap, topics.NOTICE_REQUESTS, *events, *copies, *redeliveries)

        wanted = {e.data.request_id for e in events}
        issued_records = await collect(
            kafka_bootstrap,
            topics.NOTICE_EVENTS,
            lambda r: (env_ := envelope_of(r)).get("type") == "notice.issued"
            and env_.get("data", {}).get("request_id") in wanted,
            expect=REQUESTS,
            timeout_s=120,
            settle_s=3.0,
        )
        # From publishing to the last notice.issued reaching the broker (the record's timestamp).
        elapsed = max(r.timestamp for r in issued_records) / 1000 - started
        issued = [envelope_of(r)["data"] for r in issued_records]

        # Exactly one notice per request, whoever rendered it.
        request_ids = [d["request_id"] for d in issued]
        assert len(issued) == REQUESTS, f"{len(issued)} notice.issued for {REQUESTS} requests"
        assert sorted(request_ids) == sorted(wanted)
        assert len({d["document_id"] for d in issued}) == REQUESTS

        # Each PDF is where the event says, with the checksum it announces; nothing else is filed.
        for data in issued:
            path = Path(urlparse(data["location"]).path)
            assert path.is_relative_to(documents) and path.parent == documents / "2026" / "05"
            pdf = path.read_bytes()
            assert hashlib.sha256(pdf).hexdigest() == data["checksum_sha256"] and len(pdf) == data["size_bytes"]
        assert len(list(documents.rglob("*.pdf"))) == REQUESTS
        assert not list(documents.rglob("*.tmp"))

        # Both instances did some of the work; between them every message was handled once.
        reports = [await proc.health() for proc in instances]
        consumed = [r["consumed"][topics.NOTICE_REQUESTS] for r in reports]
        work = [await rendering(proc) for proc in instances]
        assert sum(c["handled"] for c in consumed) == REQUESTS + COPIES_WITH_NEW_EVENT_IDS
        assert sum(c["duplicates"] for c in consumed) >= EXACT_REDELIVERIES
        assert all(c["dead_lettered"] == 0 for c in consumed)
        assert all(c["handled"] > 0 for c in consumed), f"one instance did nothing: {consumed}"
        assert all(w["rendered"] > 0 for w in work), f"one instance rendered nothing: {work}"
        assert sum(w["rendered"] for w in work) >= REQUESTS
        print(  # the measurement quoted in the scaling note (pytest -s shows it)
            f"\n{REQUESTS} notices in {elapsed:.2f}s by two instances: "
            + "; ".join(f"rendered {w['rendered']} (mean {w['mean_render_ms']} ms)" for w in work)
        )

        # The logs name requests, never the people they are for.
        for proc in instances:
            log = proc.log_path.read_text(errors="replace")
            assert "notice issued" in log
            assert "Scaling Person" not in log and "Partition Road" not in log
    finally:
        for proc in instances:
            proc.stop()


# --- the race itself, on PostgreSQL, without the broker -----------------------------


def _runtime(postgres_url: str, documents: Path) -> ServiceRuntime:
    return build_runtime(NoticesSettings(database_url=postgres_url, documents_dir=documents))


async def _issued(runtime: ServiceRuntime) -> list[dict[str, Any]]:
    box = runtime.kernel.outbox
    async with runtime.db.session() as session:
        rows = (await session.execute(select(box.c.payload).order_by(box.c.id))).scalars().all()
    return [e for e in map(json.loads, rows) if e["type"] == "notice.issued"]


async def test_an_instance_racing_for_a_request_waits_for_the_winner_and_then_does_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    """Instance A has claimed and rendered a request but not committed when instance
    B (after a rebalance) gets the same request, once under A's event id and once
    as a copy: B waits on the row's primary key, then changes nothing."""
    a, b = _runtime(postgres_url, tmp_path / "documents"), _runtime(postgres_url, tmp_path / "documents")
    a.migrate()
    event = notice_request("race", 1)
    copy = event.model_copy(update={"event_id": uuid.uuid4()})
    consumer_b = b.consumer
    try:
        async with a.unit() as uow:
            uow.cause = event
            await a.use_cases.issue_notice(uow, event)  # type: ignore[attr-defined]
            uow.mark_handled(str(event.event_id), topics.NOTICE_REQUESTS)
            racing = asyncio.create_task(
                consumer_b.handle([record(topics.NOTICE_REQUESTS, copy), record(topics.NOTICE_REQUESTS, event)])
            )
            await asyncio.sleep(1.0)
            assert not racing.done(), "B should wait for A's uncommitted row"
            await uow.commit()
        await asyncio.wait_for(racing, 30)

        assert [e["data"]["request_id"] for e in await _issued(a)] == [event.data.request_id]
        counts = consumer_b.counts[topics.NOTICE_REQUESTS]
        assert (counts.handled, counts.duplicates, counts.dead_lettered) == (1, 1, 0)
        assert b.use_cases.stats.rendered == 0  # type: ignore[attr-defined]
        async with a.db.session() as session:
            rows = (await session.execute(select(func.count()).select_from(NoticeDocument))).scalar_one()  # type: ignore[arg-type]
        assert rows == 1
    finally:
        await a.db.dispose()
        await b.db.dispose()


async def test_when_the_winner_rolls_back_the_waiting_instance_renders(postgres_url: str, tmp_path: Path) -> None:
    a, b = _runtime(postgres_url, tmp_path / "documents"), _runtime(postgres_url, tmp_path / "documents")
    a.migrate()
    event = notice_request("rollback", 1)
    consumer_b = b.consumer
    try:
        async with a.unit() as uow:
            await a.use_cases.issue_notice(uow, event)  # type: ignore[attr-defined]
            racing = asyncio.create_task(consumer_b.handle([record(topics.NOTICE_REQUESTS, event)]))
            await asyncio.sleep(0.5)
            assert not racing.done()
            await uow.rollback()  # A crashed before its commit
        await asyncio.wait_for(racing, 30)
        [issued] = await _issued(b)
        path = Path(urlparse(issued["data"]["location"]).path)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == issued["data"]["checksum_sha256"]
        assert len(list((tmp_path / "documents").rglob("*.pdf"))) == 1  # A's render was overwritten in place
    finally:
        await a.db.dispose()
        await b.db.dispose()
