"""Kernel tables every service has in its own database: inbox, outbox, business clock,
dead letters and officer commands.

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
    Text,
)

# SQLite only auto-increments an INTEGER PRIMARY KEY.
OutboxId = BigInteger().with_variant(Integer(), "sqlite")


@dataclass(frozen=True)
class KernelTables:
    inbox: Table
    outbox: Table
    business_clock: Table
    dead_letters: Table
    officer_commands: Table


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
    dead_letters = Table(
        "dead_letter",
        metadata,
        # The original bytes stay here, in the service's own database behind its access
        # control; the dead-letter topic carries only a reference to this row, so no
        # name or address travels there in plain text.
        Column("id", OutboxId, primary_key=True, autoincrement=True),
        Column("direction", String(10), nullable=False),  # inbound | outbound
        Column("topic", String(200), nullable=False),
        Column("source_partition", Integer, nullable=True),
        Column("source_offset", BigInteger, nullable=True),
        Column("message_key", String(200), nullable=True),
        Column("message_id", String(200), nullable=True),
        Column("event_type", String(100), nullable=True),
        Column("payload", LargeBinary, nullable=False),
        Column("headers", JSON, nullable=False),
        Column("reason", Text, nullable=False),
        Column("consumer", String(120), nullable=False),
        Column("failed_at", DateTime(timezone=True), nullable=False, index=True),
        Column("status", String(20), nullable=False, index=True),  # dead | redriven
        Column("redriven_at", DateTime(timezone=True), nullable=True),
        Column("redriven_by", String(200), nullable=True),
        Column("redrive_reason", Text, nullable=True),
        Column("redrive_outcome", Text, nullable=True),
    )
    officer_commands = Table(
        "officer_command",
        metadata,
        # One row per command id: a repeated or concurrent copy finds it and answers as
        # the first did, so ten copies have one effect.
        Column("command_id", String(100), primary_key=True),
        Column("command", String(100), nullable=False),
        Column("fingerprint", String(64), nullable=False),
        Column("officer", String(200), nullable=False),
        Column("outcome", JSON, nullable=False),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    return KernelTables(
        inbox=inbox,
        outbox=outbox,
        business_clock=business_clock,
        dead_letters=dead_letters,
        officer_commands=officer_commands,
    )
