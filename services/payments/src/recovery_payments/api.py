"""Officer-facing HTTP endpoints of the ledger.

A mistaken command is refused with a message a person can act on (HTTP 409/422),
never half-applied: each command is one unit of work like any event.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, cast

from faststream.asgi import AsgiResponse, Request, get, post
from faststream.asgi.types import Scope
from sqlalchemy import Table, func, select

from recovery_payments.handlers import Payments
from recovery_payments.models import AllocationLine, Receipt
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.messaging.unit_of_work import UnitOfWork


def _json(body: dict[str, Any], status: int = 200) -> AsgiResponse:
    return AsgiResponse(json.dumps(body).encode(), status_code=status, headers={"content-type": "application/json"})


RECEIPTS = cast(Table, Receipt.__table__)  # type: ignore[attr-defined]
LINES = cast(Table, AllocationLine.__table__)  # type: ignore[attr-defined]


async def ledger_totals(runtime: ServiceRuntime) -> dict[str, Any]:
    """Every penny received is allocated (to a debt or as account credit), in suspense, or reversed."""
    r, line = RECEIPTS.c, LINES.c
    async with runtime.db.session() as session:
        receipts = (
            await session.execute(
                select(r.status, func.count(), func.coalesce(func.sum(r.amount_pence), 0)).group_by(r.status)
            )
        ).all()
        by_status = {str(row[0]): {"count": int(row[1]), "pence": int(row[2])} for row in receipts}
        on_debts = int(
            (
                await session.execute(
                    select(func.coalesce(func.sum(line.amount_pence), 0)).where(line.debt_id.is_not(None))
                )
            ).scalar_one()
        )
        as_credit = int(
            (
                await session.execute(
                    select(func.coalesce(func.sum(line.amount_pence), 0)).where(line.debt_id.is_(None))
                )
            ).scalar_one()
        )
        # A receipt's lines must add to its amount (allocated) or to nothing (suspended/reversed).
        per_receipt = (
            select(r.status, r.amount_pence, func.coalesce(func.sum(line.amount_pence), 0).label("placed"))
            .select_from(
                RECEIPTS.join(LINES, (line.receipt_ref == r.receipt_ref) & (line.channel == r.channel), isouter=True)
            )
            .group_by(r.channel, r.receipt_ref, r.status, r.amount_pence)
            .subquery()
        )
        p = per_receipt.c
        broken = int(
            (
                await session.execute(
                    select(func.count())
                    .select_from(per_receipt)
                    .where(
                        ((p.status == "allocated") & (p.placed != p.amount_pence))
                        | ((p.status != "allocated") & (p.placed != 0))
                    )
                )
            ).scalar_one()
        )
    received = sum(v["pence"] for v in by_status.values())
    allocated = by_status.get("allocated", {}).get("pence", 0)
    suspended = by_status.get("suspended", {}).get("pence", 0)
    reversed_ = by_status.get("reversed", {}).get("pence", 0)
    balanced = broken == 0 and allocated == on_debts + as_credit and received == allocated + suspended + reversed_
    return {
        "receipts": by_status,
        "received_pence": received,
        "allocated_to_debts_pence": on_debts,
        "held_as_credit_pence": as_credit,
        "suspended_pence": suspended,
        "reversed_pence": reversed_,
        "receipts_out_of_balance": broken,
        "balanced": balanced,
    }


def officer_routes(runtime: ServiceRuntime, payments: Payments) -> list[tuple[str, Any]]:
    async def run_command(body: dict[str, Any], command: Any) -> AsgiResponse:
        async with runtime.db.session() as session:
            uow = UnitOfWork(session, runtime.kernel, f"officer:{body.get('officer', 'unknown')}")
            try:
                await command(uow)
            except Refused as exc:
                await uow.rollback()
                return _json({"refused": str(exc)}, status=409)
            await uow.commit()
        runtime.relay.wake()
        return _json({"done": True})

    async def read_body(request: Request) -> dict[str, Any] | AsgiResponse:
        try:
            body = await request.json()
        except ValueError:
            return _json({"refused": "the request body must be JSON"}, status=422)
        if not isinstance(body, dict):
            return _json({"refused": "the request body must be a JSON object"}, status=422)
        return body

    def business_date(body: dict[str, Any]) -> date:
        try:
            return date.fromisoformat(str(body["on"]))
        except (KeyError, ValueError) as exc:
            raise Refused("give the business date as 'on': 'YYYY-MM-DD'") from exc

    @post(description="Allocate a receipt held in suspense to an account: {receipt_ref, account_ref, on, officer}")
    async def allocate_suspense(scope: Scope, request: Request) -> AsgiResponse:
        body = await read_body(request)
        if isinstance(body, AsgiResponse):
            return body
        missing = [k for k in ("receipt_ref", "account_ref", "on") if not body.get(k)]
        if missing:
            return _json({"refused": f"missing {', '.join(missing)}"}, status=422)

        async def command(uow: UnitOfWork) -> None:
            await payments.allocate_from_suspense(
                uow, str(body["receipt_ref"]), str(body["account_ref"]), business_date(body)
            )

        return await run_command(body, command)

    @post(description="Reverse a receipt (a correction): {receipt_ref, reason, on, officer}")
    async def reverse_receipt(scope: Scope, request: Request) -> AsgiResponse:
        body = await read_body(request)
        if isinstance(body, AsgiResponse):
            return body
        missing = [k for k in ("receipt_ref", "reason", "on") if not body.get(k)]
        if missing:
            return _json({"refused": f"missing {', '.join(missing)}"}, status=422)

        async def command(uow: UnitOfWork) -> None:
            await payments.reverse_receipt(uow, str(body["receipt_ref"]), str(body["reason"]), business_date(body))

        return await run_command(body, command)

    @get(description="Ledger totals and the check that every penny is placed exactly once")
    async def ledger(scope: Scope) -> AsgiResponse:
        return _json(await ledger_totals(runtime))

    return [
        ("/officer/suspense/allocate", allocate_suspense),
        ("/officer/receipts/reverse", reverse_receipt),
        ("/ledger", ledger),
    ]
