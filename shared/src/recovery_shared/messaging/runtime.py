"""What every service process has: its database, its outbox relay, its consumers,
a FastStream app with a health endpoint, and its settings."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, Union

import structlog
from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.message import StreamMessage
from faststream.middlewares import AckPolicy
from faststream.specification import AsyncAPI
from pydantic import Field
from sqlalchemy import MetaData, text

from recovery_shared.contracts.envelope import Envelope
from recovery_shared.logging import configure_logging
from recovery_shared.messaging.consumer import InboxConsumer, RecordLike, counts_report
from recovery_shared.messaging.db import Database
from recovery_shared.messaging.migrations import upgrade_to_head
from recovery_shared.messaging.outbox import OutboxRelay
from recovery_shared.messaging.routes import RouteTable, describe
from recovery_shared.messaging.tables import KernelTables
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork, outbox_depth
from recovery_shared.settings import ServiceSettings
from recovery_shared.topics import dead_letter_topic

log = structlog.get_logger("recovery.runtime")


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
        )
        self.consumer = InboxConsumer(units=self.unit, routes=routes, use_cases=use_cases, on_committed=self.relay.wake)

    def unit(self) -> SqlUnitOfWork:
        """A new unit of work on this service's database (use it with ``async with``)."""
        unit = self.unit_of_work(self.db, self.kernel, self.settings.consumer_group)
        unit.publishable = self.routes.published_types()
        return unit

    async def handle_records(self, records: Sequence[RecordLike]) -> None:
        """A batch from the service's one consumer, all its topics together."""
        await self.consumer.handle(records)

    def subscribe(self, broker: KafkaBroker, *, for_specification: bool) -> None:
        """At run time the service reads all its topics through ONE Kafka consumer, so an
        instance is one member of its group: starting or stopping it rebalances the
        group once, rather than once per topic with every other consumer paused each
        time. For the AsyncAPI document each consumed topic is declared on its own,
        its payload the union of exactly the routed event types, and each publication
        with the types the route table says the service publishes."""
        options = self.subscriber_options()
        if not for_specification:

            @broker.subscriber(*self.routes.topics(), **options)  # type: ignore[untyped-decorator]
            async def on_records(batch: list[Any], message: KafkaMessage) -> None:
                await self.handle_records(message.raw_message)

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
                schema=bytes,
                description="Messages this service could not accept: the original bytes, with headers "
                "dlq.reason, dlq.consumer, dlq.failed_at, dlq.source_topic/partition/offset.",
            )

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
        report: dict[str, Any] = {"service": self.settings.service_name}
        try:
            async with self.db.session() as session:
                await session.execute(text("SELECT 1"))
                report["outbox_depth"] = await outbox_depth(session, self.kernel)
            report["database"] = "ok"
        except Exception as exc:
            report["database"] = f"unavailable: {type(exc).__name__}"
        report["broker"] = "ok" if await broker.ping(timeout=3.0) else "unavailable"
        report["relay"] = "running" if self.relay.running else "stopped"
        report["relay_last_error"] = self.relay.last_error
        report["consumed"] = counts_report(self.consumer.counts)
        healthy = report["database"] == "ok" and report["broker"] == "ok" and self.relay.running
        report["status"] = "ok" if healthy else "degraded"
        return healthy, report


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
    @get(description="Database, broker and outbox relay status; 200 when all are up, 503 otherwise")
    async def health(scope: Scope) -> AsgiResponse:
        healthy, report = await runtime.health(broker)
        return AsgiResponse(
            json.dumps(report).encode(),
            status_code=200 if healthy else 503,
            headers={"content-type": "application/json"},
        )

    async def on_startup() -> None:
        configure_logging(runtime.settings.service_name, runtime.settings.log_level)
        await runtime.start()

    return AsgiFastStream(
        broker,
        asgi_routes=[("/health", health), *routes],
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
