"""Wiring: the broker, the subscribers and the service runtime for payments."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage
from recovery_shared import topics
from recovery_shared.contracts.inbound import BillingEvent
from recovery_shared.contracts.internal import PaymentEvent
from recovery_shared.messaging.runtime import ServiceRuntime, document_publications, make_app, make_broker

from recovery_payments import handlers
from recovery_payments.models import kernel, metadata
from recovery_payments.settings import PaymentsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: PaymentsSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, metadata=metadata, kernel=kernel, migrations_dir=MIGRATIONS)
    runtime.consumer(topics.BILLING_CHARGES, handlers.record_charge)
    return runtime


def create_app(settings: PaymentsSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or PaymentsSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    options = runtime.subscriber_options()

    @broker.subscriber(topics.BILLING_CHARGES, **options)
    async def on_billing_charges(batch: list[BillingEvent], message: KafkaMessage) -> None:
        """Debts raised or adjusted by billing open or change ledger debts."""
        await runtime.handle(topics.BILLING_CHARGES, message.raw_message)

    document_publications(
        broker,
        runtime,
        [
            (topics.PAYMENT_EVENTS, PaymentEvent, "Allocations, suspense, reversals, balances and refunds."),
        ],
    )
    app = make_app(
        runtime,
        broker,
        title="Recovery: payments",
        description="The ledger: debts, receipts, allocations, reversals, suspense and refunds.",
    )
    app.context.set_global("runtime", runtime)
    return app


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_payments.app:asyncapi_app``."""
    return create_app(for_specification=True)
