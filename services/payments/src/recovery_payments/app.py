"""Wiring: payments' route table, its runtime and its app."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream

from recovery_payments.api import officer_routes
from recovery_payments.handlers import Payments
from recovery_payments.models import kernel, metadata
from recovery_payments.settings import PaymentsSettings
from recovery_payments.store import SqlLedger
from recovery_shared.contracts.inbound import (
    ChargeAdjusted,
    ChargeRaised,
    DayStarted,
    DirectDebitUnpaid,
    HbAwardChanged,
    HbAwardEnded,
    HbAwardStarted,
    PaymentReceived,
)
from recovery_shared.contracts.internal import (
    ArrangementMade,
    BalanceChanged,
    CostsAdded,
    HbDeductionsStarted,
    HbDeductionsStopped,
    HoldApplied,
    HoldReleased,
    PaymentAllocated,
    PaymentReversed,
    PaymentSuspended,
)
from recovery_shared.messaging.routes import Publication, Route, RouteTable
from recovery_shared.messaging.runtime import ServiceRuntime, service_app

MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = RouteTable(
    service="payments",
    routes=(
        Route(ChargeRaised, Payments.open_debt),
        Route(ChargeAdjusted, Payments.adjust_debt),
        Route(PaymentReceived, Payments.record_receipt),
        Route(DirectDebitUnpaid, Payments.reverse_unpaid_direct_debit),
        Route(ArrangementMade, Payments.take_arrangement_schedule),
        Route(CostsAdded, Payments.add_costs),
        Route(HbAwardStarted, Payments.start_hb_award),
        Route(HbAwardChanged, Payments.change_hb_award),
        Route(HbAwardEnded, Payments.end_hb_award),
        Route(DayStarted, Payments.take_hb_deductions),
        Route(HoldApplied, Payments.hold_hb_deductions),
        Route(HoldReleased, Payments.release_hb_deductions),
    ),
    publishes=(
        Publication(
            (
                PaymentAllocated,
                PaymentSuspended,
                PaymentReversed,
                BalanceChanged,
                HbDeductionsStarted,
                HbDeductionsStopped,
            ),
            "Where each receipt went (allocated, or held in suspense), reversals, and each debt's balance "
            "whenever it changes; read by arrangements (allocations, reversals), enforcement (balances) and "
            "the council's finance reporting (suspense). Recovery of a Housing Benefit overpayment from the "
            "person's ongoing award starting and stopping (paid, or the award ended); read by enforcement, "
            "whose case follows the route.",
        ),
    ),
    prefetch=Payments.prefetch,
)


def build_runtime(settings: PaymentsSettings) -> ServiceRuntime:
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        kernel=kernel,
        migrations_dir=MIGRATIONS,
        routes=ROUTES,
        use_cases=Payments(settings.council().allocation, settings.council()),
        unit_of_work=SqlLedger,
    )


def create_app(settings: PaymentsSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    runtime = build_runtime(settings or PaymentsSettings())
    return service_app(
        runtime,
        title="Recovery: payments",
        description="The ledger: debts, receipts, allocations, reversals and suspense.",
        routes=officer_routes(runtime),
        for_specification=for_specification,
    )


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_payments.app:asyncapi_app``."""
    return create_app(for_specification=True)
