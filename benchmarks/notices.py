"""Notices: reminders rendered through the notices service (1 instance, then 2 in one
consumer group), against calling the bare PDF renderer on the same template in a loop."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from benchmarks.common import (
    Bench,
    Counter,
    encoded,
    new_group_at_end,
    peak_rss_mb,
    producer,
    send_while_counting,
    wait_for_members,
)
from recovery_notices.domain import compose_notice
from recovery_notices.render import render_pdf
from recovery_notices.storage import document_id_for
from recovery_shared import topics
from recovery_shared.contracts.internal import NoticeRequested, NoticeRequestedData, NoticeType
from recovery_shared.council import load_council_config

ISSUED = date(2026, 5, 2)


def reminder(prefix: str, i: int) -> NoticeRequestedData:
    """What enforcement asks for on a first missed instalment (recovery_enforcement.domain)."""
    account = f"{prefix}{i:06d}"
    return NoticeRequestedData(
        request_id=f"CT-{account}-2026:reminder:{ISSUED.isoformat()}",
        notice_type=NoticeType.REMINDER,
        account_ref=account,
        case_id=f"CT-{account}-2026",
        debt_ids=[f"CT-{account}-2026"],
        council_name="Example District Council",
        recipient_name=f"Benchmark Resident {i}",
        recipient_address=[f"{i} High Street", "Exampleton", "EX1 1AA"],
        amounts={"amount_to_pay": 30_000, "balance": 135_000},
        dates={
            "missed_instalment_due": date(2026, 5, 1),
            "pay_by": date(2026, 5, 8),
            "balance_due_if_unpaid": date(2026, 5, 16),
        },
        issued_on=ISSUED,
        template_data={"debt_type": "CT", "financial_year": "2026/27"},
    )


def bare_renderer(n: int) -> dict[str, Any]:
    council = load_council_config(None)
    requests = [reminder("BARE-", i) for i in range(n)]
    started = time.perf_counter()
    for data in requests:
        render_pdf(compose_notice(data, council), document_id_for(data.request_id))
    seconds = time.perf_counter() - started
    return {
        "case": "notices: bare renderer",
        "database": "-",
        "n": n,
        "seconds": round(seconds, 3),
        "rate_per_s": round(n / seconds, 1),
    }


async def run(bench: Bench, kind: str, n: int, instances: int) -> dict[str, Any]:
    prefix = f"{bench.run}{kind[0].upper()}N{instances}-"
    group = await new_group_at_end(bench, "notices", [topics.NOTICE_REQUESTS])
    url = bench.database_url(kind, f"notices{instances}")
    documents = bench.workdir / kind / f"documents-{instances}"
    procs = []
    try:
        for _ in range(instances):
            # One after the other: the first migrates, the others find the schema at head.
            proc = bench.service("notices", kind, group, url, NOTICES_DOCUMENTS_DIR=str(documents)).start()
            procs.append(proc)
            await proc.wait_healthy(timeout_s=120)
        await wait_for_members(bench.bootstrap, group, instances)
        messages = encoded([NoticeRequested(key=f"{prefix}{i:06d}", data=reminder(prefix, i)) for i in range(n)])
        counter = Counter(bench.bootstrap, topics.NOTICE_EVENTS, "notice.issued", prefix)
        await counter.start()
        p = producer(bench.bootstrap)
        await p.start()
        try:
            started, _, finished = await send_while_counting(
                p, topics.NOTICE_REQUESTS, messages, counter, n, timeout_s=3600
            )
        finally:
            await p.stop()
            await counter.stop()
        rss = max(peak_rss_mb(proc.proc.pid) for proc in procs if proc.proc is not None)
    finally:
        for proc in procs:
            proc.stop()
    seconds = finished - started
    return {
        "case": f"notices: {instances} instance{'s' if instances > 1 else ''}",
        "database": kind,
        "n": n,
        "instances": instances,
        "seconds": round(seconds, 3),
        "rate_per_s": round(n / seconds, 1),
        "service": "notices",
        "peak_rss_mb": round(rss, 1),
    }
