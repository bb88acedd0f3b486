"""No message can wedge a service, and dead letters are kept in its database (issue 9),
on SQLite and PostgreSQL.

A schema-valid message whose rows the database refuses when the unit commits used
to raise out of the consumer, so the batch was read again, failed again, and the
partition stopped for good with every later message behind it. Here such a message
is dead-lettered and the next one applied; so is one that keeps failing
transiently, after a bounded number of retries, and one whose record is keyed
otherwise than its envelope. The dead-letter topic gets a reference to the row that
keeps the original bytes, never the bytes themselves (they hold names and addresses).

The contracts bound every amount well inside a BIGINT, so the failing write is
driven by a tiny route table of this test's own, whose use case derives a figure
its column cannot hold and writes it in bulk at commit, as a service's record sets
do: the kernel is what is under test."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import BigInteger, Column, MetaData, String, Table, create_engine, select
from sqlalchemy.exc import DataError
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from recovery_payments.app import build_runtime as payments_runtime
from recovery_payments.models import Debt
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.contracts.common import LiableParty
from recovery_shared.contracts.inbound import PaymentReceived
from recovery_shared.messaging.bulk import insert_rows
from recovery_shared.messaging.consumer import InboxConsumer
from recovery_shared.messaging.db import Database
from recovery_shared.messaging.routes import Route, RouteTable
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.messaging.tables import KernelTables, add_kernel_tables
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork
from recovery_shared.refusal import Refused
from tests.factories import Record, charge_raised, payment_received, record

pytestmark = pytest.mark.integration

RETRIES = 3
CONSUMER = "recovery-no-wedge-test"

metadata = MetaData()
kernel = add_kernel_tables(metadata)
figures = Table(
    "figure",
    metadata,
    Column("receipt_ref", String(40), primary_key=True),
    Column("figure", BigInteger, nullable=False),
)


class Figures:
    """Rows written when the unit commits, in one bulk statement (COPY on PostgreSQL,
    executemany on SQLite), as a service's record sets are."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, int]] = []

    async def flush(self, session: AsyncSession) -> None:
        rows, self.rows = self.rows, []
        await insert_rows(session, figures, ("receipt_ref", "figure"), rows)

    def reset(self) -> None:
        self.rows = []


class FiguresUnit(SqlUnitOfWork):
    figures: Figures

    def open_repositories(self) -> None:
        self.figures = Figures()
        self.track(self.figures)


class ChangedMeanwhile(Exception):
    """A compare-and-set that lost its race, as the kernel's StaleRecord is marked."""

    transient = True


class FigureUseCases:
    def __init__(self) -> None:
        self.always_changed_meanwhile: set[str] = set()
        self.raise_on: dict[str, Exception] = {}
        self.attempts: Counter[str] = Counter()

    async def record_figure(self, uow: FiguresUnit, event: PaymentReceived) -> None:
        """Keeps 10^15 times the receipt's pence: a stand-in for any figure a use case
        derives that its column cannot hold once the receipt is large enough."""
        ref = event.data.receipt_ref
        self.attempts[ref] += 1
        if ref in self.always_changed_meanwhile:
            raise ChangedMeanwhile(f"receipt {ref} was changed by another writer")
        if ref in self.raise_on:
            raise self.raise_on[ref]
        uow.figures.rows.append((ref, event.data.amount_pence * 10**15))


ROUTES = RouteTable(
    service="no-wedge-test", routes=(Route(PaymentReceived, FigureUseCases.record_figure),), publishes=()
)

FITS = 1_000  # 10^18: inside a BIGINT
TOO_LARGE = 10_000  # 10^19: beyond a BIGINT's 9.2 x 10^18


def figures_service(database_url: str) -> tuple[Database, InboxConsumer, FigureUseCases]:
    engine = create_engine(database_url)
    metadata.create_all(engine)
    engine.dispose()
    db = Database(database_url)
    use_cases = FigureUseCases()
    consumer = InboxConsumer(
        units=lambda: FiguresUnit(db, kernel, CONSUMER),
        routes=ROUTES,
        use_cases=use_cases,
        transient_retries=RETRIES,
        retry_initial_s=0.01,
        retry_ceiling_s=0.02,
    )
    return db, consumer, use_cases


