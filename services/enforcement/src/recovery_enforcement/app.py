"""Wiring: the broker, the subscribers and the service runtime for enforcement."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage

from recovery_enforcement.handlers import Enforcement
from recovery_enforcement.models import kernel, metadata
from recovery_enforcement.settings import EnforcementSettings
from recovery_shared import topics
from recovery_shared.contracts.inbound import (
    AgentReturnEvent,
    BillingEvent,
    CircumstanceEvent,
    ClockEvent,
    CourtOutcomeEvent,
)
from recovery_shared.contracts.internal import (
    AgentReferralEvent,
    ArrangementEvent,
    EnforcementEvent,
    NoticeEvent,
    NoticeRequestEvent,
    PaymentEvent,
)
from recovery_shared.messaging.runtime import ServiceRuntime, document_publications, make_app, make_broker

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: EnforcementSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, metadata=metadata, kernel=kernel, migrations_dir=MIGRATIONS)
    enforcement = Enforcement(settings.council())
    runtime.consumer(
        topics.BILLING_CHARGES, enforcement.on_charge, batch_handler=enforcement.in_batches(enforcement.on_charge)
    )
    runtime.consumer(
        topics.PAYMENT_EVENTS,
        enforcement.on_payment_event,
        batch_handler=enforcement.in_batches(enforcement.on_payment_event),
    )
    runtime.consumer(
        topics.ARRANGEMENT_EVENTS,
        enforcement.on_arrangement_event,
        batch_handler=enforcement.in_batches(enforcement.on_arrangement_event),
    )
    runtime.consumer(topics.NOTICE_EVENTS, enforcement.on_notice_event)
    runtime.consumer(topics.COURT_OUTCOMES, enforcement.on_court_outcome)
    runtime.consumer(topics.AGENT_RETURNS, enforcement.on_agent_return)
    runtime.consumer(topics.DEBTOR_CIRCUMSTANCES, enforcement.on_circumstance)
    runtime.consumer(topics.CLOCK_DAYS, enforcement.on_day)
    runtime.extras["enforcement"] = enforcement
    return runtime


def create_app(settings: EnforcementSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or EnforcementSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    subscribe = runtime.subscriber(broker, for_specification=for_specification)

    @subscribe(topics.BILLING_CHARGES)
    async def on_billing_charges(batch: list[BillingEvent], message: KafkaMessage) -> None:
        """Every debt raised opens a recovery case on its debt type's ladder."""
        await runtime.handle(topics.BILLING_CHARGES, message.raw_message)

    @subscribe(topics.PAYMENT_EVENTS)
    async def on_payment_events(batch: list[PaymentEvent], message: KafkaMessage) -> None:
        """Balances: what is paid decides compliance; a cleared balance stops the ladder."""
        await runtime.handle(topics.PAYMENT_EVENTS, message.raw_message)

    @subscribe(topics.ARRANGEMENT_EVENTS)
    async def on_arrangement_events(batch: list[ArrangementEvent], message: KafkaMessage) -> None:
        """Schedules, and missed instalments that start the ladder."""
        await runtime.handle(topics.ARRANGEMENT_EVENTS, message.raw_message)

    @subscribe(topics.NOTICE_EVENTS)
    async def on_notice_events(batch: list[NoticeEvent], message: KafkaMessage) -> None:
        """Served dates of the notices this service requested."""
        await runtime.handle(topics.NOTICE_EVENTS, message.raw_message)

    @subscribe(topics.COURT_OUTCOMES)
    async def on_court_outcomes(batch: list[CourtOutcomeEvent], message: KafkaMessage) -> None:
        """Liability orders granted, withdrawn or adjourned, per summons."""
        await runtime.handle(topics.COURT_OUTCOMES, message.raw_message)

    @subscribe(topics.AGENT_RETURNS)
    async def on_agent_returns(batch: list[AgentReturnEvent], message: KafkaMessage) -> None:
        """Enforcement agents' case returns."""
        await runtime.handle(topics.AGENT_RETURNS, message.raw_message)

    @subscribe(topics.DEBTOR_CIRCUMSTANCES)
    async def on_debtor_circumstances(batch: list[CircumstanceEvent], message: KafkaMessage) -> None:
        """Breathing Space, disputes, vulnerability, death and insolvency: holds and recalls."""
        await runtime.handle(topics.DEBTOR_CIRCUMSTANCES, message.raw_message)

    @subscribe(topics.CLOCK_DAYS)
    async def on_clock_days(batch: list[ClockEvent], message: KafkaMessage) -> None:
        """Each business day moves every case whose next step has fallen due."""
        await runtime.handle(topics.CLOCK_DAYS, message.raw_message)

    document_publications(
        broker,
        runtime,
        [
            (topics.ENFORCEMENT_EVENTS, EnforcementEvent, "Stage changes, holds, summonses, liability orders, costs."),
            (topics.NOTICE_REQUESTS, NoticeRequestEvent, "One request per notice to render."),
            (topics.AGENT_REFERRALS, AgentReferralEvent, "Cases referred to and recalled from enforcement agents."),
        ],
    )
    app = make_app(
        runtime,
        broker,
        title="Recovery: enforcement",
        description="Recovery cases: the statutory ladder, holds, court, liability orders and agent referrals.",
    )
    app.context.set_global("runtime", runtime)
    return app


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_enforcement.app:asyncapi_app``."""
    return create_app(for_specification=True)
