"""Decisions into contract events: what enforcement tells payments, arrangements,
notices and the agents about a case."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

from recovery_enforcement.domain import DEBTOR_NAME, Decision, NoticeToRequest
from recovery_enforcement.store import CaseRecord
from recovery_shared.contracts.common import MAX_DEBTS, DebtType
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.internal import (
    BalanceFellDue,
    BalanceFellDueData,
    CaseRecalled,
    CaseRecalledData,
    CaseReferred,
    CaseReferredData,
    ClaimReferred,
    ClaimReferredData,
    CostsAdded,
    CostsAddedData,
    DeductionCancelled,
    DeductionCancelledData,
    DeductionRequested,
    DeductionRequestedData,
    HoldApplied,
    HoldData,
    HoldReleased,
    LiabilityOrderRecorded,
    LiabilityOrderRecordedData,
    NoticeRequested,
    NoticeRequestedData,
    NoticeType,
    StageChanged,
    StageChangedData,
    SummonsListed,
    SummonsListedData,
)

PUBLISHED_ON_ENFORCEMENT_EVENTS = (
    StageChanged,
    BalanceFellDue,
    HoldApplied,
    HoldReleased,
    SummonsListed,
    LiabilityOrderRecorded,
    CostsAdded,
)


def for_decision(decision: Decision, case: CaseRecord, council_name: str) -> Iterator[Envelope]:
    """Every event one decision about ``case`` makes, in the order they happened. What
    may change is read from the decision, not the record: the events are built before
    the record takes the decision, so a case whose events fail is left as it was."""
    on, key = decision.on, case.account_ref
    for move in decision.moves:
        yield StageChanged(
            key=key,
            data=StageChangedData(
                case_id=case.case_id,
                debt_id=case.debt_id,
                account_ref=key,
                debt_type=DebtType(case.debt_type),
                from_stage=move.from_stage.value,
                to_stage=move.to_stage.value,
                on=on,
                reason=move.reason,
            ),
        )
    if decision.balance_due is not None:
        due = decision.balance_due
        yield BalanceFellDue(
            key=key,
            data=BalanceFellDueData(debt_id=case.debt_id, account_ref=key, due_on=due.due_on, reason=due.reason),
        )
    for costs in decision.costs:
        yield CostsAdded(
            key=key,
            data=CostsAddedData(
                debt_id=case.debt_id, account_ref=key, amount_pence=costs.amount_pence, kind=costs.kind, added_on=on
            ),
        )
    if (summons := decision.summons) is not None:
        yield SummonsListed(
            key=key,
            data=SummonsListedData(
                summons_id=summons.summons_id,
                account_ref=key,
                debt_ids=[case.debt_id],
                court=summons.court,
                issued_on=summons.issued_on,
                hearing_date=summons.hearing_date,
                amount_pence=summons.amount_pence,
                costs_pence=summons.costs_pence,
            ),
        )
    if (order := decision.liability_order) is not None:
        yield LiabilityOrderRecorded(
            key=key,
            data=LiabilityOrderRecordedData(
                summons_id=order.summons_id,
                account_ref=key,
                debt_ids=[case.debt_id],
                granted_on=order.granted_on,
                amount_pence=order.amount_pence,
                costs_pence=order.costs_pence,
            ),
        )
    for notice in decision.notices:
        yield notice_requested(notice, case, on, council_name, decision)
    if (referral := decision.referral) is not None:
        yield CaseReferred(
            key=key,
            data=CaseReferredData(
                referral_id=referral.referral_id,
                case_id=case.case_id,
                account_ref=key,
                debt_ids=[case.debt_id],
                agent=referral.agent,
                referred_on=on,
                liability_order_ref=decision.case.summons_id or "",
                amount_pence=max(referral.amount_pence, 1),
                compliance_fee_pence=referral.compliance_fee_pence,
                debtor_is_vulnerable=referral.debtor_is_vulnerable,
            ),
        )
    if (claim := decision.claim) is not None:
        yield ClaimReferred(
            key=key,
            data=ClaimReferredData(
                claim_id=claim.claim_id,
                case_id=case.case_id,
                account_ref=key,
                debt_ids=[case.debt_id],
                debt_type=DebtType(case.debt_type),
                referred_on=on,
                amount_pence=max(claim.amount_pence, 1),
                claimant=council_name,
                defendant_name=case.recipient_name,
                defendant_address=list(case.recipient_address),
                letter_before_claim_on=claim.letter_before_claim_on,
                notice_of_intention_on=claim.notice_of_intention_on,
                particulars=claim.particulars,
            ),
        )
    if (ask := decision.deduction_request) is not None:
        yield DeductionRequested(
            key=key,
            data=DeductionRequestedData(
                request_id=ask.request_id,
                case_id=case.case_id,
                account_ref=key,
                debt_ids=[case.debt_id],
                party_id=case.party_id,
                person_name=case.recipient_name,
                person_address=list(case.recipient_address),
                owed_pence=max(ask.owed_pence, 1),
                fraud=ask.fraud,
                requested_on=on,
                answer_by=ask.answer_by,
            ),
        )
    if (cancel := decision.deduction_cancel) is not None:
        yield DeductionCancelled(
            key=key,
            data=DeductionCancelledData(
                request_id=cancel.request_id,
                account_ref=key,
                debt_ids=[case.debt_id],
                cancelled_on=on,
                reason=cancel.reason,
            ),
        )
    if (recall := decision.recall) is not None:
        yield CaseRecalled(
            key=key,
            data=CaseRecalledData(
                referral_id=recall.referral_id,
                case_id=case.case_id,
                account_ref=key,
                recalled_on=on,
                reason=recall.reason,
            ),
        )


def notice_requested(
    notice: NoticeToRequest, case: CaseRecord, on: date, council_name: str, decision: Decision
) -> NoticeRequested:
    template_data: dict[str, Any] = {"debt_type": case.debt_type, "financial_year": case.financial_year or ""}
    if notice.notice == NoticeType.SUMMONS and decision.summons is not None:
        template_data["court"] = decision.summons.court
    if notice.agent is not None:
        template_data["agent"] = notice.agent
    # The person's name, where a notice to someone else (their employer) must name them.
    template_data.update({k: case.recipient_name if v == DEBTOR_NAME else v for k, v in notice.template_data.items()})
    to = notice.to
    return NoticeRequested(
        key=case.account_ref,
        data=NoticeRequestedData(
            # One request per notice, case and day: a redelivered decision renders once.
            request_id=f"{case.case_id}:{notice.notice.value}:{on.isoformat()}",
            notice_type=notice.notice,
            account_ref=case.account_ref,
            case_id=case.case_id,
            debt_ids=[case.debt_id],
            council_name=council_name,
            recipient_name=case.recipient_name if to is None else to.name,
            recipient_address=case.recipient_address if to is None else to.address,
            amounts=dict(notice.amounts),
            dates=dict(notice.dates),
            issued_on=on,
            template_data=template_data,
        ),
    )


def hold_applied(party_id: str, account_ref: str, debt_ids: list[str], hold: str, on: date) -> list[HoldApplied]:
    """One event per ``MAX_DEBTS`` debts: a hold reaches every debt of the person, which
    nothing bounds, and each debt held is a fact on its own, so readers lose nothing
    when a person with more debts than one event names gets several."""
    return [
        HoldApplied(
            key=account_ref, data=HoldData(party_id=party_id, account_ref=account_ref, debt_ids=part, hold=hold, on=on)
        )
        for part in _in_parts(debt_ids)
    ]


def hold_released(party_id: str, account_ref: str, debt_ids: list[str], hold: str, on: date) -> list[HoldReleased]:
    """Split like ``hold_applied``."""
    return [
        HoldReleased(
            key=account_ref, data=HoldData(party_id=party_id, account_ref=account_ref, debt_ids=part, hold=hold, on=on)
        )
        for part in _in_parts(debt_ids)
    ]


def _in_parts(debt_ids: list[str]) -> list[list[str]]:
    return [debt_ids[start : start + MAX_DEBTS] for start in range(0, len(debt_ids), MAX_DEBTS)]