def receipt(ref: str, pence: int) -> Record:
    return record(topics.PAYMENT_RECEIPTS, payment_received(ref, pence, reference="9001"))


async def stored_figures(db: Database) -> dict[str, int]:
    async with db.session() as session:
        return {r.receipt_ref: r.figure for r in (await session.execute(select(figures))).all()}


async def dead_letters(db: Database, tables: KernelTables) -> list[Any]:
    async with db.session() as session:
        return list((await session.execute(select(tables.dead_letters).order_by(tables.dead_letters.c.id))).all())


async def dead_letter_references(db: Database, tables: KernelTables) -> list[Any]:
    async with db.session() as session:
        outbox = tables.outbox
        rows = (await session.execute(select(outbox).order_by(outbox.c.id))).all()
    return [r for r in rows if r.topic.endswith(".dlq")]


async def test_a_message_the_database_refuses_at_commit_is_dead_lettered_and_the_next_is_applied(
    database_url: str,
) -> None:
    db, consumer, _ = figures_service(database_url)
    big = receipt("BIG", TOO_LARGE)
    batch = [receipt("BEFORE", FITS), big, receipt("AFTER", FITS)]

    await asyncio.wait_for(consumer.handle(batch), timeout=60)  # used to raise, for ever

    assert await stored_figures(db) == {"BEFORE": 10**18, "AFTER": 10**18}
    [dead] = await dead_letters(db, kernel)
    assert dead.reason.startswith("unexpected error: ")
    # PostgreSQL refuses the row at COPY; SQLite's driver cannot even bind the value.
    assert "out of range for type bigint" in dead.reason or "too large to convert to SQLite INTEGER" in dead.reason
    assert (dead.direction, dead.status, dead.consumer) == ("inbound", "dead", CONSUMER)
    assert (dead.topic, dead.source_partition, dead.source_offset) == (topics.PAYMENT_RECEIPTS, 0, big.offset)
    assert dead.payload == big.value
    assert dead.event_type == "payment.received" and dead.message_key == "9001"
    assert dead.message_id == json.loads(big.value or b"")["event_id"]
    [reference] = await dead_letter_references(db, kernel)
    assert reference.topic == topics.dead_letter_topic(topics.PAYMENT_RECEIPTS)
    assert json.loads(reference.payload)["dead_letter_id"] == dead.id
    assert reference.headers["dlq.reason"] == dead.reason
    counts = consumer.counts[topics.PAYMENT_RECEIPTS]
    assert (counts.handled, counts.dead_lettered) == (2, 1)

    # Read again (FastStream rewinds after a crash): nothing happens twice.
    await consumer.handle(batch)
    assert len(await dead_letters(db, kernel)) == 1
    assert counts.duplicates == 3
    await db.dispose()


async def test_a_message_that_keeps_failing_transiently_is_dead_lettered_as_poison(database_url: str) -> None:
    db, consumer, use_cases = figures_service(database_url)
    use_cases.always_changed_meanwhile.add("STUCK")

    await asyncio.wait_for(
        consumer.handle([receipt("BEFORE", FITS), receipt("STUCK", FITS), receipt("AFTER", FITS)]), timeout=60
    )

    assert await stored_figures(db) == {"BEFORE": 10**18, "AFTER": 10**18}
    [dead] = await dead_letters(db, kernel)
    assert dead.reason == (
        f"kept failing after {RETRIES} retries: ChangedMeanwhile: receipt STUCK was changed by another writer"
    )
    # The batch's bounded tries, then the message's own bounded tries alone.
    assert use_cases.attempts["STUCK"] == 2 * (RETRIES + 1)
    await db.dispose()


async def _payments(database_url: str) -> ServiceRuntime:
    runtime = payments_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


