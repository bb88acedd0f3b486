"""Re-driving dead letters (issue 9, part 6) on SQLite and PostgreSQL, on the real broker,
with payments running as it does in production: its FastStream app and consumer, under
a consumer group of the test's own started at the end of payments' topics.

A `charge.adjusted` for a debt payments has never seen is refused and dead-lettered;
once the debt's `charge.raised` has arrived (the cause fixed), the re-drive sends the
original record back to its topic and the RUNNING service applies it, exactly once,
in its account's partition order, however many re-drives race for it. The re-drive
itself never writes the service's records: it claims the dead letter, sends, and waits
for the service's verdict. The service's relay is left off, so its outbox keeps every
event it wrote and a test can count them. The ops command is also run once end to
end through ``serve``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from sqlalchemy import delete, select, update
from structlog.testing import capture_logs

from recovery_payments.app import ROUTES, build_runtime
from recovery_payments.models import Debt
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.admin import ensure_topics
from recovery_shared.clock import utc_now
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeAdjustedData
from recovery_shared.messaging import runtime as runtime_module
from recovery_shared.messaging.dead_letters import (
    CLAIM_ABANDONED_AFTER,
    DeadLetterCommandRefused,
    list_dead_letters,
    not_yet_consumed,
    redrive,
    show_dead_letter,
)
from recovery_shared.messaging.outbox import OutboxRelay
from recovery_shared.messaging.runtime import ServiceRuntime, serve, service_app
from recovery_shared.topics import TopicSpec
from tests.factories import charge_raised, record
from tests.processes import start_group_at_end

NOT_KNOWN = "not known to payments"
CHARGES = topics.BILLING_CHARGES
KEYED_BY_ACCOUNT = "the producer must send the event again, keyed by its account reference"


def _account() -> str:
    # Other tests send to the same topics; an account of this test's own is never theirs.
    return f"R{uuid.uuid4().hex[:8]}"


def _settings(database_url: str, bootstrap: str, group: str) -> PaymentsSettings:
    return PaymentsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        group_id=group,
        consumer_batch_timeout_ms=20,
    )


@asynccontextmanager
async def _payments_running(settings: PaymentsSettings) -> AsyncIterator[ServiceRuntime]:
    """Payments' consumer reading its topics on the broker, as the service runs it."""
    runtime = build_runtime(settings)
    app = service_app(runtime, title="payments", description="re-drive test")
    broker = app.broker
    assert broker is not None
    await asyncio.to_thread(runtime.migrate)
    await broker.start()
    try:
        yield runtime
    finally:
        await broker.stop()
        await runtime.db.dispose()


@asynccontextmanager
async def _payments(database_url: str, bootstrap: str) -> AsyncIterator[tuple[ServiceRuntime, ServiceRuntime]]:
    """The running service, and an ops runtime on the same database and settings, as
    ``recovery-payments dead-letters`` builds one in its own process."""
    settings = _settings(database_url, bootstrap, f"test-redrive-{uuid.uuid4().hex[:8]}")
    await start_group_at_end(bootstrap, settings.consumer_group, *ROUTES.topics())
    async with _payments_running(settings) as live:
        ops = build_runtime(settings)
        try:
            yield live, ops
        finally:
            await ops.db.dispose()


async def _produce(
    bootstrap: str, topic: str, key: str | None, value: bytes, headers: list[tuple[str, bytes]] | None = None
) -> Any:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        return await producer.send_and_wait(
            topic, value, key=key.encode() if key is not None else None, headers=headers or []
        )
    finally:
        await producer.stop()


async def _send(bootstrap: str, event: Envelope, headers: list[tuple[str, bytes]] | None = None) -> None:
    await _produce(bootstrap, CHARGES, event.key, event.to_bytes(), headers)


async def _until(check: Callable[[], Awaitable[Any]], what: str, timeout_s: float = 30) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = await check()
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


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


async def _dead_letters_of(runtime: ServiceRuntime, message_id: str) -> list[Any]:
    table = runtime.kernel.dead_letters
    async with runtime.db.engine.connect() as conn:
        return list(
            (await conn.execute(select(table).where(table.c.message_id == message_id).order_by(table.c.id))).all()
        )


