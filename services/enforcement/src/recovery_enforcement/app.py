"""Wiring: enforcement's route table and its service runtime."""

from __future__ import annotations

from pathlib import Path

from faststream.asgi import AsgiFastStream

from recovery_enforcement.api import officer_routes
from recovery_enforcement.events import PUBLISHED_ON_ENFORCEMENT_EVENTS
from recovery_enforcement.handlers import Enforcement
from recovery_enforcement.models import kernel, metadata
from recovery_enforcement.settings import EnforcementSettings
from recovery_enforcement.store import SqlCases
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    CaseReturned,
    ChargeAdjusted,
    ChargeRaised,
    CountyAttachmentMade,
    CountyJudgmentEntered,
    CountyWarrantIssued,
    DayStarted,
    DebtorDeceased,
    DeductionAccepted,
    DeductionRefused,
    DisputeRaised,
    DisputeResolved,
    EmploymentEnded,
    EmploymentReported,
    HearingAdjourned,
    InsolvencyNotified,
    LetterBeforeClaimReplied,
    LiabilityOrderGranted,
    LiabilityOrderWithdrawn,
    VulnerabilityCleared,
    VulnerabilityFlagged,
)
from recovery_shared.contracts.internal import (
    ArrangementMade,
    BalanceChanged,
    CaseRecalled,
    CaseReferred,
    ClaimReferred,
    DeductionCancelled,
    DeductionRequested,
    HbDeductionsStarted,
    HbDeductionsStopped,
    InstalmentMissed,
    NoticeFailed,
    NoticeIssued,
    NoticeRequested,
    PaymentAllocated,
)
from recovery_shared.messaging.routes import Publication, Route, RouteTable
from recovery_shared.messaging.runtime import ServiceRuntime, service_app

MIGRATIONS = Path(__file__).parent / "migrations"

ROUTES = RouteTable(
    service="enforcement",
    routes=(
        Route(ChargeRaised, Enforcement.open_case),
        Route(ChargeAdjusted, Enforcement.note_adjustment),
        Route(BalanceChanged, Enforcement.follow_balance),
        Route(HbDeductionsStarted, Enforcement.follow_hb_deductions),
        Route(HbDeductionsStopped, Enforcement.after_hb_deductions),
        Route(ArrangementMade, Enforcement.take_schedule),
        Route(InstalmentMissed, Enforcement.answer_missed_instalment),
        Route(DayStarted, Enforcement.run_day),
        Route(LiabilityOrderGranted, Enforcement.record_liability_order),
        Route(LiabilityOrderWithdrawn, Enforcement.close_withdrawn_application),
        Route(HearingAdjourned, Enforcement.move_hearing),
        Route(CountyJudgmentEntered, Enforcement.record_county_judgment),
        Route(CountyWarrantIssued, Enforcement.record_county_warrant),
        Route(CountyAttachmentMade, Enforcement.record_county_attachment),
        Route(LetterBeforeClaimReplied, Enforcement.take_reply),
        Route(CaseReturned, Enforcement.take_agent_return),
        Route(BreathingSpaceStarted, Enforcement.start_breathing_space),
        Route(BreathingSpaceEnded, Enforcement.end_breathing_space),
        Route(DisputeRaised, Enforcement.note_dispute),
        Route(DisputeResolved, Enforcement.resolve_dispute),
        Route(VulnerabilityFlagged, Enforcement.flag_vulnerability),
        Route(VulnerabilityCleared, Enforcement.clear_vulnerability),
        Route(DebtorDeceased, Enforcement.hold_for_death),
        Route(InsolvencyNotified, Enforcement.hold_for_insolvency),
        Route(EmploymentReported, Enforcement.note_employment),
        Route(EmploymentEnded, Enforcement.end_employment),
        Route(PaymentAllocated, Enforcement.count_remittance),
        Route(DeductionAccepted, Enforcement.start_dwp_deduction),
        Route(DeductionRefused, Enforcement.after_dwp_refusal),
        Route(NoticeIssued, Enforcement.note_notice_served),
        Route(NoticeFailed, Enforcement.note_notice_failed),
    ),
    publishes=(
        Publication(
            PUBLISHED_ON_ENFORCEMENT_EVENTS,
            "Stage changes, balances falling due, holds applied and released, summonses, liability orders, costs;"
            " read by payments (costs), arrangements (balances due), the magistrates' court list (summonses)"
            " and the council's reporting.",
        ),
        Publication(
            (NoticeRequested,),
            "One request per notice to render: reminders, final notices, summonses, agent referral letters;"
            " HB overpayment decisions, invoice reminders, letters before claim and notices of intention;"
            " Direct Earnings Attachment notices to employers and debtors, and to employers behind with remittances.",
        ),
        Publication(
            (ClaimReferred,),
            "HBOP, TA and sundry debts referred for a county court claim after the Pre-Action Protocol's letters;"
            " read by the council's legal team or claims service.",
        ),
        Publication(
            (DeductionRequested, DeductionCancelled),
            "Requests to the DWP to recover an HB overpayment from the person's other benefits, and"
            " cancellations (paid, or recovery held); read by the council's DWP Debt Management link.",
        ),
        Publication(
            (CaseReferred, CaseRecalled),
            "Cases referred to and recalled from enforcement agents; read by the agent firms.",
        ),
    ),
    prefetch=Enforcement.prefetch,
)


def build_runtime(settings: EnforcementSettings) -> ServiceRuntime:
    return ServiceRuntime(
        settings=settings,
        metadata=metadata,
        kernel=kernel,
        migrations_dir=MIGRATIONS,
        routes=ROUTES,
        use_cases=Enforcement(settings.council()),
        unit_of_work=SqlCases,
    )


def create_app(settings: EnforcementSettings | None = None, *, for_specification: bool = False) -> AsgiFastStream:
    runtime = build_runtime(settings or EnforcementSettings())
    return service_app(
        runtime,
        title="Recovery: enforcement",
        description="Recovery cases: the statutory ladder, holds, court, liability orders and agent referrals;"
        " the civil ladder (invoice reminder, letter before claim, notice of intention, county court claim).",
        routes=officer_routes(runtime),
        for_specification=for_specification,
    )


def asyncapi_app() -> AsgiFastStream:
    """The same app for ``faststream docs gen --factory recovery_enforcement.app:asyncapi_app``."""
    return create_app(for_specification=True)
