"""Officer-facing HTTP endpoints of the ledger.

Each command is one unit of work like any message: applied whole or not at all,
and recorded by its command id (``recovery_shared.messaging.commands``), so a
repeat answers as the first did with ``"repeated": true`` and changes nothing,
and ten copies sent at once have one effect. A mistaken command is refused with
a sentence a person can act on (HTTP 409, or 422 for a request that cannot be
read). A receipt is named by its channel and reference: references are unique
per channel only.
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
from recovery_payments.store import Ledger, SqlLedger
from recovery_shared.contracts.inbound import PaymentChannel
from recovery_shared.messaging.commands import OfficerCommand, UnreadableCommand, read_command, run_once
from recovery_shared.messaging.runtime import ServiceRuntime


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


UseCase = Callable[[SqlLedger, OfficerCommand, PaymentChannel, date], Awaitable[bool]]

CHANNELS = ", ".join(channel.value for channel in PaymentChannel)


def _channel(command: OfficerCommand) -> PaymentChannel:
    # Receipt references are unique per channel only: without the channel a
    # reference could name two receipts, and a correction land on the wrong one.
    named = command.text("channel")
    try:
        return PaymentChannel(named)
    except ValueError:
        raise UnreadableCommand(f"channel {named!r} is not a payment channel; give one of {CHANNELS}") from None


def _business_date(command: OfficerCommand) -> date:
    try:
        return date.fromisoformat(command.text("on"))
    except ValueError:
        raise UnreadableCommand("give the business date as 'on': 'YYYY-MM-DD'") from None


def officer_routes(runtime: ServiceRuntime) -> list[tuple[str, Any]]:
    payments = _payments(runtime)

    def units() -> SqlLedger:
        unit = runtime.unit()
        if not isinstance(unit, SqlLedger):
            raise TypeError("payments' runtime must hand out ledger units of work")
        return unit

    async def run_command(request: Request, name: str, fields: tuple[str, ...], use_case: UseCase) -> AsgiResponse:
        try:
            body = await request.json()
        except ValueError:
            return _json({"refused": "the request body must be JSON"}, status=422)
        try:
            command = read_command(name, body, fields)
            channel, on = _channel(command), _business_date(command)
        except UnreadableCommand as exc:
            return _json({"refused": str(exc)}, status=422)

        async def apply(uow: SqlLedger) -> dict[str, Any]:
            return {"done": True, "changed": await use_case(uow, command, channel, on)}

        answer = await run_once(units, command, apply)
        return _json(answer.body, status=answer.status)

    @post(
        description="Allocate a receipt held in suspense to an account: "
        "{command_id, officer, channel, receipt_ref, account_ref, on}"
    )
    async def allocate_suspense(scope: Scope, request: Request) -> AsgiResponse:
        async def use_case(uow: SqlLedger, command: OfficerCommand, channel: PaymentChannel, on: date) -> bool:
            receipt_ref, account_ref = command.text("receipt_ref"), command.text("account_ref")
            return await payments.allocate_from_suspense(uow, channel, receipt_ref, account_ref, on)

        fields = ("channel", "receipt_ref", "account_ref", "on")
        return await run_command(request, "allocate-from-suspense", fields, use_case)

    @post(description="Reverse a receipt (a correction): {command_id, officer, channel, receipt_ref, reason, on}")
    async def reverse_receipt(scope: Scope, request: Request) -> AsgiResponse:
        async def use_case(uow: SqlLedger, command: OfficerCommand, channel: PaymentChannel, on: date) -> bool:
            receipt_ref, reason = command.text("receipt_ref"), command.text("reason")
            return await payments.reverse_receipt(uow, channel, receipt_ref, reason, on)

        return await run_command(request, "reverse-receipt", ("channel", "receipt_ref", "reason", "on"), use_case)

    @get(description="Ledger totals and the check that every penny is placed exactly once")
    async def ledger(scope: Scope) -> AsgiResponse:
        return _json(await ledger_totals(runtime))

    return [
        ("/officer/suspense/allocate", allocate_suspense),
        ("/officer/receipts/reverse", reverse_receipt),
        ("/ledger", ledger),
    ]
