"""Re-driving dead letters (issue 9, part 6) on SQLite and PostgreSQL, through payments'
real runtime and consumer: a `charge.adjusted` for a debt payments has never seen is
refused and dead-lettered; once the debt's `charge.raised` has arrived (the cause
fixed), re-driving the dead letter applies the adjustment exactly once, however many
re-drives race for it, and an interrupted re-drive is taken over without applying it
twice. The ops command is also run once end to end through ``serve``."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import delete, select, update
from sqlalchemy.exc import OperationalError
from structlog.testing import capture_logs

from recovery_payments.app import build_runtime
from recovery_payments.models import Debt
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.admin import ensure_topics
from recovery_shared.clock import utc_now
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeAdjustedData
from recovery_shared.messaging import runtime as runtime_module
from recovery_shared.messaging.dead_letters import (
    CLAIM_ABANDONED_AFTER,
    DeadLetterCommandRefused,
    list_dead_letters,
    redrive,
    show_dead_letter,
)
from recovery_shared.messaging.outbox import OutboxRelay
from recovery_shared.messaging.runtime import ServiceRuntime, serve
from recovery_shared.topics import TopicSpec
from tests.factories import Record, charge_raised, record

NOT_KNOWN = "not known to payments"


async def _runtime(database_url: str) -> ServiceRuntime:
    runtime = build_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


def _adjustment(account_ref: str, new_amount_pence: int, *, reason: str = "discount applied") -> ChargeAdjusted:
    return ChargeAdjusted(
        key=account_ref,
        data=ChargeAdjustedData(
            debt_id=f"CT-{account_ref}-2026",
            account_ref=account_ref,
            new_amount_pence=new_amount_pence,
            adjusted_on=date(2026, 4, 20),
            reason=reason,
        ),
    )


async def _dead_letter_for(runtime: ServiceRuntime, adjustment: ChargeAdjusted) -> tuple[int, Record]:
    """Deliver the adjustment before its debt exists: refused and kept as a dead letter."""
    original = record(topics.BILLING_CHARGES, adjustment)
    await runtime.handle_records([original])
    letters = [d for d in await list_dead_letters(runtime, status="all") if d.event_type == "charge.adjusted"]
    mine = [d for d in letters if (await show_dead_letter(runtime, d.id)).message_id == str(adjustment.event_id)]
    assert len(mine) == 1, letters
    assert NOT_KNOWN in mine[0].reason
    return mine[0].id, original


async def _raise_debt(runtime: ServiceRuntime, account_ref: str) -> None:
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised(account_ref, amount_pence=150000))])


async def _charged(runtime: ServiceRuntime, account_ref: str) -> int | None:
    async with runtime.db.session() as session:
        debt = await session.get(Debt, f"CT-{account_ref}-2026")
    return None if debt is None else debt.charged_pence


async def _balances_caused_by(runtime: ServiceRuntime, event: ChargeAdjusted) -> int:
    """balance.changed events in the outbox that this adjustment caused: one per time it
    was applied."""
    box = runtime.kernel.outbox
    async with runtime.db.engine.connect() as conn:
        rows = (await conn.execute(select(box.c.payload).where(box.c.topic == topics.PAYMENT_EVENTS))).all()
    published = [json.loads(row.payload) for row in rows]
    return sum(1 for e in published if e["type"] == "balance.changed" and e["causation_id"] == str(event.event_id))


async def _row(runtime: ServiceRuntime, dead_letter_id: int) -> Any:
    table = runtime.kernel.dead_letters
    async with runtime.db.engine.connect() as conn:
        return (await conn.execute(select(table).where(table.c.id == dead_letter_id))).one()


async def test_a_dead_letter_whose_cause_is_fixed_is_applied_once_when_redriven(database_url: str) -> None:
    runtime = await _runtime(database_url)
    adjustment = _adjustment("9101", 120000)
    dead_letter_id, original = await _dead_letter_for(runtime, adjustment)
    assert await _charged(runtime, "9101") is None

    await _raise_debt(runtime, "9101")
    with capture_logs() as logs:
        results = await redrive(runtime, ids=[dead_letter_id], by="ops.jbloggs", why="billing raised the bill late")

    assert [(r.id, r.outcome, r.redriven) for r in results] == [(dead_letter_id, "applied", True)]
    assert await _charged(runtime, "9101") == 120000
    assert await _balances_caused_by(runtime, adjustment) == 1
    row = await _row(runtime, dead_letter_id)
    assert (row.status, row.redriven_by, row.redrive_reason, row.redrive_outcome) == (
        "redriven",
        "ops.jbloggs",
        "billing raised the bill late",
        "applied",
    )
    assert row.redriven_at is not None
    redriven_logs = [entry for entry in logs if entry["event"] == "dead letter re-driven"]
    assert len(redriven_logs) == 1
    line = redriven_logs[0]
    assert {k: line[k] for k in ("id", "topic", "by", "why", "outcome")} == {
        "id": dead_letter_id,
        "topic": topics.BILLING_CHARGES,
        "by": "ops.jbloggs",
        "why": "billing raised the bill late",
        "outcome": "applied",
    }
    assert "payload" not in line and "discount applied" not in json.dumps(line, default=str)

    with pytest.raises(DeadLetterCommandRefused, match=f"#{dead_letter_id} was already re-driven"):
        await redrive(runtime, ids=[dead_letter_id], by="ops.jbloggs", why="again")
    await runtime.handle_records([original])  # the broker delivering the original again changes nothing
    assert await _balances_caused_by(runtime, adjustment) == 1
    assert await list_dead_letters(runtime) == []
    assert [d.status for d in await list_dead_letters(runtime, status="all")] == ["redriven"]
    await runtime.db.dispose()


async def test_a_dead_letter_whose_cause_is_not_fixed_is_dead_lettered_again_then_applied(database_url: str) -> None:
    runtime = await _runtime(database_url)
    adjustment = _adjustment("9201", 90000)
    first, _ = await _dead_letter_for(runtime, adjustment)

    [result] = await redrive(runtime, ids=[first], by="ops.jbloggs", why="thought billing had sent it")
    again = result.dead_lettered_again_as
    assert again is not None and again > first
    assert result.outcome == f"dead-lettered again as #{again}"
    assert await _balances_caused_by(runtime, adjustment) == 0
    second = await show_dead_letter(runtime, again)
    assert (second.status, second.message_id, second.event_type) == (
        "dead",
        str(adjustment.event_id),
        "charge.adjusted",
    )
    assert NOT_KNOWN in second.reason
    assert (await _row(runtime, first)).status == "redriven"

    with pytest.raises(DeadLetterCommandRefused, match="matches"):
        await redrive(runtime, reason="no such reason anywhere", by="ops.jbloggs", why="nothing")
    with pytest.raises(DeadLetterCommandRefused, match="choose the dead letters"):
        await redrive(runtime, reason="", by="ops.jbloggs", why="an empty reason is not 'every one'")
    with pytest.raises(DeadLetterCommandRefused, match="say who"):
        await redrive(runtime, ids=[again], by="  ", why="no name")
    await _raise_debt(runtime, "9201")
    chosen = await redrive(runtime, reason=NOT_KNOWN.upper(), by="ops.jbloggs", why="bill raised now")
    assert [(r.id, r.outcome) for r in chosen] == [(again, "applied")]
    assert await _charged(runtime, "9201") == 90000
    assert await _balances_caused_by(runtime, adjustment) == 1
    with pytest.raises(DeadLetterCommandRefused, match="no dead letter waiting to be re-driven matches"):
        await redrive(runtime, reason=NOT_KNOWN, by="ops.jbloggs", why="bill raised now")
    await runtime.db.dispose()


async def test_a_time_range_and_a_dry_run_choose_without_changing_anything(database_url: str) -> None:
    runtime = await _runtime(database_url)
    started = utc_now() - timedelta(seconds=1)
    adjustment = _adjustment("9301", 80000)
    dead_letter_id, _ = await _dead_letter_for(runtime, adjustment)
    await _raise_debt(runtime, "9301")

    with pytest.raises(DeadLetterCommandRefused, match="matches"):
        await redrive(runtime, until=started, by="ops.jbloggs", why="range before it failed")
    planned = await redrive(runtime, since=started, by="ops.jbloggs", why="try", dry_run=True)
    assert [(r.id, r.redriven, r.outcome) for r in planned] == [
        (dead_letter_id, False, "would be handed to the consumer again")
    ]
    assert (await _row(runtime, dead_letter_id)).status == "dead"
    assert await _balances_caused_by(runtime, adjustment) == 0

    done = await redrive(runtime, since=started, until=utc_now(), by="ops.jbloggs", why="bill raised")
    assert [(r.id, r.outcome) for r in done] == [(dead_letter_id, "applied")]
    assert await _balances_caused_by(runtime, adjustment) == 1
    await runtime.db.dispose()


async def test_ten_concurrent_redrives_of_one_dead_letter_apply_it_once(database_url: str) -> None:
    runtime = await _runtime(database_url)
    adjustment = _adjustment("9401", 70000)
    dead_letter_id, _ = await _dead_letter_for(runtime, adjustment)
    await _raise_debt(runtime, "9401")

    outcomes = await asyncio.gather(
        *(redrive(runtime, ids=[dead_letter_id], by=f"ops.{n}", why="bill raised") for n in range(10)),
        return_exceptions=True,
    )

    done = [o for o in outcomes if isinstance(o, list)]
    refused = [o for o in outcomes if isinstance(o, DeadLetterCommandRefused)]
    assert len(done) == 1 and len(refused) == 9, outcomes
    assert [(r.id, r.outcome) for r in done[0]] == [(dead_letter_id, "applied")]
    assert await _charged(runtime, "9401") == 70000
    assert await _balances_caused_by(runtime, adjustment) == 1
    assert (await _row(runtime, dead_letter_id)).status == "redriven"
    await runtime.db.dispose()


async def _interrupt_after_claiming(runtime: ServiceRuntime, dead_letter_id: int, message_id: str) -> None:
    """What a re-drive killed after its claim leaves: the row 'redriving' and the inbox
    mark gone."""
    table, inbox = runtime.kernel.dead_letters, runtime.kernel.inbox
    async with runtime.db.engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(table.c.id == dead_letter_id)
            .values(status="redriving", redriven_at=utc_now(), redriven_by="ops.first", redrive_reason="first try")
        )
        await conn.execute(delete(inbox).where(inbox.c.message_id == message_id))


async def _backdate_claim(runtime: ServiceRuntime, dead_letter_id: int) -> None:
    table = runtime.kernel.dead_letters
    async with runtime.db.engine.begin() as conn:
        await conn.execute(
            update(table)
            .where(table.c.id == dead_letter_id)
            .values(redriven_at=utc_now() - CLAIM_ABANDONED_AFTER - timedelta(minutes=1))
        )


async def test_an_interrupted_redrive_is_taken_over_without_applying_twice(database_url: str) -> None:
    runtime = await _runtime(database_url)
    applied_before_the_kill = _adjustment("9501", 60000)
    killed_after_consumer, original = await _dead_letter_for(runtime, applied_before_the_kill)
    never_handed_over = _adjustment("9502", 50000)
    killed_before_consumer, _ = await _dead_letter_for(runtime, never_handed_over)
    await _raise_debt(runtime, "9501")
    await _raise_debt(runtime, "9502")

    await _interrupt_after_claiming(runtime, killed_after_consumer, str(applied_before_the_kill.event_id))
    await runtime.handle_records([original])  # the consumer committed, then the re-drive was killed
    await _interrupt_after_claiming(runtime, killed_before_consumer, str(never_handed_over.event_id))
    assert await _balances_caused_by(runtime, applied_before_the_kill) == 1

    with pytest.raises(DeadLetterCommandRefused, match="being re-driven now"):
        await redrive(runtime, ids=[killed_after_consumer], by="ops.second", why="take over")
    await _backdate_claim(runtime, killed_after_consumer)
    await _backdate_claim(runtime, killed_before_consumer)
    results = await redrive(
        runtime, ids=[killed_after_consumer, killed_before_consumer], by="ops.second", why="take over"
    )

    assert [(r.id, r.outcome) for r in results] == [
        (killed_after_consumer, "applied"),
        (killed_before_consumer, "applied"),
    ]
    assert await _balances_caused_by(runtime, applied_before_the_kill) == 1
    assert await _balances_caused_by(runtime, never_handed_over) == 1
    assert (await _charged(runtime, "9501"), await _charged(runtime, "9502")) == (60000, 50000)
    assert {(await _row(runtime, i)).redriven_by for i in (killed_after_consumer, killed_before_consumer)} == {
        "ops.second"
    }
    await runtime.db.dispose()


async def test_a_redrive_the_consumer_cannot_finish_leaves_the_dead_letter_as_it_was(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = await _runtime(database_url)
    adjustment = _adjustment("9551", 40000)
    dead_letter_id, original = await _dead_letter_for(runtime, adjustment)
    await _raise_debt(runtime, "9551")

    async def database_gone(records: Any) -> None:
        raise OperationalError("INSERT INTO dead_letter", {}, Exception("server closed the connection"))

    monkeypatch.setattr(runtime.consumer, "handle", database_gone)
    with pytest.raises(OperationalError):
        await redrive(runtime, ids=[dead_letter_id], by="ops.jbloggs", why="bill raised")
    monkeypatch.undo()

    row = await _row(runtime, dead_letter_id)
    assert (row.status, row.redriven_by, row.redrive_outcome) == ("dead", None, None)
    await runtime.handle_records([original])  # still marked handled: a redelivery is not applied behind it
    assert await _balances_caused_by(runtime, adjustment) == 0
    [result] = await redrive(runtime, ids=[dead_letter_id], by="ops.jbloggs", why="bill raised; database back")
    assert result.outcome == "applied"
    assert await _balances_caused_by(runtime, adjustment) == 1
    await runtime.db.dispose()


async def _read_topic(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    records: list[Any] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while not records and asyncio.get_running_loop().time() < deadline:
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(batch)
        # A little longer, so a copy too many would show.
        for batch in (await consumer.getmany(timeout_ms=1000)).values():
            records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_an_outbound_dead_letter_goes_back_in_the_outbox_and_is_sent_once_the_limit_is_raised(
    database_url: str, kafka_bootstrap: str
) -> None:
    runtime = await _runtime(database_url)
    topic = f"test.dead-letter-redrive.{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, 1)])
    payload = json.dumps({"event_id": str(uuid.uuid4()), "data": "x" * 3000}).encode()
    headers = {"type": "balance.changed", "schema_version": "1"}
    async with runtime.unit() as uow:
        uow.publish_raw(topic, "9601", payload, headers)
        await uow.commit()

    def relay(max_message_bytes: int) -> OutboxRelay:
        return OutboxRelay(
            db=runtime.db,
            kernel=runtime.kernel,
            bootstrap_servers=kafka_bootstrap,
            client_id="test-redrive-relay",
            max_message_bytes=max_message_bytes,
        )

    too_small = relay(2048)
    try:
        assert await too_small.relay_once() == 1
    finally:
        await too_small.stop()
    [letter] = await list_dead_letters(runtime)
    assert (letter.direction, letter.topic, letter.event_type) == ("outbound", topic, "balance.changed")

    [result] = await redrive(runtime, ids=[letter.id], by="ops.jbloggs", why="max_message_bytes raised")

    box = runtime.kernel.outbox
    async with runtime.db.engine.connect() as conn:
        rows = (
            await conn.execute(select(box.c.id, box.c.topic, box.c.message_key, box.c.payload, box.c.headers))
        ).all()
    assert [(r.topic, r.message_key, bytes(r.payload), dict(r.headers)) for r in rows] == [
        (topic, "9601", payload, headers)
    ]
    assert (result.outcome, result.redriven) == (f"back in the outbox as #{rows[0].id}", True)
    assert (await _row(runtime, letter.id)).status == "redriven"
    with pytest.raises(DeadLetterCommandRefused, match="already re-driven"):
        await redrive(runtime, ids=[letter.id], by="ops.jbloggs", why="again")

    raised = relay(1_000_000)
    try:
        assert await raised.relay_once() == 1
    finally:
        await raised.stop()
    sent = await _read_topic(kafka_bootstrap, topic)
    assert [(r.key, r.value) for r in sent] == [(b"9601", payload)]
    assert await list_dead_letters(runtime) == []
    await runtime.db.dispose()


def test_the_ops_command_lists_shows_and_redrives_through_serve(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    personal = "occupier Ms Example moved to 1 Sample Road"
    adjustment = _adjustment("9701", 110000, reason=personal)

    async def arrange() -> int:
        runtime = await _runtime(database_url)
        dead_letter_id, _ = await _dead_letter_for(runtime, adjustment)
        await _raise_debt(runtime, "9701")
        await runtime.db.dispose()
        return dead_letter_id

    dead_letter_id = asyncio.run(arrange())
    capsys.readouterr()  # the consumer's own log lines while arranging
    configured: list[tuple[str, str]] = []
    monkeypatch.setattr(runtime_module, "configure_logging", lambda service, level: configured.append((service, level)))
    settings = PaymentsSettings(database_url=database_url)

    def ops(*argv: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["recovery-payments", "dead-letters", *argv])
        with pytest.raises(SystemExit) as exit_:
            serve("recovery_payments.app:create_app", settings)
        out, err = capsys.readouterr()
        assert isinstance(exit_.value.code, int)
        return exit_.value.code, out, err

    code, out, _ = ops("list")
    assert code == 0
    heading, line, total = out.splitlines()
    assert heading.split() == ["id", "direction", "topic", "event", "type", "age", "status", "reason"]
    assert line.split()[:4] == [f"#{dead_letter_id}", "inbound", topics.BILLING_CHARGES, "charge.adjusted"]
    assert line.split()[5:7] == ["dead", "refused:"] and NOT_KNOWN in line
    assert total == "1 dead letter."
    assert "Example" not in out

    code, out, _ = ops("show", str(dead_letter_id))
    assert code == 0
    assert f"dead letter:  #{dead_letter_id}" in out and "message id:   " + str(adjustment.event_id) in out
    assert "(not shown; add --payload to see it)" in out and "Example" not in out
    code, out, _ = ops("show", str(dead_letter_id), "--payload")
    assert code == 0 and personal in out

    code, out, err = ops("redrive", "--id", "424242", "--by", "ops.jbloggs", "--why", "bill raised")
    assert (code, out) == (2, "")
    assert err.strip() == "Refused: there is no dead letter #424242 in the payments service's database."

    with capture_logs() as logs:
        code, out, err = ops("redrive", "--id", str(dead_letter_id), "--by", "ops.jbloggs", "--why", "bill raised")
    assert code == 0, err
    assert out.splitlines() == [
        f"  #{dead_letter_id}  inbound  {topics.BILLING_CHARGES}  charge.adjusted  applied",
        "Re-driven 1 of 1: 1 applied.",
    ]
    assert [(e["event"], e["id"], e["by"], e["outcome"]) for e in logs if e["event"] == "dead letter re-driven"] == [
        ("dead letter re-driven", dead_letter_id, "ops.jbloggs", "applied")
    ]
    assert configured and configured[0][0] == "payments"

    code, out, err = ops("redrive", "--id", str(dead_letter_id), "--by", "ops.jbloggs", "--why", "bill raised")
    assert (code, out) == (2, "")
    assert err.startswith(f"Refused: dead letter #{dead_letter_id} was already re-driven")
    code, out, _ = ops("list")
    assert (code, out) == (0, "No dead letters waiting to be re-driven match.\n")

    async def check() -> tuple[int | None, int]:
        runtime = await _runtime(database_url)
        try:
            return await _charged(runtime, "9701"), await _balances_caused_by(runtime, adjustment)
        finally:
            await runtime.db.dispose()

    assert asyncio.run(check()) == (110000, 1)
