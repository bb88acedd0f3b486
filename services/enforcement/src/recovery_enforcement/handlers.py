"""Enforcement's use cases: move each case along its ladder and say so in events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import structlog

from recovery_enforcement import domain
from recovery_enforcement.models import AgentReturn, Hold, LadderStep, RecoveryCase
from recovery_enforcement.store import Cases
from recovery_shared import topics
from recovery_shared.clock import utc_now
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.inbound import (
    AgentOutcome,
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    CaseReturned,
    ChargeAdjusted,
    ChargeRaised,
    DayStarted,
    DebtorDeceased,
    DisputeRaised,
    DisputeResolved,
    HearingAdjourned,
    InsolvencyNotified,
    LiabilityOrderGranted,
    LiabilityOrderWithdrawn,
    VulnerabilityCleared,
    VulnerabilityFlagged,
)
from recovery_shared.contracts.internal import (
    ArrangementMade,
    BalanceChanged,
    BalanceFellDue,
    BalanceFellDueData,
    CaseRecalled,
    CaseRecalledData,
    CaseReferred,
    CaseReferredData,
    CostsAdded,
    CostsAddedData,
    HoldApplied,
    HoldData,
    HoldReleased,
    InstalmentMissed,
    LiabilityOrderRecorded,
    LiabilityOrderRecordedData,
    NoticeFailed,
    NoticeIssued,
    NoticeRequested,
    NoticeRequestedData,
    NoticeType,
    StageChanged,
    StageChangedData,
    SummonsListed,
    SummonsListedData,
)
from recovery_shared.council import CouncilConfig
from recovery_shared.messaging.consumer import BatchHandler
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.unit_of_work import UnitOfWork

log = structlog.get_logger("recovery.enforcement")

# Holds that freeze every action on the cases they cover.
FREEZING = {"breathing_space", "dispute", "deceased", "insolvency"}


class Enforcement:
    def __init__(self, council: CouncilConfig) -> None:
        self.council = council

    # --- batches ----------------------------------------------------------------

    def in_batches(self, handler: Callable[[UnitOfWork, Any], Awaitable[None]]) -> BatchHandler:
        """``handler`` applied to each event of a batch in turn, with every case the batch
        names loaded first in one query: a bill run or a payment day brings thousands of
        events, and one query per event was most of enforcement's time."""

        async def apply_batch(uow: UnitOfWork, events: list[Any]) -> None:
            loaded = await Cases(uow).load_cases({debt_id for event in events for debt_id in debts_named(event)})
            for event in events:
                uow.cause = event
                try:
                    await handler(uow, event)
                finally:
                    uow.cause = None
            del loaded  # held until here so the identity map keeps every case of the batch

        return apply_batch

    # --- billing.charges.v1 ---------------------------------------------------

    async def on_charge(self, uow: UnitOfWork, event: ChargeRaised | ChargeAdjusted) -> None:
        cases = Cases(uow)
        if isinstance(event, ChargeAdjusted):
            case = await cases.case_for_debt(event.data.debt_id)
            if case is None:
                raise Refused(
                    f"debt {event.data.debt_id} has no recovery case; it must be raised before it is adjusted"
                )
            return  # the new amount reaches us as balance.changed from payments
        data = event.data
        existing = await cases.case_for_debt(data.debt_id)
        if existing is not None:
            if existing.account_ref == data.account_ref:
                return
            raise Refused(f"debt {data.debt_id} already has a recovery case on another account")
        self.council.ladder(data.debt_type)  # refuse debt types with no ladder configured
        # The instalments printed on the demand notice are the statutory schedule;
        # a bill without them gets its schedule from arrangements (arrangement.made),
        # which may already be waiting for us.
        pending = await cases.take_pending_schedule(data.debt_id)
        if data.instalments:
            schedule: list[list[object]] = [[i.due_date.isoformat(), i.amount_pence] for i in data.instalments]
        else:
            schedule = pending or []
        cases.add(
            RecoveryCase(
                case_id=data.debt_id,
                debt_id=data.debt_id,
                account_ref=data.account_ref,
                party_id=data.liable_party.party_id,
                debt_type=data.debt_type.value,
                financial_year=data.financial_year,
                bill_issued_on=data.bill_issued_on,
                recipient_name=data.liable_party.name,
                recipient_address=[*data.liable_party.address_lines, data.liable_party.postcode],
                charged_pence=data.amount_pence,
                balance_pence=data.amount_pence,
                charge_at_last_notice_pence=data.amount_pence,
                schedule=schedule,
            )
        )

    # --- payments.events.v1 ---------------------------------------------------

    async def on_payment_event(self, uow: UnitOfWork, event: object) -> None:
        if not isinstance(event, BalanceChanged):
            return
        cases = Cases(uow)
        case = await cases.case_for_debt(event.data.debt_id)
        if case is None:
            return  # payments may know debts raised before enforcement started reading
        steps = domain.on_balance(case, event.data.charged_pence, event.data.paid_pence, event.data.balance_pence)
        await self._apply(uow, cases, case, steps, event.data.as_of)

    # --- arrangements.events.v1 -----------------------------------------------

    async def on_arrangement_event(self, uow: UnitOfWork, event: object) -> None:
        cases = Cases(uow)
        if isinstance(event, ArrangementMade):
            schedule: list[list[object]] = [[i.due_date.isoformat(), i.amount_pence] for i in event.data.instalments]
            for debt_id in event.data.debt_ids:
                case = await cases.case_for_debt(debt_id)
                if case is None:
                    await cases.keep_pending_schedule(debt_id, schedule)
                else:
                    case.schedule = schedule
                    cases.add(case)
        elif isinstance(event, InstalmentMissed):
            data = event.data
            miss = domain.MissedInstalment(data.due_date, data.misses_this_year, data.overdue_pence, data.detected_on)
            for debt_id in data.debt_ids:
                case = await cases.case_for_debt(debt_id)
                if case is None:
                    raise Refused(f"instalment missed on debt {debt_id}, which has no recovery case")
                steps = domain.on_missed_instalment(case, self.council.ladder(case.debt_type), miss)
                await self._apply(uow, cases, case, steps, data.detected_on)

    # --- clock.days.v1 --------------------------------------------------------

    async def on_day(self, uow: UnitOfWork, event: DayStarted) -> None:
        today = event.data.business_date
        if not await uow.advance_business_date(today):
            return
        cases = Cases(uow)
        for case in await cases.due_for_action(today):
            steps = domain.on_day(case, self.council.ladder(case.debt_type), self.council, today)
            await self._apply(uow, cases, case, steps, today)

    # --- courts.outcomes.v1 ---------------------------------------------------

    async def on_court_outcome(
        self, uow: UnitOfWork, event: LiabilityOrderGranted | LiabilityOrderWithdrawn | HearingAdjourned
    ) -> None:
        cases = Cases(uow)
        data = event.data
        case = await cases.case_for_summons(data.summons_id)
        if case is None:
            raise Refused(f"court outcome for unknown summons {data.summons_id}")
        steps = domain.Steps()
        ladder = self.council.ladder(case.debt_type)
        if isinstance(event, LiabilityOrderGranted):
            if case.liability_order_on is not None:
                return
            case.liability_order_on = data.hearing_date
            case.referral_due_on = data.hearing_date + domain.days(ladder.agent_referral_after_days)
            costs = data.costs_pence or ladder.liability_order_costs_pence
            if costs:
                steps.costs.append(("liability_order", costs))
            steps.move(case, "liability_order", f"liability order granted {data.hearing_date}")
            uow.publish(
                topics.ENFORCEMENT_EVENTS,
                LiabilityOrderRecorded(
                    key=case.account_ref,
                    data=LiabilityOrderRecordedData(
                        summons_id=data.summons_id,
                        account_ref=case.account_ref,
                        debt_ids=[case.debt_id],
                        granted_on=data.hearing_date,
                        amount_pence=max(case.balance_pence, 1),
                        costs_pence=costs,
                    ),
                ),
            )
        elif isinstance(event, LiabilityOrderWithdrawn):
            steps.move(case, "withdrawn", "liability order application withdrawn")
            case.is_open = False
        else:
            case.hearing_date = event.data.adjourned_to
            self._record(cases, case, data.hearing_date, "hearing_adjourned", f"to {event.data.adjourned_to}")
        await self._apply(uow, cases, case, steps, data.hearing_date)

    # --- agents.returns.v1 ----------------------------------------------------

    async def on_agent_return(self, uow: UnitOfWork, event: CaseReturned) -> None:
        cases = Cases(uow)
        data = event.data
        case = await cases.case_for_referral(data.referral_id)
        if case is None:
            raise Refused(f"agent return for unknown referral {data.referral_id}")
        cases.add(
            AgentReturn(
                referral_id=data.referral_id,
                case_id=case.case_id,
                outcome=data.outcome.value,
                amount_collected_pence=data.amount_collected_pence,
                fees_pence=data.fees_pence,
                returned_on=data.returned_on,
            )
        )
        steps = domain.Steps()
        if data.outcome == AgentOutcome.PAID_IN_FULL:
            steps.move(case, "paid", f"agent {data.agent or case.agent} returned paid in full")
            case.is_open = False
        elif data.outcome == AgentOutcome.NULLA_BONA:
            # No goods: the council considers committal (individuals) or write-off next.
            steps.move(case, "nulla_bona", "agent found no goods to take control of")
            case.is_open = False
        else:
            steps.move(case, f"returned_{data.outcome.value}", f"agent returned: {data.outcome.value}")
        await self._apply(uow, cases, case, steps, data.returned_on)

    # --- debtors.circumstances.v1 ---------------------------------------------

    async def on_circumstance(self, uow: UnitOfWork, event: object) -> None:
        cases = Cases(uow)
        if isinstance(event, BreathingSpaceStarted):
            # Reg 14: the hold reaches every debt the council holds for the person.
            await self._hold(
                uow,
                cases,
                "breathing_space",
                event.data.party_id,
                event.data.account_ref,
                event.data.effective_on,
                event.data.reference,
                by_party=True,
            )
        elif isinstance(event, BreathingSpaceEnded):
            await self._release(uow, cases, "breathing_space", event.data.party_id, event.data.effective_on)
        elif isinstance(event, DisputeRaised):
            await self._hold(
                uow,
                cases,
                "dispute",
                event.data.party_id,
                event.data.account_ref,
                event.data.effective_on,
                event.data.reference,
                by_party=False,
            )
        elif isinstance(event, DisputeResolved):
            await self._release(uow, cases, "dispute", event.data.party_id, event.data.effective_on)
        elif isinstance(event, DebtorDeceased | InsolvencyNotified):
            kind = "deceased" if isinstance(event, DebtorDeceased) else "insolvency"
            await self._hold(
                uow,
                cases,
                kind,
                event.data.party_id,
                event.data.account_ref,
                event.data.effective_on,
                event.data.reference,
                by_party=True,
            )
        elif isinstance(event, VulnerabilityFlagged | VulnerabilityCleared):
            flagged = isinstance(event, VulnerabilityFlagged)
            for case in await cases.cases_for_party(event.data.party_id):
                case.vulnerable = flagged
                steps = domain.Steps()
                if flagged and case.stage == "agent" and case.is_open:
                    # Councils may recall on evidence of vulnerability [S31][S54c].
                    steps.recall = "debtor vulnerable"
                    steps.move(case, "liability_order", "recalled from the agent: vulnerable")
                    case.referred_on = None
                await self._apply(uow, cases, case, steps, event.data.effective_on)

    async def _hold(
        self,
        uow: UnitOfWork,
        cases: Cases,
        kind: str,
        party_id: str,
        account_ref: str,
        on: date,
        reference: str,
        *,
        by_party: bool,
    ) -> None:
        if await cases.open_holds(party_id, kind):
            return
        covered = await (cases.cases_for_party(party_id) if by_party else cases.cases_for_account(account_ref))
        # Debts arising after a breathing space starts are not covered by it [S47e].
        covered = [c for c in covered if c.is_open and not (kind == "breathing_space" and c.bill_issued_on > on)]
        cases.add(
            Hold(
                party_id=party_id,
                account_ref=account_ref,
                kind=kind,
                reference=reference,
                started_on=on,
                case_ids=[c.case_id for c in covered],
            )
        )
        for case in covered:
            steps = domain.Steps()
            if not case.held:
                case.held, case.held_since = True, on
            if case.stage == "agent" and kind in FREEZING:
                steps.recall = kind.replace("_", " ")
                case.referred_on = None
                case.referral_due_on = on
                steps.move(case, "liability_order", f"recalled from the agent: {kind.replace('_', ' ')}")
            self._record(cases, case, on, "hold_applied", kind)
            await self._apply(uow, cases, case, steps, on)
        if covered:
            uow.publish(
                topics.ENFORCEMENT_EVENTS,
                HoldApplied(
                    key=account_ref,
                    data=HoldData(
                        party_id=party_id,
                        account_ref=account_ref,
                        debt_ids=[c.debt_id for c in covered],
                        hold=kind,
                        on=on,
                    ),
                ),
            )

    async def _release(self, uow: UnitOfWork, cases: Cases, kind: str, party_id: str, on: date) -> None:
        for hold in await cases.open_holds(party_id, kind):
            hold.ended_on = on
            cases.add(hold)
            released = []
            for case_id in hold.case_ids:
                case = await cases.case(case_id)
                if case is None or not case.held:
                    continue
                await uow.session.flush()
                if await cases.any_open_hold_on(case_id, party_id):
                    continue  # another hold still covers it
                held_days = (on - case.held_since).days if case.held_since else 0
                domain.stop_the_clock(case, max(held_days, 0))
                case.held, case.held_since = False, None
                steps = domain.Steps()
                if case.unanswered_miss_on is not None:
                    miss = domain.MissedInstalment(case.unanswered_miss_on, case.reminders_sent + 1, 0, on)
                    case.unanswered_miss_on = None
                    steps = domain.on_missed_instalment(case, self.council.ladder(case.debt_type), miss)
                self._record(cases, case, on, "hold_released", kind)
                await self._apply(uow, cases, case, steps, on)
                released.append(case)
            if released:
                uow.publish(
                    topics.ENFORCEMENT_EVENTS,
                    HoldReleased(
                        key=hold.account_ref,
                        data=HoldData(
                            party_id=party_id,
                            account_ref=hold.account_ref,
                            debt_ids=[c.debt_id for c in released],
                            hold=kind,
                            on=on,
                        ),
                    ),
                )

    # --- notices.events.v1 ----------------------------------------------------

    async def on_notice_event(self, uow: UnitOfWork, event: object) -> None:
        if not isinstance(event, NoticeIssued | NoticeFailed):
            return
        cases = Cases(uow)
        case = await cases.case(event.data.case_id) if event.data.case_id else None
        if case is None:
            return
        if isinstance(event, NoticeIssued):
            self._record(
                cases, case, event.data.served_on, f"served_{event.data.notice_type.value}", event.data.document_id
            )
        else:
            log.error(
                "notice failed",
                case_id=case.case_id,
                notice_type=event.data.notice_type.value,
                reason=event.data.reason,
            )
            self._record(
                cases,
                case,
                await uow.today() or case.bill_issued_on,
                f"failed_{event.data.notice_type.value}",
                event.data.reason[:200],
            )

    # --- turning decisions into events ----------------------------------------

    async def _apply(self, uow: UnitOfWork, cases: Cases, case: RecoveryCase, steps: domain.Steps, on: date) -> None:
        ladder = self.council.ladder(case.debt_type)
        case.next_action_on = domain.next_action_on(case, ladder)
        case.updated_at = utc_now()
        cases.add(case)
        if not steps:
            return
        key = case.account_ref
        for from_stage, to_stage, why in steps.stages:
            self._record(cases, case, on, to_stage, why)
            uow.publish(
                topics.ENFORCEMENT_EVENTS,
                StageChanged(
                    key=key,
                    data=StageChangedData(
                        case_id=case.case_id,
                        debt_id=case.debt_id,
                        account_ref=key,
                        debt_type=DebtType(case.debt_type),
                        from_stage=from_stage,
                        to_stage=to_stage,
                        on=on,
                        reason=why,
                    ),
                ),
            )
        if steps.balance_due is not None:
            due_on, why = steps.balance_due
            uow.publish(
                topics.ENFORCEMENT_EVENTS,
                BalanceFellDue(
                    key=key, data=BalanceFellDueData(debt_id=case.debt_id, account_ref=key, due_on=due_on, reason=why)
                ),
            )
        for kind, amount in steps.costs:
            uow.publish(
                topics.ENFORCEMENT_EVENTS,
                CostsAdded(
                    key=key,
                    data=CostsAddedData(
                        debt_id=case.debt_id, account_ref=key, amount_pence=amount, kind=kind, added_on=on
                    ),
                ),
            )
        if steps.summons is not None and case.summons_id is not None:
            issued, hearing, costs = steps.summons
            uow.publish(
                topics.ENFORCEMENT_EVENTS,
                SummonsListed(
                    key=key,
                    data=SummonsListedData(
                        summons_id=case.summons_id,
                        account_ref=key,
                        debt_ids=[case.debt_id],
                        court=self.council.court.name,
                        issued_on=issued,
                        hearing_date=hearing,
                        amount_pence=max(case.balance_pence, 1),
                        costs_pence=costs,
                    ),
                ),
            )
        for notice_type, amounts, dates in steps.notices:
            request_id = f"{case.case_id}:{notice_type.value}:{on.isoformat()}"
            template_data = {"debt_type": case.debt_type, "financial_year": case.financial_year or ""}
            if notice_type == NoticeType.SUMMONS:
                template_data["court"] = self.council.court.name
            if notice_type == NoticeType.AGENT_REFERRAL_LETTER and steps.referral is not None:
                template_data["agent"] = steps.referral[0]
            uow.publish(
                topics.NOTICE_REQUESTS,
                NoticeRequested(
                    key=key,
                    data=NoticeRequestedData(
                        request_id=request_id,
                        notice_type=notice_type,
                        account_ref=key,
                        case_id=case.case_id,
                        debt_ids=[case.debt_id],
                        council_name=self.council.council_name,
                        recipient_name=case.recipient_name,
                        recipient_address=case.recipient_address,
                        amounts=amounts,
                        dates=dates,
                        issued_on=on,
                        template_data=template_data,
                    ),
                ),
            )
        if steps.referral is not None and case.referral_id is not None:
            agent, amount, fee = steps.referral
            uow.publish(
                topics.AGENT_REFERRALS,
                CaseReferred(
                    key=key,
                    data=CaseReferredData(
                        referral_id=case.referral_id,
                        case_id=case.case_id,
                        account_ref=key,
                        debt_ids=[case.debt_id],
                        agent=agent,
                        referred_on=on,
                        liability_order_ref=case.summons_id or "",
                        amount_pence=max(amount, 1),
                        compliance_fee_pence=fee,
                        debtor_is_vulnerable=case.vulnerable,
                    ),
                ),
            )
        if steps.recall is not None and case.referral_id is not None:
            uow.publish(
                topics.AGENT_REFERRALS,
                CaseRecalled(
                    key=key,
                    data=CaseRecalledData(
                        referral_id=case.referral_id,
                        case_id=case.case_id,
                        account_ref=key,
                        recalled_on=on,
                        reason=steps.recall,
                    ),
                ),
            )

    def _record(self, cases: Cases, case: RecoveryCase, on: date, step: str, detail: str) -> None:
        cases.add(LadderStep(case_id=case.case_id, on=on, step=step, detail=detail))


def debts_named(event: Any) -> list[str]:
    """The debts an event is about, whichever contract it is."""
    data = getattr(event, "data", None)
    if data is None:
        return []
    if isinstance(getattr(data, "debt_ids", None), list):
        return list(data.debt_ids)
    debt_id = getattr(data, "debt_id", None)
    return [debt_id] if isinstance(debt_id, str) else []
