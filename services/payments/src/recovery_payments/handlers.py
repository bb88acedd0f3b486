"""Payments' use cases: one function per thing that can happen to the ledger."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from recovery_payments import domain
from recovery_payments.models import AllocationLine, Debt, Receipt
from recovery_payments.store import DebtFigures, Ledger
from recovery_shared import topics
from recovery_shared.clock import utc_now
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.envelope import Envelope, causation
from recovery_shared.contracts.inbound import (
    ChargeAdjusted,
    ChargeRaised,
    DirectDebitUnpaid,
    PaymentReceived,
    PaymentReceivedData,
)
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    ArrangementMade,
    BalanceChanged,
    BalanceChangedData,
    CostsAdded,
    PaymentAllocated,
    PaymentAllocatedData,
    PaymentReversed,
    PaymentReversedData,
    PaymentSuspended,
    PaymentSuspendedData,
    WriteOffApproved,
)
from recovery_shared.council import AllocationPolicy
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.unit_of_work import UnitOfWork


class Payments:
    """The ledger's use cases, bound to the council's allocation policy."""

    def __init__(self, policy: AllocationPolicy) -> None:
        self.policy = policy

    # --- billing.charges.v1 ---------------------------------------------------

    async def on_charge(self, uow: UnitOfWork, event: ChargeRaised | ChargeAdjusted) -> None:
        ledger = Ledger(uow)
        if isinstance(event, ChargeRaised):
            await self.open_debt(ledger, event)
        else:
            await self.adjust_debt(ledger, event)

    async def open_debt(self, ledger: Ledger, event: ChargeRaised) -> None:
        data = event.data
        existing = await ledger.debt(data.debt_id)
        if existing is not None:
            if domain.same_charge(existing.charged_pence, existing.account_ref, data.amount_pence, data.account_ref):
                return
            raise Refused(
                f"debt {data.debt_id} is already open for a different amount or account; "
                "send charge.adjusted to change a debt"
            )
        debt = Debt(
            debt_id=data.debt_id,
            account_ref=data.account_ref,
            debt_type=data.debt_type.value,
            financial_year=data.financial_year,
            party_id=data.liable_party.party_id,
            bill_issued_on=data.bill_issued_on,
            charged_pence=data.amount_pence,
        )
        ledger.add(debt)
        if data.instalments:
            await ledger.replace_instalments(debt.debt_id, [(i.due_date, i.amount_pence) for i in data.instalments])
        publish_balances(ledger.uow, [debt], data.bill_issued_on)
        # Money that arrived before its bill waited in suspense under this reference.
        for receipt in await ledger.suspended_for_reference(data.account_ref):
            await self.allocate_receipt(ledger, receipt, data.account_ref, on=receipt.received_on)

    async def adjust_debt(self, ledger: Ledger, event: ChargeAdjusted) -> None:
        data = event.data
        debt = await ledger.debt(data.debt_id)
        if debt is None:
            raise Refused(f"debt {data.debt_id} is not known to payments; it must be raised before it is adjusted")
        debt.charged_pence = domain.check_adjustment(data.new_amount_pence, data.debt_id)
        debt.updated_at = utc_now()
        ledger.add(debt)
        if data.instalments:
            await ledger.replace_instalments(debt.debt_id, [(i.due_date, i.amount_pence) for i in data.instalments])
        publish_balances(ledger.uow, [debt], data.adjusted_on)

    # --- payments.receipts.v1 -------------------------------------------------

    async def on_receipt(self, uow: UnitOfWork, event: PaymentReceived) -> None:
        ledger = Ledger(uow)
        data = event.data
        existing = await ledger.receipt(data.channel.value, data.receipt_ref)
        if existing is not None:
            if domain.same_receipt(
                (existing.amount_pence, existing.received_on, existing.channel),
                data.amount_pence,
                data.received_on,
                data.channel.value,
            ):
                return  # a second copy of a receipt: never allocated twice
            raise _conflicting_copy(data)
        receipt = Receipt(
            channel=data.channel.value,
            receipt_ref=data.receipt_ref,
            amount_pence=data.amount_pence,
            received_on=data.received_on,
            payer_reference=data.payer_reference,
        )
        account_ref = await self._account_for(ledger, data.payer_reference, data.directed_debt_id)
        if account_ref is None:
            suspend(ledger, receipt, _no_account(data.payer_reference))
            return
        await self.allocate_receipt(ledger, receipt, account_ref, on=data.received_on, directed=data.directed_debt_id)

    async def on_receipts(self, uow: UnitOfWork, events: list[PaymentReceived]) -> None:
        """A batch of receipts in a fixed handful of round trips, with the same effect
        as ``on_receipt`` on each in turn: read every receipt and debt the batch can
        touch, allocate in memory in offset order, then write it all in bulk."""
        ledger = Ledger(uow)
        on_file = await ledger.receipts_on_file({(e.data.channel.value, e.data.receipt_ref) for e in events})
        new: list[PaymentReceived] = []
        for event in events:
            data = event.data
            key = (data.channel.value, data.receipt_ref)
            earlier = on_file.get(key)
            if earlier is None:
                # A later copy in this same batch must find this one, as it would
                # on the ledger one message at a time.
                on_file[key] = (data.amount_pence, data.received_on, data.channel.value)
                new.append(event)
            elif not domain.same_receipt(earlier, data.amount_pence, data.received_on, data.channel.value):
                # The kernel replays the batch one message at a time, so only this
                # copy is dead-lettered.
                raise _conflicting_copy(data)
        if not new:
            return

        debts = await ledger.debts_for_receipts(
            {e.data.payer_reference for e in new if e.data.payer_reference},
            {e.data.directed_debt_id for e in new if e.data.directed_debt_id},
        )
        instalments = await ledger.instalment_amounts([d.debt_id for d in debts])
        by_id = {d.debt_id: d for d in debts}
        by_account: dict[str, list[DebtFigures]] = {}
        for debt in debts:
            by_account.setdefault(debt.account_ref, []).append(debt)

        now = utc_now()
        receipts: list[dict[str, Any]] = []
        lines: list[dict[str, Any]] = []
        paid: dict[str, int] = {}
        try:
            for event in new:
                uow.cause = event
                data = event.data
                receipt = _receipt_row(data, now)
                receipts.append(receipt)
                account_ref = _account_among(by_id, by_account, data.payer_reference, data.directed_debt_id)
                if account_ref is None:
                    reason = _no_account(data.payer_reference)
                    receipt["status"], receipt["suspense_reason"] = "suspended", reason
                    uow.publish(topics.PAYMENT_EVENTS, _suspended(data, reason, cause=event))
                    continue
                account_debts = by_account[account_ref]
                allocation = domain.allocate(
                    data.amount_pence,
                    _positions(account_debts, instalments),
                    self.policy,
                    received_on=data.received_on,
                    directed_debt_id=data.directed_debt_id,
                )
                touched: list[DebtFigures] = []
                for debt_id, amount in allocation.parts:
                    debt = by_id[debt_id]
                    debt.paid_pence += amount
                    paid[debt_id] = paid.get(debt_id, 0) + amount
                    touched.append(debt)
                    lines.append(_line_row(data, account_ref, debt_id, amount, allocation.rule, data.received_on, now))
                if allocation.credit_pence:
                    lines.append(
                        _line_row(
                            data, account_ref, None, allocation.credit_pence, allocation.rule, data.received_on, now
                        )
                    )
                receipt["account_ref"] = account_ref
                uow.publish(
                    topics.PAYMENT_EVENTS,
                    _allocated(
                        data.receipt_ref,
                        account_ref,
                        data.amount_pence,
                        data.received_on,
                        allocation,
                        allocation.rule,
                        by_id,
                        cause=event,
                    ),
                )
                publish_balances(uow, touched, data.received_on, cause=event)
        finally:
            uow.cause = None
        await ledger.record_receipts(receipts)
        await ledger.record_allocation_lines(lines)
        await ledger.add_payments(paid, now)

    async def _account_for(self, ledger: Ledger, reference: str, directed_debt_id: str | None) -> str | None:
        if directed_debt_id:
            debt = await ledger.debt(directed_debt_id)
            if debt is not None:
                return debt.account_ref
        if reference and await ledger.account_exists(reference):
            return reference
        return None

    async def allocate_receipt(
        self,
        ledger: Ledger,
        receipt: Receipt,
        account_ref: str,
        *,
        on: date,
        directed: str | None = None,
        rule_override: AllocationRule | None = None,
    ) -> None:
        debts = await ledger.debts_for_account(account_ref)
        instalments = await ledger.instalment_amounts([d.debt_id for d in debts])
        allocation = domain.allocate(
            receipt.amount_pence,
            _positions(debts, instalments),
            self.policy,
            received_on=receipt.received_on,
            directed_debt_id=directed,
        )
        rule = rule_override or allocation.rule
        by_id = {d.debt_id: d for d in debts}
        touched: list[Debt] = []
        for debt_id, amount in allocation.parts:
            debt = by_id[debt_id]
            debt.paid_pence += amount
            debt.updated_at = utc_now()
            ledger.add(debt)
            touched.append(debt)
            ledger.add(_line(receipt, account_ref, debt_id, amount, rule, on))
        if allocation.credit_pence:
            ledger.add(_line(receipt, account_ref, None, allocation.credit_pence, rule, on))
        receipt.account_ref = account_ref
        receipt.status = "allocated"
        receipt.suspense_reason = None
        ledger.add(receipt)
        ledger.uow.publish(
            topics.PAYMENT_EVENTS,
            _allocated(
                receipt.receipt_ref, account_ref, receipt.amount_pence, receipt.received_on, allocation, rule, by_id
            ),
        )
        publish_balances(ledger.uow, touched, on)

    # --- officer commands -----------------------------------------------------

    async def allocate_from_suspense(self, uow: UnitOfWork, receipt_ref: str, account_ref: str, on: date) -> None:
        ledger = Ledger(uow)
        receipt = await ledger.receipt_by_ref(receipt_ref)
        if receipt is None:
            raise Refused(f"there is no receipt {receipt_ref!r}; check the reference on the suspense list")
        if receipt.status != "suspended":
            raise Refused(f"receipt {receipt_ref} is not in suspense (it is {receipt.status}); nothing to allocate")
        if not await ledger.account_exists(account_ref):
            raise Refused(f"account {account_ref!r} has no debts on the ledger; check the account reference")
        await self.allocate_receipt(ledger, receipt, account_ref, on=on, rule_override=AllocationRule.OFFICER)

    async def reverse_receipt(self, uow: UnitOfWork, receipt_ref: str, reason: str, on: date) -> None:
        ledger = Ledger(uow)
        receipt = await ledger.receipt_by_ref(receipt_ref)
        if receipt is None:
            raise Refused(f"there is no receipt {receipt_ref!r} to reverse")
        await self._reverse(ledger, receipt, reason, on)

    async def _reverse(self, ledger: Ledger, receipt: Receipt, reason: str, on: date) -> None:
        if receipt.status == "reversed":
            raise Refused(f"receipt {receipt.receipt_ref} has already been reversed")
        if receipt.status == "suspended":
            receipt.status = "reversed"
            ledger.add(receipt)
            return
        assert receipt.account_ref is not None
        current = await ledger.net_allocation(receipt.channel, receipt.receipt_ref)
        touched: list[Debt] = []
        parts: list[AllocationPart] = []
        for debt_id, amount in sorted(current.items(), key=lambda kv: kv[0] or ""):
            ledger.add(_line(receipt, receipt.account_ref, debt_id, -amount, "reversal", on))
            if debt_id is None:
                continue
            debt = await ledger.debt(debt_id)
            assert debt is not None
            debt.paid_pence -= amount
            debt.updated_at = utc_now()
            ledger.add(debt)
            touched.append(debt)
            parts.append(AllocationPart(debt_id=debt_id, amount_pence=amount, financial_year=debt.financial_year))
        receipt.status = "reversed"
        ledger.add(receipt)
        ledger.uow.publish(
            topics.PAYMENT_EVENTS,
            PaymentReversed(
                key=receipt.account_ref,
                data=PaymentReversedData(
                    receipt_ref=receipt.receipt_ref,
                    account_ref=receipt.account_ref,
                    amount_pence=receipt.amount_pence,
                    reversed_on=on,
                    reason=reason,
                    parts=parts,
                ),
            ),
        )
        publish_balances(ledger.uow, touched, on)

    # --- banking.dd-reports.v1 ------------------------------------------------

    async def on_dd_report(self, uow: UnitOfWork, event: object) -> None:
        if not isinstance(event, DirectDebitUnpaid):
            return  # mandate changes are for the DD schedule, not the ledger
        ledger = Ledger(uow)
        receipt = await ledger.receipt("direct_debit", event.data.receipt_ref)
        if receipt is None:
            raise Refused(f"ARUDD for unknown Direct Debit collection {event.data.receipt_ref}")
        if receipt.status == "reversed":
            return
        await self._reverse(
            ledger, receipt, f"Direct Debit unpaid, ARUDD reason {event.data.reason_code}", event.data.collection_date
        )

    # --- arrangements.events.v1 -----------------------------------------------

    async def on_arrangement_event(self, uow: UnitOfWork, event: object) -> None:
        if not isinstance(event, ArrangementMade):
            return
        ledger = Ledger(uow)
        if len(event.data.debt_ids) != 1:
            return  # instalment matching is per debt; a multi-debt arrangement attributes pro rata
        schedule = [(i.due_date, i.amount_pence) for i in event.data.instalments]
        if await ledger.debt(event.data.debt_ids[0]) is not None:
            await ledger.replace_instalments(event.data.debt_ids[0], schedule)

    # --- enforcement.events.v1 ------------------------------------------------

    async def on_enforcement_event(self, uow: UnitOfWork, event: object) -> None:
        ledger = Ledger(uow)
        if isinstance(event, CostsAdded):
            debt = await ledger.debt(event.data.debt_id)
            if debt is None:
                raise Refused(f"costs added to unknown debt {event.data.debt_id}")
            debt.costs_pence += event.data.amount_pence
            ledger.add(debt)
            publish_balances(uow, [debt], event.data.added_on)
        elif isinstance(event, WriteOffApproved):
            debt = await ledger.debt(event.data.debt_id)
            if debt is None:
                raise Refused(f"write-off approved for unknown debt {event.data.debt_id}")
            if event.data.amount_pence > debt.balance_pence:
                raise Refused(f"write-off of {event.data.amount_pence}p exceeds the balance of debt {debt.debt_id}")
            debt.written_off_pence += event.data.amount_pence
            ledger.add(debt)
            publish_balances(uow, [debt], event.data.approved_on)


def suspend(ledger: Ledger, receipt: Receipt, reason: str) -> None:
    receipt.status = "suspended"
    receipt.suspense_reason = reason
    ledger.add(receipt)
    ledger.uow.publish(topics.PAYMENT_EVENTS, _suspended(receipt, reason))


def _suspended(
    receipt: Receipt | PaymentReceivedData, reason: str, *, cause: Envelope | None = None
) -> PaymentSuspended:
    return PaymentSuspended(
        **(causation(cause) if cause is not None else {}),
        key=receipt.payer_reference or receipt.receipt_ref,
        data=PaymentSuspendedData(
            receipt_ref=receipt.receipt_ref,
            amount_pence=receipt.amount_pence,
            received_on=receipt.received_on,
            payer_reference=receipt.payer_reference,
            reason=reason,
        ),
    )


def _no_account(reference: str) -> str:
    return f"no account matches the quoted reference {reference!r}"


def _conflicting_copy(data: PaymentReceivedData) -> Refused:
    return Refused(
        f"receipt {data.receipt_ref} from {data.channel.value} was already recorded with a different "
        "amount or date; correct it with a reversal, not a second receipt"
    )


def _account_among(
    by_id: Mapping[str, DebtFigures],
    by_account: Mapping[str, Sequence[DebtFigures]],
    reference: str,
    directed_debt_id: str | None,
) -> str | None:
    """``Payments._account_for`` over debts already read for the batch."""
    if directed_debt_id:
        debt = by_id.get(directed_debt_id)
        if debt is not None:
            return debt.account_ref
    if reference and reference in by_account:
        return reference
    return None


def _positions(
    debts: Iterable[Debt | DebtFigures], instalments: Mapping[str, frozenset[int]]
) -> list[domain.DebtPosition]:
    return [
        domain.DebtPosition(
            debt_id=d.debt_id,
            debt_type=d.debt_type,
            financial_year=d.financial_year,
            bill_issued_on=d.bill_issued_on,
            balance_pence=max(d.balance_pence, 0),
            instalment_amounts=instalments.get(d.debt_id, frozenset()),
        )
        for d in debts
    ]


def _allocated(
    receipt_ref: str,
    account_ref: str,
    amount_pence: int,
    received_on: date,
    allocation: domain.Allocation,
    rule: AllocationRule,
    debts: Mapping[str, Debt] | Mapping[str, DebtFigures],
    *,
    cause: Envelope | None = None,
) -> PaymentAllocated:
    return PaymentAllocated(
        **(causation(cause) if cause is not None else {}),
        key=account_ref,
        data=PaymentAllocatedData(
            receipt_ref=receipt_ref,
            account_ref=account_ref,
            amount_pence=amount_pence,
            received_on=received_on,
            rule=rule,
            parts=[
                AllocationPart(debt_id=debt_id, amount_pence=amount, financial_year=debts[debt_id].financial_year)
                for debt_id, amount in allocation.parts
            ],
            credit_pence=allocation.credit_pence,
        ),
    )


def _receipt_row(data: PaymentReceivedData, now: datetime) -> dict[str, Any]:
    return {
        "channel": data.channel.value,
        "receipt_ref": data.receipt_ref,
        "amount_pence": data.amount_pence,
        "received_on": data.received_on,
        "payer_reference": data.payer_reference,
        "account_ref": None,
        "status": "allocated",
        "suspense_reason": None,
        "recorded_at": now,
    }


def _line_row(
    data: PaymentReceivedData,
    account_ref: str,
    debt_id: str | None,
    amount: int,
    rule: str,
    on: date,
    now: datetime,
) -> dict[str, Any]:
    return {
        "channel": data.channel.value,
        "receipt_ref": data.receipt_ref,
        "account_ref": account_ref,
        "debt_id": debt_id,
        "amount_pence": amount,
        "rule": str(rule),
        "on": on,
        "recorded_at": now,
    }


def _line(receipt: Receipt, account_ref: str, debt_id: str | None, amount: int, rule: str, on: date) -> AllocationLine:
    return AllocationLine(
        channel=receipt.channel,
        receipt_ref=receipt.receipt_ref,
        account_ref=account_ref,
        debt_id=debt_id,
        amount_pence=amount,
        rule=rule,
        on=on,
    )


def publish_balances(
    uow: UnitOfWork, debts: Iterable[Debt | DebtFigures], as_of: date, *, cause: Envelope | None = None
) -> None:
    chain = causation(cause) if cause is not None else {}
    seen: set[str] = set()
    for debt in debts:
        if debt.debt_id in seen:
            continue
        seen.add(debt.debt_id)
        uow.publish(
            topics.PAYMENT_EVENTS,
            BalanceChanged(
                **chain,
                key=debt.account_ref,
                data=BalanceChangedData(
                    debt_id=debt.debt_id,
                    account_ref=debt.account_ref,
                    debt_type=DebtType(debt.debt_type),
                    charged_pence=debt.charged_pence + debt.costs_pence,
                    paid_pence=debt.paid_pence,
                    balance_pence=debt.balance_pence,
                    as_of=as_of,
                ),
            ),
        )
