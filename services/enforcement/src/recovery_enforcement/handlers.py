"""Enforcement's use cases: one per event type it acts on. Each loads the case(s)
through the unit of work, asks the ladder's rules (``domain``) for a decision,
applies it to the stored case and publishes it through the mapper (``events``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

import structlog

from recovery_enforcement import domain, events
from recovery_enforcement.store import AgentReturnRecord, CaseRecord, Cases, HoldRecord, new_case
from recovery_shared.clock import dates_to_run, utc_now
from recovery_shared.contracts.common import MAX_TEMPLATE_TEXT, DebtType, OverpaymentDecision
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    CaseReturned,
    ChargeAdjusted,
    ChargeRaised,
    CircumstanceData,
    CountyAttachmentMade,
    CountyCourtOutcomeData,
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
    PaymentChannel,
    VulnerabilityCleared,
    VulnerabilityFlagged,
)
from recovery_shared.contracts.internal import (
    ArrangementMade,
    BalanceChanged,
    HbDeductionsStarted,
    HbDeductionsStopped,
    HbDeductionStopReason,
    InstalmentMissed,
    NoticeFailed,
    NoticeIssued,
    PaymentAllocated,
)
from recovery_shared.council import CouncilConfig
from recovery_shared.messaging.errors import describe_failure, safe_text
from recovery_shared.refusal import Refused
from recovery_shared.statute import holds
from recovery_shared.statute.holds import HoldKind

log = structlog.get_logger("recovery.enforcement")

# What a case is to do, decided and built whole before its record changes.
_Plan = tuple[list[domain.Decision], list[Envelope]]
_Rule = Callable[[domain.Case, domain.AnyRules], domain.Decision]
_CivilRule = Callable[[domain.Case, domain.CivilRules, date], domain.Decision]
_ATTENTION_CHARS = 1000  # models.RecoveryCase.attention_reason


class Enforcement:
    """The recovery case per debt: its ladder, holds, court steps and agent referrals."""

    def __init__(self, council: CouncilConfig) -> None:
        self.council = council
        self._rules: dict[DebtType, domain.AnyRules] = {
            debt_type: domain.rules_for(council, debt_type)
            for debt_type in [*council.ladders, *council.civil_ladders]
            if debt_type in domain.STATUTES or debt_type in council.civil_ladders
        }

    def rules(self, debt_type: DebtType | str) -> domain.AnyRules:
        rules = self._rules.get(DebtType(debt_type))
        if rules is None:
            return domain.rules_for(self.council, DebtType(debt_type))  # refuses, saying why
        return rules

    # --- a batch ---------------------------------------------------------------------

    async def prefetch(self, uow: Cases, batch: list[Envelope]) -> None:
        """Every case, hold and waiting schedule the batch's events name, in a few
        queries: a bill run or a payment day brings thousands of events at once."""
        wanted = _Wanted()
        for event in batch:
            _NAMES[type(event)](event, wanted)
        await uow.cases.load(
            debt_ids=wanted.debts,
            summons_ids=wanted.summonses,
            referral_ids=wanted.referrals,
            parties=wanted.parties,
            accounts=wanted.accounts,
            claim_ids=wanted.claims,
        )
        if wanted.schedules:
            await uow.schedules.load(wanted.schedules)
        if wanted.parties or wanted.holders:
            await uow.holds.load_open(wanted.parties | wanted.holders)

    # --- billing.charges.v1 ----------------------------------------------------------

    async def open_case(self, uow: Cases, event: ChargeRaised) -> None:
        """Opens a recovery case on the debt type's ladder; a debt type with no ladder
        configured is refused. An HB overpayment's decision is notified at once, or the
        case closes where it is not recoverable."""
        data = event.data
        existing = await uow.cases.for_debt(data.debt_id)
        if existing is not None:
            if existing.account_ref == data.account_ref:
                return
            raise Refused(f"debt {data.debt_id} already has a recovery case on another account")
        rules = self.rules(data.debt_type)
        if data.overpayment is not None:
            _check_printable(data.debt_id, data.overpayment)
        # The instalments printed on the demand notice are the statutory schedule; a
        # bill without them gets its schedule from arrangements (arrangement.made),
        # which may already be waiting.
        pending = await uow.schedules.take(data.debt_id)
        printed = [(i.due_date.isoformat(), i.amount_pence) for i in data.instalments or ()]
        schedule = printed or [(str(due), int(pence)) for due, pence in pending or ()]
        party = data.liable_party
        case = new_case(
            debt_id=data.debt_id,
            account_ref=data.account_ref,
            party_id=party.party_id,
            debt_type=data.debt_type,
            financial_year=data.financial_year,
            bill_issued_on=data.bill_issued_on,
            recipient_name=party.name,
            recipient_address=[*party.address_lines, party.postcode],
            amount_pence=data.amount_pence,
            schedule=schedule,
        )
        uow.cases.add(case)
        if data.overpayment is not None and isinstance(rules, domain.CivilRules):
            today = max(await uow.today() or data.bill_issued_on, data.bill_issued_on)
            decision = domain.on_overpayment_decided(case.snapshot(), rules, _overpayment(data.overpayment), today)
            self._apply(uow, case, decision)
        await self._reach_new_case(uow, case)

    async def _reach_new_case(self, uow: Cases, case: CaseRecord) -> None:
        """The person's standing holds and flags reach a case opened after them, each from
        the day it took effect; one kept pending for want of a case is applied at last."""
        for hold in await uow.holds.open_holds(case.party_id):
            if not domain.reaches_new_case(hold.kind, hold.account_ref, hold.started_on, case.snapshot()):
                continue
            rules, on = self.rules(case.debt_type), hold.started_on
            if hold.kind == domain.VULNERABILITY:
                self._apply(uow, case, domain.flag_vulnerability(case.snapshot(), rules, on))
            else:
                kind = HoldKind(hold.kind)
                self._apply(uow, case, domain.apply_hold(case.snapshot(), rules, kind, on))
                for applied in events.hold_applied(hold.party_id, case.account_ref, [case.debt_id], kind.value, on):
                    uow.publish(applied)
            hold.case_ids = [*hold.case_ids, case.case_id]
            if hold.pending:
                hold.pending = False
                log.info("pending hold applied to a case opened for the person", kind=hold.kind, case_id=case.case_id)

    async def note_adjustment(self, uow: Cases, event: ChargeAdjusted) -> None:
        """Checks the debt has a case; the new amount itself arrives from payments as balance.changed."""
        if await uow.cases.for_debt(event.data.debt_id) is None:
            raise Refused(
                f"debt {event.data.debt_id} has no recovery case: it must be raised before it is adjusted,"
                " and a debt type with no recovery ladder configured yet has none"
            )

    # --- payments.events.v1 ----------------------------------------------------------

    async def follow_balance(self, uow: Cases, event: BalanceChanged) -> None:
        """What is paid decides compliance with a reminder; a cleared balance stops the
        ladder (and recalls an agent case)."""
        data = event.data
        case = await uow.cases.for_debt(data.debt_id)
        if case is None:
            return  # payments knows debts enforcement has no ladder for, or raised before it started reading
        rules = self.rules(case.debt_type)
        decision = domain.on_balance(
            case.snapshot(), rules, data.charged_pence, data.paid_pence, data.balance_pence, data.as_of
        )
        self._apply(uow, case, decision)

    async def follow_hb_deductions(self, uow: Cases, event: HbDeductionsStarted) -> None:
        """Payments is taking the overpayments from the person's ongoing Housing Benefit:
        their cases move to that route and the invoice ladder waits."""
        data = event.data
        for case in await self._overpayment_cases(uow, data.debt_ids):
            decision = domain.on_hb_deductions_started(
                case.snapshot(), self.rules(case.debt_type), data.claim_ref, data.weekly_pence, data.first_week_on
            )
            self._apply(uow, case, decision)

    async def after_hb_deductions(self, uow: Cases, event: HbDeductionsStopped) -> None:
        """Deductions from HB stopped: where the award ended with money owed, the invoice."""
        data = event.data
        award_ended = data.reason == HbDeductionStopReason.AWARD_ENDED
        on = max(await uow.today() or data.stopped_on, data.stopped_on)
        for case in await self._overpayment_cases(uow, data.debt_ids):
            decision = domain.on_hb_deductions_stopped(case.snapshot(), self.rules(case.debt_type), award_ended, on)
            self._apply(uow, case, decision)

    async def count_remittance(self, uow: Cases, event: PaymentAllocated) -> None:
        """What an employer (under a Direct Earnings Attachment) or the DWP (from the
        person's other benefits) paid over, counted against what they should have; every
        other payment is followed through its balance."""
        data = event.data
        counted = _REMITTANCES.get(data.channel) if data.channel is not None else None
        if counted is None:
            return
        for part in data.parts:
            case = await uow.cases.for_debt(part.debt_id)
            if case is None:
                log.warning("remittance for a debt with no recovery case", debt_id=part.debt_id)
                continue
            rules = self.rules(case.debt_type)
            self._apply(uow, case, counted(case.snapshot(), rules, part.amount_pence, data.received_on))

    # --- benefits.deduction-responses.v1 ---------------------------------------------

    async def start_dwp_deduction(self, uow: Cases, event: DeductionAccepted) -> None:
        """The DWP will deduct from the person's other benefits: the case waits on it."""
        data = event.data
        case = await self._asked_dwp(uow, data.debt_id, data.request_id)
        on = max(await uow.today() or data.answered_on, data.answered_on)
        rules = self.rules(case.debt_type)
        decision = domain.on_deduction_accepted(
            case.snapshot(), rules, data.request_id, data.weekly_pence, data.first_deduction_on, on
        )
        self._apply(uow, case, decision)

    async def after_dwp_refusal(self, uow: Cases, event: DeductionRefused) -> None:
        """The DWP cannot deduct: the council's next route."""
        data = event.data
        case = await self._asked_dwp(uow, data.debt_id, data.request_id)
        on = max(await uow.today() or data.answered_on, data.answered_on)
        rules = self.rules(case.debt_type)
        self._apply(uow, case, domain.on_deduction_refused(case.snapshot(), rules, data.request_id, data.reason, on))

    async def _asked_dwp(self, uow: Cases, debt_id: str, request_id: str) -> CaseRecord:
        case = await uow.cases.for_debt(debt_id)
        if case is None:
            raise Refused(
                f"the DWP answered request {request_id} about debt {debt_id}, which has no recovery case here:"
                " check the debt id the answer quotes"
            )
        return case

    async def _overpayment_cases(self, uow: Cases, debt_ids: Iterable[str]) -> list[CaseRecord]:
        cases = []
        for debt_id in debt_ids:
            case = await uow.cases.for_debt(debt_id)
            if case is None:
                # As with balances: payments may know a debt before enforcement has read its bill.
                log.warning("deductions from HB for a debt with no recovery case yet", debt_id=debt_id)
                continue
            cases.append(case)
        return cases

    # --- arrangements.events.v1 ------------------------------------------------------

    async def take_schedule(self, uow: Cases, event: ArrangementMade) -> None:
        """Keeps the statutory instalment schedule each debt's reminders are judged by
        (held until the bill arrives if it comes first)."""
        schedule = tuple((i.due_date.isoformat(), i.amount_pence) for i in event.data.instalments)
        for debt_id in event.data.debt_ids:
            case = await uow.cases.for_debt(debt_id)
            if case is None:
                await uow.schedules.keep(debt_id, [list(due) for due in schedule])
            else:
                case.schedule = schedule

    async def answer_missed_instalment(self, uow: Cases, event: InstalmentMissed) -> None:
        """Starts or moves the ladder: a reminder while the statute allows one, otherwise
        the balance falls due (CT reg 23, NNDR reg 8)."""
        data = event.data
        miss = domain.MissedInstalment(data.due_date, data.misses_this_year, data.detected_on)
        for debt_id in data.debt_ids:
            case = await uow.cases.for_debt(debt_id)
            if case is None:
                raise Refused(
                    f"instalment missed on debt {debt_id}, which has no recovery case: it was never billed"
                    " here, or its debt type has no recovery ladder in the council's configuration"
                )
            self._apply(uow, case, domain.on_missed_instalment(case.snapshot(), self.rules(case.debt_type), miss))

    # --- clock.days.v1 ---------------------------------------------------------------

    async def run_day(self, uow: Cases, event: DayStarted) -> None:
        """Moves every case whose next step has fallen due: reminders judged, balances
        falling due, final notices, summonses and agent referrals. After a gap each day
        in it is run in turn, so every step is dated the day it fell due; a day too far
        ahead is refused and the business date stays. A case that cannot be moved is
        left as it was and marked for an officer, and the rest of the council moves on;
        a marked case is retried each day (with any hold it failed to take) and
        unmarked once it moves."""
        days = dates_to_run(
            await uow.today(), event.data.business_date, max_days_forward=self.council.clock.max_days_forward
        )
        if not days:
            return  # a replayed or older day: it has run
        await uow.advance_business_date(days[-1])
        unmoved: set[str] = set()
        for today in days:
            for case in await uow.cases.due_for_action(today):
                # Only a marked case costs a query for its holds: the daily run stays one query a day.
                kept = await self._kept_holds(uow, case) if case.attention_since is not None else []
                if self._move(uow, case, today, "daily run", partial(self._day_plan, case, kept, today)):
                    case.attention_reason = case.attention_since = None
                else:
                    unmoved.add(case.case_id)
        _report_unmoved(unmoved, business_date=days[-1].isoformat())
        if pending := await uow.holds.pending_count():
            log.warning(
                "holds pending for people we hold no case of (GET /officer/holds/pending)",
                business_date=days[-1].isoformat(),
                pending_holds=pending,
            )

    def _day_plan(self, case: CaseRecord, kept: list[domain.KeptHold], today: date) -> _Plan:
        """The day's step for a case, after any hold or flag it failed to take before."""
        rules, snapshot = self.rules(case.debt_type), case.snapshot()
        decisions: list[domain.Decision] = []
        published: list[Envelope] = []
        for hold, applied, decision in domain.owed_hold_decisions(snapshot, rules, kept):
            decisions.append(decision)
            published += self._events(case, decision)
            if hold.kind != domain.VULNERABILITY:
                told = events.hold_applied if applied else events.hold_released
                published += told(case.party_id, case.account_ref, [case.debt_id], hold.kind, decision.on)
            snapshot = decision.case
        decision = domain.on_day(snapshot, rules, today)
        return [*decisions, decision], [*published, *self._events(case, decision)]

    async def _kept_holds(self, uow: Cases, case: CaseRecord) -> list[domain.KeptHold]:
        return [
            domain.KeptHold(h.kind, h.started_on, h.ended_on)
            for h in await uow.holds.of_party(case.party_id)
            if case.case_id in h.case_ids
        ]

    async def cases_needing_attention(self, uow: Cases) -> list[CaseRecord]:
        """What officers see of cases that could not be moved: why, and since when."""
        return await uow.cases.needing_attention()

    async def pending_holds(self, uow: Cases) -> list[HoldRecord]:
        """What officers see of holds waiting for a case: notified for people we hold no
        debt of (yet) that the hold reaches."""
        return await uow.holds.pending()

    # --- courts.outcomes.v1 ----------------------------------------------------------

    async def record_liability_order(self, uow: Cases, event: LiabilityOrderGranted) -> None:
        """Records the order and its costs; the agent referral follows after the council's wait."""
        case = await self._summonsed(uow, event.data.summons_id)
        rules = self.rules(case.debt_type)
        if not isinstance(rules, domain.Rules):
            raise Refused(
                f"liability order for summons {event.data.summons_id} on a {case.debt_type} debt, which"
                " the magistrates' court does not deal with: check the summons id"
            )
        data = event.data
        self._apply(uow, case, domain.on_liability_order(case.snapshot(), rules, data.hearing_date, data.costs_pence))

    async def close_withdrawn_application(self, uow: Cases, event: LiabilityOrderWithdrawn) -> None:
        """Closes the case: the council withdrew its application for a liability order."""
        case = await self._summonsed(uow, event.data.summons_id)
        rules = self.rules(case.debt_type)
        self._apply(uow, case, domain.on_application_withdrawn(case.snapshot(), rules, event.data.hearing_date))

    async def move_hearing(self, uow: Cases, event: HearingAdjourned) -> None:
        """Notes the new hearing date."""
        case = await self._summonsed(uow, event.data.summons_id)
        data = event.data
        decision = domain.on_hearing_adjourned(
            case.snapshot(), self.rules(case.debt_type), data.hearing_date, data.adjourned_to
        )
        self._apply(uow, case, decision)

    async def _summonsed(self, uow: Cases, summons_id: str) -> CaseRecord:
        case = await uow.cases.for_summons(summons_id)
        if case is None:
            raise Refused(f"court outcome for unknown summons {summons_id}")
        return case

    async def record_county_judgment(self, uow: Cases, event: CountyJudgmentEntered) -> None:
        """Records the judgment on the claim the case referred; its costs are added to the debt."""
        await self._county_outcome(uow, "judgment", event.data)

    async def record_county_warrant(self, uow: Cases, event: CountyWarrantIssued) -> None:
        """Records the warrant of control issued on the judgment, and its costs."""
        await self._county_outcome(uow, "warrant", event.data)

    async def record_county_attachment(self, uow: Cases, event: CountyAttachmentMade) -> None:
        """Records the attachment of earnings order made on the judgment, and its costs."""
        await self._county_outcome(uow, "attachment", event.data)

    async def _county_outcome(self, uow: Cases, outcome: str, data: CountyCourtOutcomeData) -> None:
        case = await uow.cases.for_claim(data.claim_id)
        if case is None or case.account_ref != data.account_ref:
            raise Refused(
                f"county court {outcome} for claim {data.claim_id}, which no case on account {data.account_ref}"
                " referred: check the claim id and account against the claim.referred event and send it again"
            )
        rules = self.rules(case.debt_type)
        decision = domain.on_county_outcome(case.snapshot(), rules, outcome, data.dated, data.costs_pence)
        self._apply(uow, case, decision)

    # --- debtors.replies.v1 ----------------------------------------------------------

    async def take_reply(self, uow: Cases, event: LetterBeforeClaimReplied) -> None:
        """The debtor's reply to a letter before claim holds the case for an officer."""
        data = event.data
        case = await uow.cases.for_debt(data.debt_id)
        if case is None or case.account_ref != data.account_ref:
            raise Refused(
                f"a reply to a letter before claim names debt {data.debt_id} on account {data.account_ref}, which"
                " has no recovery case here: check the references on the Reply Form and send it again"
            )
        decision = domain.on_reply(
            case.snapshot(), self.rules(case.debt_type), data.reply.value, data.replied_on, data.offer_pence
        )
        self._apply(uow, case, decision)

    # --- officer commands (api.py, through recovery_shared.messaging.commands) ---------

    async def supply_documents(self, uow: Cases, debt_id: str) -> dict[str, Any]:
        """Officer: the documents the debtor asked for are sent today; the 30 days restart."""
        return await self._officer_step(uow, debt_id, domain.documents_supplied)

    async def continue_to_claim(self, uow: Cases, debt_id: str) -> dict[str, Any]:
        """Officer: the reply is considered; the notice of intention goes today."""
        return await self._officer_step(uow, debt_id, domain.continue_to_claim)

    async def _officer_step(self, uow: Cases, debt_id: str, rule: _CivilRule) -> dict[str, Any]:
        case = await uow.cases.for_debt(debt_id)
        if case is None:
            raise Refused(f"no recovery case for debt {debt_id}: check the debt id")
        rules = self.rules(case.debt_type)
        if not isinstance(rules, domain.CivilRules):
            raise Refused(f"debt {debt_id} is {case.debt_type}: it is not recovered through a letter before claim")
        today = await uow.today()
        if today is None:
            raise Refused("enforcement has no business date yet: try again after the day has started")
        self._apply(uow, case, rule(case.snapshot(), rules, today))
        return {"case_id": case.case_id, "stage": case.stage, "on": today.isoformat()}

    async def not_recoverable_overpayments(self, uow: Cases) -> list[CaseRecord]:
        """HB overpayments closed as not recoverable (official error nobody could have realised)."""
        return await uow.cases.at_stage(domain.Stage.NOT_RECOVERABLE.value)

    async def remittances_behind(self, uow: Cases) -> list[CaseRecord]:
        """Cases whose employer (a DEA) or the DWP paid over less than it should have by the
        last check: the employer has been written to; the DWP is for an officer to chase."""
        behind = []
        for stage, part in ((domain.Stage.DEA, "attachment"), (domain.Stage.DWP_DEDUCTION, "benefit_deduction")):
            for case in await uow.cases.at_stage(stage.value):
                if (getattr(case, part) or {}).get("short_pence", 0) > 0:
                    behind.append(case)
        return behind

    async def statute_barred_cases(self, uow: Cases) -> list[CaseRecord]:
        """Cases closed because the Limitation Act's six years had run: never claimed."""
        return await uow.cases.at_stage(domain.Stage.STATUTE_BARRED.value)

    # --- agents.returns.v1 -----------------------------------------------------------

    async def take_agent_return(self, uow: Cases, event: CaseReturned) -> None:
        """Records the agent's return; paid in full or no goods (nulla bona) closes the case."""
        data = event.data
        case = await uow.cases.for_referral(data.referral_id)
        if case is None:
            raise Refused(f"agent return for unknown referral {data.referral_id}")
        uow.history.agent_return(
            AgentReturnRecord(
                referral_id=data.referral_id,
                case_id=case.case_id,
                outcome=data.outcome.value,
                amount_collected_pence=data.amount_collected_pence,
                fees_pence=data.fees_pence,
                returned_on=data.returned_on,
            )
        )
        decision = domain.on_agent_return(
            case.snapshot(), self.rules(case.debt_type), data.outcome, data.agent, data.returned_on
        )
        self._apply(uow, case, decision)

    # --- debtors.circumstances.v1 ----------------------------------------------------

    async def start_breathing_space(self, uow: Cases, event: BreathingSpaceStarted) -> None:
        """Holds every debt the person owed when it started, on every account (SI 2020/1311
        reg 14), and recalls agent cases."""
        await self._hold(uow, HoldKind.BREATHING_SPACE, event.data)

    async def end_breathing_space(self, uow: Cases, event: BreathingSpaceEnded) -> None:
        """Releases the hold: the clock restarts where it stopped."""
        await self._release(uow, HoldKind.BREATHING_SPACE, event.data)

    async def note_dispute(self, uow: Cases, event: DisputeRaised) -> None:
        """Notes the dispute on the account's cases; recovery pauses only where the council
        chose so (a dispute does not suspend liability), for every debt or for an appeal
        against an HB overpayment decision."""
        cases = await uow.cases.of_account(event.data.account_ref)
        if self.council.holds.dispute_pauses_recovery or any(
            domain.pauses_recovery(self.rules(c.debt_type), HoldKind.DISPUTE) for c in cases
        ):
            await self._hold(uow, HoldKind.DISPUTE, event.data)
            return
        for case in cases:
            uow.history.step(case.case_id, event.data.effective_on, "dispute_raised", event.data.reference)

    async def resolve_dispute(self, uow: Cases, event: DisputeResolved) -> None:
        """Ends a paused dispute's hold, or notes the resolution where recovery carried on."""
        data = event.data
        if await uow.holds.open_holds(data.party_id, HoldKind.DISPUTE):
            await self._release(uow, HoldKind.DISPUTE, data)
            return
        for case in await uow.cases.of_account(data.account_ref):
            uow.history.step(case.case_id, data.effective_on, "dispute_resolved", data.reference)

    async def flag_vulnerability(self, uow: Cases, event: VulnerabilityFlagged) -> None:
        """No referral while the flag stands; an agent case is recalled where the council chose so.
        The flag is kept for the person, so a case opened for them later carries it too."""
        data = event.data
        cases = await uow.cases.of_party(data.party_id)
        flag = partial(_rule_on, domain.flag_vulnerability, data.effective_on)
        await self._move_each(uow, cases, data.effective_on, "vulnerability flagged", flag)
        if await uow.holds.open_holds(data.party_id, domain.VULNERABILITY):
            return  # already kept: a second notification changes nothing more
        await self._keep(uow, domain.VULNERABILITY, data, [c.case_id for c in cases])

    async def clear_vulnerability(self, uow: Cases, event: VulnerabilityCleared) -> None:
        """Lifts the flag: a referral held back is made at the next day's sweep."""
        data = event.data
        for flag in await uow.holds.open_holds(data.party_id, domain.VULNERABILITY):
            flag.ended_on = data.effective_on
        clear = partial(_rule_on, domain.clear_vulnerability, data.effective_on)
        await self._move_each(
            uow, await uow.cases.of_party(data.party_id), data.effective_on, "vulnerability cleared", clear
        )

    async def note_employment(self, uow: Cases, event: EmploymentReported) -> None:
        """The person's employer and pay, kept on every case of theirs; an HB overpayment
        past its invoice goes to a Direct Earnings Attachment (SI 2013/384 Part 6)."""
        data = event.data
        employment = domain.Employment(
            employer_ref=data.employer_ref,
            employer_name=data.employer_name,
            employer_address=tuple(data.employer_address),
            pay_frequency=data.pay_frequency,
            net_earnings_pence=data.net_earnings_pence,
            next_pay_day=data.next_pay_day,
            reported_on=data.reported_on,
        )
        on = max(await uow.today() or data.reported_on, data.reported_on)
        report = partial(domain.on_employment_reported, employment=employment, today=on)
        await self._move_each(uow, await uow.cases.of_party(data.party_id), on, "employment reported", report)

    async def end_employment(self, uow: Cases, event: EmploymentEnded) -> None:
        """The employer says the person has left (reg 24): an attachment there lapses and
        the overpayment goes on to the county court route."""
        data = event.data
        on = max(await uow.today() or data.left_on, data.left_on)
        ended = partial(domain.on_employment_ended, employer_ref=data.employer_ref, left_on=data.left_on, today=on)
        await self._move_each(uow, await uow.cases.of_party(data.party_id), on, "employment ended", ended)

    async def hold_for_death(self, uow: Cases, event: DebtorDeceased) -> None:
        """Holds every debt of the person and recalls agent cases: the estate deals with them."""
        await self._hold(uow, HoldKind.DECEASED, event.data)

    async def hold_for_insolvency(self, uow: Cases, event: InsolvencyNotified) -> None:
        """Holds every debt of the person and recalls agent cases."""
        await self._hold(uow, HoldKind.INSOLVENCY, event.data)

    async def _hold(self, uow: Cases, kind: HoldKind, data: CircumstanceData) -> None:
        if await uow.holds.open_holds(data.party_id, kind):
            return  # already held: a second notification changes nothing
        on = data.effective_on
        if holds.reaches_every_debt_of_the_person(kind):
            reach = await uow.cases.of_party(data.party_id)
        else:
            reach = await uow.cases.of_account(data.account_ref)
        covered = [c for c in reach if c.is_open and holds.covers(kind, c.bill_issued_on, on)]
        # A case that cannot take the hold stays listed in it: the daily run applies it once it can.
        await self._keep(uow, kind.value, data, [c.case_id for c in covered])
        hold = partial(_hold_rule, domain.apply_hold, kind, on)
        moved = await self._move_each(uow, covered, on, f"{kind.value} hold applied", hold)
        debt_ids = [c.debt_id for c in moved]
        for applied in events.hold_applied(data.party_id, data.account_ref, debt_ids, kind.value, on):
            uow.publish(applied)

    async def _keep(self, uow: Cases, kind: str, data: CircumstanceData, case_ids: list[str]) -> None:
        """Keeps the hold or flag for the person; one that reaches no case of theirs yet is
        pending, reported to ops and listed for officers until a case opens for them."""
        pending = not case_ids
        uow.holds.add(
            HoldRecord(
                party_id=data.party_id,
                account_ref=data.account_ref,
                kind=kind,
                reference=data.reference,
                started_on=data.effective_on,
                ended_on=None,
                case_ids=case_ids,
                pending=pending,
            )
        )
        if pending:
            log.warning(
                "hold kept pending: no case of the person's it reaches (GET /officer/holds/pending)",
                kind=kind,
                pending_holds=await uow.holds.pending_count(),
            )

    async def _release(self, uow: Cases, kind: HoldKind, data: CircumstanceData) -> None:
        on = data.effective_on
        for hold in await uow.holds.open_holds(data.party_id, kind):
            hold.ended_on = on
            # A vulnerability flag pauses nothing, so it never keeps a case held.
            still_open = [h for h in await uow.holds.open_holds(data.party_id) if h.kind != domain.VULNERABILITY]
            releasing: list[CaseRecord] = []
            for case_id in hold.case_ids:
                case = await uow.cases.for_debt(case_id)
                if case is None or not case.held or any(case_id in other.case_ids for other in still_open):
                    continue  # not held, or another hold still covers it
                releasing.append(case)
            # One that cannot be released stays held, the safe side, until the daily run releases it.
            release = partial(_hold_rule, domain.release_hold, kind, on)
            released = await self._move_each(uow, releasing, on, f"{kind.value} hold released", release)
            debt_ids = [c.debt_id for c in released]
            for event in events.hold_released(data.party_id, hold.account_ref, debt_ids, kind.value, on):
                uow.publish(event)

    # --- notices.events.v1 -----------------------------------------------------------

    async def note_notice_served(self, uow: Cases, event: NoticeIssued) -> None:
        """Writes the served date of a notice this service requested into the case history."""
        data = event.data
        case = await uow.cases.for_debt(data.case_id) if data.case_id else None
        if case is not None:
            uow.history.step(case.case_id, data.served_on, f"served_{data.notice_type.value}", data.document_id)

    async def note_notice_failed(self, uow: Cases, event: NoticeFailed) -> None:
        """Writes a notice that could not be rendered into the case history for an officer."""
        data = event.data
        case = await uow.cases.for_debt(data.case_id) if data.case_id else None
        if case is None:
            return
        log.error("notice failed", case_id=case.case_id, notice_type=data.notice_type.value, reason=data.reason)
        on = await uow.today() or case.bill_issued_on
        uow.history.step(case.case_id, on, f"failed_{data.notice_type.value}", data.reason[:200])

    # --- applying a decision ---------------------------------------------------------

    def _apply(self, uow: Cases, case: CaseRecord, decision: domain.Decision) -> None:
        built = self._events(case, decision)
        self._take(uow, case, decision)
        for event in built:
            uow.publish(event)

    def _events(self, case: CaseRecord, decision: domain.Decision) -> list[Envelope]:
        return list(events.for_decision(decision, case, self.council.council_name))

    def _take(self, uow: Cases, case: CaseRecord, decision: domain.Decision) -> None:
        if case.take(decision.case):
            case.updated_at = utc_now()
        if not case.is_open:
            case.attention_reason = case.attention_since = None  # closed: nothing is left to move
        for move in decision.moves:
            uow.history.step(case.case_id, decision.on, move.to_stage.value, move.reason)
        for note in decision.notes:
            uow.history.step(case.case_id, decision.on, note.step, note.detail)

    def _move(self, uow: Cases, case: CaseRecord, since: date, what: str, plan: Callable[[], _Plan]) -> bool:
        """Decides and builds all a case is to do before its record changes, so a case
        that fails (a rule refuses, or its data breaks an event's bound) is left exactly
        as it was, marked for an officer, and the caller moves the others on."""
        try:
            decisions, published = plan()
        except Exception as exc:  # deciding and building touch no database: the failure is the case's
            # describe_failure names the field and rule broken, never the value: no name or address.
            case.attention_reason = safe_text(f"{what}: {describe_failure(exc)}", _ATTENTION_CHARS)
            case.attention_since = case.attention_since or since
            return False
        for decision in decisions:
            self._take(uow, case, decision)
        for event in published:
            uow.publish(event)
        return True

    async def _move_each(
        self, uow: Cases, cases: list[CaseRecord], on: date, what: str, rule: _Rule
    ) -> list[CaseRecord]:
        """Moves each of many cases by ``rule`` (a person's debts), one failing leaving the
        others to move; answers those that moved."""
        since = await uow.today() or on
        moved = [c for c in cases if self._move(uow, c, since, what, partial(self._plan, c, rule))]
        _report_unmoved({c.case_id for c in cases} - {c.case_id for c in moved}, step=what)
        return moved

    def _plan(self, case: CaseRecord, rule: _Rule) -> _Plan:
        decision = rule(case.snapshot(), self.rules(case.debt_type))
        return [decision], self._events(case, decision)


def _rule_on(
    rule: Callable[[domain.Case, domain.AnyRules, date], domain.Decision],
    on: date,
    case: domain.Case,
    rules: domain.AnyRules,
) -> domain.Decision:
    return rule(case, rules, on)


def _hold_rule(
    rule: Callable[[domain.Case, domain.AnyRules, HoldKind, date], domain.Decision],
    kind: HoldKind,
    on: date,
    case: domain.Case,
    rules: domain.AnyRules,
) -> domain.Decision:
    return rule(case, rules, kind, on)


def _check_printable(debt_id: str, decision: OverpaymentDecision) -> None:
    """The decision notice prints the reason and calculation, each within a template's bound."""
    too_long = [
        name
        for name, text in (("reason", decision.reason), ("calculation", decision.calculation))
        if len(text) > MAX_TEMPLATE_TEXT
    ]
    if too_long:
        raise Refused(
            f"the overpayment decision on debt {debt_id} gives a {' and '.join(too_long)} longer than the"
            f" {MAX_TEMPLATE_TEXT} characters a decision notice prints: have the benefits system shorten it"
            " and send the bill again"
        )


def _overpayment(decision: OverpaymentDecision) -> domain.Overpayment:
    return domain.Overpayment(
        classification=decision.classification,
        period_start=decision.period_start,
        period_end=decision.period_end,
        decided_on=decision.decided_on,
        reason=decision.reason,
        calculation=decision.calculation,
        liable_role=decision.liable_role.value,
        could_reasonably_have_realised=decision.could_reasonably_have_realised,
    )


def _report_unmoved(case_ids: Iterable[str], **context: str) -> None:
    """Ops see each run's unmoved cases by id; officers list them with their reasons."""
    unmoved = sorted(case_ids)
    if unmoved:
        log.warning(
            "cases could not be moved and need attention (GET /officer/cases/needing-attention)",
            case_ids=unmoved,
            needing_attention=len(unmoved),
            **context,
        )


@dataclass
class _Wanted:
    debts: set[str] = field(default_factory=set)
    schedules: set[str] = field(default_factory=set)
    summonses: set[str] = field(default_factory=set)
    referrals: set[str] = field(default_factory=set)
    parties: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    claims: set[str] = field(default_factory=set)
    holders: set[str] = field(default_factory=set)
    """People whose open holds a new case may take up (not their cases)."""


def _bill(e: Any, w: _Wanted) -> None:
    w.debts.add(e.data.debt_id)
    w.schedules.add(e.data.debt_id)
    w.holders.add(e.data.liable_party.party_id)


def _schedule(e: Any, w: _Wanted) -> None:
    w.debts.update(e.data.debt_ids)
    w.schedules.update(e.data.debt_ids)


def _person(e: Any, w: _Wanted) -> None:
    w.parties.add(e.data.party_id)
    w.accounts.add(e.data.account_ref)


_REMITTANCES: dict[PaymentChannel, Callable[[domain.Case, domain.AnyRules, int, date], domain.Decision]] = {
    PaymentChannel.DIRECT_EARNINGS_ATTACHMENT: domain.on_employer_remittance,
    PaymentChannel.DWP_DEDUCTION: domain.on_dwp_remittance,
}


def _remitted(e: Any, w: _Wanted) -> None:
    # Only a remittance from an employer or the DWP touches a case; other receipts are
    # followed through their balance.changed, so the payment day's prefetch does not grow.
    if e.data.channel in _REMITTANCES:
        w.debts.update(part.debt_id for part in e.data.parts)


# What each routed event type names, for the batch's prefetch.
_NAMES: dict[type[Envelope], Callable[[Any, _Wanted], None]] = {
    ChargeRaised: _bill,
    ChargeAdjusted: lambda e, w: w.debts.add(e.data.debt_id),
    BalanceChanged: lambda e, w: w.debts.add(e.data.debt_id),
    HbDeductionsStarted: lambda e, w: w.debts.update(e.data.debt_ids),
    HbDeductionsStopped: lambda e, w: w.debts.update(e.data.debt_ids),
    ArrangementMade: _schedule,
    InstalmentMissed: lambda e, w: w.debts.update(e.data.debt_ids),
    DayStarted: lambda e, w: None,
    LiabilityOrderGranted: lambda e, w: w.summonses.add(e.data.summons_id),
    LiabilityOrderWithdrawn: lambda e, w: w.summonses.add(e.data.summons_id),
    HearingAdjourned: lambda e, w: w.summonses.add(e.data.summons_id),
    CaseReturned: lambda e, w: w.referrals.add(e.data.referral_id),
    CountyJudgmentEntered: lambda e, w: w.claims.add(e.data.claim_id),
    CountyWarrantIssued: lambda e, w: w.claims.add(e.data.claim_id),
    CountyAttachmentMade: lambda e, w: w.claims.add(e.data.claim_id),
    LetterBeforeClaimReplied: lambda e, w: w.debts.add(e.data.debt_id),
    BreathingSpaceStarted: _person,
    BreathingSpaceEnded: _person,
    DisputeRaised: _person,
    DisputeResolved: _person,
    VulnerabilityFlagged: _person,
    VulnerabilityCleared: _person,
    DebtorDeceased: _person,
    InsolvencyNotified: _person,
    EmploymentReported: _person,
    EmploymentEnded: _person,
    PaymentAllocated: _remitted,
    DeductionAccepted: lambda e, w: w.debts.add(e.data.debt_id),
    DeductionRefused: lambda e, w: w.debts.add(e.data.debt_id),
    NoticeIssued: lambda e, w: w.debts.add(e.data.case_id) if e.data.case_id else None,
    NoticeFailed: lambda e, w: w.debts.add(e.data.case_id) if e.data.case_id else None,
}
