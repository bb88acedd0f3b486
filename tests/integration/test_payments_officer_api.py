"""The officer's HTTP commands on payments, in-process against the service's ASGI
app on SQLite and PostgreSQL: a command that works, a mistaken one refused with a
4xx and a sentence saying what to do, a repeated one (by its command id) having
one effect and answering as the first did, and a command id reused for another
request refused. Concurrent copies are in ``test_officer_commands_race.py``."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from recovery_payments.app import create_app
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.contracts.common import MAX_RECEIPT_PENCE
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


async def _commands(runtime: ServiceRuntime) -> list[tuple[str, str]]:
    async with runtime.db.session() as session:
        table = runtime.kernel.officer_commands
        rows = (await session.execute(select(table.c.command_id, table.c.command).order_by(table.c.command_id))).all()
    return [(row.command_id, row.command) for row in rows]


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


async def test_receipts_too_large_to_be_real_are_dead_lettered_and_the_ledger_still_answers(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    """Two receipts of 5 x 10^18 pence once made the ledger's totals overflow and the
    endpoint fail; a receipt is now at most MAX_RECEIPT_PENCE (contracts/common.py), and
    the largest real ones add up without trouble."""
    client, runtime = service
    huge = [payment_received(f"BT-H{i}", 1, reference="5004").model_dump(mode="json") for i in range(2)]
    for event in huge:
        event["data"]["amount_pence"] = 5 * 10**18
    largest = [payment_received(f"BT-L{i}", MAX_RECEIPT_PENCE, reference="nobody") for i in range(3)]
    await runtime.handle_records(
        [record(topics.PAYMENT_RECEIPTS, json.dumps(e).encode(), key="5004") for e in huge]
        + [record(topics.PAYMENT_RECEIPTS, e) for e in largest]
    )
    assert runtime.consumer.counts[topics.PAYMENT_RECEIPTS].dead_lettered == 2
    ledger = await _ledger(client)
    assert ledger["suspended_pence"] == 3000 + 3 * MAX_RECEIPT_PENCE
    assert ledger["balanced"] is True


def command(**fields: str) -> dict[str, str]:
    """A request as an officer's client sends it: its own command id, who gives it."""
    return {"command_id": str(uuid.uuid4()), "officer": "officer-1", **fields}


