"""Wiring: the broker, the subscribers and the service runtime for payments."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage

from recovery_payments.api import officer_routes
from recovery_payments.handlers import Payments
from recovery_payments.models import kernel, metadata
from recovery_payments.settings import PaymentsSettings
from recovery_shared import topics
from recovery_shared.contracts.inbound import BillingEvent, DirectDebitReportEvent, ReceiptEvent
from recovery_shared.contracts.internal import ArrangementEvent, EnforcementEvent, PaymentEvent
from recovery_shared.messaging.runtime import ServiceRuntime, document_publications, make_app, make_broker

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: PaymentsSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, metadata=metadata, kernel=kernel, migrations_dir=MIGRATIONS)
    payments = Payments(settings.council().allocation)
    runtime.consumer(topics.BILLING_CHARGES, payments.on_charge)
    runtime.consumer(topics.PAYMENT_RECEIPTS, payments.on_receipt, batch_handler=payments.on_receipts)
    runtime.consumer(topics.BANKING_DD_REPORTS, payments.on_dd_report)
    runtime.consumer(topics.ARRANGEMENT_EVENTS, payments.on_arrangement_event)
    runtime.consumer(topics.ENFORCEMENT_EVENTS, payments.on_enforcement_event)
    runtime.extras["payments"] = payments
    return runtime


def create_app(settings: PaymentsSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or PaymentsSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    subscribe = runtime.subscriber(broker, for_specification=for_specification)

    @subscribe(topics.BILLING_CHARGES)
    async def on_billing_charges(batch: list[BillingEvent], message: KafkaMessage) -> None:
        """Debts raised or adjusted by billing open or change ledger debts."""
        await runtime.handle(topics.BILLING_CHARGES, message.raw_message)

    @subscribe(topics.PAYMENT_RECEIPTS)
    async def on_payment_receipts(batch: list[ReceiptEvent], message: KafkaMessage) -> None:
        """Money from every channel: allocated by the council's policy, or held in suspense."""
        await runtime.handle(topics.PAYMENT_RECEIPTS, message.raw_message)

    @subscribe(topics.BANKING_DD_REPORTS)
    async def on_banking_dd_reports(batch: list[DirectDebitReportEvent], message: KafkaMessage) -> None:
        """ARUDD unpaid Direct Debits reverse their collection's allocation."""
        await runtime.handle(topics.BANKING_DD_REPORTS, message.raw_message)

    @subscribe(topics.ARRANGEMENT_EVENTS)
    async def on_arrangement_events(batch: list[ArrangementEvent], message: KafkaMessage) -> None:
        """Instalment schedules, for exact-instalment matching."""
        await runtime.handle(topics.ARRANGEMENT_EVENTS, message.raw_message)

    @subscribe(topics.ENFORCEMENT_EVENTS)
    async def on_enforcement_events(batch: list[EnforcementEvent], message: KafkaMessage) -> None:
        """Court costs added to a debt, and approved write-offs."""
        await runtime.handle(topics.ENFORCEMENT_EVENTS, message.raw_message)

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
        routes=officer_routes(runtime, runtime.extras["payments"]),
    )
    app.context.set_global("runtime", runtime)
    return app


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_payments.app:asyncapi_app``."""
    return create_app(for_specification=True)
