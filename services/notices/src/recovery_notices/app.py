"""Wiring: notices' route table, its runtime and its app."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from faststream.asgi import AsgiFastStream, AsgiResponse, get
from faststream.asgi.types import Scope

from recovery_notices.handlers import Notices
from recovery_notices.models import kernel, metadata
from recovery_notices.render import STANDARD, load_typeface
from recovery_notices.settings import NoticesSettings
from recovery_notices.storage import DocumentFiling
from recovery_notices.store import SqlNoticesUnit
from recovery_shared.contracts.internal import NoticeFailed, NoticeIssued, NoticeRequested
from recovery_shared.messaging.routes import Publication, Route, RouteTable
from recovery_shared.messaging.runtime import ServiceRuntime, service_app

MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = RouteTable(
    service="notices",
    routes=(Route(NoticeRequested, Notices.issue_notice),),
    publishes=(
        Publication(
            (NoticeIssued, NoticeFailed),
            "Notices issued (with checksum, location, served date and template version) or failed;"
            " read by enforcement, the document system and the print hub.",
        ),
    ),
)


def build_runtime(settings: NoticesSettings) -> ServiceRuntime:
    face = (
        load_typeface(settings.font_regular, settings.font_bold, settings.font_italic)
        if settings.font_regular is not None
        else STANDARD
    )
    # The templates are compiled here, at start-up, so a broken council template
    # stops the service before it takes a request.
    notices = Notices(
        DocumentFiling(settings.resolved_documents_dir()), settings.council(), face, settings.notice_templates()
    )
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        kernel=kernel,
        migrations_dir=MIGRATIONS,
        routes=ROUTES,
        use_cases=notices,
        unit_of_work=SqlNoticesUnit,
    )


def rendering_route(notices: Notices) -> Any:
    @get(description="This instance's rendering work: notices rendered and failed, mean and slowest render time")
    async def rendering(scope: Scope) -> AsgiResponse:
        return AsgiResponse(json.dumps(notices.stats.report()).encode(), headers={"content-type": "application/json"})

    return rendering


def create_app(settings: NoticesSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    runtime = build_runtime(settings or NoticesSettings())
    notices = runtime.use_cases
    assert isinstance(notices, Notices)
    return service_app(
        runtime,
        title="Recovery: notices",
        description="Renders reminders, final notices, summonses and letters from the council's templates;"
        " hands them to the document system.",
        routes=[("/rendering", rendering_route(notices))],
        for_specification=for_specification,
    )


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_notices.app:asyncapi_app``."""
    return create_app(for_specification=True)
