"""Arrangements' tables, on this service's own metadata."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Boolean, Column, Computed, DateTime, Index, false, text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from recovery_shared.clock import utc_now
from recovery_shared.messaging.tables import add_kernel_tables


class ArrangementsTable(SQLModel, registry=registry()):
    """Base for this service's tables: its own metadata, not SQLModel's global one."""


metadata = ArrangementsTable.metadata
kernel = add_kernel_tables(metadata)

ARRANGEMENT_FILLFACTOR = 80


class Debt(ArrangementsTable, table=True):
    """Arrangements' own copy of a charge: what a schedule is built from."""

    __tablename__ = "debt"

    debt_id: str = Field(primary_key=True, max_length=100)
    account_ref: str = Field(index=True, max_length=64)
    party_id: str = Field(index=True, max_length=100)
    debt_type: str = Field(max_length=10)
    financial_year: str | None = Field(default=None, max_length=7)
    amount_pence: int = Field(sa_type=BigInteger)
    bill_issued_on: date
    twelve_instalments_requested: bool = False
    arrangement_id: str | None = Field(default=None, max_length=120, description="The arrangement paying it now")
    created_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))


class Arrangement(ArrangementsTable, table=True):
    """An instalment plan: the statutory schedule of one bill, or a negotiated plan across debts."""

    __tablename__ = "arrangement"
    # Arrangements are updated in place all the time (miss counts, status), never on an
    # indexed column: room left on each page lets PostgreSQL update a row where it lies
    # (a HOT update) instead of adding it to every index again. See the migration.
    __table_args__ = ({"postgresql_with": {"fillfactor": ARRANGEMENT_FILLFACTOR}},)

    arrangement_id: str = Field(primary_key=True, max_length=120)
    account_ref: str = Field(index=True, max_length=64)
    kind: str = Field(max_length=20)  # statutory | negotiated
    debt_ids: list[str] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="live", max_length=20, description="domain.PlanStatus")
    misses_this_year: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    financial_year: str | None = Field(default=None, max_length=7)
    balance_due_on: date | None = Field(default=None, description="Set when the right to instalments is lost")
    created_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utc_now, sa_type=DateTime(timezone=True))


AWAITING = "NOT missed_reported AND paid_pence < amount_pence"
"""An instalment the daily sweep still watches: something unpaid and no miss reported yet."""


class Instalment(ArrangementsTable, table=True):
    """One instalment of an arrangement. ``missed_reported`` means instalment.missed has been
    published for it (or, on a collapsed balance, that enforcement chases it instead)."""

    __tablename__ = "instalment"
    __table_args__ = (
        # The daily sweep, "unpaid, not yet reported, due before D", is one range scan of this
        # partial index: a row leaves it as soon as it is paid or reported, so it only holds
        # the instalments still awaited. The predicate is written the way each dialect renders
        # ``Instalment.awaiting`` in a query, so both see the index applies.
        Index(
            "ix_instalment_awaiting_due",
            "due_date",
            postgresql_where=text("awaiting"),
            sqlite_where=text("awaiting = 1"),
        ),
    )

    arrangement_id: str = Field(primary_key=True, max_length=120)
    seq: int = Field(primary_key=True)
    debt_id: str | None = Field(default=None, max_length=100)
    due_date: date
    amount_pence: int = Field(sa_type=BigInteger)
    paid_pence: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    missed_reported: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Kept by the database, never written: one boolean column (rather than the expression) is
    # what PostgreSQL's multivariate statistics on (due_date, awaiting) can count, so the
    # planner knows how many rows a day's sweep will find (see the migration).
    awaiting: bool | None = Field(
        default=None, sa_column=Column(Boolean, Computed(AWAITING, persisted=True), nullable=True)
    )


class EarlyPayment(ArrangementsTable, table=True):
    """Money allocated (or reversed) on a debt before its charge reached this service: the
    topics are consumed independently, so payments can be ahead of billing here. Laid on the
    schedule as soon as it is built."""

    __tablename__ = "early_payment"

    id: int | None = Field(default=None, primary_key=True)
    debt_id: str = Field(index=True, max_length=100)
    amount_pence: int = Field(sa_type=BigInteger)
    paid_on: date
