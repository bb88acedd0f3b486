"""Schema steps of the kernel's own tables, which every service's migrations run.

The kernel's tables live in each service's database, so each service has a revision
that adds them; the revisions call these functions so the schema is written once.
A function here is frozen once a revision calls it: a later change to a kernel table
is a new function, called by a new revision in every service.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def add_dead_letters_and_officer_commands() -> None:
    """Dead letters kept in the service's database (issue 9) and officer commands by id."""
    op.create_table(
        "dead_letter",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("source_partition", sa.Integer(), nullable=True),
        sa.Column("source_offset", sa.BigInteger(), nullable=True),
        sa.Column("message_key", sa.String(length=200), nullable=True),
        sa.Column("message_id", sa.String(length=200), nullable=True),
        sa.Column("event_type", sa.String(length=100), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("consumer", sa.String(length=120), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("redriven_by", sa.String(length=200), nullable=True),
        sa.Column("redrive_reason", sa.Text(), nullable=True),
        sa.Column("redrive_outcome", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dead_letter_failed_at"), ["failed_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_dead_letter_status"), ["status"], unique=False)

    op.create_table(
        "officer_command",
        sa.Column("command_id", sa.String(length=100), nullable=False),
        sa.Column("command", sa.String(length=100), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("officer", sa.String(length=200), nullable=False),
        sa.Column("outcome", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("command_id"),
    )


def drop_dead_letters_and_officer_commands() -> None:
    op.drop_table("officer_command")
    with op.batch_alter_table("dead_letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dead_letter_status"))
        batch_op.drop_index(batch_op.f("ix_dead_letter_failed_at"))

    op.drop_table("dead_letter")
