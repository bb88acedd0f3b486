"""The kernel's bulk update seam on both databases: one ``UPDATE ... FROM unnest``
on PostgreSQL, executemany on SQLite, the same rows changed and the same count."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from recovery_shared.messaging.bulk import insert_rows, update_rows
from recovery_shared.messaging.db import async_url

METADATA = MetaData()
ACCOUNTS = Table(
    "bulk_account",
    METADATA,
    Column("account_ref", String(20), primary_key=True),
    Column("status", String(20), nullable=False),
    Column("paid_pence", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

BEFORE = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
STAMP = datetime(2026, 4, 2, 10, 30, tzinfo=UTC)


async def test_rows_are_updated_in_one_pass_with_increments_shared_values_and_a_guard(database_url: str) -> None:
    engine = create_async_engine(async_url(database_url))
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    async with AsyncSession(engine) as session, session.begin():
        await insert_rows(
            session,
            ACCOUNTS,
            ("account_ref", "status", "paid_pence", "updated_at"),
            [(f"A{i}", "open" if i != 2 else "closed", 100 * i, BEFORE) for i in range(5)],
        )
    c = ACCOUNTS.c
    statement = (
        update(ACCOUNTS)
        .where(and_(c.account_ref == bindparam("k_account_ref"), c.status == bindparam("g_status")))
        .values(paid_pence=c.paid_pence + bindparam("d_paid_pence"), updated_at=bindparam("v_updated_at"))
    )
    # A2's status moved on ("closed"), so the guarded update matches four of five rows.
    rows = [
        {"k_account_ref": f"A{i}", "g_status": "open", "d_paid_pence": 7 + i, "v_updated_at": STAMP} for i in range(5)
    ]
    async with AsyncSession(engine) as session, session.begin():
        written = await update_rows(
            session,
            ACCOUNTS,
            statement,
            [("account_ref", "k_account_ref"), ("status", "g_status")],
            [("paid_pence", "d_paid_pence", True), ("updated_at", "v_updated_at", False)],
            rows,
        )
    assert written == 4
    async with engine.connect() as conn:
        found = {r.account_ref: (r.paid_pence, r.updated_at) for r in await conn.execute(select(ACCOUNTS))}
    await engine.dispose()
    for i in range(5):
        paid, at = found[f"A{i}"]
        if i == 2:
            assert (paid, at.replace(tzinfo=UTC)) == (200, BEFORE)
        else:
            assert paid == 100 * i + 7 + i
            assert at.replace(tzinfo=UTC) == STAMP