async def _dead_lettered(runtime: ServiceRuntime, message_id: str) -> Any:
    """The one dead letter the running service keeps for this message, once it has."""

    async def found() -> list[Any]:
        return await _dead_letters_of(runtime, message_id)

    [row] = await _until(found, f"the dead letter of {message_id}")
    return row


async def _refused_for_unknown_debt(bootstrap: str, ops: ServiceRuntime, adjustment: ChargeAdjusted) -> int:
    await _send(bootstrap, adjustment)
    row = await _dead_lettered(ops, str(adjustment.event_id))
    assert NOT_KNOWN in row.reason
    return int(row.id)


async def _charged(runtime: ServiceRuntime, account_ref: str) -> int | None:
    async with runtime.db.session() as session:
        debt = await session.get(Debt, f"CT-{account_ref}-2026")
    return None if debt is None else debt.charged_pence


async def _raise_debt(bootstrap: str, ops: ServiceRuntime, account_ref: str) -> None:
    """The cause fixed: billing sends the bill, and the running service opens the debt."""
    await _send(bootstrap, charge_raised(account_ref, amount_pence=150000))

    async def opened() -> bool:
        return await _charged(ops, account_ref) == 150000

    await _until(opened, f"the debt of {account_ref} to be opened")


async def _read_up_to_here(bootstrap: str, ops: ServiceRuntime, account: str) -> None:
    """Until the running service has read everything sent for the account so far: a
    second bill of the account's goes to the same partition, after all of it."""
    fence = charge_raised(account, debt_id=f"CT-{account}-2027", financial_year="2027/28", amount_pence=1000)
    await _send(bootstrap, fence)

    async def read() -> bool:
        async with ops.db.session() as session:
            return await session.get(Debt, fence.data.debt_id) is not None

    await _until(read, f"the service to read up to the fence on {account}")


async def _balances_caused_by(runtime: ServiceRuntime, event: ChargeAdjusted) -> int:
    """balance.changed events in the outbox that this adjustment caused: one per time it
    was applied (the relay is off, so the outbox keeps them)."""
    box = runtime.kernel.outbox
    async with runtime.db.engine.connect() as conn:
        rows = (await conn.execute(select(box.c.payload).where(box.c.topic == topics.PAYMENT_EVENTS))).all()
    published = [json.loads(row.payload) for row in rows]
    return sum(1 for e in published if e["type"] == "balance.changed" and e["causation_id"] == str(event.event_id))


async def _row(runtime: ServiceRuntime, dead_letter_id: int) -> Any:
    table = runtime.kernel.dead_letters
    async with runtime.db.engine.connect() as conn:
        return (await conn.execute(select(table).where(table.c.id == dead_letter_id))).one()


async def _marked(runtime: ServiceRuntime, message_id: str) -> bool:
    inbox = runtime.kernel.inbox
    async with runtime.db.engine.connect() as conn:
        found = await conn.execute(
            select(inbox.c.message_id).where(
                inbox.c.consumer == runtime.settings.consumer_group, inbox.c.message_id == message_id
            )
        )
        return found.first() is not None


