"""The consumer's failure handling on a fake unit of work: every failure is
classified, no message can stop the partition, and a dead letter keeps the
original bytes out of the dead-letter topic (issue 9).

The integration tests (tests/integration/test_no_wedge.py) do the same against
SQLite and PostgreSQL; these pin the kernel's rules without a database."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from recovery_shared import topics
from recovery_shared.contracts.inbound import PaymentReceived
from recovery_shared.messaging.consumer import InboxConsumer
from recovery_shared.messaging.errors import describe_failure, is_transient
from recovery_shared.messaging.routes import Route, RouteTable
from recovery_shared.refusal import Refused
from tests.factories import Record, payment_received, record
from tests.unit.fakes import FakeUnitOfWork

RETRIES = 3


class ChangedMeanwhile(Exception):
    """Stands for a compare-and-set that lost its race: marked, not subclassed."""

    transient = True


class Receipts(FakeUnitOfWork):
    """A fake unit that keeps the receipt references its committed units applied, and
    can be told to fail its commit the way a database refuses a row."""

    def __init__(self) -> None:
        super().__init__("recovery-test")
        self.applied: list[str] = []
        self.pending: list[str] = []
        self.fail_commit_on: dict[str, BaseException] = {}
        self.dead_letter_failure: BaseException | None = None

    async def commit(self) -> None:
        for ref in self.pending:
            if ref in self.fail_commit_on:
                raise self.fail_commit_on[ref]
        self.applied.extend(self.pending)
        self.pending = []
        await super().commit()

    async def rollback(self) -> None:
        self.pending = []
        await super().rollback()

    async def keep_dead_letter(self, letter: Any) -> int:
        if self.dead_letter_failure is not None:
            raise self.dead_letter_failure
        return await super().keep_dead_letter(letter)


class UseCases:
    def __init__(self) -> None:
        self.raise_on: dict[str, BaseException] = {}
        self.attempts: dict[str, int] = {}

    async def record_receipt(self, uow: Receipts, event: PaymentReceived) -> None:
        ref = event.data.receipt_ref
        self.attempts[ref] = self.attempts.get(ref, 0) + 1
        if ref in self.raise_on:
            raise self.raise_on[ref]
        uow.pending.append(ref)


ROUTES = RouteTable(service="test", routes=(Route(PaymentReceived, UseCases.record_receipt),), publishes=())


def consumer(unit: Receipts, use_cases: UseCases) -> InboxConsumer:
    return InboxConsumer(
        units=lambda: unit,
        routes=ROUTES,
        use_cases=use_cases,
        transient_retries=RETRIES,
        retry_initial_s=0.001,
        retry_ceiling_s=0.002,
    )


def receipt(ref: str, account: str = "1001") -> Record:
    return record(topics.PAYMENT_RECEIPTS, payment_received(ref, 1000, reference=account))


def dead_reasons(unit: Receipts) -> dict[str, str]:
    """Each dead-lettered receipt's reference (read from the kept original) and reason."""
    return {json.loads(letter.payload)["data"]["receipt_ref"]: letter.reason for _, letter in unit.dead_letters}


