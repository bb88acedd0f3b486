"""The daily sweep: live instalment schedules in arrangements, one day.started, timed
until every instalment.missed for that day is on arrangements.events.v1, against the
bare SQL query that selects the same rows from the same database.

The schedules are written straight into arrangements' tables (after its migrations),
as a council's schedules would already be there; only the sweep is timed."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.common import Bench, Counter, new_group_at_end, peak_rss_mb, producer, wait_for_members
from recovery_arrangements.app import MIGRATIONS
from recovery_shared import topics
from recovery_shared.contracts.inbound import DayStarted, DayStartedData
from recovery_shared.messaging.migrations import upgrade_to_head
from tests.processes import process_map

DUE_DATES = [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(4, 14)]
INSTALMENT_PENCE = 15_000
# The day after May's instalment: April's were all paid, one schedule in MISS_EVERY missed May's.
SWEEP_DAY = date(2026, 5, 2)
MISS_EVERY = 10


def bare_query(dialect: str) -> str:
    """The rows the sweep reports, unpaid at the end of their due day, not yet reported,
    on a live arrangement, selected in the form both databases serve fastest: a range
    scan of the awaited-instalments index (recovery_arrangements.store). A plain JOIN
    makes SQLite walk every arrangement instead, which would flatter the sweep."""
    awaiting = "awaiting" if dialect == "postgresql" else "awaiting = 1"
    return (
        "SELECT arrangement_id, seq, debt_id, due_date, amount_pence, paid_pence FROM instalment"
        f" WHERE {awaiting} AND due_date < :day AND EXISTS (SELECT 1 FROM arrangement a"
        " WHERE a.arrangement_id = instalment.arrangement_id AND a.status = 'live')"
    )


def _rows(prefix: str, schedules: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    now = datetime.now(UTC).isoformat()
    debts, arrangements, instalments = [], [], []
    for i in range(schedules):
        account = f"{prefix}{i:07d}"
        debt = f"CT-{account}-2026"
        arrangement = f"ARR-{debt}"
        debts.append(
            (
                debt,
                account,
                f"P-{account}",
                "CT",
                "2026/27",
                INSTALMENT_PENCE * 10,
                "2026-03-10",
                False,
                arrangement,
                now,
            )
        )
        arrangements.append((arrangement, account, "statutory", json.dumps([debt]), "live", 0, "2026/27", now, now))
        for seq, due in enumerate(DUE_DATES, start=1):
            paid = INSTALMENT_PENCE if seq == 1 or (seq == 2 and i % MISS_EVERY) else 0
            instalments.append((arrangement, seq, debt, due.isoformat(), INSTALMENT_PENCE, paid, False))
    return debts, arrangements, instalments


DEBT_COLUMNS = (
    "debt_id, account_ref, party_id, debt_type, financial_year, amount_pence, bill_issued_on,"
    " twelve_instalments_requested, arrangement_id, created_at"
)
ARRANGEMENT_COLUMNS = (
    "arrangement_id, account_ref, kind, debt_ids, status, misses_this_year, financial_year, created_at, updated_at"
)
INSTALMENT_COLUMNS = "arrangement_id, seq, debt_id, due_date, amount_pence, paid_pence, missed_reported"


def seed(url: str, prefix: str, schedules: int) -> None:
    upgrade_to_head(MIGRATIONS, url)
    debts, arrangements, instalments = _rows(prefix, schedules)
    clock = (1, "2026-05-01", datetime.now(UTC).isoformat())
    if url.startswith("sqlite"):
        lite = sqlite3.connect(make_url(url).database or "")
        with lite:
            for table, columns, rows in (
                ("debt", DEBT_COLUMNS, debts),
                ("arrangement", ARRANGEMENT_COLUMNS, arrangements),
                ("instalment", INSTALMENT_COLUMNS, instalments),
            ):
                marks = ",".join("?" * len(rows[0]))
                lite.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
            lite.execute("INSERT INTO business_clock (id, business_date, updated_at) VALUES (?,?,?)", clock)
        lite.execute("ANALYZE")
        lite.close()
        return
    import psycopg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(plain) as conn:
        with conn.cursor() as cur:
            for table, columns, rows in (
                ("debt", DEBT_COLUMNS, debts),
                ("arrangement", ARRANGEMENT_COLUMNS, arrangements),
                ("instalment", INSTALMENT_COLUMNS, instalments),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cur.execute("INSERT INTO business_clock (id, business_date, updated_at) VALUES (%s,%s,%s)", clock)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")


def time_bare_query(url: str, dialect: str, repeats: int = 3) -> tuple[float, int]:
    """Best of a few runs, fetching every row, from the same database."""
    engine = create_engine(url)
    best, count = float("inf"), 0
    try:
        with engine.connect() as conn:
            for _ in range(repeats):
                started = time.perf_counter()
                rows = conn.execute(text(bare_query(dialect)), {"day": SWEEP_DAY}).all()
                best = min(best, time.perf_counter() - started)
                count = len(rows)
    finally:
        engine.dispose()
    return best, count


async def run(bench: Bench, kind: str, schedules: int) -> dict[str, Any]:
    prefix = f"{bench.run}{kind[0].upper()}S-"
    url = bench.database_url(kind, "arrangements")
    seeding_started = time.monotonic()
    await asyncio.to_thread(seed, url, prefix, schedules)
    seeding = time.monotonic() - seeding_started
    dialect = "sqlite" if kind == "sqlite" else "postgresql"
    bare_seconds, expected = await asyncio.to_thread(time_bare_query, url, dialect)
    assert expected == len(range(0, schedules, MISS_EVERY)), f"seeded {expected} misses"

    group = await new_group_at_end(bench, "arrangements", process_map()["arrangements"])
    service = bench.service("arrangements", kind, group, url).start()
    try:
        await service.wait_healthy(timeout_s=300)
        await wait_for_members(bench.bootstrap, group, 1)
        counter = Counter(bench.bootstrap, topics.ARRANGEMENT_EVENTS, "instalment.missed", prefix)
        await counter.start()
        p = producer(bench.bootstrap)
        await p.start()
        try:
            day = DayStarted(data=DayStartedData(business_date=SWEEP_DAY))
            started = time.monotonic()
            await p.send_and_wait(topics.CLOCK_DAYS, day.to_bytes(), key=day.key.encode())
            finished = await counter.until(expected, timeout_s=1800)
        finally:
            await p.stop()
            await counter.stop()
        rss = peak_rss_mb(service.proc.pid) if service.proc else 0.0
    finally:
        service.stop()
    seconds = finished - started
    return {
        "case": "daily sweep",
        "database": kind,
        "n": expected,
        "schedules": schedules,
        "instalments": schedules * len(DUE_DATES),
        "seconds": round(seconds, 3),
        "rate_per_s": round(expected / seconds, 1),
        "bare_query_seconds": round(bare_seconds, 4),
        "seeding_seconds": round(seeding, 1),
        "service": "arrangements",
        "peak_rss_mb": round(rss, 1),
    }
