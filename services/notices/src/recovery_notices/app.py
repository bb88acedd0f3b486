"""Wiring: the broker, the subscribers and the service runtime for notices."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream
from faststream.kafka import KafkaMessage

from recovery_notices import handlers
from recovery_notices.models import kernel, metadata
from recovery_notices.settings import NoticesSettings
from recovery_shared import topics
from recovery_shared.contracts.internal import NoticeEvent, NoticeRequestEvent
from recovery_shared.messaging.runtime import ServiceRuntime, document_publications, make_app, make_broker

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: NoticesSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, metadata=metadata, kernel=kernel, migrations_dir=MIGRATIONS)
    runtime.consumer(topics.NOTICE_REQUESTS, handlers.accept_request)
    return runtime


def create_app(settings: NoticesSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or NoticesSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    options = runtime.subscriber_options()

    @broker.subscriber(topics.NOTICE_REQUESTS, **options)
    async def on_notice_requests(batch: list[NoticeRequestEvent], message: KafkaMessage) -> None:
        """Each requested notice is rendered once, however often the request arrives."""
        await runtime.handle(topics.NOTICE_REQUESTS, message.raw_message)

    document_publications(
        broker,
        runtime,
        [
            (
                topics.NOTICE_EVENTS,
                NoticeEvent,
                "Notices issued (with checksum, location and served date) or failed;"
                " read by the document system and print hub.",
            ),
        ],
    )
    app = make_app(
        runtime,
        broker,
        title="Recovery: notices",
        description="Renders reminders, final notices, summonses and letters; hands them to the document system.",
    )
    app.context.set_global("runtime", runtime)
    return app


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_notices.app:asyncapi_app``."""
    return create_app(for_specification=True)
