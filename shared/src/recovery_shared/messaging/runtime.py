"""What every service process has: its database, its outbox relay, its consumers,
a FastStream app with health endpoints, and its settings.

``GET /health`` is readiness: 503, with its reasons in the body, when the database
or the broker is away, the relay has stopped or keeps failing, the outbox holds a
row too long, a partition has stopped advancing while its messages wait, or the
consumer has stopped reading. The judgement is ``readiness_reasons``, a pure
function of what the runtime observed.
``GET /health/live`` is liveness: 200 while the process serves at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Union

import structlog
from aiokafka import AIOKafkaClient, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.specification import AsyncAPI
from pydantic import Field
from sqlalchemy import MetaData, func, select, text

from recovery_shared.clock import utc_now
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.logging import configure_logging
from recovery_shared.messaging.consumer import DeadLetterReference, InboxConsumer, RecordLike, counts_report
from recovery_shared.messaging.db import Database
from recovery_shared.messaging.migrations import upgrade_to_head
from recovery_shared.messaging.outbox import OutboxRelay
from recovery_shared.messaging.routes import RouteTable, describe
from recovery_shared.messaging.tables import KernelTables
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork, outbox_depth
from recovery_shared.settings import ServiceSettings
from recovery_shared.topics import dead_letter_topic

log = structlog.get_logger("recovery.runtime")


@dataclass(frozen=True)
class ReadinessLimits:
    stall_after_s: float
    outbox_max_age_s: float
    relay_failures_before_unready: int

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> ReadinessLimits:
        return cls(
            stall_after_s=settings.stall_after_s,
            outbox_max_age_s=settings.outbox_max_age_s,
            relay_failures_before_unready=settings.relay_failures_before_unready,
        )


@dataclass(frozen=True)
class PartitionState:
    """One consumed partition as the runtime last saw it."""

    topic: str
    partition: int
    waiting_s: float | None
    """How long its messages have waited without a commit: since the first attempt
    at a batch after the last one that committed. None while nothing waits."""
    in_flight_s: float | None
    """How long the batch being handled now has been at it; None if none is."""
    last_attempt_failed: bool
    last_error: str | None = None
    lag: int | None = None
    """Records on the broker beyond the last one committed, when the consumer knows."""
    lagging_s: float | None = None
    """How long it has had a lag above zero without a commit: since its last commit,
    or since the lag was first seen if that is later. None while it has no lag."""

    @property
    def name(self) -> str:
        return f"{self.topic} partition {self.partition}"

    def report(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "lag": self.lag,
            "lagging_s": _rounded(self.lagging_s),
            "waiting_s": _rounded(self.waiting_s),
            "in_flight_s": _rounded(self.in_flight_s),
            "last_attempt_failed": self.last_attempt_failed,
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class Observed:
    """What readiness is judged on; every duration in seconds."""

    database: str
    """'ok', or 'unavailable: <error type>'."""
    broker: str
    relay_running: bool
    relay_failures_in_a_row: int
    relay_last_error: str | None
    oldest_outbox_row_s: float | None
    partitions: Sequence[PartitionState] = ()
    consumer: str | None = "running"
    """'running', 'stopped' or 'stopped: <error type>'; None for a process that
    consumes nothing (an ops command's runtime)."""


def readiness_reasons(observed: Observed, limits: ReadinessLimits) -> list[str]:
    """Why the service should not be sent work now; ready when there are none.

    A partition is stalled once its messages have waited ``stall_after_s`` with no
    commit: because its last batch raised, because a batch has been in flight all
    that time, or because it has had a lag that long and no batch of it has reached
    the handler (a consumer that stopped handing messages over shows only as lag).
    A single failure that the next attempt mends is not one; an idle partition, with
    no lag, never is."""
    reasons: list[str] = []
    if observed.database != "ok":
        reasons.append(f"database {observed.database}")
    if observed.broker != "ok":
        reasons.append(f"broker {observed.broker}")
    if not observed.relay_running:
        reasons.append("outbox relay is not running")
    if observed.relay_failures_in_a_row >= limits.relay_failures_before_unready:
        last = f" (last: {observed.relay_last_error})" if observed.relay_last_error else ""
        reasons.append(f"outbox relay has failed {observed.relay_failures_in_a_row} rounds in a row{last}")
    if observed.oldest_outbox_row_s is not None and observed.oldest_outbox_row_s > limits.outbox_max_age_s:
        reasons.append(
            f"outbox holds an event {observed.oldest_outbox_row_s:.0f} s old "
            f"(not ready beyond {limits.outbox_max_age_s:g} s)"
        )
    if observed.consumer is not None and observed.consumer != "running":
        reasons.append(f"consumer {observed.consumer}")
    for p in observed.partitions:
        stall = _stall(p, limits)
        if stall is not None:
            reasons.append(stall)
    return reasons


def _stall(p: PartitionState, limits: ReadinessLimits) -> str | None:
    limit = f"not ready beyond {limits.stall_after_s:g} s"
    waiting = p.waiting_s is not None and p.waiting_s >= limits.stall_after_s
    if waiting and (p.last_attempt_failed or p.in_flight_s is not None):
        if p.last_attempt_failed:
            why = f"its last batch failed: {p.last_error}" if p.last_error else "its last batch failed"
        else:
            why = f"a batch has been in flight for {p.in_flight_s:.0f} s"
        return f"{p.name} has not advanced for {p.waiting_s:.0f} s while messages wait ({limit}; {why})"
    if p.lag and p.lagging_s is not None and p.lagging_s >= limits.stall_after_s:
        messages = "message" if p.lag == 1 else "messages"
        return f"{p.name} has not advanced for {p.lagging_s:.0f} s with a lag of {p.lag} {messages} ({limit})"
    return None


@dataclass
class _Progress:
    """One partition's batches, on the monotonic clock."""

    waiting_since: float | None = None
    in_flight_since: float | None = None
    last_attempt_failed: bool = False
    last_error: str | None = None
    waiting_from: int | None = None
    """The first offset not yet committed, while messages wait."""
    next_offset: int | None = None
    """The offset after the last one committed."""
    committed_at: float | None = None
    lag_seen_since: float | None = None
    """When a health check first saw its lag above zero, until one sees none."""


class ServiceRuntime:
    """One service process's parts, built from its route table."""

    def __init__(
        self,
        *,
        settings: ServiceSettings,
        metadata: MetaData,
        kernel: KernelTables,
        migrations_dir: Path,
        routes: RouteTable,
        use_cases: object,
        unit_of_work: type[SqlUnitOfWork],
    ) -> None:
        self.settings = settings
        self.metadata = metadata
        self.kernel = kernel
        self.migrations_dir = migrations_dir
        self.routes = routes
        self.use_cases = use_cases
        self.unit_of_work = unit_of_work
        self.db = Database(settings.resolved_database_url())
        self.relay = OutboxRelay(
            db=self.db,
            kernel=kernel,
            bootstrap_servers=settings.kafka_bootstrap_servers,
            client_id=f"{settings.consumer_group}-relay",
            batch_size=settings.relay_batch_size,
            max_message_bytes=settings.max_message_bytes,
        )
        self.consumer = InboxConsumer(
            units=self.unit,
            routes=routes,
            use_cases=use_cases,
            on_committed=self.relay.wake,
            transient_retries=settings.transient_retries,
            retry_initial_s=settings.retry_initial_s,
            retry_ceiling_s=settings.retry_ceiling_s,
        )
        self.limits = ReadinessLimits.from_settings(settings)
        self.progress: dict[tuple[str, int], _Progress] = {}
        # Seams for the tests: stall times are measured on the first, ages of stored
        # rows (written with ``utc_now``) on the second.
        self.monotonic: Callable[[], float] = time.monotonic
        self.wall_clock: Callable[[], datetime] = utc_now
        self._subscriber: Any = None

    def unit(self) -> SqlUnitOfWork:
        """A new unit of work on this service's database (use it with ``async with``)."""
        unit = self.unit_of_work(self.db, self.kernel, self.settings.consumer_group)
        unit.publishable = self.routes.published_types()
        return unit

    async def handle_records(self, records: Sequence[RecordLike]) -> None:
        """A batch from the service's one consumer, all its topics together. Each of its
        partitions' progress is noted for readiness: when its messages began to wait,
        whether a batch is in flight, whether the last attempt raised."""
        # Records come in offset order within a partition: the first seen is its lowest.
        offsets: dict[tuple[str, int], list[int]] = {}
        for r in records:
            span = offsets.get((r.topic, r.partition))
            if span is None:
                offsets[(r.topic, r.partition)] = [r.offset, r.offset]
            else:
                span[1] = r.offset
        started = self.monotonic()
        touched = []
        for tp, (first, _) in offsets.items():
            progress = self.progress.get(tp)
            if progress is None:
                progress = self.progress[tp] = _Progress()
            if progress.waiting_since is None:
                progress.waiting_since = started
                progress.waiting_from = first
            progress.in_flight_since = started
            touched.append(progress)
        try:
            await self.consumer.handle(records)
        except Exception as exc:
            for progress in touched:
                progress.in_flight_since = None
                progress.last_attempt_failed = True
                # The type alone: a message could carry a name into the health report.
                progress.last_error = type(exc).__name__
            raise
        except BaseException:
            for progress in touched:
                progress.in_flight_since = None
            raise
        for progress, (_, last) in zip(touched, offsets.values(), strict=True):
            progress.waiting_since = None
            progress.waiting_from = None
            progress.in_flight_since = None
            progress.last_attempt_failed = False
            progress.last_error = None
            progress.next_offset = last + 1
            progress.committed_at = self.monotonic()

    def subscribe(self, broker: KafkaBroker, *, for_specification: bool) -> None:
        """At run time the service reads all its topics through ONE Kafka consumer, so an
        instance is one member of its group: starting or stopping it rebalances the
        group once, rather than once per topic with every other consumer paused each
        time. For the AsyncAPI document each consumed topic is declared on its own,
        its payload the union of exactly the routed event types, and each publication
        with the types the route table says the service publishes."""
        options = self.subscriber_options()
        if not for_specification:
            subscriber = broker.subscriber(*self.routes.topics(), **options, listener=self.consumer_listener())

            async def on_records(batch: list[Any], message: KafkaMessage) -> None:
                await self.handle_records(message.raw_message)

            subscriber(on_records)
            # Its Kafka consumer (once started) tells readiness which partitions are
            # ours and how far each has to go.
            self._subscriber = subscriber
            return
        for topic in self.routes.topics():
            routed = self.routes.routed(topic)
            broker.subscriber(topic, **options)(_documented_handler(topic, [r.event for r in routed], describe(routed)))
        for publication in self.routes.publishes:
            broker.publisher(
                publication.topic, schema=_payload(list(publication.events)), description=publication.description
            )
        for topic in self.routes.topics():
            broker.publisher(
                dead_letter_topic(topic),
                schema=DeadLetterReference,
                description="A reference to each message this service could not accept. The message itself "
                "(original bytes and headers) is kept in the service's own dead_letter table, behind its access "
                "control, because it may hold names and addresses; ops list, show and re-drive it with "
                "recovery-<service> dead-letters. Keyed as the original record; headers dlq.reason, dlq.consumer, "
                "dlq.failed_at, dlq.source_topic/partition/offset, dlq.dead_letter_id.",
            )

    def consumer_listener(self) -> ConsumerRebalanceListener:
        """Told by the Kafka consumer of each rebalance (see ``_Forget``)."""
        return _Forget(self.progress)

    def subscriber_options(self) -> dict[str, Any]:
        """Batches for throughput; offsets committed only after our commit (ACK
        policy with a group id); a failure rewinds to the batch's first record."""
        return {
            "group_id": self.settings.consumer_group,
            "batch": True,
            "max_records": self.settings.consumer_batch_size,
            "batch_timeout_ms": self.settings.consumer_batch_timeout_ms,
            "ack_policy": AckPolicy.NACK_ON_ERROR,
            "auto_offset_reset": "earliest",
            "max_poll_interval_ms": 10 * 60 * 1000,
            "decoder": _left_undecoded,
        }

    def migrate(self) -> None:
        upgrade_to_head(self.migrations_dir, self.db.url)

    async def start(self) -> None:
        await asyncio.to_thread(self.migrate)
        await self.relay.start()
        # Everything loaded so far (modules, council config, metadata) lives as long as
        # the process; keeping it out of the collector's scans saves ~0.2 s per large batch.
        gc.freeze()
        log.info("service started", database="sqlite" if self.db.is_sqlite else "postgresql")

    async def stop(self) -> None:
        await self.relay.stop()
        await self.db.dispose()

    async def health(self, broker: KafkaBroker) -> tuple[bool, dict[str, Any]]:
        """Readiness: whether the service should be sent work, and a report with the
        reasons when not. The report holds counts, ages and error types only: no
        payload, key or message text that could carry a name or an address."""
        report: dict[str, Any] = {"service": self.settings.service_name}
        oldest_s: float | None = None
        try:
            async with self.db.session() as session:
                await session.execute(text("SELECT 1"))
                report["outbox_depth"] = await outbox_depth(session, self.kernel)
                oldest = (await session.execute(select(func.min(self.kernel.outbox.c.created_at)))).scalar()
                report["dead_letters"] = await self._dead_letters_waiting(session)
            if oldest is not None:
                # SQLite hands back the stored UTC time without its zone.
                oldest = oldest if oldest.tzinfo is not None else oldest.replace(tzinfo=UTC)
                oldest_s = max(0.0, (self.wall_clock() - oldest).total_seconds())
            report["database"] = "ok"
        except Exception as exc:
            report["database"] = f"unavailable: {type(exc).__name__}"
        report["oldest_outbox_row_s"] = _rounded(oldest_s)
        report["broker"] = "ok" if await broker.ping(timeout=3.0) else "unavailable"
        report["relay"] = "running" if self.relay.running else "stopped"
        report["relay_last_error"] = self.relay.last_error
        report["relay_failures_in_a_row"] = self.relay.failures_in_a_row
        report["relay_sent"] = self.relay.sent
        report["relay_dead_lettered"] = self.relay.dead_lettered
        partitions = await self.partition_states()
        report["partitions"] = [p.report() for p in partitions]
        report["consumer"] = consumer = self.consumer_state()
        report["consumed"] = counts_report(self.consumer.counts)
        observed = Observed(
            database=report["database"],
            broker=report["broker"],
            relay_running=self.relay.running,
            relay_failures_in_a_row=self.relay.failures_in_a_row,
            relay_last_error=self.relay.last_error,
            oldest_outbox_row_s=oldest_s,
            partitions=partitions,
            consumer=consumer,
        )
        reasons = readiness_reasons(observed, self.limits)
        report["reasons"] = reasons
        report["status"] = "ok" if not reasons else "not ready"
        return not reasons, report

    async def _dead_letters_waiting(self, session: Any) -> dict[str, int]:
        """Dead letters not yet re-driven, by direction: reported, never a reason to be
        unready (the service carries on without them)."""
        letters = self.kernel.dead_letters
        rows = await session.execute(
            select(letters.c.direction, func.count()).where(letters.c.status == "dead").group_by(letters.c.direction)
        )
        waiting = {"inbound": 0, "outbound": 0}
        waiting.update({direction: int(count) for direction, count in rows.all()})
        return waiting

    def consumer_state(self) -> str | None:
        """Whether the subscriber's consume loop is alive. FastStream's loop survives
        only Kafka's own errors; anything else raised inside aiokafka before our
        handler ends its task (FastStream may start a new one), and a loop that has
        ended hands nothing more to the handler while the process looks well."""
        if self._subscriber is None:
            return None
        tasks: list[asyncio.Task[Any]] = list(getattr(self._subscriber, "tasks", ()))
        if any(not task.done() for task in tasks):
            return "running"
        for task in reversed(tasks):
            if not task.cancelled() and task.exception() is not None:
                # The type alone: an error's text could quote a record.
                return f"stopped: {type(task.exception()).__name__}"
        return "stopped"

    async def partition_states(self) -> list[PartitionState]:
        """Each partition this instance handles, with how long its messages have waited.
        Once the Kafka consumer runs, only the partitions assigned to it count: one
        handed to another instance in a rebalance is no longer ours to be stalled on.

        Lag is the broker's highwater mark less the first offset not committed: the
        first of the batch still waiting, else the consumer's position (which starts
        at the group's committed offset, so a partition the handler has never seen has
        a lag too), else the offset after our last commit."""
        now = self.monotonic()
        consumer = getattr(self._subscriber, "consumer", None)
        assigned: set[tuple[str, int]] | None = None
        highwater: dict[tuple[str, int], int] = {}
        position: dict[tuple[str, int], int] = {}
        if consumer is not None:
            with contextlib.suppress(Exception):
                assignment = consumer.assignment()
                assigned = {(tp.topic, tp.partition) for tp in assignment}
                for tp in assignment:
                    mark = consumer.highwater(tp)
                    if mark is not None:
                        highwater[(tp.topic, tp.partition)] = mark
                        at = await _position_if_known(consumer, tp)
                        if at is not None:
                            position[(tp.topic, tp.partition)] = at
        keys = set(self.progress) if assigned is None else assigned
        states = []
        for topic, partition in sorted(keys):
            progress = self.progress.setdefault((topic, partition), _Progress())
            lag = None
            mark = highwater.get((topic, partition))
            committed_up_to = progress.waiting_from
            if committed_up_to is None:
                committed_up_to = position.get((topic, partition), progress.next_offset)
            if mark is not None and committed_up_to is not None:
                lag = max(0, mark - committed_up_to)
            lagging_s = None
            if lag:
                if progress.lag_seen_since is None:
                    progress.lag_seen_since = now
                since = progress.lag_seen_since
                if progress.committed_at is not None:
                    since = max(since, progress.committed_at)
                lagging_s = now - since
            else:
                progress.lag_seen_since = None
            states.append(
                PartitionState(
                    topic=topic,
                    partition=partition,
                    waiting_s=None if progress.waiting_since is None else now - progress.waiting_since,
                    in_flight_s=None if progress.in_flight_since is None else now - progress.in_flight_since,
                    last_attempt_failed=progress.last_attempt_failed,
                    last_error=progress.last_error,
                    lag=lag,
                    lagging_s=lagging_s,
                )
            )
        return states


async def _position_if_known(consumer: Any, tp: TopicPartition) -> int | None:
    """The consumer's position, or None while it is still being reset after an
    assignment: ``position`` would wait for the reset, holding up the health check."""
    try:
        at: int = await asyncio.wait_for(consumer.position(tp), timeout=0.05)
    except Exception:
        return None
    return at


class _Forget(ConsumerRebalanceListener):  # type: ignore[misc]
    """Drops what the runtime knew of a partition when a rebalance takes it away: if
    it comes back, another instance may have moved it on meanwhile, and a failure or
    commit remembered from before would make readiness judge it on stale facts."""

    def __init__(self, progress: dict[tuple[str, int], _Progress]) -> None:
        self.progress = progress

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        for tp in revoked:
            self.progress.pop((tp.topic, tp.partition), None)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 1)