async def test_an_officer_allocates_suspense_once_however_often_the_command_is_sent(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = service
    allocate = command(channel="card", receipt_ref="BT-7", account_ref="5004", on="2026-05-10")
    first = await client.post("/officer/suspense/allocate", json=allocate)
    assert (first.status_code, first.json()) == (200, {"done": True, "changed": True, "repeated": False})
    again = await client.post("/officer/suspense/allocate", json=allocate)
    assert (again.status_code, again.json()) == (200, {"done": True, "changed": True, "repeated": True})
    # The same correction under a new command id (a second officer, say) finds it done.
    other = await client.post("/officer/suspense/allocate", json={**allocate, "command_id": "another"})
    assert (other.status_code, other.json()) == (200, {"done": True, "changed": False, "repeated": False})

    assert (await _outbox_types(runtime)).count("payment.allocated") == 2  # CARD-8 on intake, BT-7 by the officer
    ledger = await _ledger(client)
    # 500p of BT-7 clears the debt; the rest is held as the account's credit.
    assert (ledger["suspended_pence"], ledger["allocated_to_debts_pence"], ledger["held_as_credit_pence"]) == (
        0,
        2000,
        2500,
    )
    assert ledger["balanced"] is True


async def test_each_command_is_recorded_with_its_id_who_gave_it_and_its_outcome(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = service
    reverse = command(channel="card", receipt_ref="CARD-8", reason="charged back", on="2026-05-12")
    await client.post("/officer/receipts/reverse", json=reverse)
    async with runtime.db.session() as session:
        (row,) = (await session.execute(select(runtime.kernel.officer_commands))).all()
    assert (row.command_id, row.command, row.officer, row.outcome) == (
        reverse["command_id"],
        "reverse-receipt",
        "officer-1",
        {"done": True, "changed": True},
    )
    canonical = json.dumps(reverse, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert row.fingerprint == hashlib.sha256(canonical.encode()).hexdigest()


CHANNELS = (
    "cash_office, card, bank_transfer, paypoint, allpay, direct_debit, housing_benefit, dwp_deduction, "
    "attachment_of_earnings, enforcement_agent, other_council, direct_earnings_attachment"
)


@pytest.mark.parametrize(
    ("route", "body", "status", "sentence"),
    [
        (
            "/officer/suspense/allocate",
            command(channel="card", receipt_ref="BT-7", account_ref="9999", on="2026-05-10"),
            409,
            "account '9999' has no debts on the ledger; check the account reference",
        ),
        (
            "/officer/suspense/allocate",
            command(channel="card", receipt_ref="CARD-8", account_ref="5005", on="2026-05-10"),
            409,
            "receipt CARD-8 is not in suspense (it is allocated); nothing to allocate",
        ),
        (
            "/officer/suspense/allocate",
            command(channel="card", receipt_ref="NOPE", account_ref="5004", on="2026-05-10"),
            409,
            "there is no card receipt 'NOPE'; check the channel and the reference on the suspense list",
        ),
        (
            "/officer/receipts/reverse",
            command(channel="card", receipt_ref="NOPE", reason="typo", on="2026-05-10"),
            409,
            "there is no card receipt 'NOPE' to reverse; check the channel and the reference on the receipt",
        ),
        (
            "/officer/receipts/reverse",
            command(channel="paypoint", receipt_ref="CARD-8", reason="typo", on="2026-05-10"),
            409,
            "there is no paypoint receipt 'CARD-8' to reverse; check the channel and the reference on the receipt",
        ),
        (
            "/officer/receipts/reverse",
            command(channel="card", receipt_ref="CARD-8", on="2026-05-10"),
            422,
            "missing reason: give command_id, officer, channel, receipt_ref, reason, on",
        ),
        (
            "/officer/receipts/reverse",
            {"receipt_ref": "CARD-8", "reason": "typo", "on": "2026-05-10"},
            422,
            "missing command_id, officer, channel: give command_id, officer, channel, receipt_ref, reason, on",
        ),
        (
            "/officer/receipts/reverse",
            command(channel="cheque", receipt_ref="CARD-8", reason="typo", on="2026-05-10"),
            422,
            f"channel 'cheque' is not a payment channel; give one of {CHANNELS}",
        ),
        (
            "/officer/suspense/allocate",
            command(channel="card", receipt_ref="BT-7", account_ref="5004", on="10/05/2026"),
            422,
            "give the business date as 'on': 'YYYY-MM-DD'",
        ),
        (
            "/officer/suspense/allocate",
            {
                **command(channel="card", receipt_ref="BT-7", account_ref="5004", on="2026-05-10"),
                "command_id": "x" * 101,
            },
            422,
            "command_id must be at most 100 characters; a UUID made for each command will do",
        ),
        (
            "/officer/suspense/allocate",
            {**command(channel="card", receipt_ref="BT-7", on="2026-05-10"), "account_ref": 5004},
            422,
            "give account_ref as text",
        ),
        (
            "/officer/receipts/reverse",
            command(channel="card", receipt_ref="CARD-8", reason="x" * 2001, on="2026-05-10"),
            422,
            "reason must be at most 2000 characters",
        ),
    ],
    ids=[
        "unknown-account",
        "not-in-suspense",
        "unknown-receipt",
        "reverse-unknown",
        "reverse-other-channel",
        "no-reason",
        "no-command-id-officer-or-channel",
        "unknown-channel",
        "bad-date",
        "long-command-id",
        "not-text",
        "reason-too-long",
    ],
)
async def test_a_mistaken_command_is_refused_with_what_to_do_and_changes_nothing(
    service: tuple[httpx.AsyncClient, ServiceRuntime], route: str, body: dict[str, Any], status: int, sentence: str
) -> None:
    client, runtime = service
    before = (await _ledger(client), await _outbox_types(runtime))
    response = await client.post(route, json=body)
    assert (response.status_code, response.json()) == (status, {"refused": sentence})
    assert (await _ledger(client), await _outbox_types(runtime)) == before
    assert await _commands(runtime) == []


async def test_a_refused_command_leaves_its_id_free_for_the_corrected_command(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, _ = service
    mistaken = command(channel="card", receipt_ref="BT-7", account_ref="9999", on="2026-05-10")
    assert (await client.post("/officer/suspense/allocate", json=mistaken)).status_code == 409
    corrected = {**mistaken, "account_ref": "5004"}
    response = await client.post("/officer/suspense/allocate", json=corrected)
    assert (response.status_code, response.json()) == (200, {"done": True, "changed": True, "repeated": False})


async def test_a_command_id_used_again_for_a_different_request_is_refused_and_changes_nothing(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = service
    reverse = command(channel="card", receipt_ref="CARD-8", reason="charged back", on="2026-05-12")
    assert (await client.post("/officer/receipts/reverse", json=reverse)).status_code == 200
    before = (await _ledger(client), await _outbox_types(runtime), await _commands(runtime))

    allocate = {**reverse, "receipt_ref": "BT-7", "account_ref": "5004"}
    del allocate["reason"]
    reused = [
        (
            "/officer/receipts/reverse",
            {**reverse, "reason": "a different reason"},
            "a different reverse-receipt request",
        ),
        ("/officer/receipts/reverse", {**reverse, "officer": "officer-2"}, "a different reverse-receipt request"),
        ("/officer/suspense/allocate", allocate, "a reverse-receipt command"),
    ]
    for route, body, what in reused:
        response = await client.post(route, json=body)
        assert (response.status_code, response.json()) == (
            409,
            {
                "refused": f"command id {reverse['command_id']!r} was already used for {what}; give each new "
                "command a new command id, and send a repeat only unchanged"
            },
        )
    assert (await _ledger(client), await _outbox_types(runtime), await _commands(runtime)) == before


async def test_a_body_that_is_not_json_is_refused(service: tuple[httpx.AsyncClient, ServiceRuntime]) -> None:
    client, _ = service
    response = await client.post("/officer/receipts/reverse", content=b"receipt_ref=CARD-8")
    assert (response.status_code, response.json()) == (422, {"refused": "the request body must be JSON"})


async def test_an_officer_reverses_a_receipt_once_however_often_the_command_is_sent(
    service: tuple[httpx.AsyncClient, ServiceRuntime],
) -> None:
    client, runtime = service
    reverse = command(channel="card", receipt_ref="CARD-8", reason="card payment charged back", on="2026-05-12")
    first = await client.post("/officer/receipts/reverse", json=reverse)
    assert (first.status_code, first.json()) == (200, {"done": True, "changed": True, "repeated": False})
    again = await client.post("/officer/receipts/reverse", json=reverse)
    assert (again.status_code, again.json()) == (200, {"done": True, "changed": True, "repeated": True})
    other = await client.post("/officer/receipts/reverse", json={**reverse, "command_id": "another"})
    assert (other.status_code, other.json()) == (200, {"done": True, "changed": False, "repeated": False})

    types = await _outbox_types(runtime)
    assert types.count("payment.reversed") == 1
    ledger = await _ledger(client)
    assert (ledger["reversed_pence"], ledger["allocated_to_debts_pence"], ledger["balanced"]) == (1500, 0, True)
