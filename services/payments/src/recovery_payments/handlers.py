"""Payments' use cases: one per thing that can happen to the ledger.

Each loads what it needs through the ledger's repositories, asks the rules in
``domain`` for a decision, applies the decision to the records and publishes it
through the mapper in ``events``. A batch of messages goes through the very same
use cases: ``Payments.prefetch`` first loads everything the batch's events will
ask for in a few queries, so each use case then runs in memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import structlog

from recovery_payments import domain, events
from recovery_payments.domain import ReceiptFacts, ReceiptStatus
from recovery_payments.models import AllocationLineRecord, DebtRecord, HbAwardRecord, ReceiptRecord
from recovery_payments.store import Ledger, ReceiptKey
from recovery_shared.clock import dates_to_run
from recovery_shared.contracts.common import DebtType, EarningsDisregard
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    ChargeAdjusted,
    ChargeRaised,
    DayStarted,
    DirectDebitUnpaid,
    HbAwardChanged,
    HbAwardData,
    HbAwardEnded,
    HbAwardStarted,
    PaymentChannel,
    PaymentReceived,
    PaymentReceivedData,
)
from recovery_shared.contracts.internal import (
    AllocationRule,
    ArrangementMade,
    CostsAdded,
    HbDeductionStopReason,
    HoldApplied,
    HoldReleased,
)
from recovery_shared.council import AllocationPolicy, CouncilConfig, load_council_config
from recovery_shared.refusal import Refused
from recovery_shared.statute.housing_benefit import MissingFigure

log = structlog.get_logger("recovery.payments")

REVERSAL_LINE = "reversal"
"""The rule recorded on the negative lines a reversal adds."""


class Payments:
    """The ledger's use cases, bound to the council's allocation policy."""

    def __init__(self, policy: AllocationPolicy, council: CouncilConfig | None = None) -> None:
        self.policy = policy
        council = council or load_council_config()
        self.hbop = council.hbop
        self.max_days_forward = council.clock.max_days_forward

    async def prefetch(self, uow: Ledger, batch: list[Envelope]) -> None:
        """Hold everything the batch's events will look up: the receipts on file for
        its receipt references, every debt on the accounts its payers quote or its
        directed debts belong to (and their instalment amounts), the debts it
        names, and the receipts waiting in suspense for its bills' accounts."""
        needs = _Needs()
        for event in batch:
            note = _NEEDS.get(type(event))
            if note is not None:
                note(event, needs)
        await uow.receipts.load(needs.receipts)
        await uow.debts.load(accounts=needs.accounts, debt_ids=needs.debt_ids, accounts_of=needs.accounts_of)
        schedules = set(needs.schedules)
        for account_ref in needs.accounts:
            schedules.update(d.debt_id for d in await uow.debts.on_account(account_ref))
        for debt_id in needs.accounts_of:
            directed = await uow.debts.get(debt_id)
            if directed is not None:
                schedules.update(d.debt_id for d in await uow.debts.on_account(directed.account_ref))
        await uow.instalments.load(schedules)
        await uow.receipts.load_suspended_for(needs.suspended_for)

    # --- billing.charges.v1 ---------------------------------------------------

    async def open_debt(self, uow: Ledger, event: ChargeRaised) -> None:
        """Opens the debt on the ledger with its instalment schedule and publishes its
        balance; money that arrived before the bill and waited in suspense under the
        account's reference is then allocated to it. A repeated bill changes nothing,
        and an HB overpayment the council may not recover opens nothing.

        A second bill for the same debt with a different amount or account is
        refused: billing changes a debt with charge.adjusted."""
        data = event.data
        held = await uow.debts.get(data.debt_id)
        if held is not None:
            domain.check_repeated_charge(
                data.debt_id, held.charged_pence, held.account_ref, data.amount_pence, data.account_ref
            )
            return
        if not domain.is_owed(data.overpayment):
            # Enforcement records and reports it; the debt id names no one.
            log.info("bill not recoverable, no debt opened", debt_id=data.debt_id)
            return
        now = uow.audit_time()
        debt = DebtRecord(
            debt_id=data.debt_id,
            account_ref=data.account_ref,
            debt_type=data.debt_type.value,
            financial_year=data.financial_year,
            party_id=data.liable_party.party_id,
            bill_issued_on=data.bill_issued_on,
            charged_pence=data.amount_pence,
            costs_pence=0,
            paid_pence=0,
            written_off_pence=0,
            created_at=now,
            updated_at=now,
        )
        uow.debts.add(debt)
        if data.instalments:
            await uow.instalments.replace(debt.debt_id, [(i.due_date, i.amount_pence) for i in data.instalments])
        uow.publish(events.balance_changed(debt, data.bill_issued_on, cause=event))
        for receipt in await uow.receipts.suspended_for(data.account_ref):
            # The rule that sent it to suspense, asked again now the account exists: one
            # whose payer directed it at another account's debt still waits for an officer.
            place = await self._destination(uow, receipt.payer_reference, receipt.directed_debt_id)
            if place.account_ref == data.account_ref:
                await self._allocate(
                    uow,
                    receipt,
                    data.account_ref,
                    on=receipt.received_on,
                    directed=receipt.directed_debt_id,
                    cause=event,
                )

    async def adjust_debt(self, uow: Ledger, event: ChargeAdjusted) -> None:
        """Sets the debt's charge to the new amount (and its schedule, if reissued) and
        publishes its balance; a charge reduced below what was paid leaves a credit."""
        data = event.data
        debt = await uow.debts.get(data.debt_id)
        if debt is None:
            raise Refused(f"debt {data.debt_id} is not known to payments; it must be raised before it is adjusted")
        debt.charged_pence = domain.check_adjustment(data.new_amount_pence, data.debt_id)
        debt.updated_at = uow.audit_time()
        if data.instalments:
            await uow.instalments.replace(debt.debt_id, [(i.due_date, i.amount_pence) for i in data.instalments])
        uow.publish(events.balance_changed(debt, data.adjusted_on, cause=event))

    # --- payments.receipts.v1 -------------------------------------------------

    async def record_receipt(self, uow: Ledger, event: PaymentReceived) -> None:
        """Records the receipt and allocates it to the payer's account by the council's
        policy (payment.allocated, and balance.changed per debt it paid), or holds
        it in suspense when no account matches (payment.suspended). A second copy of
        a receipt changes nothing; a copy with a different amount or date is refused."""
        data = event.data
        channel = data.channel.value
        on_file = await uow.receipts.get(channel, data.receipt_ref)
        if on_file is not None:
            domain.check_second_copy(
                _facts(on_file), ReceiptFacts(channel, data.receipt_ref, data.amount_pence, data.received_on)
            )
            return
        place = await self._destination(uow, data.payer_reference, data.directed_debt_id)
        if place.account_ref is None:
            reason = place.suspense_reason
            receipt = _new_receipt(data, ReceiptStatus.SUSPENDED, reason, uow.audit_time())
            uow.receipts.add(receipt)
            uow.publish(events.payment_suspended(receipt, reason, cause=event))
            return
        receipt = _new_receipt(data, ReceiptStatus.ALLOCATED, None, uow.audit_time())
        uow.receipts.add(receipt)
        await self._allocate(
            uow, receipt, place.account_ref, on=data.received_on, directed=data.directed_debt_id, cause=event
        )

    async def _destination(self, uow: Ledger, reference: str, directed_debt_id: str | None) -> domain.Destination:
        directed_account = None
        if directed_debt_id:
            directed = await uow.debts.get(directed_debt_id)
            directed_account = directed.account_ref if directed is not None else None
        is_account = bool(reference) and bool(await uow.debts.on_account(reference))
        return domain.destination(reference, is_account, directed_debt_id, directed_account)

    # --- benefits.hb-awards.v1 and clock.days.v1: deductions from ongoing HB -----

    async def start_hb_award(self, uow: Ledger, event: HbAwardStarted) -> None:
        """Keeps the Housing Benefit award an overpayment is recovered from, from its first
        benefit week that has not begun. An account is recovered from one award at a time."""
        await self._keep_hb_award(uow, event.data, await uow.hb_awards.get(event.data.claim_ref))

    async def change_hb_award(self, uow: Ledger, event: HbAwardChanged) -> None:
        """A change (the weekly award, a fraud finding, an earnings disregard) applies to the
        weeks still to come."""
        award = await uow.hb_awards.get(event.data.claim_ref)
        if award is None:
            raise Refused(
                f"a change to HB claim {event.data.claim_ref}, whose award recovery has not heard start:"
                " the benefits system must send hb-award.started first"
            )
        await self._keep_hb_award(uow, event.data, award)

    async def _keep_hb_award(self, uow: Ledger, data: HbAwardData, award: HbAwardRecord | None) -> None:
        if award is not None and award.account_ref != data.account_ref:
            raise Refused(
                f"HB claim {data.claim_ref} pays overpayment account {award.account_ref}, not {data.account_ref}:"
                " check the account on the benefits system's message"
            )
        if award is None or not award.live:
            live = await uow.hb_awards.live_for(data.account_ref)
            if live is not None and live.claim_ref != data.claim_ref:
                raise Refused(
                    f"account {data.account_ref} is already recovered from HB claim {live.claim_ref}: end that"
                    f" award (hb-award.ended) before deductions start from claim {data.claim_ref}"
                )
        first_week = domain.first_hb_week(data.effective_on, await uow.today())
        now = uow.audit_time()
        if award is None:
            award = HbAwardRecord(
                claim_ref=data.claim_ref,
                account_ref=data.account_ref,
                weekly_award_pence=data.weekly_award_pence,
                fraud=data.fraud,
                earnings_disregard=data.earnings_disregard.value,
                next_week_on=first_week,
                ended_on=None,
                live=True,
                started=False,
                deducted_pence=0,
                updated_at=now,
            )
            uow.hb_awards.add(award)
            return
        if not award.live:  # an award restarted after it ended, or after its overpayments were paid
            award.live, award.started, award.ended_on, award.next_week_on = True, False, None, first_week
        award.weekly_award_pence = data.weekly_award_pence
        award.fraud = data.fraud
        award.earnings_disregard = data.earnings_disregard.value
        award.updated_at = now

    async def end_hb_award(self, uow: Ledger, event: HbAwardEnded) -> None:
        """No deduction is taken for a benefit week after the award's last day; once its
        last week is deducted the overpayment moves to the next route (the invoice). An
        award ended from a day already past gives back what was deducted for the weeks
        after it: no benefit was paid for them to deduct from."""
        data = event.data
        award = await uow.hb_awards.get(data.claim_ref)
        if award is None or award.account_ref != data.account_ref:
            raise Refused(
                f"HB claim {data.claim_ref} has no award recovering account {data.account_ref}:"
                " check the claim and account on the benefits system's message"
            )
        if award.ended_on == data.ended_on:
            return  # a copy
        award.ended_on = data.ended_on
        award.updated_at = uow.audit_time()
        await self._give_back_weeks_after(uow, award, data.ended_on, event)
        if award.live and award.next_week_on > data.ended_on:
            await self._stop_hb(uow, award, HbDeductionStopReason.AWARD_ENDED, data.ended_on, event)

    async def _give_back_weeks_after(self, uow: Ledger, award: HbAwardRecord, ended_on: date, cause: Envelope) -> None:
        on = max(await uow.today() or ended_on, ended_on)
        overpayments = await self._overpayments(uow, award.account_ref)
        week = award.next_week_on - domain.BENEFIT_WEEK
        for _ in range(domain.MOST_HB_WEEKS_GIVEN_BACK):
            if week <= ended_on:
                return
            for debt in overpayments:
                ref = domain.hb_receipt_ref(week, debt.debt_id)
                receipt = await uow.receipts.get(PaymentChannel.HOUSING_BENEFIT.value, ref)
                if receipt is not None and receipt.status == ReceiptStatus.ALLOCATED.value:
                    award.deducted_pence -= receipt.amount_pence
                    reason = f"no Housing Benefit was paid for the week of {week}: the award ended on {ended_on}"
                    await self._reverse(uow, receipt, reason, on=on, cause=cause)
            week -= domain.BENEFIT_WEEK
        log.warning(
            "an HB award ended further back than deductions are given back automatically; an officer must check",
            claim_ref=award.claim_ref,
            ended_on=ended_on.isoformat(),
            weeks=domain.MOST_HB_WEEKS_GIVEN_BACK,
        )

    async def take_hb_deductions(self, uow: Ledger, event: DayStarted) -> None:
        """Each benefit week that has begun, each live award gives its deduction, recorded as
        a receipt on the Housing Benefit channel for the overpayments it pays; deductions
        stop at a nil balance, or after the award's last week. After a gap each day is run
        in turn; a replayed day takes nothing twice."""
        days = dates_to_run(await uow.today(), event.data.business_date, max_days_forward=self.max_days_forward)
        if not days:
            return
        await uow.advance_business_date(days[-1])
        missing: set[str] = set()
        for today in days:
            for award in await uow.hb_awards.due(today):
                while award.live and award.next_week_on <= today:  # at most a week or two after a gap
                    try:
                        await self._deduct_week(uow, award, event)
                    except MissingFigure as exc:
                        missing.add(str(exc))
                        award.next_week_on += domain.BENEFIT_WEEK
        for reason in sorted(missing):
            # The reason names the year and where to set its figure; it names no one.
            log.warning("no deduction taken from ongoing HB", reason=reason, business_date=days[-1].isoformat())

    async def _deduct_week(self, uow: Ledger, award: HbAwardRecord, cause: Envelope) -> None:
        overpayments = await self._overpayments(uow, award.account_ref)
        owing = [d for d in overpayments if d.balance_pence > 0]
        held = await uow.hb_holds.held([d.debt_id for d in owing])
        week = award.next_week_on
        if owing and len(held) == len(owing):
            # Every overpayment still owed is on hold: the week passes with no deduction,
            # and recovery carries on from the first week after the holds end.
            award.next_week_on = week + domain.BENEFIT_WEEK
            award.updated_at = uow.audit_time()
            return
        owed = [(d.debt_id, d.balance_pence) for d in owing if d.debt_id not in held]
        deduction = domain.hb_deduction(
            week,
            fraud=award.fraud,
            disregard=EarningsDisregard(award.earnings_disregard),
            weekly_award_pence=award.weekly_award_pence,
            owed=owed,
            policy=self.hbop,
        )
        award.next_week_on = week + domain.BENEFIT_WEEK
        award.updated_at = uow.audit_time()
        if deduction is None:
            if award.started:  # paid off by other money since the last week
                await self._stop_hb(uow, award, HbDeductionStopReason.RECOVERED, week, cause)
            return  # nothing owed yet: the overpayment's bill has not reached the ledger
        if not award.started:
            award.started = True
            uow.publish(events.hb_deductions_started(award, [debt_id for debt_id, _ in owed], deduction, cause=cause))
        for debt_id, amount in deduction.parts:
            receipt = _hb_receipt(award, week, debt_id, amount, uow.audit_time())
            uow.receipts.add(receipt)
            await self._allocate(uow, receipt, award.account_ref, on=week, directed=debt_id, cause=cause)
        award.deducted_pence += deduction.amount_pence
        if not held and deduction.amount_pence == sum(balance for _, balance in owed):
            await self._stop_hb(uow, award, HbDeductionStopReason.RECOVERED, week, cause)
        elif award.ended_on is not None and award.next_week_on > award.ended_on:
            await self._stop_hb(uow, award, HbDeductionStopReason.AWARD_ENDED, award.ended_on, cause)

    async def hold_hb_deductions(self, uow: Ledger, event: HoldApplied) -> None:
        """A hold enforcement applied (a Breathing Space, a dispute or appeal, ...) stops
        deductions from HB paying the held overpayments until it is released."""
        data = event.data
        for debt in await self._held_overpayments(uow, data.debt_ids):
            await uow.hb_holds.hold(debt.debt_id, data.hold, data.on)

    async def release_hb_deductions(self, uow: Ledger, event: HoldReleased) -> None:
        """The hold is released: deductions pay the overpayment again from the next week."""
        data = event.data
        for debt in await self._held_overpayments(uow, data.debt_ids):
            await uow.hb_holds.release(debt.debt_id, data.hold)

    async def _held_overpayments(self, uow: Ledger, debt_ids: Iterable[str]) -> list[DebtRecord]:
        # Only overpayments can be deducted from HB; a hold on any other debt is not ours to keep.
        found = [await uow.debts.get(debt_id) for debt_id in debt_ids]
        return [d for d in found if d is not None and d.debt_type == DebtType.HB_OVERPAYMENT.value]

    async def _stop_hb(
        self, uow: Ledger, award: HbAwardRecord, reason: HbDeductionStopReason, on: date, cause: Envelope
    ) -> None:
        award.live = False
        overpayments = await self._overpayments(uow, award.account_ref)
        if award.started or overpayments:
            uow.publish(events.hb_deductions_stopped(award, overpayments, on, reason, cause=cause))

    async def _overpayments(self, uow: Ledger, account_ref: str) -> list[DebtRecord]:
        debts = await uow.debts.on_account(account_ref)
        found = [d for d in debts if d.debt_type == DebtType.HB_OVERPAYMENT.value]
        return sorted(found, key=lambda d: (d.bill_issued_on, d.debt_id))

    # --- banking.dd-reports.v1 ------------------------------------------------

    async def reverse_unpaid_direct_debit(self, uow: Ledger, event: DirectDebitUnpaid) -> None:
        """Reverses the Direct Debit collection the bank reports unpaid (ARUDD) and
        publishes payment.reversed with what came off each debt, and their balances.
        A report that does not match its collection's account, amount and date is
        refused; one for a collection already reversed changes nothing."""
        data = event.data
        receipt = await uow.receipts.get(PaymentChannel.DIRECT_DEBIT.value, data.receipt_ref)
        if receipt is None:
            raise Refused(
                f"ARUDD for unknown Direct Debit collection {data.receipt_ref}; "
                "check the collection's receipt reference against the Direct Debit run"
            )
        # A collection still in suspense was for the account its payer quoted.
        collected_for = receipt.account_ref or receipt.payer_reference
        domain.check_unpaid_report(
            data.receipt_ref,
            domain.Collection(collected_for, receipt.amount_pence, receipt.received_on),
            domain.Collection(data.account_ref, data.amount_pence, data.collection_date),
        )
        if receipt.status == ReceiptStatus.REVERSED:
            return
        reason = domain.direct_debit_unpaid_reason(data.reason_code)
        await self._reverse(uow, receipt, reason, on=data.collection_date, cause=event)

    # --- arrangements.events.v1 -----------------------------------------------

    async def take_arrangement_schedule(self, uow: Ledger, event: ArrangementMade) -> None:
        """A single-debt arrangement's instalments become that debt's schedule for
        exact-instalment matching. One across several debts changes no schedule (its
        payments are attributed pro rata), nor does one for a debt payments does not hold."""
        data = event.data
        if len(data.debt_ids) != 1:
            return
        (debt_id,) = data.debt_ids
        if await uow.debts.get(debt_id) is None:
            return
        await uow.instalments.replace(debt_id, [(i.due_date, i.amount_pence) for i in data.instalments])

    # --- enforcement.events.v1 ------------------------------------------------

    async def add_costs(self, uow: Ledger, event: CostsAdded) -> None:
        """Adds court or enforcement costs to what the debt owes and publishes its balance."""
        data = event.data
        debt = await uow.debts.get(data.debt_id)
        if debt is None:
            raise Refused(f"costs added to unknown debt {data.debt_id}; the debt must be raised in billing first")
        debt.costs_pence += data.amount_pence
        debt.updated_at = uow.audit_time()
        uow.publish(events.balance_changed(debt, data.added_on, cause=event))

    # --- officer commands -----------------------------------------------------

    async def allocate_from_suspense(
        self, uow: Ledger, channel: PaymentChannel, receipt_ref: str, account_ref: str, on: date
    ) -> bool:
        """An officer allocates a receipt held in suspense to an account (the payer's
        direction still counts within it). False when it already sits on that
        account: the same correction made twice changes nothing."""
        receipt = await uow.receipts.get(channel.value, receipt_ref)
        if receipt is None:
            raise Refused(
                f"there is no {channel.value} receipt {receipt_ref!r}; check the channel and the reference "
                "on the suspense list"
            )
        has_debts = bool(await uow.debts.on_account(account_ref))
        status = ReceiptStatus(receipt.status)
        if not domain.allocation_from_suspense(receipt_ref, status, receipt.account_ref, account_ref, has_debts):
            return False
        await self._allocate(
            uow,
            receipt,
            account_ref,
            on=on,
            directed=receipt.directed_debt_id,
            rule=AllocationRule.OFFICER,
            cause=None,
        )
        return True

    async def reverse_receipt(
        self, uow: Ledger, channel: PaymentChannel, receipt_ref: str, reason: str, on: date
    ) -> bool:
        """An officer reverses a receipt (a correction). False when it was already
        reversed: the same correction made twice changes nothing."""
        receipt = await uow.receipts.get(channel.value, receipt_ref)
        if receipt is None:
            raise Refused(
                f"there is no {channel.value} receipt {receipt_ref!r} to reverse; check the channel and the "
                "reference on the receipt"
            )
        if receipt.status == ReceiptStatus.REVERSED:
            return False
        await self._reverse(uow, receipt, reason, on=on, cause=None)
        return True

    async def check_ledger(self, uow: Ledger) -> domain.LedgerTotals:
        """The ledger's totals and whether every penny is placed exactly once."""
        return await uow.reconciliation.totals()

    # --- steps shared by the use cases ------------------------------------------

    async def _allocate(
        self,
        uow: Ledger,
        receipt: ReceiptRecord,
        account_ref: str,
        *,
        on: date,
        cause: Envelope | None,
        directed: str | None = None,
        rule: AllocationRule | None = None,
    ) -> None:
        debts = await uow.debts.on_account(account_ref)
        amounts = await uow.instalments.amounts([d.debt_id for d in debts])
        allocation = domain.allocate(
            receipt.amount_pence,
            _positions(debts, amounts),
            self.policy,
            received_on=receipt.received_on,
            directed_debt_id=directed,
        )
        rule = rule or allocation.rule
        by_id = {d.debt_id: d for d in debts}
        now = uow.audit_time()
        lines = uow.allocation_lines
        for debt_id, amount in allocation.parts:
            debt = by_id[debt_id]
            debt.paid_pence += amount
            debt.updated_at = now
            lines.append(_line(receipt, account_ref, debt_id, amount, rule.value, on, now))
        if allocation.credit_pence:
            lines.append(_line(receipt, account_ref, None, allocation.credit_pence, rule.value, on, now))
        receipt.account_ref = account_ref
        receipt.status = ReceiptStatus.ALLOCATED.value
        receipt.suspense_reason = None
        uow.publish(events.payment_allocated(receipt, account_ref, allocation, rule, by_id, cause=cause))
        _publish_balances(uow, (by_id[debt_id] for debt_id, _ in allocation.parts), on, cause)

    async def _reverse(
        self, uow: Ledger, receipt: ReceiptRecord, reason: str, *, on: date, cause: Envelope | None
    ) -> None:
        status = ReceiptStatus(receipt.status)
        placed = {} if status != ReceiptStatus.ALLOCATED else await uow.allocation_lines.placed(*_key(receipt))
        reversal = domain.reverse(receipt.receipt_ref, status, placed)
        receipt.status = ReceiptStatus.REVERSED.value
        account_ref = receipt.account_ref
        if account_ref is None:
            return  # money that was only in suspense: nothing was placed, nothing to tell
        now = uow.audit_time()
        debts: dict[str, DebtRecord] = {}
        for debt_id, amount in reversal.lines:
            uow.allocation_lines.append(_line(receipt, account_ref, debt_id, -amount, REVERSAL_LINE, on, now))
            if debt_id is None:
                continue
            debt = await uow.debts.get(debt_id)
            if debt is None:
                raise Refused(f"receipt {receipt.receipt_ref} was placed on debt {debt_id}, which the ledger lacks")
            debt.paid_pence -= amount
            debt.updated_at = now
            debts[debt_id] = debt
        uow.publish(events.payment_reversed(receipt, account_ref, reversal, debts, reason=reason, on=on, cause=cause))
        _publish_balances(uow, debts.values(), on, cause)