async def wait_for_broker(bootstrap: str, *, timeout_s: float) -> None:
    """Return once the cluster at ``bootstrap`` answers a metadata request; retry with
    backoff until ``timeout_s`` has passed, then raise."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delay = 0.25
    while True:
        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            await client.bootstrap()
            if client.cluster.brokers():
                return
            problem = "no broker registered yet"
        except (KafkaError, OSError) as exc:
            problem = type(exc).__name__
        finally:
            await client.close()
        if loop.time() + delay > deadline:
            raise RuntimeError(f"the broker at {bootstrap} did not answer within {timeout_s:.0f} s ({problem})")
        log.warning("waiting for the broker", bootstrap=bootstrap, problem=problem, retry_in_s=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


def _payload(types: list[type[Envelope]]) -> Any:
    if len(types) == 1:
        return types[0]
    return Annotated[Union[tuple(types)], Field(discriminator="type")]  # noqa: UP007


def _documented_handler(topic: str, types: list[type[Envelope]], description: str) -> Callable[..., Any]:
    """A subscriber function for the AsyncAPI document only: its annotation is the
    topic's routed types, its docstring what the service does with each."""

    async def documented(batch: list[Any], message: KafkaMessage) -> None:  # pragma: no cover - never called
        raise RuntimeError("documentation only")

    documented.__annotations__ = {"batch": list[_payload(types)], "message": KafkaMessage, "return": None}  # type: ignore[misc]
    documented.__name__ = "on_" + topic.removesuffix(".v1").replace(".", "_").replace("-", "_")
    documented.__doc__ = description
    return documented


