"""Wiring: the broker, the subscribers and the service runtime for enforcement."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage

from recovery_enforcement import handlers
from recovery_enforcement.models import kernel, metadata
from recovery_enforcement.settings import EnforcementSettings
from recovery_shared import topics
from recovery_shared.contracts.inbound import BillingEvent
from recovery_shared.contracts.internal import AgentReferralEvent, EnforcementEvent, NoticeRequestEvent
from recovery_shared.messaging.runtime import ServiceRuntime, document_publications, make_app, make_broker

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: EnforcementSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, metadata=metadata, kernel=kernel, migrations_dir=MIGRATIONS)
    runtime.consumer(topics.BILLING_CHARGES, handlers.open_case)
    return runtime


def create_app(settings: EnforcementSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or EnforcementSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    options = runtime.subscriber_options()

    @broker.subscriber(topics.BILLING_CHARGES, **options)
    async def on_billing_charges(batch: list[BillingEvent], message: KafkaMessage) -> None:
        """Every debt raised opens a recovery case on its debt type's ladder."""
        await runtime.handle(topics.BILLING_CHARGES, message.raw_message)

    document_publications(
        broker,
        runtime,
        [
            (
                topics.ENFORCEMENT_EVENTS,
                EnforcementEvent,
                "Stage changes, holds, summonses, liability orders and costs.",
            ),
            (topics.NOTICE_REQUESTS, NoticeRequestEvent, "One request per notice to render."),
            (
                topics.AGENT_REFERRALS,
                AgentReferralEvent,
                "Cases referred to and recalled from enforcement agents.",
            ),
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