# --- what a batch's events need loaded -------------------------------------------------


@dataclass
class _Needs:
    receipts: set[ReceiptKey] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    """Accounts whose every debt (and their schedules) may be needed."""
    accounts_of: set[str] = field(default_factory=set)
    """Debts whose whole account may be needed (a payer's direction)."""
    debt_ids: set[str] = field(default_factory=set)
    schedules: set[str] = field(default_factory=set)
    suspended_for: set[str] = field(default_factory=set)


def _receipt_needs(event: PaymentReceived, needs: _Needs) -> None:
    data = event.data
    needs.receipts.add((data.channel.value, data.receipt_ref))
    if data.payer_reference:
        needs.accounts.add(data.payer_reference)
    if data.directed_debt_id:
        needs.accounts_of.add(data.directed_debt_id)


def _bill_needs(event: ChargeRaised, needs: _Needs) -> None:
    needs.debt_ids.add(event.data.debt_id)
    needs.accounts.add(event.data.account_ref)
    needs.schedules.add(event.data.debt_id)
    needs.suspended_for.add(event.data.account_ref)


def _adjustment_needs(event: ChargeAdjusted, needs: _Needs) -> None:
    needs.debt_ids.add(event.data.debt_id)
    needs.schedules.add(event.data.debt_id)


