"""Enforcement's HTTP endpoints for officers and ops (on its health port).

What they read comes through the same unit of work and use cases as the events. No
names or addresses leave here: a person is their party id.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from faststream.asgi import AsgiResponse, Request, get, post
from faststream.asgi.types import Scope

from recovery_enforcement.handlers import Enforcement
from recovery_enforcement.store import CaseRecord, Cases, HoldRecord, SqlCases
from recovery_shared.messaging.commands import UnreadableCommand, read_command, run_once
from recovery_shared.messaging.runtime import ServiceRuntime

OfficerStep = Callable[[Cases, str], Awaitable[dict[str, Any]]]


def _json(body: dict[str, Any], status: int = 200) -> AsgiResponse:
    return AsgiResponse(json.dumps(body).encode(), status_code=status, headers={"content-type": "application/json"})


def _cases(runtime: ServiceRuntime) -> Cases:
    unit = runtime.unit()
    if not isinstance(unit, Cases):
        raise TypeError("enforcement's runtime must hand out case units of work")
    return unit


def _enforcement(runtime: ServiceRuntime) -> Enforcement:
    if not isinstance(runtime.use_cases, Enforcement):
        raise TypeError("enforcement's runtime must carry the enforcement use cases")
    return runtime.use_cases


def pending_hold_report(hold: HoldRecord) -> dict[str, Any]:
    return {
        "party_id": hold.party_id,
        "account_ref": hold.account_ref,
        "kind": hold.kind,
        "effective_on": hold.started_on.isoformat(),
        "reference": hold.reference,
    }


def case_needing_attention_report(case: CaseRecord) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "account_ref": case.account_ref,
        "party_id": case.party_id,
        "debt_type": case.debt_type,
        "stage": case.stage,
        "held": case.held,
        "since": case.attention_since.isoformat() if case.attention_since else None,
        "reason": case.attention_reason,
    }


def not_recoverable_report(case: CaseRecord) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "account_ref": case.account_ref,
        "amount_pence": case.charged_pence,
        "classification": case.hbop_classification,
        "decided_on": case.hbop_decided_on.isoformat() if case.hbop_decided_on else None,
    }


def remittance_behind_report(case: CaseRecord) -> dict[str, Any]:
    """No personal data: the employer's reference or the DWP request, never the person's name."""
    route = (case.attachment if case.stage == "dea" else case.benefit_deduction) or {}
    return {
        "case_id": case.case_id,
        "account_ref": case.account_ref,
        "route": "employer (DEA)" if case.stage == "dea" else "DWP",
        "payer_ref": route.get("employer_ref") or route.get("request_id"),
        "received_pence": route.get("remitted_pence", 0),
        "short_pence": route.get("short_pence", 0),
    }


def statute_barred_report(case: CaseRecord) -> dict[str, Any]:
    return {
        "case_id": case.case_id,
        "account_ref": case.account_ref,
        "debt_type": case.debt_type,
        "balance_pence": case.balance_pence,
        "fell_due_on": (case.fell_due_on or case.bill_issued_on).isoformat(),
    }


def officer_routes(runtime: ServiceRuntime) -> list[tuple[str, Any]]:
    enforcement = _enforcement(runtime)

    def units() -> SqlCases:
        unit = runtime.unit()
        if not isinstance(unit, SqlCases):
            raise TypeError("enforcement's runtime must hand out case units of work")
        return unit

    async def run_command(request: Request, name: str, step: OfficerStep) -> AsgiResponse:
        try:
            body = await request.json()
        except ValueError:
            return _json({"refused": "the request body must be JSON"}, status=422)
        try:
            command = read_command(name, body, ("debt_id",))
        except UnreadableCommand as exc:
            return _json({"refused": str(exc)}, status=422)

        async def apply(uow: SqlCases) -> dict[str, Any]:
            return await step(uow, command.text("debt_id"))

        answer = await run_once(units, command, apply)
        return _json(answer.body, status=answer.status)

    @post(
        description="The documents a debtor asked for in reply to a letter before claim are sent today: the"
        " Protocol's 30 days restart from their served date, then the ladder carries on."
        " {command_id, officer, debt_id}"
    )
    async def documents_supplied(scope: Scope, request: Request) -> AsgiResponse:
        return await run_command(request, "documents-supplied", enforcement.supply_documents)

    @post(
        description="The officer has considered the debtor's reply to a letter before claim: the notice of"
        " intention goes today and the claim may follow 14 days after it is served. {command_id, officer, debt_id}"
    )
    async def continue_to_claim(scope: Scope, request: Request) -> AsgiResponse:
        return await run_command(request, "continue-to-claim", enforcement.continue_to_claim)

    @get(description="HB overpayments not recoverable (official error nobody could reasonably have realised)")
    async def not_recoverable(scope: Scope) -> AsgiResponse:
        async with _cases(runtime) as uow:
            cases = await enforcement.not_recoverable_overpayments(uow)
        return _json({"count": len(cases), "overpayments": [not_recoverable_report(c) for c in cases]})

    @get(description="Cases closed as statute-barred (Limitation Act 1980 s.5 or s.9): never claimed")
    async def statute_barred(scope: Scope) -> AsgiResponse:
        async with _cases(runtime) as uow:
            cases = await enforcement.statute_barred_cases(uow)
        return _json({"count": len(cases), "cases": [statute_barred_report(c) for c in cases]})

    @get(
        description="Deductions from pay (a DEA) or from benefits (the DWP) paid over short at the last check:"
        " the employer has been written to; the DWP is for an officer to chase"
    )
    async def remittances_behind(scope: Scope) -> AsgiResponse:
        async with _cases(runtime) as uow:
            cases = await enforcement.remittances_behind(uow)
        return _json({"count": len(cases), "cases": [remittance_behind_report(c) for c in cases]})

    @get(
        description="Holds notified for people we hold no case of that they reach: kept pending, and applied"
        " from their effective date when a case opens for the person"
    )
    async def pending_holds(scope: Scope) -> AsgiResponse:
        async with _cases(runtime) as uow:
            waiting = await enforcement.pending_holds(uow)
        return _json({"count": len(waiting), "pending_holds": [pending_hold_report(h) for h in waiting]})

    @get(
        description="Cases that could not be moved (a rule refused, or the case's data breaks an event's bound):"
        " left as they were, retried by each day's run and cleared once they move"
    )
    async def cases_needing_attention(scope: Scope) -> AsgiResponse:
        async with _cases(runtime) as uow:
            waiting = await enforcement.cases_needing_attention(uow)
        return _json({"count": len(waiting), "cases": [case_needing_attention_report(c) for c in waiting]})

    return [
        ("/officer/holds/pending", pending_holds),
        ("/officer/cases/needing-attention", cases_needing_attention),
        ("/officer/cases/documents-supplied", documents_supplied),
        ("/officer/cases/continue-to-claim", continue_to_claim),
        ("/officer/overpayments/not-recoverable", not_recoverable),
        ("/officer/cases/statute-barred", statute_barred),
        ("/officer/remittances/behind", remittances_behind),
    ]
