"""Readiness judged from what a service observed (design §5, issue 9): a partition
that stopped advancing while its messages wait, an outbox row left too long, and a
relay failing round after round each make the service unready, with the reason."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from recovery_payments.app import build_runtime
from recovery_payments.settings import PaymentsSettings
from recovery_shared.messaging.runtime import (
    Observed,
    PartitionState,
    ReadinessLimits,
    ServiceRuntime,
    readiness_reasons,
)
from tests.factories import Record

LIMITS = ReadinessLimits(stall_after_s=60, outbox_max_age_s=30, relay_failures_before_unready=5)

ALL_WELL = Observed(
    database="ok",
    broker="ok",
    relay_running=True,
    relay_failures_in_a_row=0,
    relay_last_error=None,
    oldest_outbox_row_s=None,
    partitions=(
        PartitionState("payments.receipts.v1", 0, waiting_s=None, in_flight_s=None, last_attempt_failed=False),
    ),
)


def partition(**facts: Any) -> PartitionState:
    base: dict[str, Any] = {"topic": "payments.receipts.v1", "partition": 3, "in_flight_s": None}
    return PartitionState(**{**base, **facts})


def test_a_service_with_everything_moving_is_ready() -> None:
    assert readiness_reasons(ALL_WELL, LIMITS) == []


def test_a_partition_whose_batch_keeps_failing_is_stalled_once_it_has_waited_too_long() -> None:
    failing = partition(waiting_s=61, last_attempt_failed=True, last_error="OperationalError")
    assert readiness_reasons(replace(ALL_WELL, partitions=[failing]), LIMITS) == [
        "payments.receipts.v1 partition 3 has not advanced for 61 s while messages wait "
        "(not ready beyond 60 s; its last batch failed: OperationalError)"
    ]


def test_a_failure_the_next_attempt_may_still_mend_is_not_yet_a_stall() -> None:
    just_failed = partition(waiting_s=2, last_attempt_failed=True, last_error="OperationalError")
    assert readiness_reasons(replace(ALL_WELL, partitions=[just_failed]), LIMITS) == []


def test_a_batch_in_flight_too_long_stalls_its_partition() -> None:
    stuck = partition(waiting_s=75, in_flight_s=75, last_attempt_failed=False)
    assert readiness_reasons(replace(ALL_WELL, partitions=[stuck]), LIMITS) == [
        "payments.receipts.v1 partition 3 has not advanced for 75 s while messages wait "
        "(not ready beyond 60 s; a batch has been in flight for 75 s)"
    ]
    # A long batch within the limit is only a long batch.
    busy = partition(waiting_s=59, in_flight_s=59, last_attempt_failed=False)
    assert readiness_reasons(replace(ALL_WELL, partitions=[busy]), LIMITS) == []


def test_an_idle_partition_is_never_stalled_however_long_since_its_last_message() -> None:
    # Nothing waits: no batch in flight, none failed.
    idle = partition(waiting_s=None, last_attempt_failed=False, lag=0)
    assert readiness_reasons(replace(ALL_WELL, partitions=[idle]), LIMITS) == []


def test_only_the_stalled_partition_is_named() -> None:
    stalled = partition(partition=4, waiting_s=90, last_attempt_failed=True)
    moving = partition(partition=5, waiting_s=1, in_flight_s=1, last_attempt_failed=False)
    reasons = readiness_reasons(replace(ALL_WELL, partitions=[stalled, moving]), LIMITS)
    assert len(reasons) == 1
    assert reasons[0].startswith("payments.receipts.v1 partition 4 has not advanced for 90 s")
    assert reasons[0].endswith("its last batch failed)")


def test_an_outbox_row_older_than_the_limit_makes_the_service_unready() -> None:
    assert readiness_reasons(replace(ALL_WELL, oldest_outbox_row_s=30), LIMITS) == []
    assert readiness_reasons(replace(ALL_WELL, oldest_outbox_row_s=31.4), LIMITS) == [
        "outbox holds an event 31 s old (not ready beyond 30 s)"
    ]


def test_a_relay_failing_round_after_round_makes_the_service_unready() -> None:
    failing = replace(ALL_WELL, relay_failures_in_a_row=4, relay_last_error="KafkaConnectionError: no broker")
    assert readiness_reasons(failing, LIMITS) == []
    assert readiness_reasons(replace(failing, relay_failures_in_a_row=5), LIMITS) == [
        "outbox relay has failed 5 rounds in a row (last: KafkaConnectionError: no broker)"
    ]


def test_the_database_broker_and_relay_being_down_are_each_a_reason() -> None:
    down = replace(ALL_WELL, database="unavailable: OperationalError", broker="unavailable", relay_running=False)
    assert readiness_reasons(down, LIMITS) == [
        "database unavailable: OperationalError",
        "broker unavailable",
        "outbox relay is not running",
    ]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Consumer:
    """Stands in for the inbox consumer: fails while told to, and lets the test move
    the clock while a batch is in flight."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock
        self.failing = False
        self.takes_s = 0.0
        self.counts: dict[str, Any] = {}

    async def handle(self, records: Any) -> None:
        self.clock.now += self.takes_s
        await asyncio.sleep(0)
        if self.failing:
            raise ConnectionError("database went away")


