"""The consumer's failure handling on a fake unit of work: every failure is
classified, no message can stop the partition, and a dead letter keeps the
original bytes out of the dead-letter topic (issue 9).

The integration tests (tests/integration/test_no_wedge.py) do the same against
SQLite and PostgreSQL; these pin the kernel's rules without a database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import DataError, IntegrityError, InterfaceError, OperationalError
from structlog.testing import capture_logs

from recovery_shared import topics
from recovery_shared.contracts.common import LiableParty
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
        self.refuse_dead_letter: Callable[[Any], BaseException | None] = lambda _: None
        self.sent: list[tuple[str, str | None, bytes, str]] = []
        """What went to the outbox raw (dead-letter references), as it was encoded."""

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
        refusal = self.refuse_dead_letter(letter)
        if refusal is not None:
            raise refusal
        # As a driver would: SQLite's cannot encode a lone surrogate, PostgreSQL's text
        # and jsonb refuse NUL.
        for text in _texts_in(
            [getattr(letter, f, None) for f in ("topic", "message_key", "event_type", "reason", "headers")]
        ):
            text.encode("utf-8")
            assert "\x00" not in text, f"a NUL reached the dead letter: {text!r}"
        return await super().keep_dead_letter(letter)

    def publish_raw(self, topic: str, key: str | None, payload: bytes, headers: dict[str, str]) -> None:
        for text in _texts_in([topic, key, payload.decode(), headers]):
            text.encode("utf-8")
            assert "\x00" not in text, f"a NUL reached the dead-letter topic: {text!r}"
        self.sent.append((topic, key, payload, json.dumps(headers)))
        super().publish_raw(topic, key, payload, headers)


def _texts_in(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in (*_texts_in(k), *_texts_in(v))]
    if isinstance(value, list):
        return [t for v in value for t in _texts_in(v)]
    return []


class UseCases:
    """The route table calls ``UseCases.record_receipt`` itself, so a test changes what
    it does through these fields, not by overriding it."""

    def __init__(self) -> None:
        self.raise_on: dict[str, BaseException] = {}
        self.first_failures: list[BaseException] = []
        """Raised one per attempt, whatever the receipt, before it is applied."""
        self.attempts: dict[str, int] = {}

    async def record_receipt(self, uow: Receipts, event: PaymentReceived) -> None:
        ref = event.data.receipt_ref
        self.attempts[ref] = self.attempts.get(ref, 0) + 1
        if self.first_failures:
            raise self.first_failures.pop(0)
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
        OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
        OperationalError("INSERT", {}, sqlite3.OperationalError("database table is locked: dead_letter")),
        OperationalError("BEGIN", {}, sqlite3.OperationalError("database is busy")),
        sqlite3.OperationalError("database is locked"),
        OperationalError("SELECT", {}, psycopg.OperationalError("server closed the connection unexpectedly")),
        OperationalError("SELECT", {}, psycopg.errors.AdminShutdown("terminating connection")),
        OperationalError("CONNECT", {}, psycopg.errors.TooManyConnections("too many clients already")),
        OperationalError("UPDATE", {}, psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")),
        OperationalError("UPDATE", {}, psycopg.errors.DeadlockDetected("deadlock detected")),
        ChangedMeanwhile(),
        ConnectionResetError(),
    ],
    ids=lambda e: f"{type(e).__name__}: {getattr(e, 'orig', e)}",
)
def test_a_bad_moment_is_transient(error: Exception) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "message",
    [
        "no such table: dead_letter",
        "attempt to write a readonly database",
        "database or disk is full",
        "table receipt has no column named channel",
        "unable to open database file",
    ],
)
def test_a_sqlite_failure_that_time_will_not_mend_is_not_transient(message: str) -> None:
    # Retrying these only delays the dead letter (or, writing one, stops the partition).
    assert not is_transient(OperationalError("INSERT INTO dead_letter", {}, sqlite3.OperationalError(message)))
    assert not is_transient(sqlite3.OperationalError(message))


def test_a_sqlite_value_it_cannot_bind_is_not_transient() -> None:
    error = InterfaceError("INSERT INTO debt", {}, sqlite3.InterfaceError("Error binding parameter 1"))
    assert not is_transient(error)


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


def test_a_postgresql_error_is_described_without_its_detail_and_context_lines() -> None:
    message = (
        'new row for relation "debt" violates check constraint "debt_name_check"\n'
        "DETAIL:  Failing row contains (CT-1, Jane Doe, 1 High Street).\n"
        'CONTEXT:  COPY debt, line 1: "CT-1\tJane Doe\t1 High Street"'
    )
    for error in (psycopg.errors.CheckViolation(message), psycopg.DataError(message)):
        described = describe_failure(DataError("COPY debt", {}, error))
        assert described == f'{type(error).__name__}: new row for relation "debt" violates check constraint ' + (
            '"debt_name_check"'
        )


PERSONAL = ("Margaret Example", "12 Acacia Avenue", "Little Snoring", "NR21 0AA")


def _a_party_that_fails_to_build() -> Exception:
    try:
        LiableParty(
            party_id="P-1", name=PERSONAL[0], address_lines=[PERSONAL[1], PERSONAL[2]] * 6, postcode=PERSONAL[3]
        )
    except Exception as exc:
        return exc
    raise AssertionError("eleven address lines were accepted")


def test_a_validation_error_is_described_by_where_and_what_not_by_its_input() -> None:
    error = _a_party_that_fails_to_build()
    assert PERSONAL[1] in str(error)  # what pydantic's own words would have put in a dead letter
    described = describe_failure(error)
    assert described == (
        "ValidationError: 1 validation error(s) for LiableParty: "
        "address_lines: List should have at most 10 items after validation, not 12"
    )


def test_a_description_is_safe_to_store_and_bounded() -> None:
    described = describe_failure(ValueError("lone \ud800 and \x00 " + "x" * 5000))
    described.encode("utf-8")
    assert "\x00" not in described and len(described) == 2000


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
    unit, use_cases = Receipts(), UseCases()
    # Through the batch's tries and into the message's own, then the lock clears.
    use_cases.first_failures = [OperationalError("SELECT", {}, Exception("database is locked"))] * (RETRIES + 2)
    await consumer(unit, use_cases).handle([receipt("R1")])
    assert unit.applied == ["R1"]
    assert unit.dead_letters == []
    assert use_cases.attempts["R1"] == RETRIES + 3


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


# --- what can be refused even a dead letter ------------------------------------------------


def _the_next_is_applied_and_one_dead_letter_kept(unit: Receipts) -> Any:
    assert unit.applied == ["R2"]
    [(_, letter)] = unit.dead_letters
    return letter


async def test_deeply_nested_json_is_dead_lettered_and_the_next_is_applied() -> None:
    # It fails the contract cleanly, but reading it again for its type used to raise
    # RecursionError, so the dead letter was never written and the batch came back for ever.
    unit, use_cases = Receipts(), UseCases()
    nested = Record(topics.PAYMENT_RECEIPTS, b"[" * 1000, key=b"1001", offset=900)
    await consumer(unit, use_cases).handle([nested, receipt("R2")])
    letter = _the_next_is_applied_and_one_dead_letter_kept(unit)
    assert letter.payload == nested.value and letter.event_type is None
    assert letter.reason.startswith("malformed message")


@pytest.mark.parametrize("alone", [False, True], ids=["in a batch", "alone"])
async def test_lone_surrogates_and_nuls_from_outside_are_dead_lettered_as_text_any_driver_takes(alone: bool) -> None:
    unit, use_cases = Receipts(), UseCases()
    odd = Record(
        topics.PAYMENT_RECEIPTS,
        b'{"type":"\\ud800","key":"\\udc00"}',
        key="\ud800 A\x00".encode("utf-8", "surrogatepass"),
        offset=901,
        headers=[("trace\ud800\x00", "v\udfff\x00".encode("utf-8", "surrogatepass")), ("x" * 500, b"y" * 5000)],
    )
    inbox = consumer(unit, use_cases)
    for batch in [[odd], [receipt("R2")]] if alone else [[odd, receipt("R2")]]:
        await inbox.handle(batch)
    letter = _the_next_is_applied_and_one_dead_letter_kept(unit)
    assert letter.payload == odd.value and letter.event_type is None
    assert letter.message_key == "\ufffd\ufffd\ufffd A\ufffd"
    assert letter.headers == {"trace?\ufffd": "v\ufffd\ufffd\ufffd\ufffd", "x" * 200: "y" * 2000}
    [(_, _, reference, _)] = unit.sent
    assert json.loads(reference)["source_offset"] == odd.offset


@pytest.mark.parametrize(
    "failure",
    [Refused("receipt \ud800 from \x00 was already recorded"), ValueError("no \udc00 here\x00")],
    ids=["refused", "unexpected"],
)
async def test_a_reason_with_lone_surrogates_and_nuls_is_dead_lettered_as_safe_text(failure: Exception) -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["ODD"] = failure
    await consumer(unit, use_cases).handle([receipt("ODD"), receipt("R2")])
    [reason] = dead_reasons(unit).values()
    assert "?" in reason and "\ufffd" in reason
    [(_, _, reference, headers)] = unit.sent
    assert json.loads(reference)["reason"] == reason == json.loads(headers)["dlq.reason"]


async def test_a_dead_letter_the_database_refuses_is_kept_minimal_and_the_partition_moves_on() -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["BAD"] = ValueError("a bug")
    # Whatever the full letter holds that a driver will not take: the minimal one holds
    # nothing read from the message but its bytes and its key.
    unit.refuse_dead_letter = lambda letter: (
        DataError("INSERT INTO dead_letter", {}, psycopg.DataError("invalid byte sequence"))
        if letter.headers or letter.event_type is not None
        else None
    )
    bad = receipt("BAD")
    bad.headers = [("channel", b"card")]
    with capture_logs() as logs:
        await consumer(unit, use_cases).handle([bad, receipt("R2")])
    letter = _the_next_is_applied_and_one_dead_letter_kept(unit)
    assert letter.reason == "could not be described: DataError"
    assert (letter.payload, letter.message_key, letter.event_type, letter.headers) == (bad.value, "1001", None, {})
    assert letter.message_id == json.loads(bad.value or b"")["event_id"]
    assert json.loads(unit.sent[0][2])["reason"] == "could not be described: DataError"
    assert "could not write the dead letter in full; keeping a minimal one" in [e["event"] for e in logs]


async def test_handle_raises_when_even_the_minimal_dead_letter_meets_a_transient_failure() -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["BAD"] = ValueError("a bug")
    unit.refuse_dead_letter = lambda letter: (
        DataError("INSERT INTO dead_letter", {}, psycopg.DataError("invalid byte sequence"))
        if letter.event_type is not None
        else OperationalError("INSERT INTO dead_letter", {}, psycopg.OperationalError("server closed the connection"))
    )
    with pytest.raises(OperationalError):
        await consumer(unit, use_cases).handle([receipt("BAD"), receipt("R2")])
    assert unit.dead_letters == [] and unit.applied == []


# --- personal data ----------------------------------------------------------------------------


async def test_an_event_that_fails_to_build_is_dead_lettered_without_the_personal_data_it_was_given() -> None:
    unit, use_cases = Receipts(), UseCases()
    use_cases.raise_on["R1"] = _a_party_that_fails_to_build()
    with capture_logs() as logs:
        await consumer(unit, use_cases).handle([receipt("R1")])
    [(_, letter)] = unit.dead_letters
    assert letter.reason == (
        "unexpected error: ValidationError: 1 validation error(s) for LiableParty: "
        "address_lines: List should have at most 10 items after validation, not 12"
    )
    [(_, _, reference, headers)] = unit.sent
    kept = [letter.reason, reference.decode(), headers, json.dumps(logs, default=str)]
    assert not [p for p in PERSONAL for text in kept if p in text]
    assert any(e["event"] == "message dead-lettered" for e in logs)
    assert any("ValidationError" in str(e.get("error", "")) for e in logs)


# --- a wrongly keyed record, resent correctly ----------------------------------------------------


async def test_a_wrongly_keyed_record_resent_correctly_keyed_is_applied() -> None:
    unit, use_cases = Receipts(), UseCases()
    correct = receipt("R1", account="A2")
    wrong_key = Record(topics.PAYMENT_RECEIPTS, correct.value, key=b"A1", offset=correct.offset + 1000)
    inbox = consumer(unit, use_cases)
    await inbox.handle([wrong_key])
    [(_, letter)] = unit.dead_letters
    assert letter.message_id == f"raw:{topics.PAYMENT_RECEIPTS}/0/{wrong_key.offset}"
    assert json.loads(unit.sent[0][2])["event_id"] == json.loads(correct.value or b"")["event_id"]

    await inbox.handle([correct])  # the producer's resend, same event id, keyed as it should be
    assert unit.applied == ["R1"]
    await inbox.handle([wrong_key, correct])  # both read again: nothing happens twice
    assert unit.applied == ["R1"] and len(unit.dead_letters) == 1
    assert inbox.counts[topics.PAYMENT_RECEIPTS].duplicates == 2


async def test_a_wrongly_keyed_record_and_its_correct_resend_in_one_batch() -> None:
    unit, use_cases = Receipts(), UseCases()
    correct = receipt("R1", account="A2")
    wrong_key = Record(topics.PAYMENT_RECEIPTS, correct.value, key=None, offset=correct.offset + 1000)
    await consumer(unit, use_cases).handle([wrong_key, correct])
    assert unit.applied == ["R1"] and len(unit.dead_letters) == 1
