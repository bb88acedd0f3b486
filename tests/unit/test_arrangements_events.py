"""The mapper (recovery_arrangements.events): every event it builds is the contract's own,
and the bytes the outbox stores read back through ``recovery_shared.contracts.parse``."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from recovery_arrangements import domain, events
from recovery_arrangements.store import ArrangementRecord, DuePlan
from recovery_shared import topics
from recovery_shared.contracts import parse
from recovery_shared.contracts.internal import InstalmentMissed

CASES = [
    # account, arrangement, debt ids, financial year, occurred at
    ("7001", "ST-CT-7001-2026", ["CT-7001-2026"], "2026/27", datetime(2026, 5, 2, 6, 0, 1, 123456, tzinfo=UTC)),
    ('A "quoted" \\ ref', "NEG-1/é", ["CT-1", "NNDR-2"], None, datetime(2026, 5, 2, tzinfo=UTC)),
    ("Ünïcödé ✓", "ST-\u2028-x", [], "2027/28", datetime(2027, 1, 2, 23, 59, 59, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(("account", "arrangement", "debts", "year", "occurred"), CASES)
def test_a_missed_instalment_reads_back_as_the_contracts_own_event(
    account: str, arrangement: str, debts: list[str], year: str | None, occurred: datetime
) -> None:
    correlation, cause = uuid.uuid4(), uuid.uuid4()
    mapper = events.MissedEvents(
        detected_on=date(2026, 5, 2), occurred_at=occurred, correlation_id=correlation, causation_id=cause
    )
    plan = DuePlan(arrangement, account, debts, year, 2, [], 10000)
    miss = domain.Miss(seq=2, due_date=date(2026, 5, 1), unpaid_pence=10000, misses_this_year=3, overdue_pence=25000)
    event = mapper.missed(plan, miss)

    read = parse(topics.ARRANGEMENT_EVENTS, event.to_bytes())
    assert isinstance(read, InstalmentMissed)
    assert read == event
    assert (read.correlation_id, read.causation_id, read.occurred_at, read.key) == (
        correlation,
        cause,
        occurred,
        account,
    )
    assert read.data.model_dump() == {
        "arrangement_id": arrangement,
        "account_ref": account,
        "debt_ids": debts,
        "financial_year": year,
        "due_date": date(2026, 5, 1),
        "amount_pence": 10000,
        "overdue_pence": 25000,
        "misses_this_year": 3,
        "detected_on": date(2026, 5, 2),
    }
    assert mapper.missed(plan, miss).event_id != event.event_id


def test_every_miss_of_a_sweep_has_its_own_event_id() -> None:
    mapper = events.MissedEvents(
        detected_on=date(2026, 5, 2),
        occurred_at=datetime(2026, 5, 2, tzinfo=UTC),
        correlation_id=uuid.uuid4(),
        causation_id=uuid.uuid4(),
    )
    plan = DuePlan("ST-1", "1", ["CT-1"], "2026/27", 0, [], 0)
    misses = domain.count_misses([domain.MissedInstalment(n, date(2026, n, 1), 100, 0) for n in range(4, 10)], 0, 0)
    assert len(misses) == 6
    ids = {mapper.missed(plan, m).event_id for m in misses * 300}  # past one pool of ids
    assert len(ids) == 1800 and all(i.version == 4 for i in ids)


def _arrangement() -> ArrangementRecord:
    now = datetime(2026, 3, 10, tzinfo=UTC)
    return ArrangementRecord("ST-CT-1", "1", "statutory", ["CT-1"], "live", 0, "2026/27", None, now, now)


def test_the_schedule_goes_out_whole_in_due_order() -> None:
    later, earlier = domain.Instalment(2, date(2026, 5, 1), 700), domain.Instalment(1, date(2026, 4, 1), 800)
    made = events.arrangement_made(_arrangement(), [later, earlier])
    read = parse(topics.ARRANGEMENT_EVENTS, made.to_bytes())
    assert read == made
    assert [(i.due_date, i.amount_pence) for i in made.data.instalments] == [
        (date(2026, 4, 1), 800),
        (date(2026, 5, 1), 700),
    ]


def test_a_default_says_what_fell_due_when_and_why() -> None:
    balance = domain.Instalment(3, date(2026, 5, 16), 130000, 0, True)
    collapsed = domain.Collapsed((balance,), balance)
    defaulted = events.arrangement_defaulted(_arrangement(), collapsed, date(2026, 5, 16), "reminder not complied with")
    assert defaulted.data.reason == "balance of 130000p fell due on 2026-05-16: reminder not complied with"
    assert parse(topics.ARRANGEMENT_EVENTS, defaulted.to_bytes()) == defaulted


FORBIDDEN = ("recovery_shared.messaging", "sqlalchemy", "sqlmodel", "aiokafka", "faststream")


def test_the_domain_imports_no_kernel_driver_or_framework() -> None:
    """Rules stay plain: the domain module imports neither the messaging kernel nor a driver."""
    source = Path(domain.__file__).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    assert not {m for m in imported if m.startswith(FORBIDDEN)}, imported