async def test_a_record_keyed_otherwise_than_its_envelope_is_dead_lettered(database_url: str) -> None:
    runtime = await _payments(database_url)
    wrong_key = charge_raised("A2", debt_id="CT-WRONG-KEY")
    no_key = charge_raised("A2", debt_id="CT-NO-KEY")
    good = charge_raised("A2", debt_id="CT-GOOD")
    await runtime.handle_records(
        [
            Record(topics.BILLING_CHARGES, wrong_key.to_bytes(), key=b"A1", offset=0),
            Record(topics.BILLING_CHARGES, no_key.to_bytes(), key=None, offset=1),
            Record(topics.BILLING_CHARGES, good.to_bytes(), key=b"A2", offset=2),
        ]
    )
    async with runtime.db.session() as session:
        assert await session.get(Debt, "CT-GOOD") is not None
        assert await session.get(Debt, "CT-WRONG-KEY") is None
        assert await session.get(Debt, "CT-NO-KEY") is None
    advice = "producers must key each record by its envelope's key (the account reference)"
    # Marked handled by their positions, not their event ids (see the test below).
    assert [(d.message_id, d.reason, d.message_key) for d in await dead_letters(runtime.db, runtime.kernel)] == [
        (
            f"raw:{topics.BILLING_CHARGES}/0/0",
            f"the record key 'A1' does not match the envelope's key 'A2'; {advice}",
            "A1",
        ),
        (f"raw:{topics.BILLING_CHARGES}/0/1", f"the record has no key but the envelope's key is 'A2'; {advice}", None),
    ]
    references = [json.loads(r.payload) for r in await dead_letter_references(runtime.db, runtime.kernel)]
    assert [r["event_id"] for r in references] == [str(wrong_key.event_id), str(no_key.event_id)]
    await runtime.db.dispose()


async def test_a_wrongly_keyed_record_resent_correctly_keyed_is_applied(database_url: str) -> None:
    """The dead letter's reason tells the producer to key by the account; its resend of
    the same event (same event id) used to be counted a duplicate and never applied."""
    runtime = await _payments(database_url)
    wrong_key = charge_raised("A2", debt_id="CT-RESENT")
    no_key = charge_raised("A3", debt_id="CT-RESENT-NO-KEY")
    await runtime.handle_records(
        [
            Record(topics.BILLING_CHARGES, wrong_key.to_bytes(), key=b"A1", offset=0),
            Record(topics.BILLING_CHARGES, no_key.to_bytes(), key=None, offset=1),
        ]
    )
    resent = [
        Record(topics.BILLING_CHARGES, wrong_key.to_bytes(), key=b"A2", offset=2),
        Record(topics.BILLING_CHARGES, no_key.to_bytes(), key=b"A3", offset=3),
    ]
    await runtime.handle_records(resent)
    async with runtime.db.session() as session:
        assert await session.get(Debt, "CT-RESENT") is not None
        assert await session.get(Debt, "CT-RESENT-NO-KEY") is not None
    counts = runtime.consumer.counts[topics.BILLING_CHARGES]
    assert (counts.dead_lettered, counts.handled, counts.duplicates) == (2, 2, 0)

    await runtime.handle_records(resent)  # read again: nothing happens twice
    assert (counts.dead_lettered, counts.handled, counts.duplicates) == (2, 2, 2)
    await runtime.db.dispose()


# --- what even a dead letter could not be written for ------------------------------------------


ODD_KEY = "9001\ud800\x00".encode("utf-8", "surrogatepass")


def _odd(value: bytes, offset: int, key: bytes = ODD_KEY) -> Record:
    return Record(
        topics.PAYMENT_RECEIPTS,
        value,
        key=key,
        offset=offset,
        headers=[
            ("trace\ud800\x00", "v\udfff\x00".encode("utf-8", "surrogatepass")),
            ("channel", b"card"),
            ("x" * 500, b"y" * 5000),
        ],
    )