class _Tail:
    """What is sent to a topic from now on, read straight from the broker."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap, self.topic = bootstrap, topic
        self.seen: list[Any] = []

    async def __aenter__(self) -> _Tail:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic)
        while not partitions:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic)
        assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for tp in assigned:  # fixes each partition's end now, before the test sends
            await self.consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def copies_of(self, dead_letter_id: int, account: str, settle_s: float = 1.0) -> list[Any]:
        """The records a re-drive sent for this dead letter of this account (other tests'
        databases number their dead letters too), read until none has come for
        ``settle_s``, so a copy too many would show."""
        quiet_until = time.monotonic() + settle_s
        while time.monotonic() < quiet_until:
            for batch in (await self.consumer.getmany(timeout_ms=200)).values():
                if batch:
                    self.seen.extend(batch)
                    quiet_until = time.monotonic() + settle_s
        wanted = ("redrive.dead_letter_id", str(dead_letter_id).encode())
        return [r for r in self.seen if wanted in list(r.headers) and r.key == account.encode()]


async def test_a_dead_letter_whose_cause_is_fixed_is_applied_once_by_the_running_service(
    database_url: str, kafka_bootstrap: str
) -> None:
    account = _account()
    adjustment = _adjustment(account, 120000)
    async with _payments(database_url, kafka_bootstrap) as (_, ops), _Tail(kafka_bootstrap, CHARGES) as tail:
        await _send(kafka_bootstrap, adjustment, headers=[("traceparent", b"00-abc-01")])
        dead_letter_id = int((await _dead_lettered(ops, str(adjustment.event_id))).id)
        assert NOT_KNOWN in (await _row(ops, dead_letter_id)).reason
        await _raise_debt(kafka_bootstrap, ops, account)

        with capture_logs() as logs:
            results = await redrive(
                ops, ids=[dead_letter_id], by="ops.jbloggs", why="billing raised the bill late", wait_s=30
            )

        assert [(r.id, r.outcome, r.redriven, r.not_yet_consumed) for r in results] == [
            (dead_letter_id, "applied", True, False)
        ]
        assert await _charged(ops, account) == 120000
        assert await _balances_caused_by(ops, adjustment) == 1
        [copy] = await tail.copies_of(dead_letter_id, account)
        assert (copy.key, copy.value) == (account.encode(), adjustment.to_bytes())
        assert list(copy.headers) == [
            ("traceparent", b"00-abc-01"),
            ("redrive.dead_letter_id", str(dead_letter_id).encode()),
            ("redrive.by", b"ops.jbloggs"),
        ]
        row = await _row(ops, dead_letter_id)
        assert (row.status, row.redriven_by, row.redrive_reason, row.redrive_outcome) == (
            "redriven",
            "ops.jbloggs",
            "billing raised the bill late",
            "applied",
        )
        assert row.redriven_at is not None
        [line] = [entry for entry in logs if entry["event"] == "dead letter re-driven"]
        assert {k: line[k] for k in ("id", "topic", "by", "why", "outcome", "sent_partition")} == {
            "id": dead_letter_id,
            "topic": CHARGES,
            "by": "ops.jbloggs",
            "why": "billing raised the bill late",
            "outcome": "applied",
            "sent_partition": copy.partition,
        }
        assert "payload" not in line and "discount applied" not in json.dumps(line, default=str)

        with pytest.raises(DeadLetterCommandRefused, match=f"#{dead_letter_id} was already re-driven"):
            await redrive(ops, ids=[dead_letter_id], by="ops.jbloggs", why="again")
        assert await tail.copies_of(dead_letter_id, account, settle_s=0.5) == [copy]

        # Billing sending the adjustment once more changes nothing: the service has it.
        await _send(kafka_bootstrap, adjustment)
        await _read_up_to_here(kafka_bootstrap, ops, account)
        assert await _balances_caused_by(ops, adjustment) == 1
        assert await _charged(ops, account) == 120000
        assert [d.status for d in await _dead_letters_of(ops, str(adjustment.event_id))] == ["redriven"]


async def test_ten_concurrent_redrives_of_one_dead_letter_send_it_once_and_it_is_applied_once(
    database_url: str, kafka_bootstrap: str
) -> None:
    account = _account()
    adjustment = _adjustment(account, 70000)
    async with _payments(database_url, kafka_bootstrap) as (_, ops), _Tail(kafka_bootstrap, CHARGES) as tail:
        dead_letter_id = await _refused_for_unknown_debt(kafka_bootstrap, ops, adjustment)
        await _raise_debt(kafka_bootstrap, ops, account)

        outcomes = await asyncio.gather(
            *(redrive(ops, ids=[dead_letter_id], by=f"ops.{n}", why="bill raised", wait_s=30) for n in range(10)),
            return_exceptions=True,
        )

        done = [o for o in outcomes if isinstance(o, list)]
        refused = [o for o in outcomes if isinstance(o, DeadLetterCommandRefused)]
        assert len(done) == 1 and len(refused) == 9, outcomes
        assert [(r.id, r.outcome) for r in done[0]] == [(dead_letter_id, "applied")]
        assert len(await tail.copies_of(dead_letter_id, account)) == 1
        assert await _charged(ops, account) == 70000
        assert await _balances_caused_by(ops, adjustment) == 1
        assert (await _row(ops, dead_letter_id)).status == "redriven"


async def test_a_redrive_whose_cause_is_not_fixed_is_dead_lettered_again_then_applied(
    database_url: str, kafka_bootstrap: str
) -> None:
    account = _account()
    adjustment = _adjustment(account, 90000)
    async with _payments(database_url, kafka_bootstrap) as (_, ops):
        first = await _refused_for_unknown_debt(kafka_bootstrap, ops, adjustment)

        [result] = await redrive(ops, ids=[first], by="ops.jbloggs", why="thought billing had sent it", wait_s=30)

        again = result.dead_lettered_again_as
        assert again is not None and again > first
        assert result.outcome == f"dead-lettered again as #{again}"
        assert await _balances_caused_by(ops, adjustment) == 0
        second = await show_dead_letter(ops, again)
        assert (second.status, second.message_id, second.event_type) == (
            "dead",
            str(adjustment.event_id),
            "charge.adjusted",
        )
        assert NOT_KNOWN in second.reason
        assert ("redrive.dead_letter_id", str(first)) in second.headers.items()
        assert ((await _row(ops, first)).status, (await _row(ops, first)).redrive_outcome) == (
            "redriven",
            f"dead-lettered again as #{again}",
        )

        with pytest.raises(DeadLetterCommandRefused, match="choose the dead letters"):
            await redrive(ops, reason="", by="ops.jbloggs", why="an empty reason is not 'every one'")
        with pytest.raises(DeadLetterCommandRefused, match="say who"):
            await redrive(ops, ids=[again], by="  ", why="no name")
        with pytest.raises(DeadLetterCommandRefused, match="--wait must be"):
            await redrive(ops, ids=[again], by="ops.jbloggs", why="too long", wait_s=3600)
        await _raise_debt(kafka_bootstrap, ops, account)
        [result] = await redrive(ops, ids=[again], by="ops.jbloggs", why="bill raised now", wait_s=30)
        assert (result.id, result.outcome) == (again, "applied")
        assert await _charged(ops, account) == 90000
        assert await _balances_caused_by(ops, adjustment) == 1


async def test_an_unreadable_message_is_sent_back_and_dead_lettered_again_under_its_new_position(
    database_url: str, kafka_bootstrap: str
) -> None:
    account = _account()
    async with _payments(database_url, kafka_bootstrap) as (_, ops), _Tail(kafka_bootstrap, CHARGES) as tail:
        sent = await _produce(kafka_bootstrap, CHARGES, account, b'{"type": "charge.adjusted", "data": ')
        first_id = f"raw:{CHARGES}/{sent.partition}/{sent.offset}"
        first = int((await _dead_lettered(ops, first_id)).id)

        [result] = await redrive(ops, ids=[first], by="ops.jbloggs", why="the new contract reads it", wait_s=30)

        [copy] = await tail.copies_of(first, account)
        again = result.dead_lettered_again_as
        assert again is not None
        assert result.outcome == (
            f"dead-lettered again as #{again} (still unreadable; sent back as partition {copy.partition} "
            f"offset {copy.offset})"
        )
        second = await show_dead_letter(ops, again)
        assert (second.message_id, second.source_partition, second.source_offset, second.status) == (
            f"raw:{CHARGES}/{copy.partition}/{copy.offset}",
            copy.partition,
            copy.offset,
            "dead",
        )
        assert (await _row(ops, first)).status == "redriven"


async def test_a_record_keyed_otherwise_than_its_envelope_is_refused_a_redrive(
    database_url: str, kafka_bootstrap: str
) -> None:
    account = _account()
    adjustment = _adjustment(account, 80000)
    async with _payments(database_url, kafka_bootstrap) as (_, ops), _Tail(kafka_bootstrap, CHARGES) as tail:
        sent = await _produce(kafka_bootstrap, CHARGES, f"not-{account}", adjustment.to_bytes())
        # Known to the inbox by its position, so that the producer's correctly keyed resend is applied.
        position = f"raw:{CHARGES}/{sent.partition}/{sent.offset}"
        row = await _dead_lettered(ops, position)
        assert "does not match the envelope's key" in row.reason
        await _raise_debt(kafka_bootstrap, ops, account)

        with pytest.raises(DeadLetterCommandRefused, match=KEYED_BY_ACCOUNT) as refused:
            await redrive(ops, ids=[row.id], by="ops.jbloggs", why="bill raised", wait_s=5)

        assert str(refused.value).startswith(f"dead letter #{row.id} was refused because its record's Kafka key")
        assert (await _row(ops, row.id)).status == "dead"
        assert await _marked(ops, position)
        assert await tail.copies_of(row.id, account, settle_s=0.5) == []
        assert await _balances_caused_by(ops, adjustment) == 0


async def test_a_redrive_the_service_has_not_read_says_so_and_is_applied_in_order_when_it_runs(
    database_url: str, kafka_bootstrap: str
) -> None:
    account = _account()
    adjustment = _adjustment(account, 60000)
    settings = _settings(database_url, kafka_bootstrap, f"test-redrive-{uuid.uuid4().hex[:8]}")
    await start_group_at_end(kafka_bootstrap, settings.consumer_group, *ROUTES.topics())
    ops = build_runtime(settings)
    try:
        async with _payments_running(settings):
            dead_letter_id = await _refused_for_unknown_debt(kafka_bootstrap, ops, adjustment)
        # The service is stopped. Billing sends the bill, then ops re-drive the adjustment:
        # on the account's partition the bill comes first.
        await _send(kafka_bootstrap, charge_raised(account, amount_pence=150000))

        [result] = await redrive(ops, ids=[dead_letter_id], by="ops.jbloggs", why="bill sent", wait_s=1)

        assert (result.outcome, result.redriven, result.not_yet_consumed) == (
            f"sent back to {CHARGES}; not yet consumed (is the service running?)",
            True,
            True,
        )
        assert result.outcome == not_yet_consumed(CHARGES)
        assert ((await _row(ops, dead_letter_id)).status, await _charged(ops, account)) == ("redriven", None)

        async with _payments_running(settings):

            async def adjusted() -> bool:
                return await _charged(ops, account) == 60000

            await _until(adjusted, "the restarted service to apply the bill, then the adjustment")
        assert await _balances_caused_by(ops, adjustment) == 1
        assert [d.id for d in await _dead_letters_of(ops, str(adjustment.event_id))] == [dead_letter_id]
    finally:
        await ops.db.dispose()


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


async def test_an_interrupted_redrive_is_taken_over_without_applying_twice(
    database_url: str, kafka_bootstrap: str
) -> None:
    sent_before_the_kill, never_sent = _account(), _account()
    applied_before_the_kill = _adjustment(sent_before_the_kill, 60000)
    not_handed_over = _adjustment(never_sent, 50000)
    async with _payments(database_url, kafka_bootstrap) as (_, ops):
        killed_after_sending = await _refused_for_unknown_debt(kafka_bootstrap, ops, applied_before_the_kill)
        killed_before_sending = await _refused_for_unknown_debt(kafka_bootstrap, ops, not_handed_over)
        await _raise_debt(kafka_bootstrap, ops, sent_before_the_kill)
        await _raise_debt(kafka_bootstrap, ops, never_sent)

        await _interrupt_after_claiming(ops, killed_after_sending, str(applied_before_the_kill.event_id))
        await _send(kafka_bootstrap, applied_before_the_kill)  # the first re-drive's copy, then it was killed

        async def applied() -> bool:
            return await _balances_caused_by(ops, applied_before_the_kill) == 1

        await _until(applied, "the running service to apply the first re-drive's copy")
        await _interrupt_after_claiming(ops, killed_before_sending, str(not_handed_over.event_id))

        with pytest.raises(DeadLetterCommandRefused, match="being re-driven now"):
            await redrive(ops, ids=[killed_after_sending], by="ops.second", why="take over")
        await _backdate_claim(ops, killed_after_sending)
        await _backdate_claim(ops, killed_before_sending)
        async with _Tail(kafka_bootstrap, CHARGES) as tail:
            results = await redrive(
                ops, ids=[killed_after_sending, killed_before_sending], by="ops.second", why="take over", wait_s=30
            )
            assert [(r.id, r.outcome) for r in results] == [
                (killed_after_sending, "applied"),
                (killed_before_sending, "applied"),
            ]
            assert len(await tail.copies_of(killed_before_sending, never_sent)) == 1
            assert await tail.copies_of(killed_after_sending, sent_before_the_kill, settle_s=0) == []
        assert await _balances_caused_by(ops, applied_before_the_kill) == 1
        assert await _balances_caused_by(ops, not_handed_over) == 1
        assert (await _charged(ops, sent_before_the_kill), await _charged(ops, never_sent)) == (60000, 50000)
        assert {(await _row(ops, i)).redriven_by for i in (killed_after_sending, killed_before_sending)} == {
            "ops.second"
        }


async def _handled_here(database_url: str, bootstrap: str) -> ServiceRuntime:
    """A runtime whose consumer is fed records directly, for choosing and refusing
    dead letters without a running service."""
    runtime = build_runtime(_settings(database_url, bootstrap, f"test-redrive-{uuid.uuid4().hex[:8]}"))
    runtime.migrate()
    return runtime


async def test_a_redrive_that_cannot_reach_the_broker_leaves_the_dead_letter_as_it_was(
    database_url: str, kafka_bootstrap: str
) -> None:
    account = _account()
    adjustment = _adjustment(account, 40000)
    runtime = await _handled_here(database_url, kafka_bootstrap)
    original = record(CHARGES, adjustment)
    await runtime.handle_records([original])
    [letter] = await list_dead_letters(runtime)
    await runtime.handle_records([record(CHARGES, charge_raised(account, amount_pence=150000))])
    nowhere = build_runtime(_settings(database_url, "127.0.0.1:1", runtime.settings.consumer_group))

    with pytest.raises(DeadLetterCommandRefused, match=f"could not send dead letter #{letter.id} back to {CHARGES}"):
        await redrive(nowhere, ids=[letter.id], by="ops.jbloggs", why="bill raised", wait_s=1)

    row = await _row(runtime, letter.id)
    assert (row.status, row.redriven_by, row.redrive_outcome) == ("dead", None, None)
    await runtime.handle_records([original])  # still marked handled: a redelivery is not applied behind it
    assert await _balances_caused_by(runtime, adjustment) == 0
    await nowhere.db.dispose()
    await runtime.db.dispose()


async def test_a_time_range_and_a_dry_run_choose_without_changing_anything(
    database_url: str, kafka_bootstrap: str
) -> None:
    runtime = await _handled_here(database_url, kafka_bootstrap)
    started = utc_now() - timedelta(seconds=1)
    adjustment, wrongly_keyed = _adjustment(_account(), 80000), _adjustment(_account(), 30000)
    await runtime.handle_records([record(CHARGES, adjustment)])
    await runtime.handle_records([record(CHARGES, wrongly_keyed.to_bytes(), key="not-its-account")])
    mendable, unmendable = [d.id for d in await list_dead_letters(runtime)]
    assert NOT_KNOWN in (await _row(runtime, mendable)).reason

    with pytest.raises(DeadLetterCommandRefused, match="matches"):
        await redrive(runtime, until=started, by="ops.jbloggs", why="range before it failed")
    planned = await redrive(runtime, since=started, by="ops.jbloggs", why="try", dry_run=True)
    assert [(r.id, r.redriven) for r in planned] == [(mendable, False), (unmendable, False)]
    assert planned[0].outcome == f"would be sent back to {CHARGES} for the running service to apply"
    assert KEYED_BY_ACCOUNT in planned[1].outcome
    assert [(await _row(runtime, i)).status for i in (mendable, unmendable)] == ["dead", "dead"]
    with pytest.raises(DeadLetterCommandRefused, match=KEYED_BY_ACCOUNT):
        await redrive(runtime, reason="does not match the envelope's key", by="ops.jbloggs", why="try")
    assert (await _row(runtime, unmendable)).status == "dead"
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
    runtime = await _handled_here(database_url, kafka_bootstrap)
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


async def test_the_ops_command_lists_shows_and_redrives_through_serve(
    database_url: str, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    personal = "occupier Ms Example moved to 1 Sample Road"
    account = _account()
    adjustment = _adjustment(account, 110000, reason=personal)
    configured: list[tuple[str, str]] = []
    monkeypatch.setattr(runtime_module, "configure_logging", lambda service, level: configured.append((service, level)))

    async with _payments(database_url, kafka_bootstrap) as (_, ops):
        dead_letter_id = await _refused_for_unknown_debt(kafka_bootstrap, ops, adjustment)
        await _raise_debt(kafka_bootstrap, ops, account)
        settings = ops.settings
        # The service's access log shares this process's stdout; the command's own output is what is checked.
        monkeypatch.setattr(logging.getLogger("faststream.access.kafka"), "disabled", True)
        capsys.readouterr()

        def run_serve(argv: tuple[str, ...]) -> int:
            monkeypatch.setattr(sys, "argv", ["recovery-payments", "dead-letters", *argv])
            try:
                serve("recovery_payments.app:create_app", settings)
            except SystemExit as exit_:
                assert isinstance(exit_.code, int)
                return exit_.code
            raise AssertionError("serve did not exit with a status")

        async def ops_command(*argv: str) -> tuple[int, str, str, list[dict[str, Any]]]:
            # In its own thread, as its own process would be, while the service runs here.
            with capture_logs() as logs:
                code = await asyncio.to_thread(run_serve, argv)
            out, err = capsys.readouterr()
            return code, out, err, logs

        # Other tests' messages reach this service too: only this account's dead letter is asked for.
        mine = ("--reason", f"CT-{account}-2026")
        code, out, _, _ = await ops_command("list", *mine)
        assert code == 0
        heading, line, total = out.splitlines()
        assert heading.split() == ["id", "direction", "topic", "event", "type", "age", "status", "reason"]
        assert line.split()[:4] == [f"#{dead_letter_id}", "inbound", CHARGES, "charge.adjusted"]
        assert line.split()[5:7] == ["dead", "refused:"] and NOT_KNOWN in line
        assert total == "1 dead letter."
        assert "Example" not in out

        code, out, _, _ = await ops_command("show", str(dead_letter_id))
        assert code == 0
        assert f"dead letter:  #{dead_letter_id}" in out and "message id:   " + str(adjustment.event_id) in out
        assert "(not shown; add --payload to see it)" in out and "Example" not in out
        code, out, _, _ = await ops_command("show", str(dead_letter_id), "--payload")
        assert code == 0 and personal in out

        code, out, err, _ = await ops_command(
            "redrive", "--id", "424242", "--by", "ops.jbloggs", "--why", "bill raised"
        )
        assert (code, out) == (2, "")
        assert err.strip() == "Refused: there is no dead letter #424242 in the payments service's database."

        code, out, err, logs = await ops_command(
            "redrive", "--id", str(dead_letter_id), "--by", "ops.jbloggs", "--why", "bill raised", "--wait", "30"
        )
        assert code == 0, err
        assert out.splitlines() == [
            f"  #{dead_letter_id}  inbound  {CHARGES}  charge.adjusted  applied",
            "Re-driven 1 of 1: 1 applied.",
        ]
        assert [(e["id"], e["by"], e["outcome"]) for e in logs if e["event"] == "dead letter re-driven"] == [
            (dead_letter_id, "ops.jbloggs", "applied")
        ]
        assert personal not in json.dumps(logs, default=str)
        assert configured and configured[0][0] == "payments"

        code, out, err, _ = await ops_command(
            "redrive", "--id", str(dead_letter_id), "--by", "ops.jbloggs", "--why", "bill raised"
        )
        assert (code, out) == (2, "")
        assert err.startswith(f"Refused: dead letter #{dead_letter_id} was already re-driven")
        code, out, _, _ = await ops_command("list", *mine)
        assert (code, out) == (0, "No dead letters waiting to be re-driven match.\n")
        assert await _charged(ops, account) == 110000
        assert await _balances_caused_by(ops, adjustment) == 1
