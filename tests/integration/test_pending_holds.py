"""Holds for people enforcement holds no case of yet (issue 9), on SQLite and PostgreSQL:
kept as pending and listed for officers and ops (``GET /officer/holds/pending``, a party
id and never a name), applied from their effective date as soon as a case opens for the
person, and ended by their ending event.

Breathing Space, SI 2020/1311: the moratorium covers the debts owed when it started and
stops all enforcement while it lasts [S47][S47e]."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import create_engine, pool, select

import recovery_enforcement
from recovery_enforcement.app import create_app
from recovery_enforcement.models import Hold, RecoveryCase
from recovery_enforcement.settings import EnforcementSettings
from recovery_shared import topics
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    CircumstanceData,
    DayStarted,
    DayStartedData,
    VulnerabilityCleared,
    VulnerabilityFlagged,
)
from recovery_shared.messaging.db import sync_url
from recovery_shared.messaging.migrations import alembic_config
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import charge_raised, instalment_missed, record, statutory_schedule

Service = tuple[httpx.AsyncClient, ServiceRuntime]


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    app = create_app(EnforcementSettings(database_url=database_url))
    runtime: ServiceRuntime = app.context.get("runtime")
    runtime.migrate()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enforcement") as client:
        yield client, runtime
    await runtime.db.dispose()


def _circumstance(kind: type[Envelope], party: str, account: str, on: date, reference: str) -> Envelope:
    data = CircumstanceData(party_id=party, account_ref=account, effective_on=on, reference=reference)
    if kind is BreathingSpaceStarted:
        return BreathingSpaceStarted(key=account, data=BreathingSpaceStartedData(**data.model_dump()))
    return kind(key=account, data=data)


async def _send(runtime: ServiceRuntime, topic: str, *events: Envelope) -> None:
    await runtime.handle_records([record(topic, e) for e in events])


async def _days(runtime: ServiceRuntime, first: date, last: date) -> None:
    day = first
    while day <= last:
        await _send(runtime, topics.CLOCK_DAYS, DayStarted(data=DayStartedData(business_date=day)))
        day += timedelta(days=1)


async def _pending(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/officer/holds/pending")
    assert response.status_code == 200
    assert "Test Person" not in response.text  # a person is their party id here, never a name
    body: dict[str, Any] = response.json()
    return body


async def _published(runtime: ServiceRuntime, event_type: str) -> list[dict[str, Any]]:
    outbox = runtime.kernel.outbox
    async with runtime.db.session() as session:
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
    return [json.loads(r.payload)["data"] for r in rows if r.headers.get("type") == event_type]


async def _case(runtime: ServiceRuntime, debt_id: str) -> RecoveryCase:
    async with runtime.db.session() as session:
        case = await session.get(RecoveryCase, debt_id)
    assert case is not None
    return case


def _schedule_and_may_missed(account: str, debt: str) -> list[Envelope]:
    schedule = statutory_schedule(account, debt_id=debt)
    missed = instalment_missed(account, debt_id=debt, detected_on=date(2026, 5, 12))
    return [schedule, missed]


async def test_a_breathing_space_for_someone_unknown_is_listed_then_holds_their_case_then_ends(
    service: Service,
) -> None:
    client, runtime = service
    person, account, debt = "P-9501", "9501", "CT-9501-2026"
    await _days(runtime, date(2026, 5, 1), date(2026, 5, 4))
    started = _circumstance(BreathingSpaceStarted, person, account, date(2026, 5, 4), "BS-0001")
    await _send(runtime, topics.DEBTOR_CIRCUMSTANCES, started)
    assert await _pending(client) == {
        "count": 1,
        "pending_holds": [
            {
                "party_id": person,
                "account_ref": account,
                "kind": "breathing_space",
                "effective_on": "2026-05-04",
                "reference": "BS-0001",
            }
        ],
    }
    assert await _published(runtime, "hold.applied") == []

    # Their bill (issued 10 March, owed when the breathing space started) reaches us on 11 May.
    await _days(runtime, date(2026, 5, 5), date(2026, 5, 11))
    await _send(runtime, topics.BILLING_CHARGES, charge_raised(account, party_id=person))
    [applied] = await _published(runtime, "hold.applied")
    assert (applied["debt_ids"], applied["hold"], applied["on"]) == ([debt], "breathing_space", "2026-05-04")
    case = await _case(runtime, debt)
    assert case.held and case.held_since == date(2026, 5, 4)
    assert await _pending(client) == {"count": 0, "pending_holds": []}
    async with runtime.db.session() as session:
        holds = (await session.execute(select(Hold.__table__))).all()  # type: ignore[attr-defined]
    assert [(h.kind, h.case_ids, h.pending, h.ended_on) for h in holds] == [("breathing_space", [debt], False, None)]

    # While it lasts the debt does not progress: the missed instalment waits, days pass.
    await _send(runtime, topics.ARRANGEMENT_EVENTS, *_schedule_and_may_missed(account, debt))
    await _days(runtime, date(2026, 5, 12), date(2026, 7, 2))
    assert await _published(runtime, "notice.requested") == []
    assert await _published(runtime, "stage.changed") == []

    ended = _circumstance(BreathingSpaceEnded, person, account, date(2026, 7, 3), "BS-0001")
    await _send(runtime, topics.DEBTOR_CIRCUMSTANCES, ended)
    [released] = await _published(runtime, "hold.released")
    assert (released["debt_ids"], released["on"]) == ([debt], "2026-07-03")
    assert not (await _case(runtime, debt)).held
    # The miss it held back is answered on the day it ended.
    [reminder] = await _published(runtime, "notice.requested")
    assert (reminder["notice_type"], reminder["issued_on"]) == ("reminder", "2026-07-03")


async def test_a_pending_hold_ended_before_any_case_opens_is_no_longer_listed_and_holds_nothing(
    service: Service,
) -> None:
    client, runtime = service
    person, account = "P-9601", "9601"
    await _send(
        runtime,
        topics.DEBTOR_CIRCUMSTANCES,
        _circumstance(BreathingSpaceStarted, person, account, date(2026, 5, 4), "BS-0002"),
    )
    assert (await _pending(client))["count"] == 1
    await _send(
        runtime,
        topics.DEBTOR_CIRCUMSTANCES,
        _circumstance(BreathingSpaceEnded, person, account, date(2026, 7, 3), "BS-0002"),
    )
    assert await _pending(client) == {"count": 0, "pending_holds": []}
    await _send(runtime, topics.BILLING_CHARGES, charge_raised(account, party_id=person))
    assert not (await _case(runtime, f"CT-{account}-2026")).held
    assert await _published(runtime, "hold.applied") == []


async def test_a_vulnerability_flag_for_someone_unknown_is_listed_and_reaches_their_case_until_cleared(
    service: Service,
) -> None:
    client, runtime = service
    person, account, debt = "P-9701", "9701", "CT-9701-2026"
    flagged = _circumstance(VulnerabilityFlagged, person, account, date(2026, 5, 4), "V-1")
    await _send(runtime, topics.DEBTOR_CIRCUMSTANCES, flagged)
    [listed] = (await _pending(client))["pending_holds"]
    assert (listed["party_id"], listed["kind"], listed["effective_on"]) == (person, "vulnerability", "2026-05-04")

    await _send(runtime, topics.BILLING_CHARGES, charge_raised(account, party_id=person))
    case = await _case(runtime, debt)
    assert case.vulnerable and not case.held
    assert (await _pending(client))["count"] == 0

    cleared = _circumstance(VulnerabilityCleared, person, account, date(2026, 6, 1), "V-1")
    await _send(runtime, topics.DEBTOR_CIRCUMSTANCES, cleared)
    assert not (await _case(runtime, debt)).vulnerable
    async with runtime.db.session() as session:
        holds = (await session.execute(select(Hold.__table__))).all()  # type: ignore[attr-defined]
    assert [(h.kind, h.ended_on) for h in holds] == [("vulnerability", date(2026, 6, 1))]


BEFORE_PENDING_HOLDS = "3058202e9e30"
"""The enforcement revision before holds could be pending (9f558967bd38)."""


async def test_holds_kept_before_pending_existed_are_listed_as_pending_once_upgraded(database_url: str) -> None:
    """A hold stored for someone we hold no case of before the pending column existed
    (no case ids, not ended) must be listed once the database is upgraded, as one kept
    today would be; one that reached a case, or ended, must not."""
    migrations = alembic_config(Path(recovery_enforcement.__file__).parent / "migrations", database_url)
    command.upgrade(migrations, BEFORE_PENDING_HOLDS)
    hold = sa.table(
        "hold",
        sa.column("party_id", sa.String),
        sa.column("account_ref", sa.String),
        sa.column("kind", sa.String),
        sa.column("reference", sa.String),
        sa.column("started_on", sa.Date),
        sa.column("ended_on", sa.Date),
        sa.column("case_ids", sa.JSON),
    )
    kept = {"account_ref": "9801", "reference": "", "started_on": date(2026, 5, 4), "ended_on": None, "case_ids": []}
    engine = create_engine(sync_url(database_url), poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(
                hold.insert(),
                [
                    {**kept, "party_id": "P-9801", "kind": "breathing_space", "reference": "BS-9801"},
                    {**kept, "party_id": "P-9802", "kind": "vulnerability"},
                    {**kept, "party_id": "P-9803", "kind": "breathing_space", "case_ids": ["CT-9803-2026"]},
                    {**kept, "party_id": "P-9804", "kind": "breathing_space", "ended_on": date(2026, 6, 1)},
                ],
            )
    finally:
        engine.dispose()

    app = create_app(EnforcementSettings(database_url=database_url))
    runtime: ServiceRuntime = app.context.get("runtime")
    runtime.migrate()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enforcement") as client:
        listed = await _pending(client)
    await runtime.db.dispose()
    assert [(h["party_id"], h["kind"], h["reference"]) for h in listed["pending_holds"]] == [
        ("P-9801", "breathing_space", "BS-9801"),
        ("P-9802", "vulnerability", ""),
    ]
    assert listed["count"] == 2