def _left_undecoded(message: StreamMessage[Any]) -> Any:
    """The kernel parses every record itself (``InboxConsumer``), so FastStream's own
    per-record decoding of a batch (a message object and a JSON parse each) is skipped:
    subscribers get the raw bodies and hand ``message.raw_message`` to the kernel."""
    return message.body


def make_broker(settings: ServiceSettings, *, for_specification: bool = False) -> KafkaBroker:
    """The service's broker.

    At run time ``serializer=None``: the kernel parses and validates envelopes
    itself, so a malformed message reaches our dead-letter path instead of
    failing inside the framework. For ``faststream docs gen`` the serializer is
    left on, so the subscribers' annotations become the AsyncAPI payload schemas.
    """
    options: dict[str, Any] = {} if for_specification else {"serializer": None}
    # The document names the compose file's broker, not whichever one is local.
    bootstrap = DOCUMENTED_BOOTSTRAP if for_specification else settings.kafka_bootstrap_servers
    return KafkaBroker(
        bootstrap,
        client_id=settings.consumer_group,
        enable_idempotence=True,
        acks="all",
        **options,
    )


DOCUMENTED_BOOTSTRAP = "kafka:9092"


def service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routes: Sequence[tuple[str, Any]] = (),
    for_specification: bool = False,
) -> AsgiFastStream:
    """The service's FastStream app: its broker subscribed from the route table, the
    health endpoint and the service's own HTTP routes. ``for_specification`` builds
    the same app for ``faststream docs gen`` (the AsyncAPI document)."""
    broker = make_broker(runtime.settings, for_specification=for_specification)
    runtime.subscribe(broker, for_specification=for_specification)
    app = _asgi_app(runtime, broker, title=title, description=description, routes=routes)
    app.context.set_global("runtime", runtime)
    return app


