"""Kernel tables every service has in its own database: inbox, outbox, business clock.

Plain SQLAlchemy Core tables (not SQLModel classes) because each service adds
them to its *own* metadata, and because the hot paths insert them in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
OutboxId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class KernelTables:
    inbox: Table
    outbox: Table
    business_clock: Table


def add_kernel_tables(metadata: MetaData) -> KernelTables:
    inbox = Table(
        "inbox",
        metadata,
        # (consumer, message_id) so one service could read a topic twice under
        # different consumers without one hiding the other's work.
        Column("consumer", String(120), primary_key=True),
        Column("message_id", String(200), primary_key=True),
        Column("topic", String(200), nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False),
    )
    outbox = Table(
        "outbox",
        metadata,
        Column("id", OutboxId, primary_key=True, autoincrement=True),
        Column("topic", String(200), nullable=False),
        Column("message_key", String(200), nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
    )
    business_clock = Table(
        "business_clock",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("business_date", Date, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    return KernelTables(inbox=inbox, outbox=outbox, business_clock=business_clock)