def _unpaid_needs(event: DirectDebitUnpaid, needs: _Needs) -> None:
    needs.receipts.add((PaymentChannel.DIRECT_DEBIT.value, event.data.receipt_ref))


def _arrangement_needs(event: ArrangementMade, needs: _Needs) -> None:
    if len(event.data.debt_ids) == 1:
        needs.debt_ids.update(event.data.debt_ids)
        needs.schedules.update(event.data.debt_ids)


def _costs_needs(event: CostsAdded, needs: _Needs) -> None:
    needs.debt_ids.add(event.data.debt_id)


def _award_needs(event: HbAwardStarted | HbAwardChanged | HbAwardEnded, needs: _Needs) -> None:
    needs.accounts.add(event.data.account_ref)


def _hold_needs(event: HoldApplied | HoldReleased, needs: _Needs) -> None:
    needs.debt_ids.update(event.data.debt_ids)


_NEEDS: Mapping[type[Envelope], Callable[[Any, _Needs], None]] = {
    PaymentReceived: _receipt_needs,
    ChargeRaised: _bill_needs,
    ChargeAdjusted: _adjustment_needs,
    DirectDebitUnpaid: _unpaid_needs,
    ArrangementMade: _arrangement_needs,
    CostsAdded: _costs_needs,
    HbAwardStarted: _award_needs,
    HbAwardChanged: _award_needs,
    HbAwardEnded: _award_needs,
    HoldApplied: _hold_needs,
    HoldReleased: _hold_needs,
}


