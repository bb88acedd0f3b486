"""Wiring: the broker, the subscribers and the service runtime for arrangements."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage
from sqlalchemy import event

from recovery_arrangements.handlers import Arrangements
from recovery_arrangements.models import kernel, metadata
from recovery_arrangements.settings import ArrangementsSettings
from recovery_shared import topics
from recovery_shared.contracts.inbound import BillingEvent, ClockEvent
from recovery_shared.contracts.internal import ArrangementEvent, EnforcementEvent, PaymentEvent
from recovery_shared.messaging.runtime import ServiceRuntime, document_publications, make_app, make_broker

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: ArrangementsSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, metadata=metadata, kernel=kernel, migrations_dir=MIGRATIONS)
    if runtime.db.is_sqlite:
        # The daily sweep's commit would otherwise stop to copy its write-ahead log (a hundred
        # megabytes on a big day) into the database before its events can go out; the outbox
        # relay checkpoints once it has sent them (OutboxRelay._checkpoint_when_due).
        event.listen(runtime.db.engine.sync_engine, "connect", _no_automatic_checkpoints)
    arrangements = Arrangements(settings.council())
    runtime.consumer(topics.BILLING_CHARGES, arrangements.on_charge)
    runtime.consumer(topics.PAYMENT_EVENTS, arrangements.on_payment_event)
    runtime.consumer(topics.CLOCK_DAYS, arrangements.on_day)
    runtime.consumer(topics.ENFORCEMENT_EVENTS, arrangements.on_enforcement_event)
    runtime.extras["arrangements"] = arrangements
    return runtime


def _no_automatic_checkpoints(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def create_app(settings: ArrangementsSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or ArrangementsSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    subscribe = runtime.subscriber(broker, for_specification=for_specification)

    @subscribe(topics.BILLING_CHARGES)
    async def on_billing_charges(batch: list[BillingEvent], message: KafkaMessage) -> None:
        """Each bill is the basis of a statutory instalment schedule; an adjustment re-spreads it."""
        await runtime.handle(topics.BILLING_CHARGES, message.raw_message)

    @subscribe(topics.PAYMENT_EVENTS)
    async def on_payment_events(batch: list[PaymentEvent], message: KafkaMessage) -> None:
        """Allocations mark instalments paid, oldest first; reversals undo them."""
        await runtime.handle(topics.PAYMENT_EVENTS, message.raw_message)

    @subscribe(topics.CLOCK_DAYS)
    async def on_clock_days(batch: list[ClockEvent], message: KafkaMessage) -> None:
        """Each business day: instalments unpaid at the end of their due day are reported missed."""
        await runtime.handle(topics.CLOCK_DAYS, message.raw_message)

    @subscribe(topics.ENFORCEMENT_EVENTS)
    async def on_enforcement_events(batch: list[EnforcementEvent], message: KafkaMessage) -> None:
        """A balance fallen due collapses the remaining instalments into one."""
        await runtime.handle(topics.ENFORCEMENT_EVENTS, message.raw_message)

    document_publications(
        broker,
        runtime,
        [
            (
                topics.ARRANGEMENT_EVENTS,
                ArrangementEvent,
                "Arrangements made, instalments paid and missed, defaults and completions.",
            ),
        ],
    )
    app = make_app(
        runtime,
        broker,
        title="Recovery: arrangements",
        description="Instalment plans: statutory schedules from bills and negotiated arrangements across debts.",
    )
    app.context.set_global("runtime", runtime)
    return app


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_arrangements.app:asyncapi_app``."""
    return create_app(for_specification=True)
