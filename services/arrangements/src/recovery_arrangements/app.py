"""Wiring: arrangements' route table, its runtime and its FastStream app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faststream.asgi import AsgiFastStream
from sqlalchemy import event

from recovery_arrangements.handlers import Arrangements
from recovery_arrangements.models import kernel, metadata
from recovery_arrangements.settings import ArrangementsSettings
from recovery_arrangements.store import SqlPlans
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeRaised, DayStarted
from recovery_shared.contracts.internal import (
    ArrangementCompleted,
    ArrangementDefaulted,
    ArrangementMade,
    BalanceFellDue,
    InstalmentMissed,
    InstalmentPaid,
    PaymentAllocated,
    PaymentReversed,
)
from recovery_shared.messaging.routes import Publication, Route, RouteTable
from recovery_shared.messaging.runtime import ServiceRuntime, service_app

MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = RouteTable(
    service="arrangements",
    routes=(
        Route(ChargeRaised, Arrangements.open_schedule),
        Route(ChargeAdjusted, Arrangements.adjust_schedule),
        Route(PaymentAllocated, Arrangements.apply_allocation),
        Route(PaymentReversed, Arrangements.apply_reversal),
        Route(DayStarted, Arrangements.sweep_missed_instalments),
        Route(BalanceFellDue, Arrangements.collapse_schedule),
    ),
    publishes=(
        Publication(
            (ArrangementMade, InstalmentPaid, InstalmentMissed, ArrangementDefaulted, ArrangementCompleted),
            "Arrangements made, instalments paid and missed, defaults and completions; read by payments"
            " (instalment matching), enforcement (the ladder) and the council's reporting.",
        ),
    ),
    prefetch=Arrangements.prefetch,
)


def build_runtime(settings: ArrangementsSettings) -> ServiceRuntime:
    runtime = ServiceRuntime(
        settings=settings,
        metadata=metadata,
        kernel=kernel,
        migrations_dir=MIGRATIONS,
        routes=ROUTES,
        use_cases=Arrangements(settings.council()),
        unit_of_work=SqlPlans,
    )
    if runtime.db.is_sqlite:
        # The daily sweep's commit would otherwise stop to copy its write-ahead log (a hundred
        # megabytes on a big day) into the database before its events can go out; the outbox
        # relay checkpoints once it has sent them (OutboxRelay._checkpoint_when_due).
        event.listen(runtime.db.engine.sync_engine, "connect", _no_automatic_checkpoints)
    return runtime


def _no_automatic_checkpoints(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def create_app(settings: ArrangementsSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    return service_app(
        build_runtime(settings or ArrangementsSettings()),
        title="Recovery: arrangements",
        description="Instalment plans: statutory schedules from bills and negotiated arrangements across debts.",
        for_specification=for_specification,
    )


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_arrangements.app:asyncapi_app``."""
    return create_app(for_specification=True)