@pytest.mark.parametrize("together", [True, False], ids=["in one batch", "one by one"])
async def test_messages_no_dead_letter_could_be_written_for_are_dead_lettered_and_the_next_applied(
    database_url: str, together: bool
) -> None:
    """About a kilobyte of '[' used to raise RecursionError while the dead letter was
    being described; an escaped lone surrogate as the type, a key or header no driver
    could encode, or a NUL PostgreSQL refuses, made the dead letter's insert fail: each
    raised out of the consumer, and the same batch came back for ever."""
    db, consumer, use_cases = figures_service(database_url)
    use_cases.raise_on["ODD-REASON"] = Refused("receipt \ud800 from \x00 was already recorded")
    use_cases.raise_on["ODD-ERROR"] = ValueError("no \udc00 here\x00")
    bad = [
        _odd(b"[" * 1000, 100),
        _odd(b'{"type":"\\ud800","key":"\\udc00"}', 101),
        _odd(b"\xed\xa0\x80\x00", 102),
        # Keyed as they should be, so they reach their use case.
        _odd(receipt("ODD-REASON", FITS).value or b"", 103, key=b"9001"),
        _odd(receipt("ODD-ERROR", FITS).value or b"", 104, key=b"9001"),
    ]
    after = receipt("AFTER", FITS)
    for batch in [[*bad, after]] if together else [[r] for r in [*bad, after]]:
        await asyncio.wait_for(consumer.handle(batch), timeout=60)

    assert await stored_figures(db) == {"AFTER": 10**18}
    kept = await dead_letters(db, kernel)
    assert [(d.source_offset, d.payload) for d in kept] == [(r.offset, r.value) for r in bad]
    assert [d.message_key for d in kept] == ["9001\ufffd\ufffd\ufffd\ufffd"] * 3 + ["9001"] * 2
    for dead in kept:
        assert dead.headers == {"trace?\ufffd": "v\ufffd\ufffd\ufffd\ufffd", "channel": "card", "x" * 200: "y" * 2000}
    assert [d.event_type for d in kept] == [None, None, None, "payment.received", "payment.received"]
    assert kept[0].reason.startswith("malformed message") and kept[1].reason.startswith("malformed message")
    assert kept[3].reason == "refused: receipt ? from \ufffd was already recorded"
    assert kept[4].reason == "unexpected error: ValueError: no ? here\ufffd"
    references = await dead_letter_references(db, kernel)
    assert [json.loads(r.payload)["dead_letter_id"] for r in references] == [d.id for d in kept]
    assert [r.headers["dlq.reason"] for r in references] == [d.reason for d in kept]

    await consumer.handle([*bad, after])  # read again: nothing happens twice
    assert len(await dead_letters(db, kernel)) == len(bad)
    await db.dispose()


class RefusesFullDeadLetters(FiguresUnit):
    """A database that refuses whatever a full dead letter holds beyond the message's
    bytes and key, as a driver might refuse text no sanitising foresaw."""

    async def keep_dead_letter(self, letter: Any) -> int:
        if letter.headers or letter.event_type is not None:
            raise DataError("INSERT INTO dead_letter", {}, Exception("invalid byte sequence"))
        return await super().keep_dead_letter(letter)


async def test_a_dead_letter_the_database_refuses_is_kept_minimal_and_the_next_is_applied(database_url: str) -> None:
    db, consumer, use_cases = figures_service(database_url)
    consumer.units = lambda: RefusesFullDeadLetters(db, kernel, CONSUMER)
    use_cases.raise_on["BAD"] = Refused("no such debt")
    bad = receipt("BAD", FITS)
    bad.headers = [("channel", b"card")]

    await asyncio.wait_for(consumer.handle([bad, receipt("AFTER", FITS)]), timeout=60)

    assert await stored_figures(db) == {"AFTER": 10**18}
    [dead] = await dead_letters(db, kernel)
    assert (dead.reason, dead.event_type, dead.headers) == ("could not be described: DataError", None, {})
    assert (dead.payload, dead.message_key, dead.source_offset) == (bad.value, "9001", bad.offset)
    assert dead.message_id == json.loads(bad.value or b"")["event_id"]
    [reference] = await dead_letter_references(db, kernel)
    assert json.loads(reference.payload)["dead_letter_id"] == dead.id
    assert reference.headers["dlq.reason"] == dead.reason
    await db.dispose()