def _runtime(tmp_path: Any) -> tuple[ServiceRuntime, _Clock, _Consumer]:
    runtime = build_runtime(PaymentsSettings(database_url=f"sqlite:///{tmp_path / 'p.sqlite'}"))
    clock = _Clock()
    consumer = _Consumer(clock)
    runtime.monotonic = clock
    runtime.consumer = consumer  # type: ignore[assignment]
    return runtime, clock, consumer


def _batch(*spans: tuple[int, int, int]) -> list[Record]:
    """Records of topic ``t``: (partition, first offset, last offset) each."""
    return [
        Record(topic="t", value=b"{}", partition=p, offset=o)
        for p, first, last in spans
        for o in range(first, last + 1)
    ]


async def test_the_runtime_notes_when_a_partitions_messages_began_to_wait_and_forgets_it_once_they_commit(
    tmp_path: Any,
) -> None:
    runtime, clock, consumer = _runtime(tmp_path)
    await runtime.handle_records(_batch((0, 0, 9), (1, 0, 4)))
    states = {s.partition: s for s in await runtime.partition_states()}
    assert states[0] == PartitionState("t", 0, waiting_s=None, in_flight_s=None, last_attempt_failed=False)
    assert states[1].waiting_s is None

    consumer.failing = True
    with pytest.raises(ConnectionError):
        await runtime.handle_records(_batch((0, 10, 19)))
    clock.now += 30
    with pytest.raises(ConnectionError):
        await runtime.handle_records(_batch((0, 10, 19)))
    clock.now += 31
    states = {s.partition: s for s in await runtime.partition_states()}
    # Waiting since the first failed attempt, not since the retry.
    assert states[0] == PartitionState(
        "t", 0, waiting_s=61, in_flight_s=None, last_attempt_failed=True, last_error="ConnectionError"
    )
    assert states[1].waiting_s is None and not states[1].last_attempt_failed
    assert readiness_reasons(replace(ALL_WELL, partitions=list(states.values())), LIMITS) == [
        "t partition 0 has not advanced for 61 s while messages wait "
        "(not ready beyond 60 s; its last batch failed: ConnectionError)"
    ]

    consumer.failing = False
    await runtime.handle_records(_batch((0, 10, 19)))
    states = {s.partition: s for s in await runtime.partition_states()}
    assert states[0] == PartitionState("t", 0, waiting_s=None, in_flight_s=None, last_attempt_failed=False)
    await runtime.db.dispose()


async def test_a_batch_still_in_flight_is_seen_as_in_flight(tmp_path: Any) -> None:
    runtime, clock, consumer = _runtime(tmp_path)
    gate = asyncio.Event()

    async def slow(records: Any) -> None:
        await gate.wait()

    consumer.handle = slow  # type: ignore[method-assign]
    task = asyncio.create_task(runtime.handle_records(_batch((2, 5, 7))))
    await asyncio.sleep(0)
    clock.now += 70
    (state,) = await runtime.partition_states()
    assert (state.partition, state.waiting_s, state.in_flight_s, state.last_attempt_failed) == (2, 70, 70, False)
    gate.set()
    await task
    (state,) = await runtime.partition_states()
    assert (state.waiting_s, state.in_flight_s) == (None, None)
    await runtime.db.dispose()
