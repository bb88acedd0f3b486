"""Readiness judged from what a service observed (design §5, issue 9): a partition
that stopped advancing while its messages wait (a batch failing or stuck, or a lag
that no commit has moved), a consumer whose consume loop has stopped, an outbox row
left too long, and a relay failing round after round each make the service
unready, with the reason; an idle partition, a busy one that keeps committing and
one handed back after a rebalance do not."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest
from aiokafka import TopicPartition

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


def test_a_partition_with_a_lag_that_has_not_advanced_for_too_long_is_stalled_though_nothing_failed() -> None:
    # No batch of it failed or is in flight: the consumer has stopped handing its
    # messages to the handler, and only the lag shows it.
    starved = partition(waiting_s=None, last_attempt_failed=False, lag=3, lagging_s=61)
    assert readiness_reasons(replace(ALL_WELL, partitions=[starved]), LIMITS) == [
        "payments.receipts.v1 partition 3 has not advanced for 61 s with a lag of 3 messages (not ready beyond 60 s)"
    ]
    one = partition(waiting_s=None, last_attempt_failed=False, lag=1, lagging_s=60)
    assert readiness_reasons(replace(ALL_WELL, partitions=[one]), LIMITS) == [
        "payments.receipts.v1 partition 3 has not advanced for 60 s with a lag of 1 message (not ready beyond 60 s)"
    ]


def test_a_lag_younger_than_the_limit_is_only_work_to_do() -> None:
    busy = partition(waiting_s=None, last_attempt_failed=False, lag=5000, lagging_s=59)
    assert readiness_reasons(replace(ALL_WELL, partitions=[busy]), LIMITS) == []


def test_a_failing_partition_with_a_lag_is_named_once_with_its_failure() -> None:
    failing = partition(waiting_s=61, last_attempt_failed=True, last_error="OperationalError", lag=2, lagging_s=61)
    assert readiness_reasons(replace(ALL_WELL, partitions=[failing]), LIMITS) == [
        "payments.receipts.v1 partition 3 has not advanced for 61 s while messages wait "
        "(not ready beyond 60 s; its last batch failed: OperationalError)"
    ]


def test_a_stopped_consumer_makes_the_service_unready_with_what_stopped_it() -> None:
    assert readiness_reasons(replace(ALL_WELL, consumer="stopped"), LIMITS) == ["consumer stopped"]
    assert readiness_reasons(replace(ALL_WELL, consumer="stopped: UnicodeDecodeError"), LIMITS) == [
        "consumer stopped: UnicodeDecodeError"
    ]
    # A process that consumes nothing (an ops command) has no consumer to judge.
    assert readiness_reasons(replace(ALL_WELL, consumer=None), LIMITS) == []


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


class _KafkaConsumer:
    """Stands in for the subscriber's aiokafka consumer: its assignment, each
    partition's highwater mark and its position (the group's committed offset until
    the consume loop takes records)."""

    def __init__(self) -> None:
        self.highwaters: dict[TopicPartition, int] = {}
        self.positions: dict[TopicPartition, int] = {}

    def assignment(self) -> set[TopicPartition]:
        return set(self.highwaters)

    def highwater(self, tp: TopicPartition) -> int:
        return self.highwaters[tp]

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


class _Subscriber:
    def __init__(self) -> None:
        self.consumer = _KafkaConsumer()
        self.tasks: list[asyncio.Task[Any]] = []


def _subscribed(runtime: ServiceRuntime) -> _Subscriber:
    subscriber = _Subscriber()
    runtime._subscriber = subscriber
    return subscriber


async def test_a_partition_the_handler_never_saw_counts_its_lag_from_when_it_was_first_seen(tmp_path: Any) -> None:
    runtime, clock, _ = _runtime(tmp_path)
    kafka = _subscribed(runtime).consumer
    tp = TopicPartition("t", 4)
    kafka.highwaters[tp], kafka.positions[tp] = 10, 10
    (state,) = await runtime.partition_states()
    assert (state.lag, state.lagging_s) == (0, None), "idle: nothing waits"

    clock.now += 3600
    kafka.highwaters[tp] = 12
    (state,) = await runtime.partition_states()
    assert (state.lag, state.lagging_s) == (2, 0)
    clock.now += 61
    (state,) = await runtime.partition_states()
    assert (state.lag, state.lagging_s) == (2, 61)
    assert readiness_reasons(replace(ALL_WELL, partitions=[state]), LIMITS) == [
        "t partition 4 has not advanced for 61 s with a lag of 2 messages (not ready beyond 60 s)"
    ]

    # Handled at last: the lag is gone and its clock with it.
    await runtime.handle_records(_batch((4, 10, 11)))
    kafka.positions[tp] = 12
    (state,) = await runtime.partition_states()
    assert (state.lag, state.lagging_s) == (0, None)
    await runtime.db.dispose()


async def test_a_busy_partition_that_keeps_committing_is_not_stalled_however_long_its_lag_lasts(
    tmp_path: Any,
) -> None:
    runtime, clock, _ = _runtime(tmp_path)
    kafka = _subscribed(runtime).consumer
    tp = TopicPartition("t", 0)
    kafka.highwaters[tp], kafka.positions[tp] = 10_000, 0
    for first in range(0, 5000, 500):
        clock.now += 20
        await runtime.handle_records(_batch((0, first, first + 499)))
        kafka.positions[tp] = first + 500
        (state,) = await runtime.partition_states()
        assert state.lag == 10_000 - first - 500
        assert state.lagging_s is not None and state.lagging_s < 60
        assert readiness_reasons(replace(ALL_WELL, partitions=[state]), LIMITS) == []
    # Then it stops committing: stalled a full limit after its last commit.
    clock.now += 60
    (state,) = await runtime.partition_states()
    assert (state.lag, state.lagging_s) == (5000, 60)
    await runtime.db.dispose()


async def test_a_partition_taken_away_in_a_rebalance_is_forgotten_so_it_comes_back_with_no_stale_failure(
    tmp_path: Any,
) -> None:
    runtime, clock, consumer = _runtime(tmp_path)
    kafka = _subscribed(runtime).consumer
    tp = TopicPartition("t", 1)
    kafka.highwaters[tp], kafka.positions[tp] = 20, 10
    consumer.failing = True
    with pytest.raises(ConnectionError):
        await runtime.handle_records(_batch((1, 10, 19)))
    # Another instance takes it and handles it; then it comes back, caught up and idle.
    await runtime.consumer_listener().on_partitions_revoked({tp})
    clock.now += 600
    kafka.positions[tp] = 20
    (state,) = await runtime.partition_states()
    assert (state.waiting_s, state.last_attempt_failed, state.lag, state.lagging_s) == (None, False, 0, None)
    assert readiness_reasons(replace(ALL_WELL, partitions=[state]), LIMITS) == []
    await runtime.db.dispose()


async def test_the_consumer_is_running_while_its_consume_loop_is_alive(tmp_path: Any) -> None:
    runtime, _, _ = _runtime(tmp_path)
    assert runtime.consumer_state() is None, "no subscriber: nothing consumed, nothing to judge"
    subscriber = _subscribed(runtime)
    assert runtime.consumer_state() == "stopped", "never started"

    async def consume_loop() -> None:
        await asyncio.Event().wait()

    async def broken_loop() -> None:
        b"\xff".decode()

    loop = asyncio.create_task(consume_loop())
    subscriber.tasks.append(loop)
    await asyncio.sleep(0)
    assert runtime.consumer_state() == "running"

    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert runtime.consumer_state() == "stopped"

    # FastStream keeps an ended task in its list beside the one it restarts.
    broken = asyncio.create_task(broken_loop())
    with pytest.raises(UnicodeDecodeError):
        await broken
    subscriber.tasks.append(broken)
    assert runtime.consumer_state() == "stopped: UnicodeDecodeError"
    restarted = asyncio.create_task(consume_loop())
    subscriber.tasks.append(restarted)
    await asyncio.sleep(0)
    assert runtime.consumer_state() == "running"
    restarted.cancel()
    await runtime.db.dispose()
