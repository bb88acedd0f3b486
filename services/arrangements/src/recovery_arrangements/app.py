"""Wiring: the broker, the subscribers and the service runtime for arrangements."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage

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
    arrangements = Arrangements(settings.council())
    runtime.consumer(topics.BILLING_CHARGES, arrangements.on_charge)
    runtime.consumer(topics.PAYMENT_EVENTS, arrangements.on_payment_event)
    runtime.consumer(topics.CLOCK_DAYS, arrangements.on_day)
    runtime.consumer(topics.ENFORCEMENT_EVENTS, arrangements.on_enforcement_event)
    runtime.extras["arrangements"] = arrangements
    return runtime


def create_app(settings: ArrangementsSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or ArrangementsSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    options = runtime.subscriber_options()

    @broker.subscriber(topics.BILLING_CHARGES, **options)
    async def on_billing_charges(batch: list[BillingEvent], message: KafkaMessage) -> None:
        """Each bill is the basis of a statutory instalment schedule; an adjustment re-spreads it."""
        await runtime.handle(topics.BILLING_CHARGES, message.raw_message)

    @broker.subscriber(topics.PAYMENT_EVENTS, **options)
    async def on_payment_events(batch: list[PaymentEvent], message: KafkaMessage) -> None:
        """Allocations mark instalments paid, oldest first; reversals undo them."""
        await runtime.handle(topics.PAYMENT_EVENTS, message.raw_message)

    @broker.subscriber(topics.CLOCK_DAYS, **options)
    async def on_clock_days(batch: list[ClockEvent], message: KafkaMessage) -> None:
        """Each business day: instalments unpaid at the end of their due day are reported missed."""
        await runtime.handle(topics.CLOCK_DAYS, message.raw_message)

    @broker.subscriber(topics.ENFORCEMENT_EVENTS, **options)
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
