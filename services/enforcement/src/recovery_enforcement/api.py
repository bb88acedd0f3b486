"""Enforcement's HTTP endpoints for officers and ops (on its health port).

What they read comes through the same unit of work and use cases as the events. No
names or addresses leave here: a person is their party id.
"""

from __future__ import annotations

import json
from typing import Any

from faststream.asgi import AsgiResponse, get
from faststream.asgi.types import Scope

from recovery_enforcement.handlers import Enforcement
from recovery_enforcement.store import CaseRecord, Cases, HoldRecord
from recovery_shared.messaging.runtime import ServiceRuntime


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


def officer_routes(runtime: ServiceRuntime) -> list[tuple[str, Any]]:
    enforcement = _enforcement(runtime)

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
    ]