# --- records in, values out ----------------------------------------------------------


def _new_receipt(
    data: PaymentReceivedData, status: ReceiptStatus, suspense_reason: str | None, now: datetime
) -> ReceiptRecord:
    return ReceiptRecord(
        channel=data.channel.value,
        receipt_ref=data.receipt_ref,
        amount_pence=data.amount_pence,
        received_on=data.received_on,
        payer_reference=data.payer_reference,
        directed_debt_id=data.directed_debt_id,
        account_ref=None,
        status=status.value,
        suspense_reason=suspense_reason,
        recorded_at=now,
    )


def _hb_receipt(award: HbAwardRecord, week: date, debt_id: str, amount: int, now: datetime) -> ReceiptRecord:
    return ReceiptRecord(
        channel=PaymentChannel.HOUSING_BENEFIT.value,
        receipt_ref=domain.hb_receipt_ref(week, debt_id),
        amount_pence=amount,
        received_on=week,
        payer_reference=award.account_ref,
        directed_debt_id=debt_id,
        account_ref=None,
        status=ReceiptStatus.ALLOCATED.value,
        suspense_reason=None,
        recorded_at=now,
    )


def _facts(receipt: ReceiptRecord) -> ReceiptFacts:
    return ReceiptFacts(receipt.channel, receipt.receipt_ref, receipt.amount_pence, receipt.received_on)