def _asgi_app(
    runtime: ServiceRuntime,
    broker: KafkaBroker,
    *,
    title: str,
    description: str,
    routes: Sequence[tuple[str, Any]],
) -> AsgiFastStream:
    @get(
        description="Readiness: 200 when the service can take work; 503 with the reasons when the database or "
        "broker is away, the outbox relay has stopped or keeps failing, the outbox holds an old event, or a "
        "partition has stopped advancing while messages wait"
    )
    async def health(scope: Scope) -> AsgiResponse:
        ready, report = await runtime.health(broker)
        return AsgiResponse(
            json.dumps(report).encode(),
            status_code=200 if ready else 503,
            headers={"content-type": "application/json"},
        )

    @get(description="Liveness: 200 while the process serves requests")
    async def live(scope: Scope) -> AsgiResponse:
        return AsgiResponse(
            json.dumps({"service": runtime.settings.service_name, "status": "alive"}).encode(),
            status_code=200,
            headers={"content-type": "application/json"},
        )

    async def on_startup() -> None:
        configure_logging(runtime.settings.service_name, runtime.settings.log_level)
        await runtime.start()
        # The broker is connected after these hooks; one that is away (restarting, a node
        # being replaced) would fail the start-up for good, so wait for it first.
        await wait_for_broker(runtime.settings.kafka_bootstrap_servers, timeout_s=runtime.settings.broker_wait_s)

    return AsgiFastStream(
        broker,
        asgi_routes=[("/health", health), ("/health/live", live), *routes],
        on_startup=[on_startup],
        after_shutdown=[runtime.stop],
        specification=AsyncAPI(title=title, description=description, version="1.0.0"),
    )


def serve(app_factory: str, settings: ServiceSettings) -> None:
    """Run one service process: ``recovery-<service>``; or an ops command against the
    service's own database and route table: ``recovery-<service> migrate``, or
    ``recovery-<service> dead-letters list|show|redrive ...`` (``dead_letters.py``)."""
    import sys

    import uvicorn

    ops_command = sys.argv[1] if len(sys.argv) > 1 else None
    if ops_command in {"migrate", "dead-letters"}:
        module, _, attr = app_factory.partition(":")
        mod = __import__(module, fromlist=[attr])
        runtime: ServiceRuntime = mod.build_runtime(settings)
        if ops_command == "migrate":
            runtime.migrate()
            return
        from recovery_shared.messaging import dead_letters

        # Re-drives are logged like the service's own lines (JSON on stderr), apart from
        # the summary printed for the person on stdout.
        configure_logging(settings.service_name, settings.log_level)
        raise SystemExit(dead_letters.command(runtime, sys.argv[2:]))
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.http_host,
        port=settings.http_port,
        log_level="warning",
        lifespan="on",
    )