# --- classifying failures ----------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.SerializationFailure("could not serialize access due to concurrent update"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        OperationalError("UPDATE receipt", {}, psycopg.errors.SerializationFailure("could not serialize")),
        OperationalError("INSERT", {}, Exception("database is locked")),
        ChangedMeanwhile(),
        ConnectionResetError(),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_bad_moment_is_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        psycopg.errors.NumericValueOutOfRange('value "100000000000000000000" is out of range for type bigint'),
        psycopg.errors.UniqueViolation("duplicate key value violates unique constraint"),
        IntegrityError("INSERT INTO receipt", {}, psycopg.errors.UniqueViolation("duplicate key")),
        DataError("INSERT INTO debt", {}, psycopg.errors.NumericValueOutOfRange("value out of range")),
        OverflowError("Python int too large to convert to SQLite INTEGER"),
        ValueError("a bug"),
        Refused("a rule"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_a_bad_message_is_not_transient(error: Exception) -> None:
    assert not is_transient(error)


def test_only_a_class_marked_transient_true_counts() -> None:
    class Truthy(Exception):
        transient = "yes"

    assert not is_transient(Truthy())


def test_a_database_error_is_described_without_the_row_it_was_writing() -> None:
    error = IntegrityError(
        "INSERT INTO debt (liable_name, address) VALUES (%s, %s)",
        {"liable_name": "Jane Doe", "address": "1 High Street"},
        psycopg.errors.UniqueViolation("duplicate key value violates unique constraint"),
    )
    described = describe_failure(error)
    assert described == "UniqueViolation: duplicate key value violates unique constraint"
    assert "Jane Doe" not in described and "High Street" not in described


# --- no message can stop the partition ---------------------------------------------------


async def test_a_batch_with_nothing_wrong_is_one_unit() -> None:
    unit, use_cases = Receipts(), UseCases()
    await consumer(unit, use_cases).handle([receipt("R1"), receipt("R2"), receipt("R3")])
    assert unit.applied == ["R1", "R2", "R3"]
    assert unit.commits == 1


async def test_a_message_whose_commit_fails_is_dead_lettered_and_the_next_is_applied() -> None:
    unit, use_cases = Receipts(), UseCases()
    unit.fail_commit_on["BIG"] = OverflowError("Python int too large to convert to SQLite INTEGER")
    inbox = consumer(unit, use_cases)
    await inbox.handle([receipt("R1"), receipt("BIG"), receipt("R3")])
    assert unit.applied == ["R1", "R3"]
    assert dead_reasons(unit) == {
        "BIG": "unexpected error: OverflowError: Python int too large to convert to SQLite INTEGER"
    }
    counts = inbox.counts[topics.PAYMENT_RECEIPTS]
    assert (counts.handled, counts.dead_lettered) == (2, 1)
    assert len(unit.inbox) == 3


async def test_a_message_that_keeps_failing_transiently_is_poison_after_bounded_retries() -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["STUCK"] = ChangedMeanwhile("the receipt moved on")
    await consumer(unit, use_cases).handle([receipt("R1"), receipt("STUCK"), receipt("R3")])
    assert unit.applied == ["R1", "R3"]
    assert dead_reasons(unit) == {
        "STUCK": f"kept failing after {RETRIES} retries: ChangedMeanwhile: the receipt moved on"
    }
    # The batch's tries, then the message's own: each bounded.
    assert use_cases.attempts["STUCK"] == 2 * (RETRIES + 1)


async def test_a_transient_failure_that_clears_is_applied_not_dead_lettered() -> None:
    unit = Receipts()
    failures = iter([OperationalError("SELECT", {}, Exception("database is locked"))] * (RETRIES + 2))

    class LockedForAWhile(UseCases):
        async def record_receipt(self, uow: Receipts, event: PaymentReceived) -> None:
            failure = next(failures, None)
            if failure is not None:
                raise failure
            await super().record_receipt(uow, event)

    await consumer(unit, LockedForAWhile()).handle([receipt("R1")])
    assert unit.applied == ["R1"]
    assert unit.dead_letters == []


async def test_a_refused_message_is_dead_lettered_without_retries() -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["DUP"] = Refused("receipt DUP from card was already recorded")
    await consumer(unit, use_cases).handle([receipt("DUP"), receipt("R2")])
    assert dead_reasons(unit) == {"DUP": "refused: receipt DUP from card was already recorded"}
    assert use_cases.attempts["DUP"] == 2  # once in the batch, once alone
    assert unit.applied == ["R2"]


async def test_handle_raises_only_when_the_dead_letter_cannot_be_written() -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["BAD"] = ValueError("a bug")
    unit.dead_letter_failure = OperationalError(
        "INSERT INTO dead_letter", {}, Exception("server closed the connection")
    )
    with pytest.raises(OperationalError):
        await consumer(unit, use_cases).handle([receipt("R1"), receipt("BAD"), receipt("R3")])
    # What came before was kept; the bad one and what follows come again with the batch.
    assert unit.applied == ["R1"]
    assert len(unit.inbox) == 1


# --- the record's key ---------------------------------------------------------------------


async def test_a_record_keyed_otherwise_than_its_envelope_is_dead_lettered() -> None:
    unit, use_cases = Receipts(), UseCases()
    good = receipt("R3", account="A2")
    wrong_key = Record(topics.PAYMENT_RECEIPTS, receipt("R1", account="A2").value, key=b"A1", offset=1)
    no_key = Record(topics.PAYMENT_RECEIPTS, receipt("R2", account="A2").value, key=None, offset=2)
    await consumer(unit, use_cases).handle([wrong_key, no_key, good])
    assert unit.applied == ["R3"]
    assert dead_reasons(unit) == {
        "R1": "the record key 'A1' does not match the envelope's key 'A2'; producers must key each record "
        "by its envelope's key (the account reference)",
        "R2": "the record has no key but the envelope's key is 'A2'; producers must key each record "
        "by its envelope's key (the account reference)",
    }
    assert "R1" not in use_cases.attempts and "R2" not in use_cases.attempts


# --- what a dead letter keeps, and where ------------------------------------------------------


async def test_the_dead_letter_topic_gets_a_reference_and_the_original_stays_in_the_unit() -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["BAD"] = Refused("no such debt")
    bad = receipt("BAD", account="5001")
    bad.headers = [("traceparent", b"00-abc"), ("channel", b"card"), ("channel", b"kiosk")]
    sent: list[tuple[str, str | None, bytes, str]] = []
    original_publish_raw = unit.publish_raw

    def publish_raw(topic: str, key: str | None, payload: bytes, headers: dict[str, str]) -> None:
        sent.append((topic, key, payload, json.dumps(headers)))
        original_publish_raw(topic, key, payload, headers)

    unit.publish_raw = publish_raw  # type: ignore[method-assign]
    await consumer(unit, use_cases).handle([bad])

    [(dead_letter_id, letter)] = unit.dead_letters
    assert letter.payload == bad.value
    assert letter.direction == "inbound" and letter.topic == topics.PAYMENT_RECEIPTS
    assert (letter.source_partition, letter.source_offset, letter.message_key) == (0, bad.offset, "5001")
    assert letter.event_type == "payment.received" and letter.message_id == json.loads(bad.value or b"")["event_id"]
    assert letter.headers == {"traceparent": "00-abc", "channel": ["card", "kiosk"]}
    [(topic, key, payload, headers)] = sent
    assert topic == topics.dead_letter_topic(topics.PAYMENT_RECEIPTS) and key == "5001"
    reference = json.loads(payload)
    assert reference == {
        "dead_letter_id": dead_letter_id,
        "consumer": "recovery-test",
        "reason": "refused: no such debt",
        "source_topic": topics.PAYMENT_RECEIPTS,
        "source_partition": 0,
        "source_offset": bad.offset,
        "event_id": letter.message_id,
        "event_type": "payment.received",
        "failed_at": reference["failed_at"],
    }
    assert json.loads(headers)["dlq.dead_letter_id"] == str(dead_letter_id)


async def test_a_rolled_back_unit_keeps_no_dead_letter() -> None:
    unit = Receipts()
    async with unit:
        await unit.keep_dead_letter(object())  # type: ignore[arg-type]
        await unit.rollback()
    assert unit.dead_letters == []