# --- personal data in a failure's description ------------------------------------------------------


class BuildsANotice(FigureUseCases):
    async def record_figure(self, uow: FiguresUnit, event: PaymentReceived) -> None:
        if event.data.receipt_ref != "NOTICE":
            return await super().record_figure(uow, event)
        # A recipient built from what the service holds, two address lines too many: the
        # validation error's own text carries every line it was given.
        LiableParty(
            party_id="P-9101",
            name=PERSONAL[0],
            address_lines=[PERSONAL[1], PERSONAL[2]] * 6,
            postcode=PERSONAL[3],
        )


async def test_an_event_that_fails_to_build_is_dead_lettered_without_the_personal_data_it_was_given(
    database_url: str,
) -> None:
    db, consumer, _ = figures_service(database_url)
    consumer.routes = RouteTable(
        service="no-wedge-test", routes=(Route(PaymentReceived, BuildsANotice.record_figure),), publishes=()
    )
    consumer.use_cases = BuildsANotice()
    with capture_logs() as logs:
        await asyncio.wait_for(consumer.handle([receipt("NOTICE", FITS), receipt("AFTER", FITS)]), timeout=60)

    [dead] = await dead_letters(db, kernel)
    assert dead.reason == (
        "unexpected error: ValidationError: 1 validation error(s) for LiableParty: "
        "address_lines: List should have at most 10 items after validation, not 12"
    )
    [reference] = await dead_letter_references(db, kernel)
    told = [dead.reason, reference.payload.decode(), json.dumps(reference.headers), json.dumps(logs, default=str)]
    assert not [p for p in PERSONAL for text in told if p in text]
    assert "message dead-lettered" in [line["event"] for line in logs]
    await db.dispose()


PERSONAL = ("Margaret Example", "12 Acacia Avenue", "Little Snoring", "NR21 0AA")


async def test_the_dead_letter_topic_carries_a_reference_and_no_personal_data(database_url: str) -> None:
    runtime = await _payments(database_url)
    party = LiableParty(
        party_id="P-9101", name=PERSONAL[0], address_lines=[PERSONAL[1], PERSONAL[2]], postcode=PERSONAL[3]
    )
    first = charge_raised("9101")
    first = first.model_copy(update={"data": first.data.model_copy(update={"liable_party": party})})
    # The same debt again for another amount: refused by the rules, so dead-lettered.
    conflicting = first.model_copy(
        update={"event_id": charge_raised("9101").event_id, "data": first.data.model_copy(update={"amount_pence": 999})}
    )
    refused = record(topics.BILLING_CHARGES, conflicting)
    await runtime.handle_records([record(topics.BILLING_CHARGES, first), refused])

    [dead] = await dead_letters(runtime.db, runtime.kernel)
    assert dead.reason.startswith("refused: ")
    assert dead.payload == refused.value
    assert all(p.encode() in dead.payload for p in PERSONAL)  # kept whole, where access is controlled
    [reference] = await dead_letter_references(runtime.db, runtime.kernel)
    on_the_topic = reference.payload + json.dumps(reference.headers).encode() + (reference.message_key or "").encode()
    assert not [p for p in PERSONAL if p.encode() in on_the_topic]
    assert json.loads(reference.payload) == {
        "dead_letter_id": dead.id,
        "consumer": runtime.settings.consumer_group,
        "reason": dead.reason,
        "source_topic": topics.BILLING_CHARGES,
        "source_partition": 0,
        "source_offset": refused.offset,
        "event_id": str(conflicting.event_id),
        "event_type": "charge.raised",
        "failed_at": json.loads(reference.payload)["failed_at"],
    }
    await runtime.db.dispose()
