"""Wiring: the broker, the subscribers and the service runtime for notices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope
from faststream.kafka import KafkaMessage

from recovery_notices.handlers import Notices
from recovery_notices.models import kernel, metadata
from recovery_notices.render import STANDARD, load_typeface
from recovery_notices.settings import NoticesSettings
from recovery_notices.storage import DocumentFiling
from recovery_shared import topics
from recovery_shared.contracts.internal import NoticeEvent, NoticeRequestEvent
from recovery_shared.messaging.runtime import ServiceRuntime, document_publications, make_app, make_broker

MIGRATIONS = Path(__file__).parent / "migrations"


def build_runtime(settings: NoticesSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(settings=settings, metadata=metadata, kernel=kernel, migrations_dir=MIGRATIONS)
    face = (
        load_typeface(settings.font_regular, settings.font_bold, settings.font_italic)
        if settings.font_regular is not None
        else STANDARD
    )
    notices = Notices(DocumentFiling(settings.resolved_documents_dir()), settings.council(), face)
    runtime.consumer(topics.NOTICE_REQUESTS, notices.accept_request)
    runtime.extras["notices"] = notices
    return runtime


def rendering_route(notices: Notices) -> Any:
    @get(description="This instance's rendering work: notices rendered and failed, mean and slowest render time")
    async def rendering(scope: Scope) -> AsgiResponse:
        return AsgiResponse(json.dumps(notices.stats.report()).encode(), headers={"content-type": "application/json"})

    return rendering


def create_app(settings: NoticesSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    settings = settings or NoticesSettings()
    runtime = build_runtime(settings)
    broker = make_broker(settings, for_specification=for_specification)
    subscribe = runtime.subscriber(broker, for_specification=for_specification)

    @subscribe(topics.NOTICE_REQUESTS)
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
        routes=[("/rendering", rendering_route(runtime.extras["notices"]))],
    )
    app.context.set_global("runtime", runtime)
    return app


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_notices.app:asyncapi_app``."""
    return create_app(for_specification=True)
