"""Officer-facing HTTP endpoints of the ledger.

Each command is one unit of work like any message: applied whole or not at all.
A mistaken command is refused with a sentence a person can act on (HTTP 409, or
422 for a request that cannot be read); a repeated command answers as the first
did and changes nothing more.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from faststream.asgi import AsgiResponse, Request, get, post
from faststream.asgi.types import Scope

from recovery_payments.domain import LedgerTotals
from recovery_payments.handlers import Payments
from recovery_payments.store import Ledger
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.refusal import Refused


def _json(body: dict[str, Any], status: int = 200) -> AsgiResponse:
    return AsgiResponse(json.dumps(body).encode(), status_code=status, headers={"content-type": "application/json"})


def _ledger(runtime: ServiceRuntime) -> Ledger:
    unit = runtime.unit()
    if not isinstance(unit, Ledger):
        raise TypeError("payments' runtime must hand out ledger units of work")
    return unit


def _payments(runtime: ServiceRuntime) -> Payments:
    if not isinstance(runtime.use_cases, Payments):
        raise TypeError("payments' runtime must carry the payments use cases")
    return runtime.use_cases


def totals_report(totals: LedgerTotals) -> dict[str, Any]:
    return {
        "receipts": {status: {"count": t.count, "pence": t.pence} for status, t in totals.receipts.items()},
        "received_pence": totals.received_pence,
        "allocated_to_debts_pence": totals.allocated_to_debts_pence,
        "held_as_credit_pence": totals.held_as_credit_pence,
        "suspended_pence": totals.suspended_pence,
        "reversed_pence": totals.reversed_pence,
        "receipts_out_of_balance": totals.receipts_out_of_balance,
        "balanced": totals.balanced,
    }


async def ledger_totals(runtime: ServiceRuntime) -> dict[str, Any]:
    """Every penny received is allocated (to a debt or as account credit), in suspense, or reversed."""
    async with _ledger(runtime) as uow:
        return totals_report(await _payments(runtime).check_ledger(uow))


Command = Callable[[Ledger, date], Awaitable[bool]]


def officer_routes(runtime: ServiceRuntime) -> list[tuple[str, Any]]:
    payments = _payments(runtime)

    async def run_command(
        request: Request, required: tuple[str, ...], command: Callable[[dict[str, Any]], Command]
    ) -> AsgiResponse:
        try:
            body = await request.json()
        except ValueError:
            return _json({"refused": "the request body must be JSON"}, status=422)
        if not isinstance(body, dict):
            return _json({"refused": "the request body must be a JSON object"}, status=422)
        missing = [k for k in required if not body.get(k)]
        if missing:
            return _json({"refused": f"missing {', '.join(missing)}: give {', '.join(required)}"}, status=422)
        try:
            on = date.fromisoformat(str(body["on"]))
        except ValueError:
            return _json({"refused": "give the business date as 'on': 'YYYY-MM-DD'"}, status=422)
        async with _ledger(runtime) as uow:
            try:
                changed = await command(body)(uow, on)
            except Refused as exc:
                return _json({"refused": str(exc)}, status=409)
            await uow.commit()
        return _json({"done": True, "changed": changed})

    @post(description="Allocate a receipt held in suspense to an account: {receipt_ref, account_ref, on}")
    async def allocate_suspense(scope: Scope, request: Request) -> AsgiResponse:
        def command(body: dict[str, Any]) -> Command:
            return lambda uow, on: payments.allocate_from_suspense(
                uow, str(body["receipt_ref"]), str(body["account_ref"]), on
            )

        return await run_command(request, ("receipt_ref", "account_ref", "on"), command)

    @post(description="Reverse a receipt (a correction): {receipt_ref, reason, on}")
    async def reverse_receipt(scope: Scope, request: Request) -> AsgiResponse:
        def command(body: dict[str, Any]) -> Command:
            return lambda uow, on: payments.reverse_receipt(uow, str(body["receipt_ref"]), str(body["reason"]), on)

        return await run_command(request, ("receipt_ref", "reason", "on"), command)

    @get(description="Ledger totals and the check that every penny is placed exactly once")
    async def ledger(scope: Scope) -> AsgiResponse:
        return _json(await ledger_totals(runtime))

    return [
        ("/officer/suspense/allocate", allocate_suspense),
        ("/officer/receipts/reverse", reverse_receipt),
        ("/ledger", ledger),
    ]
