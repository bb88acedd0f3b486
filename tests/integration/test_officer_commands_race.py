"""Officer commands racing each other and the consumer, on SQLite and PostgreSQL,
through payments' HTTP routes in-process (issue 9).

Ten copies of one command sent at once (the same command id) have one effect and
all answer as the first did; ten commands with different ids acting on one
receipt (officers who each saw it needed reversing) give one reversal; and an
officer's reversal racing the bank's report of the same collection unpaid
(``dd.unpaid`` through the consumer) reverses it once, whichever reads first.
Each ends with the ledger's check: every penny placed exactly once.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from recovery_payments.app import create_app
from recovery_payments.domain import ReceiptStatus
from recovery_payments.settings import PaymentsSettings
from recovery_payments.store import SqlLedger
from recovery_shared import topics
from recovery_shared.contracts.inbound import DirectDebitUnpaid, DirectDebitUnpaidData
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import charge_raised, payment_received, record

COPIES = 10
REVERSE = "/officer/receipts/reverse"
ALLOCATE = "/officer/suspense/allocate"

Service = tuple[httpx.AsyncClient, ServiceRuntime]


@pytest.fixture
async def service(database_url: str) -> AsyncIterator[Service]:
    app = create_app(PaymentsSettings(database_url=database_url))
    runtime: ServiceRuntime = app.context.get("runtime")
    runtime.migrate()
    await runtime.handle_records(
        [
            record(topics.BILLING_CHARGES, charge_raised("5101", amount_pence=20000)),
            record(topics.BILLING_CHARGES, charge_raised("5102", amount_pence=20000)),
            record(topics.PAYMENT_RECEIPTS, payment_received("CARD-1", 2000, reference="5101")),
            record(topics.PAYMENT_RECEIPTS, payment_received("BT-2", 3000, reference="5I01", channel="bank_transfer")),
            record(topics.PAYMENT_RECEIPTS, payment_received("DD-3", 1500, reference="5101", channel="direct_debit")),
        ]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://payments") as client:
        yield client, runtime
    await runtime.db.dispose()


def command(**fields: str) -> dict[str, str]:
    return {"command_id": str(uuid.uuid4()), "officer": "officer-1", **fields}


def reversal(receipt_ref: str = "CARD-1", channel: str = "card") -> dict[str, str]:
    return command(channel=channel, receipt_ref=receipt_ref, reason="payer's bank recalled it", on="2026-05-12")


async def _published(runtime: ServiceRuntime, event_type: str) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        box = runtime.kernel.outbox
        rows = (await session.execute(select(box.c.headers, box.c.payload).order_by(box.c.id))).all()
    return [json.loads(row.payload) for row in rows if row.headers["type"] == event_type]


async def _commands_recorded(runtime: ServiceRuntime) -> int:
    async with runtime.db.session() as session:
        return int((await session.execute(select(func.count()).select_from(runtime.kernel.officer_commands))).scalar())


async def _ledger(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/ledger")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


async def _all_at_once(client: httpx.AsyncClient, requests: list[tuple[str, dict[str, str]]]) -> list[httpx.Response]:
    return list(await asyncio.gather(*(client.post(route, json=body) for route, body in requests)))


def _outcomes(answers: list[httpx.Response]) -> list[tuple[int, dict[str, Any]]]:
    """Each answer without its ``repeated`` flag: what the command did."""
    return [(a.status_code, {k: v for k, v in a.json().items() if k != "repeated"}) for a in answers]


# --- the same command id, ten copies at once ---------------------------------------------


async def test_ten_copies_of_a_reversal_at_once_reverse_it_once_and_answer_alike(service: Service) -> None:
    client, runtime = service
    answers = await _all_at_once(client, [(REVERSE, reversal())] * COPIES)

    (reversed_,) = await _published(runtime, "payment.reversed")
    assert reversed_["data"]["receipt_ref"] == "CARD-1"
    ledger = await _ledger(client)
    assert (ledger["reversed_pence"], ledger["allocated_to_debts_pence"], ledger["balanced"]) == (2000, 1500, True)
    assert _outcomes(answers) == [(200, {"done": True, "changed": True})] * COPIES
    assert sorted(a.json()["repeated"] for a in answers) == [False] + [True] * (COPIES - 1)
    assert await _commands_recorded(runtime) == 1


async def test_ten_copies_of_an_allocation_from_suspense_at_once_allocate_it_once(service: Service) -> None:
    client, runtime = service
    allocate = command(channel="bank_transfer", receipt_ref="BT-2", account_ref="5101", on="2026-05-10")
    answers = await _all_at_once(client, [(ALLOCATE, allocate)] * COPIES)

    by_officer = [a for a in await _published(runtime, "payment.allocated") if a["data"]["rule"] == "officer"]
    assert [(a["data"]["receipt_ref"], a["data"]["amount_pence"]) for a in by_officer] == [("BT-2", 3000)]
    ledger = await _ledger(client)
    assert (ledger["suspended_pence"], ledger["allocated_to_debts_pence"], ledger["balanced"]) == (0, 6500, True)
    assert _outcomes(answers) == [(200, {"done": True, "changed": True})] * COPIES
    assert sorted(a.json()["repeated"] for a in answers) == [False] + [True] * (COPIES - 1)
    assert await _commands_recorded(runtime) == 1


# --- different command ids, one receipt ---------------------------------------------------


async def test_ten_officers_reversing_one_receipt_at_once_reverse_it_once(service: Service) -> None:
    client, runtime = service
    answers = await _all_at_once(client, [(REVERSE, reversal()) for _ in range(COPIES)])

    assert len(await _published(runtime, "payment.reversed")) == 1
    ledger = await _ledger(client)
    assert (ledger["reversed_pence"], ledger["allocated_to_debts_pence"], ledger["balanced"]) == (2000, 1500, True)
    assert [a.status_code for a in answers] == [200] * COPIES
    assert sorted(a.json()["changed"] for a in answers) == [False] * (COPIES - 1) + [True]
    assert all(a.json()["repeated"] is False for a in answers)
    assert await _commands_recorded(runtime) == COPIES


async def test_officers_allocating_one_suspended_receipt_to_two_accounts_at_once_allocate_it_once(
    service: Service,
) -> None:
    client, runtime = service
    requests = [
        (ALLOCATE, command(channel="bank_transfer", receipt_ref="BT-2", account_ref=account, on="2026-05-10"))
        for account in ["5101", "5102"] * (COPIES // 2)
    ]
    answers = await _all_at_once(client, requests)

    by_officer = [a for a in await _published(runtime, "payment.allocated") if a["data"]["rule"] == "officer"]
    (allocated,) = by_officer
    winner = allocated["data"]["account_ref"]
    for (_, body), answer in zip(requests, answers, strict=True):
        if body["account_ref"] == winner:
            assert answer.status_code == 200
        else:
            assert (answer.status_code, answer.json()) == (
                409,
                {"refused": "receipt BT-2 is not in suspense (it is allocated); nothing to allocate"},
            )
    assert sum(a.status_code == 200 and a.json()["changed"] for a in answers) == 1
    ledger = await _ledger(client)
    assert (ledger["suspended_pence"], ledger["allocated_to_debts_pence"], ledger["balanced"]) == (0, 6500, True)


# --- an officer racing the consumer ---------------------------------------------------------


def _unpaid() -> DirectDebitUnpaid:
    return DirectDebitUnpaid(
        key="5101",
        data=DirectDebitUnpaidData(
            mandate_ref="DDI-5101",
            account_ref="5101",
            receipt_ref="DD-3",
            amount_pence=1500,
            collection_date=date(2026, 5, 3),
            reason_code="0",
        ),
    )


class _PausingLedger(SqlLedger):
    """A ledger unit that, the first time one is about to write a reversal it has
    decided on, lets something else run first: the other side of the race, after
    this unit has read the receipt and before it has written anything."""

    meanwhile: Callable[[], Awaitable[object]] | None = None

    async def flush(self) -> None:
        if _PausingLedger.meanwhile is not None and any(
            r.status == ReceiptStatus.REVERSED for r in self.receipts.records.held_records()
        ):
            run, _PausingLedger.meanwhile = _PausingLedger.meanwhile, None
            await run()
        await super().flush()


async def _one_reversal_of_the_collection(client: httpx.AsyncClient, runtime: ServiceRuntime) -> list[Any]:
    reversals = [r for r in await _published(runtime, "payment.reversed") if r["data"]["receipt_ref"] == "DD-3"]
    assert len(reversals) == 1
    assert runtime.consumer.counts[topics.BANKING_DD_REPORTS].dead_lettered == 0
    ledger = await _ledger(client)
    assert (ledger["reversed_pence"], ledger["allocated_to_debts_pence"], ledger["balanced"]) == (1500, 2000, True)
    return reversals


async def test_an_officer_reversing_after_the_consumer_read_the_unpaid_report_gives_one_reversal(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, runtime = service
    officer_answers: list[httpx.Response] = []

    async def officer_reverses() -> None:
        officer_answers.append(await client.post(REVERSE, json=reversal("DD-3", "direct_debit")))

    monkeypatch.setattr(runtime, "unit_of_work", _PausingLedger)
    monkeypatch.setattr(_PausingLedger, "meanwhile", officer_reverses)
    await runtime.handle_records([record(topics.BANKING_DD_REPORTS, _unpaid())])

    assert _PausingLedger.meanwhile is None  # the race was run
    (reversed_,) = await _one_reversal_of_the_collection(client, runtime)
    (answer,) = officer_answers
    assert (answer.status_code, answer.json()["changed"]) == (200, True)
    assert reversed_["data"]["reason"] == "payer's bank recalled it"  # the officer's: it was written first
    assert runtime.consumer.counts[topics.BANKING_DD_REPORTS].handled == 1


async def test_the_consumer_reversing_after_an_officer_read_the_receipt_gives_one_reversal(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, runtime = service

    async def the_bank_reports_it_unpaid() -> None:
        await runtime.handle_records([record(topics.BANKING_DD_REPORTS, _unpaid())])

    monkeypatch.setattr(runtime, "unit_of_work", _PausingLedger)
    monkeypatch.setattr(_PausingLedger, "meanwhile", the_bank_reports_it_unpaid)
    answer = await client.post(REVERSE, json=reversal("DD-3", "direct_debit"))

    assert _PausingLedger.meanwhile is None  # the race was run
    (reversed_,) = await _one_reversal_of_the_collection(client, runtime)
    assert (answer.status_code, answer.json()) == (200, {"done": True, "changed": False, "repeated": False})
    assert reversed_["data"]["reason"] == "Direct Debit unpaid, ARUDD reason 0"


async def test_officers_and_the_consumer_all_at_once_give_one_reversal(service: Service) -> None:
    client, runtime = service
    officers = [client.post(REVERSE, json=reversal("DD-3", "direct_debit")) for _ in range(COPIES)]
    consumer = runtime.handle_records([record(topics.BANKING_DD_REPORTS, _unpaid())])
    *answers, _ = await asyncio.gather(*officers, consumer)

    await _one_reversal_of_the_collection(client, runtime)
    assert [a.status_code for a in answers] == [200] * COPIES
    assert sum(a.json()["changed"] for a in answers) <= 1
