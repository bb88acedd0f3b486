"""Delivery guarantees on the real broker, with each service a separate process."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import pytest

from recovery_shared import topics
from tests.factories import charge_raised
from tests.processes import ServiceProcess, collect, envelope_of, publish, wait_for

pytestmark = pytest.mark.e2e


def rows(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return list(conn.execute(sql, args))
        except sqlite3.OperationalError:
            return []  # not migrated yet


def account() -> str:
    return f"A{uuid.uuid4().hex[:10]}"


async def test_a_charge_is_stored_by_payments_arrangements_and_enforcement(
    kafka_bootstrap: str, services: dict[str, ServiceProcess]
) -> None:
    event = charge_raised(account(), amount_pence=98765)
    await publish(kafka_bootstrap, topics.BILLING_CHARGES, event)
    debt_id = event.data.debt_id

    await wait_for(
        lambda: rows(services["payments"].database_path, "select charged_pence from debt where debt_id=?", debt_id),
        what="payments debt",
    )
    await wait_for(
        lambda: rows(services["arrangements"].database_path, "select amount_pence from debt where debt_id=?", debt_id),
        what="arrangements debt",
    )
    await wait_for(
        lambda: rows(services["enforcement"].database_path, "select stage from recovery_case where debt_id=?", debt_id),
        what="enforcement case",
    )
    assert rows(services["payments"].database_path, "select charged_pence from debt where debt_id=?", debt_id) == [
        (98765,)
    ]
    assert rows(services["enforcement"].database_path, "select stage from recovery_case where debt_id=?", debt_id) == [
        ("billed",)
    ]


async def test_the_same_event_delivered_twice_changes_nothing(
    kafka_bootstrap: str, services: dict[str, ServiceProcess]
) -> None:
    event = charge_raised(account())
    await publish(kafka_bootstrap, topics.BILLING_CHARGES, event, event)
    debt_id = event.data.debt_id
    payments_db = services["payments"].database_path

    await wait_for(
        lambda: rows(payments_db, "select count(*) from inbox where message_id=?", str(event.event_id)) == [(1,)],
        what="the first copy",
    )
    # The second copy is read (the duplicate counter moves) and ignored.
    balances = await collect(
        kafka_bootstrap,
        topics.PAYMENT_EVENTS,
        lambda r: envelope_of(r).get("data", {}).get("debt_id") == debt_id,
        expect=1,
        settle_s=2.0,
    )
    assert len(balances) == 1
    assert rows(payments_db, "select count(*) from debt where debt_id=?", debt_id) == [(1,)]
    for name in ("arrangements", "enforcement"):
        assert rows(
            services[name].database_path, "select count(*) from inbox where message_id=?", str(event.event_id)
        ) == [(1,)]


async def test_malformed_and_invalid_messages_go_to_the_dead_letter_topic_and_the_next_is_processed(
    kafka_bootstrap: str, services: dict[str, ServiceProcess]
) -> None:
    ref = account()
    good = charge_raised(ref)
    await publish(
        kafka_bootstrap,
        topics.BILLING_CHARGES,
        (ref, b"\x00\x01 definitely not json"),
        (
            ref,
            b'{"event_id": "' + str(uuid.uuid4()).encode() + b'", "schema_version": 1, "type": "charge.raised", '
            b'"key": "' + ref.encode() + b'", "data": {"amount_pence": -5}}',
        ),
        good,
    )
    await wait_for(
        lambda: rows(services["payments"].database_path, "select 1 from debt where debt_id=?", good.data.debt_id),
        what="the valid message after the bad ones",
    )
    dead = await collect(
        kafka_bootstrap,
        topics.dead_letter_topic(topics.BILLING_CHARGES),
        lambda r: r.key == ref.encode()
        and dict(r.headers).get("dlq.consumer", b"").decode() == services["payments"].env["PAYMENTS_GROUP_ID"],
        expect=2,
    )
    assert len(dead) == 2
    reasons = sorted(dict(r.headers)["dlq.reason"].decode() for r in dead)
    assert reasons[0].startswith("does not match the billing.charges.v1 contract")
    assert "amount_pence" in reasons[0]
    assert reasons[1].startswith("malformed message")
    # The topic carries a reference; the original bytes stay in payments' own database.
    kept = {json.loads(r.value)["dead_letter_id"] for r in dead}
    originals = rows(services["payments"].database_path, "select id, payload from dead_letter where message_key=?", ref)
    assert {row[0] for row in originals} == kept
    assert b"\x00\x01 definitely not json" in {bytes(row[1]) for row in originals}
    assert all(b"definitely not json" not in r.value for r in dead)
    health = await services["payments"].health()
    assert health["status"] == "ok"  # still running


async def test_health_reports_database_broker_and_relay(services: dict[str, ServiceProcess]) -> None:
    for proc in services.values():
        report = await proc.health()
        assert report["database"] == "ok"
        assert report["broker"] == "ok"
        assert report["relay"] == "running"
