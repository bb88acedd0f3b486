"""The officer's HTTP commands on payments, in-process against the service's ASGI
app on SQLite and PostgreSQL: a command that works, a mistaken one refused with a
4xx and a sentence saying what to do, and a repeated one having one effect."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from recovery_payments.app import create_app
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import charge_raised, payment_received, record


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    app = create_app(PaymentsSettings(database_url=database_url))
    runtime: ServiceRuntime = app.context.get("runtime")
    runtime.migrate()
    await runtime.handle_records(
        [
            record(topics.BILLING_CHARGES, charge_raised("5004", amount_pence=2000)),
            record(topics.PAYMENT_RECEIPTS, payment_received("BT-7", 3000, reference="typo-5O04")),
            record(topics.PAYMENT_RECEIPTS, payment_received("CARD-8", 1500, reference="5004")),
        ]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments") as client:
        yield client, runtime
    await runtime.db.dispose()


async def _outbox_types(runtime: ServiceRuntime) -> list[str]:
    async with runtime.db.session() as session:
        box = runtime.kernel.outbox
        rows = (await session.execute(select(box.c.headers).order_by(box.c.id))).all()
    return [row.headers["type"] for row in rows]


async def _ledger(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/ledger")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def test_the_ledger_reports_every_penny_placed_once(service: tuple[httpx.AsyncClient, ServiceRuntime]) -> None:
    client, _ = service
    ledger = await _ledger(client)
    assert ledger["receipts"] == {
        "allocated": {"count": 1, "pence": 1500},
        "suspended": {"count": 1, "pence": 3000},
    }
    assert (ledger["received_pence"], ledger["allocated_to_debts_pence"], ledger["suspended_pence"]) == (
        4500,
        1500,
        3000,
    )
    assert ledger["balanced"] is True


async def test_an_officer_allocates_suspense_once_however_often_the_command_is_sent(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = service
    command = {"receipt_ref": "BT-7", "account_ref": "5004", "on": "2026-05-10", "officer": "officer-1"}
    first = await client.post("/officer/suspense/allocate", json=command)
    assert (first.status_code, first.json()) == (200, {"done": True, "changed": True})
    again = await client.post("/officer/suspense/allocate", json=command)
    assert (again.status_code, again.json()) == (200, {"done": True, "changed": False})

    assert (await _outbox_types(runtime)).count("payment.allocated") == 2  # CARD-8 on intake, BT-7 by the officer
    ledger = await _ledger(client)
    # 500p of BT-7 clears the debt; the rest is held as the account's credit.
    assert (ledger["suspended_pence"], ledger["allocated_to_debts_pence"], ledger["held_as_credit_pence"]) == (
        0,
        2000,
        2500,
    )
    assert ledger["balanced"] is True


@pytest.mark.parametrize(
    ("route", "body", "status", "sentence"),
    [
        (
            "/officer/suspense/allocate",
            {"receipt_ref": "BT-7", "account_ref": "9999", "on": "2026-05-10"},
            409,
            "account '9999' has no debts on the ledger; check the account reference",
        ),
        (
            "/officer/suspense/allocate",
            {"receipt_ref": "CARD-8", "account_ref": "5005", "on": "2026-05-10"},
            409,
            "receipt CARD-8 is not in suspense (it is allocated); nothing to allocate",
        ),
        (
            "/officer/suspense/allocate",
            {"receipt_ref": "NOPE", "account_ref": "5004", "on": "2026-05-10"},
            409,
            "there is no receipt 'NOPE'; check the reference on the suspense list",
        ),
        (
            "/officer/receipts/reverse",
            {"receipt_ref": "NOPE", "reason": "typo", "on": "2026-05-10"},
            409,
            "there is no receipt 'NOPE' to reverse; check the reference on the receipt",
        ),
        (
            "/officer/receipts/reverse",
            {"receipt_ref": "CARD-8", "on": "2026-05-10"},
            422,
            "missing reason: give receipt_ref, reason, on",
        ),
        (
            "/officer/suspense/allocate",
            {"receipt_ref": "BT-7", "account_ref": "5004", "on": "10/05/2026"},
            422,
            "give the business date as 'on': 'YYYY-MM-DD'",
        ),
    ],
    ids=["unknown-account", "not-in-suspense", "unknown-receipt", "reverse-unknown", "no-reason", "bad-date"],
)
async def test_a_mistaken_command_is_refused_with_what_to_do_and_changes_nothing(
    service: tuple[httpx.AsyncClient, ServiceRuntime], route: str, body: dict[str, str], status: int, sentence: str
) -> None:
    client, runtime = service
    before = (await _ledger(client), await _outbox_types(runtime))
    response = await client.post(route, json=body)
    assert (response.status_code, response.json()) == (status, {"refused": sentence})
    assert (await _ledger(client), await _outbox_types(runtime)) == before


async def test_a_body_that_is_not_json_is_refused(service: tuple[httpx.AsyncClient, ServiceRuntime]) -> None:
    client, _ = service
    response = await client.post("/officer/receipts/reverse", content=b"receipt_ref=CARD-8")
    assert (response.status_code, response.json()) == (422, {"refused": "the request body must be JSON"})


async def test_an_officer_reverses_a_receipt_once_however_often_the_command_is_sent(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = service
    command = {"receipt_ref": "CARD-8", "reason": "card payment charged back", "on": "2026-05-12", "officer": "o-1"}
    first = await client.post("/officer/receipts/reverse", json=command)
    assert (first.status_code, first.json()) == (200, {"done": True, "changed": True})
    again = await client.post("/officer/receipts/reverse", json=command)
    assert (again.status_code, again.json()) == (200, {"done": True, "changed": False})

    types = await _outbox_types(runtime)
    assert types.count("payment.reversed") == 1
    ledger = await _ledger(client)
    assert (ledger["reversed_pence"], ledger["allocated_to_debts_pence"], ledger["balanced"]) == (1500, 0, True)