def _key(receipt: ReceiptRecord) -> ReceiptKey:
    return (receipt.channel, receipt.receipt_ref)


def _positions(debts: Sequence[DebtRecord], amounts: Mapping[str, frozenset[int]]) -> list[domain.DebtPosition]:
    return [
        domain.DebtPosition(
            debt_id=d.debt_id,
            debt_type=DebtType(d.debt_type),
            financial_year=d.financial_year,
            bill_issued_on=d.bill_issued_on,
            balance_pence=max(d.balance_pence, 0),
            instalment_amounts=amounts[d.debt_id],
        )
        for d in debts
    ]


def _line(
    receipt: ReceiptRecord, account_ref: str, debt_id: str | None, amount: int, rule: str, on: date, now: datetime
) -> AllocationLineRecord:
    return AllocationLineRecord(
        channel=receipt.channel,
        receipt_ref=receipt.receipt_ref,
        account_ref=account_ref,
        debt_id=debt_id,
        amount_pence=amount,
        rule=rule,
        on=on,
        recorded_at=now,
    )


def _publish_balances(uow: Ledger, debts: Iterable[DebtRecord], as_of: date, cause: Envelope | None) -> None:
    seen: set[str] = set()
    for debt in debts:
        if debt.debt_id not in seen:
            seen.add(debt.debt_id)
            uow.publish(events.balance_changed(debt, as_of, cause=cause))
