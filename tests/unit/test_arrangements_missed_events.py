"""The sweep's bulk encoding of instalment.missed says exactly what the contract's own
model says (recovery_arrangements.missed_events)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest

from recovery_arrangements.missed_events import MissedEventEncoder, PlanFields, new_event_ids
from recovery_shared import topics
from recovery_shared.contracts import parse
from recovery_shared.contracts.internal import InstalmentMissed, InstalmentMissedData

CASES = [
    # account, arrangement, debt ids, financial year, occurred at
    ("7001", "ST-CT-7001-2026", ["CT-7001-2026"], "2026/27", datetime(2026, 5, 2, 6, 0, 1, 123456, tzinfo=UTC)),
    ('A "quoted" \\ ref', "NEG-1/é", ["CT-1", "NNDR-2"], None, datetime(2026, 5, 2, tzinfo=UTC)),
    ("Ünïcödé ✓", "ST-\u2028-x", [], "2027/28", datetime(2027, 1, 2, 23, 59, 59, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize(("account", "arrangement", "debts", "year", "occurred"), CASES)
@pytest.mark.parametrize("chained", [True, False])
def test_an_encoded_miss_is_the_contracts_own_event(
    account: str, arrangement: str, debts: list[str], year: str | None, occurred: datetime, chained: bool
) -> None:
    cause = uuid.uuid4()
    correlation, causation = (str(uuid.uuid4()), str(cause)) if chained else (None, None)
    [event_id] = new_event_ids(1)
    encoder = MissedEventEncoder(
        detected_on=date(2026, 5, 2), occurred_at=occurred, correlation_id=correlation, causation_id=causation
    )
    expected = InstalmentMissed(
        event_id=uuid.UUID(event_id),
        occurred_at=occurred,
        correlation_id=uuid.UUID(correlation) if correlation else None,
        causation_id=uuid.UUID(causation) if causation else None,
        key=account,
        data=InstalmentMissedData(
            arrangement_id=arrangement,
            account_ref=account,
            debt_ids=debts,
            financial_year=year,
            due_date=date(2026, 5, 1),
            amount_pence=10000,
            overdue_pence=25000,
            misses_this_year=3,
            detected_on=date(2026, 5, 2),
        ),
    )

    # The debt ids come as the database stores them: SQLAlchemy's JSON, with spaces.
    plan = PlanFields(arrangement, account, json.dumps(debts), year)
    encoded = encoder.encode(event_id, plan, date(2026, 5, 1), 10000, 25000, 3)
    assert parse(topics.ARRANGEMENT_EVENTS, encoded) == expected
    # And with the ids written compactly, byte for byte what pydantic writes.
    compact = PlanFields(arrangement, account, json.dumps(debts, separators=(",", ":"), ensure_ascii=False), year)
    assert encoder.encode(event_id, compact, date(2026, 5, 1), 10000, 25000, 3) == expected.to_bytes()


def test_event_ids_are_distinct_random_uuids() -> None:
    ids = new_event_ids(5000)
    assert len(set(ids)) == 5000
    for text in ids:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    assert new_event_ids(0) == []
