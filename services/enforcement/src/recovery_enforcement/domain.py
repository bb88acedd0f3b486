"""The recovery ladder: typed case values in, decisions out; no I/O.

A ``Case`` is a snapshot of one debt's position on its ladder. Each rule takes a
case (never changing it) and returns a ``Decision``: the case as it is now, the
stage moves, and what to tell the world (notices to request, the balance falling
due, costs, a summons, a liability order, an agent referral or recall). The
use cases apply the decision to the stored case and the mapper (``events.py``)
turns it into contract events.

The law's periods come from ``recovery_shared.statute`` (Council Tax:
``council_tax``; Business Rates: ``business_rates``; holds: ``holds``; agents'
fees: ``fees``; HBOP, TA and sundry debt: ``housing_benefit``, ``pre_action`` and
``limitation``), each counted from the day the notice is served under the
council's service rule (``statute.service.served_on``). What the council chooses
(which notices, local waits, costs, court, agents) comes from its TOML.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from enum import StrEnum
from typing import NamedTuple

from recovery_shared.contracts.common import DebtType, HbopClassification, PayFrequency
from recovery_shared.contracts.inbound import AgentOutcome
from recovery_shared.contracts.internal import NoticeType
from recovery_shared.council import CivilLadder, CouncilConfig, FinalNoticePolicy, Ladder, Remedy
from recovery_shared.money import pounds
from recovery_shared.refusal import Refused
from recovery_shared.statute import fees, holds, housing_benefit, limitation, pre_action
from recovery_shared.statute.business_rates import BUSINESS_RATES
from recovery_shared.statute.council_tax import COUNCIL_TAX, RecoveryStatute, final_notice_required
from recovery_shared.statute.holds import HoldKind
from recovery_shared.statute.service import served_on

STATUTES: dict[DebtType, RecoveryStatute] = {
    DebtType.COUNCIL_TAX: COUNCIL_TAX,
    DebtType.BUSINESS_RATES: BUSINESS_RATES,
}
REMINDER_NOTICES = frozenset({NoticeType.REMINDER, NoticeType.SECOND_REMINDER, NoticeType.NNDR_FURTHER_NOTICE})


class Stage(StrEnum):
    BILLED = "billed"
    REMINDER = "reminder"
    SECOND_REMINDER = "second_reminder"
    NNDR_FURTHER_NOTICE = "nndr_further_notice"
    REMINDER_COMPLIED = "reminder_complied"
    SECOND_REMINDER_COMPLIED = "second_reminder_complied"
    NNDR_FURTHER_NOTICE_COMPLIED = "nndr_further_notice_complied"
    REMINDER_FAILED = "reminder_failed"
    REMINDERS_EXHAUSTED = "reminders_exhausted"
    BALANCE_DUE = "balance_due"
    FINAL_NOTICE = "final_notice"
    SUMMONS = "summons"
    LIABILITY_ORDER = "liability_order"
    AGENT = "agent"
    PAID = "paid"
    WITHDRAWN = "withdrawn"
    NULLA_BONA = "nulla_bona"
    OUT_OF_TIME = "out_of_time"
    RETURNED_PART_PAID = "returned_part_paid"
    RETURNED_GONE_AWAY = "returned_gone_away"
    RETURNED_VULNERABLE = "returned_vulnerable"
    RETURNED_DECEASED = "returned_deceased"
    RETURNED_INSOLVENT = "returned_insolvent"
    RETURNED_BREATHING_SPACE = "returned_breathing_space"
    RETURNED_RECALLED = "returned_recalled"
    RETURNED_EXPIRED = "returned_expired"
    # The civil ladder (HBOP, TA, sundry debt).
    NOT_RECOVERABLE = "not_recoverable"
    HB_DEDUCTION = "hb_deduction"
    DEA = "dea"
    DWP_REQUESTED = "dwp_requested"
    DWP_DEDUCTION = "dwp_deduction"
    INVOICED = "invoiced"
    INVOICE_REMINDER = "invoice_reminder"
    LETTER_BEFORE_CLAIM = "letter_before_claim"
    REPLY_RECEIVED = "reply_received"
    NOTICE_OF_INTENTION = "notice_of_intention"
    CLAIM_REFERRED = "claim_referred"
    COUNTY_JUDGMENT = "county_judgment"
    COUNTY_WARRANT = "county_warrant"
    COUNTY_ATTACHMENT = "county_attachment"
    STATUTE_BARRED = "statute_barred"


COMPLIED = {
    Stage.REMINDER: Stage.REMINDER_COMPLIED,
    Stage.SECOND_REMINDER: Stage.SECOND_REMINDER_COMPLIED,
    Stage.NNDR_FURTHER_NOTICE: Stage.NNDR_FURTHER_NOTICE_COMPLIED,
}


class Due(NamedTuple):
    """One instalment of the statutory schedule."""

    due_date: date
    amount_pence: int


@dataclass(frozen=True, slots=True)
class Employment:
    """Who employs the person and what they earn, as last reported."""

    employer_ref: str
    employer_name: str
    employer_address: tuple[str, ...]
    pay_frequency: PayFrequency
    net_earnings_pence: int
    next_pay_day: date
    reported_on: date


@dataclass(frozen=True, slots=True)
class Attachment:
    """A Direct Earnings Attachment in force: what the council expects the employer to pay
    over, and what it has paid."""

    employer_ref: str
    percent: int
    deduction_pence: int
    """One pay-day's deduction on the earnings last reported (the employer reads the
    table against each pay-day's actual earnings, so this is the council's estimate)."""
    pay_frequency: PayFrequency
    first_pay_day: date
    owed_at_start_pence: int
    started_on: date
    reconcile_on: date
    """The day after the next remittance falls due (reg 22): it is checked then."""
    remitted_pence: int = 0
    short_pence: int = 0
    """Behind at the last check (0: up to date): officers list these."""


class DeductionStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REFUSED = "refused"
    UNANSWERED = "unanswered"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class BenefitDeduction:
    """The council's request to the DWP to recover the overpayment from the person's
    other benefits: its answer, what it promised a week and what it has paid over."""

    request_id: str
    status: DeductionStatus
    requested_on: date
    answer_by: date
    weekly_pence: int = 0
    first_on: date | None = None
    owed_at_start_pence: int = 0
    remitted_pence: int = 0
    reconcile_on: date | None = None
    short_pence: int = 0
    """Behind at the last check (0: up to date): officers list these."""


@dataclass(slots=True)
class Case:
    """One debt's position on its ladder and the dates its next steps hang on.
    The rules copy it; they never change the one they are given."""

    case_id: str
    debt_id: str
    account_ref: str
    party_id: str
    debt_type: DebtType
    bill_issued_on: date
    stage: Stage = Stage.BILLED
    is_open: bool = True
    charged_pence: int = 0
    paid_pence: int = 0
    balance_pence: int = 0
    schedule: tuple[Due, ...] = ()
    reminders_sent: int = 0
    reminder_issued_on: date | None = None
    reminder_pay_by: date | None = None
    reminder_required_pence: int = 0
    charge_at_last_notice_pence: int = 0
    unanswered_miss_on: date | None = None
    failure_on: date | None = None
    balance_due_on: date | None = None
    balance_fell_due: bool = False
    final_notice_issued_on: date | None = None
    summons_id: str | None = None
    summons_issued_on: date | None = None
    hearing_date: date | None = None
    liability_order_on: date | None = None
    referral_id: str | None = None
    referral_due_on: date | None = None
    referred_on: date | None = None
    agent: str | None = None
    fell_due_on: date | None = None
    letter_before_claim_on: date | None = None
    reply_by: date | None = None
    reply: str | None = None
    notice_of_intention_on: date | None = None
    claim_after: date | None = None
    claim_id: str | None = None
    claim_referred_on: date | None = None
    hbop_classification: str | None = None
    hbop_decided_on: date | None = None
    employment: Employment | None = None
    attachment: Attachment | None = None
    benefit_deduction: BenefitDeduction | None = None
    held: bool = False
    held_since: date | None = None
    vulnerable: bool = False
    next_action_on: date | None = None


@dataclass(frozen=True, slots=True)
class MissedInstalment:
    due_date: date
    misses_this_year: int
    detected_on: date


# --- decisions -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageMove:
    from_stage: Stage
    to_stage: Stage
    reason: str


@dataclass(frozen=True, slots=True)
class NoticeToRequest:
    notice: NoticeType
    amounts: Mapping[str, int]
    dates: Mapping[str, date]
    agent: str | None = None
    template_data: Mapping[str, str | bool] = field(default_factory=dict)
    to: Addressee | None = None
    """Someone other than the debtor (an employer); None: the debtor."""


@dataclass(frozen=True, slots=True)
class Addressee:
    name: str
    address: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BalanceDue:
    due_on: date
    reason: str


@dataclass(frozen=True, slots=True)
class Costs:
    kind: str
    amount_pence: int


@dataclass(frozen=True, slots=True)
class Summons:
    summons_id: str
    issued_on: date
    hearing_date: date
    court: str
    amount_pence: int
    costs_pence: int


@dataclass(frozen=True, slots=True)
class LiabilityOrder:
    summons_id: str
    granted_on: date
    amount_pence: int
    costs_pence: int


@dataclass(frozen=True, slots=True)
class Referral:
    referral_id: str
    agent: str
    amount_pence: int
    compliance_fee_pence: int
    debtor_is_vulnerable: bool


@dataclass(frozen=True, slots=True)
class Recall:
    referral_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Claim:
    """A debt claim for the county court, after the Pre-Action Protocol's letters."""

    claim_id: str
    amount_pence: int
    letter_before_claim_on: date
    notice_of_intention_on: date
    particulars: str


@dataclass(frozen=True, slots=True)
class DeductionRequest:
    """A request to the DWP to recover the overpayment from the person's other benefits."""

    request_id: str
    owed_pence: int
    fraud: bool
    answer_by: date


@dataclass(frozen=True, slots=True)
class DeductionCancel:
    request_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Note:
    """A line in the case history that is not a stage move (a hold, an adjournment)."""

    step: str
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    case: Case
    on: date
    moves: tuple[StageMove, ...] = ()
    notes: tuple[Note, ...] = ()
    notices: tuple[NoticeToRequest, ...] = ()
    balance_due: BalanceDue | None = None
    costs: tuple[Costs, ...] = ()
    summons: Summons | None = None
    liability_order: LiabilityOrder | None = None
    referral: Referral | None = None
    recall: Recall | None = None
    claim: Claim | None = None
    deduction_request: DeductionRequest | None = None
    deduction_cancel: DeductionCancel | None = None


@dataclass
class _Steps:
    """What a rule decides as it goes; ``decide`` freezes it into a Decision."""

    case: Case
    moves: list[StageMove] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    notices: list[NoticeToRequest] = field(default_factory=list)
    balance_due: BalanceDue | None = None
    costs: list[Costs] = field(default_factory=list)
    summons: Summons | None = None
    liability_order: LiabilityOrder | None = None
    referral: Referral | None = None
    recall: Recall | None = None
    claim: Claim | None = None
    deduction_request: DeductionRequest | None = None
    deduction_cancel: DeductionCancel | None = None

    def move(self, to: Stage, why: str) -> None:
        if self.case.stage != to:
            self.moves.append(StageMove(self.case.stage, to, why))
            self.case.stage = to

    def decide(self, rules: AnyRules, on: date) -> Decision:
        self.case.next_action_on = next_action_on(self.case, rules)
        return Decision(
            case=self.case,
            on=on,
            moves=tuple(self.moves),
            notes=tuple(self.notes),
            notices=tuple(self.notices),
            balance_due=self.balance_due,
            costs=tuple(self.costs),
            summons=self.summons,
            liability_order=self.liability_order,
            referral=self.referral,
            recall=self.recall,
            claim=self.claim,
            deduction_request=self.deduction_request,
            deduction_cancel=self.deduction_cancel,
        )


def _begin(case: Case) -> _Steps:
    return _Steps(replace(case))


# --- the rules one debt type's cases follow -------------------------------------


@dataclass(frozen=True)
class Rules:
    """A debt type's ladder: the statute's periods and the council's choices."""

    statute: RecoveryStatute
    ladder: Ladder
    council: CouncilConfig

    def served(self, issued_on: date) -> date:
        return served_on(issued_on, self.council.service)


@dataclass(frozen=True)
class CivilRules:
    """A civil debt type's ladder (HBOP, TA, sundry debt): the council's choices; the
    Protocol's periods (``statute.pre_action``) and the six years (``statute.limitation``)."""

    debt_type: DebtType
    ladder: CivilLadder
    council: CouncilConfig

    def served(self, issued_on: date) -> date:
        return served_on(issued_on, self.council.service)


AnyRules = Rules | CivilRules


def rules_for(council: CouncilConfig, debt_type: DebtType) -> AnyRules:
    """The debt type's ladder; refuses one the council has configured none for."""
    civil = council.civil_ladders.get(debt_type)
    if civil is not None:
        return CivilRules(debt_type, civil, council)
    statute = STATUTES.get(debt_type)
    ladder = council.ladders.get(debt_type)
    if statute is None or ladder is None:
        table = "ladders" if debt_type in STATUTES else "civil_ladders"
        raise Refused(
            f"{debt_type.value} debts have no recovery ladder in the council's configuration: enforcement cannot"
            f" open or move a recovery case for one; add [{table}.{debt_type.value}] to the council's TOML and"
            " send the message again"
        )
    if len(ladder.reminder_notices) > statute.max_reminders or not REMINDER_NOTICES.issuperset(ladder.reminder_notices):
        raise ValueError(
            f"the council's {debt_type.value} ladder names reminders {ladder.reminder_notices}: at most"
            f" {statute.max_reminders} reminder-type notices a year under {statute.regulations}"
        )
    return Rules(statute, ladder, council)


def cumulative_due(schedule: tuple[Due, ...], by: date) -> int:
    """Everything the schedule makes due on or before ``by``."""
    return sum(amount for due, amount in schedule if due <= by)


def next_sitting(council: CouncilConfig, on_or_after: date) -> date:
    day = on_or_after
    for _ in range(14):
        if not council.court.sitting_weekdays or day.weekday() in council.court.sitting_weekdays:
            return day
        day += timedelta(days=1)
    return on_or_after


def needs_final_notice(case: Case, rules: Rules) -> bool:
    policy = rules.ladder.final_notice
    if policy == FinalNoticePolicy.ALWAYS:
        return True
    if policy == FinalNoticePolicy.NEVER or not rules.statute.final_notice:
        return False
    return final_notice_required(case.reminders_sent, case.charged_pence, case.charge_at_last_notice_pence)


def earliest_summons(case: Case, rules: Rules) -> date:
    """The first day the council may lay a complaint: its own wait after the balance
    fell due, and never before the statute's days from a final notice's service."""
    assert case.balance_due_on is not None
    earliest = case.balance_due_on + timedelta(days=rules.ladder.summons_wait_days)
    if case.final_notice_issued_on is not None:
        served = rules.served(case.final_notice_issued_on)
        earliest = max(earliest, rules.statute.court_application_from(served))
    return earliest


def next_action_on(case: Case, rules: AnyRules) -> date | None:
    """The next business date on which ``on_day`` can change this case."""
    if not case.is_open:
        return None
    if isinstance(rules, CivilRules):
        return _civil_next_action_on(case)
    candidates: list[date] = []
    if case.reminder_pay_by is not None:
        candidates.append(case.reminder_pay_by + timedelta(days=1))
    if not case.balance_fell_due and case.balance_due_on is not None:
        candidates.append(case.balance_due_on)
    if case.balance_fell_due and case.summons_id is None and case.balance_pence > 0:
        if needs_final_notice(case, rules) and case.final_notice_issued_on is None:
            candidates.append(case.balance_due_on or date.min)
        else:
            candidates.append(earliest_summons(case, rules))
    if (
        case.liability_order_on is not None
        and case.referred_on is None
        and case.referral_due_on is not None
        and not case.vulnerable
    ):
        candidates.append(case.referral_due_on)
    return min(candidates) if candidates else None


# --- payments, misses and business days ----------------------------------------


def on_balance(case: Case, rules: AnyRules, charged: int, paid: int, balance: int, on: date) -> Decision:
    """What payments says the debt stands at; a cleared balance stops the ladder."""
    s = _begin(case)
    c = s.case
    c.charged_pence, c.paid_pence, c.balance_pence = charged, paid, balance
    if c.is_open and charged > 0 and balance <= 0:
        if c.stage == Stage.AGENT and c.referral_id is not None:
            s.recall = Recall(c.referral_id, "paid in full")
        if c.stage == Stage.DEA:
            _discharge(s, "the overpayment is paid in full", on)
        if c.stage in (Stage.DWP_REQUESTED, Stage.DWP_DEDUCTION):
            _cancel_dwp(s, "the overpayment is paid in full")
        s.move(Stage.PAID, "balance cleared")
        c.is_open = False
    return s.decide(rules, on)


def on_missed_instalment(case: Case, rules: AnyRules, miss: MissedInstalment) -> Decision:
    s = _begin(case)
    _missed(s, rules, miss)
    return s.decide(rules, miss.detected_on)


def _missed(s: _Steps, rules: AnyRules, miss: MissedInstalment) -> None:
    c = s.case
    if c.is_open and c.held:
        c.unanswered_miss_on = miss.due_date  # answered when the hold ends
        return
    if isinstance(rules, CivilRules):
        _civil_missed(s, rules, miss)
        return
    if c.is_open:
        # Settle an open reminder first, in case the day's sweep has not run yet.
        _advance(s, rules, miss.detected_on, court=False)
    if not c.is_open or c.balance_fell_due or c.failure_on is not None:
        return  # the balance is (or is about to be) due: misses no longer matter
    if c.reminder_pay_by is not None and miss.detected_on <= c.reminder_pay_by:
        return  # the open reminder already covers instalments falling due in its days
    if c.reminders_sent < len(rules.ladder.reminder_notices):
        _remind(s, rules, miss)
    else:
        # Reminders used up: the balance is due (CT reg 23(4) the next day; NNDR reg 8 in 7 days).
        c.failure_on = miss.due_date
        c.balance_due_on = rules.statute.balance_due_after_later_miss(miss.due_date)
        s.move(Stage.REMINDERS_EXHAUSTED, f"instalment due {miss.due_date} missed after the reminders")
    _advance(s, rules, miss.detected_on, court=False)


def _remind(s: _Steps, rules: Rules, miss: MissedInstalment) -> None:
    c = s.case
    today = miss.detected_on
    notice = rules.ladder.reminder_notices[c.reminders_sent]
    c.reminders_sent += 1
    c.reminder_issued_on = today
    pay_by = c.reminder_pay_by = rules.statute.reminder_pay_by(rules.served(today))
    c.reminder_required_pence = cumulative_due(c.schedule, pay_by)
    c.charge_at_last_notice_pence = c.charged_pence
    if_unpaid = rules.statute.balance_due_after_failure(rules.statute.failure_on(pay_by))
    s.notices.append(
        NoticeToRequest(
            notice,
            {"amount_to_pay": max(c.reminder_required_pence - c.paid_pence, 0), "balance": c.balance_pence},
            {"missed_instalment_due": miss.due_date, "pay_by": pay_by, "balance_due_if_unpaid": if_unpaid},
        )
    )
    s.move(Stage(notice.value), f"instalment due {miss.due_date} missed ({miss.misses_this_year} this year)")


def on_day(case: Case, rules: AnyRules, today: date) -> Decision:
    """Everything that falls due on a business day for one case."""
    s = _begin(case)
    if s.case.is_open and not s.case.held:
        if isinstance(rules, CivilRules):
            _civil_advance(s, rules, today)
        else:
            _advance(s, rules, today, court=True)
    return s.decide(rules, today)


def _advance(s: _Steps, rules: Rules, today: date, *, court: bool) -> None:
    c = s.case
    statute = rules.statute
    # 1. Was the reminder complied with? Judged the day after its days to pay end.
    if c.reminder_pay_by is not None and today > c.reminder_pay_by:
        pay_by, c.reminder_pay_by = c.reminder_pay_by, None
        if c.paid_pence >= c.reminder_required_pence:
            if c.stage in COMPLIED:
                s.move(COMPLIED[c.stage], "paid")
        else:
            c.failure_on = statute.failure_on(pay_by)
            c.balance_due_on = statute.balance_due_after_failure(c.failure_on)
            s.move(Stage.REMINDER_FAILED, f"not paid by {pay_by}; balance due {c.balance_due_on}")
    # 2. The right to instalments is lost: the whole balance falls due.
    if not c.balance_fell_due and c.balance_due_on is not None and today >= c.balance_due_on:
        c.balance_fell_due = True
        s.balance_due = BalanceDue(c.balance_due_on, "instalments not paid as the reminder required")
        s.move(Stage.BALANCE_DUE, f"whole balance due from {c.balance_due_on}")
    if not court or not c.balance_fell_due or c.balance_pence <= 0:
        return
    if c.summons_id is None:
        _towards_court(s, rules, today)
    else:
        _towards_agent(s, rules, today)


def _towards_court(s: _Steps, rules: Rules, today: date) -> None:
    """A final notice where one is needed, then the summons."""
    c = s.case
    if needs_final_notice(c, rules) and c.final_notice_issued_on is None:
        c.final_notice_issued_on = today
        c.charge_at_last_notice_pence = c.charged_pence
        s.notices.append(
            NoticeToRequest(
                NoticeType.FINAL_NOTICE,
                {"balance": c.balance_pence},
                {"court_application_from": earliest_summons(c, rules)},
            )
        )
        s.move(Stage.FINAL_NOTICE, "final notice needed (reg 33)")
        return
    if today < earliest_summons(c, rules):
        return
    if today > rules.statute.last_application_day(rules.served(c.bill_issued_on)):
        c.is_open = False
        s.move(Stage.OUT_OF_TIME, f"no complaint after {rules.statute.application_time_limit_years} years")
        return
    order_from = rules.statute.liability_order_earliest(rules.served(today))
    hearing = next_sitting(rules.council, max(today + timedelta(days=rules.ladder.hearing_after_days), order_from))
    costs = rules.ladder.summons_costs_pence
    c.summons_id = f"SUM-{c.case_id}"
    c.summons_issued_on = today
    c.hearing_date = hearing
    court = rules.council.court.name
    s.summons = Summons(c.summons_id, today, hearing, court, max(c.balance_pence, 1), costs)
    if costs:
        s.costs.append(Costs("summons", costs))
    s.notices.append(
        NoticeToRequest(
            NoticeType.SUMMONS,
            {"balance": c.balance_pence, "summons_costs": costs, "total": c.balance_pence + costs},
            {"hearing_date": hearing, "liability_order_earliest": order_from},
        )
    )
    s.move(Stage.SUMMONS, f"hearing {hearing} at {court}")


def _towards_agent(s: _Steps, rules: Rules, today: date) -> None:
    """After a liability order: referral to an enforcement agent, never while vulnerable."""
    c = s.case
    if (
        c.liability_order_on is None
        or c.referred_on is not None
        or c.referral_due_on is None
        or today < c.referral_due_on
        or Remedy.ENFORCEMENT_AGENT not in rules.ladder.remedies
        or c.vulnerable
        or not rules.council.enforcement_agents
    ):
        return
    fee = fees.fee_scale_on(today).compliance_fee_pence
    agents = rules.council.enforcement_agents
    agent = agents[sum(map(ord, c.case_id)) % len(agents)]
    c.referred_on, c.agent, c.referral_id = today, agent, f"REF-{c.case_id}"
    s.referral = Referral(c.referral_id, agent, c.balance_pence, fee, c.vulnerable)
    s.notices.append(
        NoticeToRequest(
            NoticeType.AGENT_REFERRAL_LETTER,
            {"balance": c.balance_pence, "compliance_fee": fee},
            {"liability_order_date": c.liability_order_on, "referred_on": today},
            agent=agent,
        )
    )
    s.move(Stage.AGENT, f"referred to {agent}")


# --- the court and the agents --------------------------------------------------


def on_liability_order(case: Case, rules: Rules, granted_on: date, costs_allowed: int) -> Decision:
    s = _begin(case)
    c = s.case
    if c.liability_order_on is None and c.summons_id is not None:
        c.liability_order_on = granted_on
        c.referral_due_on = granted_on + timedelta(days=rules.ladder.agent_referral_after_days)
        costs = costs_allowed or rules.ladder.liability_order_costs_pence
        if costs:
            s.costs.append(Costs("liability_order", costs))
        s.move(Stage.LIABILITY_ORDER, f"liability order granted {granted_on}")
        s.liability_order = LiabilityOrder(c.summons_id, granted_on, max(c.balance_pence, 1), costs)
    return s.decide(rules, granted_on)


def on_application_withdrawn(case: Case, rules: AnyRules, on: date) -> Decision:
    s = _begin(case)
    s.move(Stage.WITHDRAWN, "liability order application withdrawn")
    s.case.is_open = False
    return s.decide(rules, on)


def on_hearing_adjourned(case: Case, rules: AnyRules, on: date, adjourned_to: date) -> Decision:
    s = _begin(case)
    s.case.hearing_date = adjourned_to
    s.notes.append(Note("hearing_adjourned", f"to {adjourned_to}"))
    return s.decide(rules, on)


def on_agent_return(case: Case, rules: AnyRules, outcome: AgentOutcome, agent: str, on: date) -> Decision:
    s = _begin(case)
    if outcome == AgentOutcome.PAID_IN_FULL:
        s.move(Stage.PAID, f"agent {agent or s.case.agent} returned paid in full")
        s.case.is_open = False
    elif outcome == AgentOutcome.NULLA_BONA:
        # No goods: the council considers committal (individuals) or write-off next.
        s.move(Stage.NULLA_BONA, "agent found no goods to take control of")
        s.case.is_open = False
    else:
        s.move(Stage(f"returned_{outcome.value}"), f"agent returned: {outcome.value}")
    return s.decide(rules, on)


# --- holds and vulnerability -------------------------------------------------------

VULNERABILITY = "vulnerability"
"""Kept for the person beside their holds (domain §11 lists it among them), though it
pauses nothing: every case of theirs carries the flag while it stands."""


def reaches_new_case(kind: str, hold_account_ref: str, started_on: date, case: Case) -> bool:
    """Whether a person's standing hold or flag reaches a case opened after it was
    notified, with its effect from the day it started: a vulnerability flag always; a
    breathing space, death or insolvency every debt of theirs (SI 2020/1311 reg 14), a
    breathing space only debts owed when it started; a dispute only its own account."""
    if kind == VULNERABILITY:
        return True
    hold = HoldKind(kind)
    if not holds.reaches_every_debt_of_the_person(hold) and hold_account_ref != case.account_ref:
        return False
    return case.is_open and holds.covers(hold, case.bill_issued_on, started_on)


def pauses_recovery(rules: AnyRules, kind: HoldKind) -> bool:
    return holds.pauses_recovery(kind, dispute_pauses_recovery=_disputes_pause(rules))


def _disputes_pause(rules: AnyRules) -> bool:
    """Whether a dispute holds this debt type's cases: the council's choice for all debts,
    and its own for an appeal against an HB overpayment decision."""
    chosen = rules.council.holds
    appeal = isinstance(rules, CivilRules) and rules.debt_type == DebtType.HB_OVERPAYMENT
    return chosen.dispute_pauses_recovery or (appeal and chosen.hbop_appeal_pauses_recovery)


def apply_hold(case: Case, rules: AnyRules, kind: HoldKind, on: date) -> Decision:
    """The case stops where it is; an agent case comes back (statute/holds.py)."""
    s = _begin(case)
    c = s.case
    if pauses_recovery(rules, kind) and not c.held:
        c.held, c.held_since = True, on
        held = f"recovery is held ({kind.value.replace('_', ' ')})"
        if c.stage == Stage.DEA:
            _discharge(s, held, on)
        if c.stage in (Stage.DWP_REQUESTED, Stage.DWP_DEDUCTION):
            _cancel_dwp(s, held)
    recall = holds.recalls_agent(kind, dispute_pauses_recovery=_disputes_pause(rules))
    if c.stage == Stage.AGENT and recall and c.referral_id is not None:
        words = kind.value.replace("_", " ")
        s.recall = Recall(c.referral_id, words)
        c.referred_on, c.referral_due_on = None, on
        s.move(Stage.LIABILITY_ORDER, f"recalled from the agent: {words}")
    s.notes.append(Note("hold_applied", kind.value))
    return s.decide(rules, on)


def release_hold(case: Case, rules: AnyRules, kind: HoldKind, on: date) -> Decision:
    """No time ran while the hold lasted; a miss it held back is answered now."""
    s = _begin(case)
    c = s.case
    held_days = max((on - c.held_since).days, 0) if c.held_since else 0
    _stop_the_clock(c, held_days)
    c.held, c.held_since = False, None
    if c.stage == Stage.DEA and c.attachment is None and isinstance(rules, CivilRules) and c.is_open:
        # The attachment was discharged for the hold: a fresh notice, or the next route.
        if not _attach_earnings(s, rules, on):
            _next_route(s, rules, on, after=DEA_ROUTE)
    elif c.stage in (Stage.DWP_REQUESTED, Stage.DWP_DEDUCTION) and isinstance(rules, CivilRules) and c.is_open:
        # The request was cancelled for the hold: ask again.
        if not _ask_dwp(s, rules, on):
            _next_route(s, rules, on, after=DWP_ROUTE)
    if c.unanswered_miss_on is not None:
        miss = MissedInstalment(c.unanswered_miss_on, c.reminders_sent + 1, on)
        c.unanswered_miss_on = None
        _missed(s, rules, miss)
    s.notes.append(Note("hold_released", kind.value))
    return s.decide(rules, on)


def _stop_the_clock(c: Case, held_days: int) -> None:
    shift = timedelta(days=held_days)
    if c.reminder_pay_by is not None:
        c.reminder_pay_by += shift
    if c.balance_due_on is not None and not c.balance_fell_due:
        c.balance_due_on += shift
    if c.referral_due_on is not None:
        c.referral_due_on += shift
    if c.final_notice_issued_on is not None and c.summons_id is None:
        c.final_notice_issued_on += shift
    if c.reply_by is not None:
        c.reply_by += shift
    if c.claim_after is not None:
        c.claim_after += shift


def flag_vulnerability(case: Case, rules: AnyRules, on: date) -> Decision:
    s = _begin(case)
    c = s.case
    c.vulnerable = True
    if c.stage == Stage.AGENT and c.is_open and rules.council.holds.recall_agent_when_vulnerable:
        if c.referral_id is not None:
            s.recall = Recall(c.referral_id, "debtor vulnerable")
        s.move(Stage.LIABILITY_ORDER, "recalled from the agent: vulnerable")
        c.referred_on = None
    return s.decide(rules, on)


def clear_vulnerability(case: Case, rules: AnyRules, on: date) -> Decision:
    s = _begin(case)
    s.case.vulnerable = False
    return s.decide(rules, on)


# --- catching a case up with its person's holds ------------------------------------


@dataclass(frozen=True, slots=True)
class KeptHold:
    """A hold or flag kept for the person that lists the case among those it reaches."""

    kind: str
    started_on: date
    ended_on: date | None


def owed_hold_decisions(case: Case, rules: AnyRules, kept: Sequence[KeptHold]) -> list[tuple[KeptHold, bool, Decision]]:
    """What the holds and flags listing a case should have done to it and did not, because
    its decision could not be built when they came: each (hold, applied rather than
    released, decision), chained in order, so a case held back stops as if it had taken
    the hold on its day, and one whose hold has ended since is released on that day."""
    owed: list[tuple[KeptHold, bool, Decision]] = []
    pausing = [h for h in kept if h.kind != VULNERABILITY and pauses_recovery(rules, HoldKind(h.kind))]
    flags = [h for h in kept if h.kind == VULNERABILITY]
    standing = sorted((h for h in pausing if h.ended_on is None), key=lambda h: h.started_on)
    if standing and not case.held:
        owed.append((standing[0], True, apply_hold(case, rules, HoldKind(standing[0].kind), standing[0].started_on)))
    elif not standing and case.held and (ended := _last_ended(pausing)) is not None:
        owed.append((ended, False, release_hold(case, rules, HoldKind(ended.kind), ended.ended_on or ended.started_on)))
    case = owed[-1][2].case if owed else case
    flagged = [h for h in flags if h.ended_on is None]
    if flagged and not case.vulnerable:
        owed.append((flagged[0], True, flag_vulnerability(case, rules, flagged[0].started_on)))
    elif not flagged and case.vulnerable and (cleared := _last_ended(flags)) is not None:
        owed.append((cleared, False, clear_vulnerability(case, rules, cleared.ended_on or cleared.started_on)))
    return owed


def _last_ended(kept: Sequence[KeptHold]) -> KeptHold | None:
    ended = [h for h in kept if h.ended_on is not None]
    return max(ended, key=lambda h: h.ended_on or h.started_on) if ended else None


# --- the civil ladder: HBOP, TA and sundry debt -------------------------------------
# The invoice is arrangements' one instalment; when it is missed, the council's reminder,
# then the Pre-Action Protocol for Debt Claims (a letter before claim with 30 days to
# reply, then 14 days' notice of intention) before a county court claim [S45]. No claim
# is referred once the Limitation Act's six years have run from the invoice's due date.

CLAIMED_AS = {
    DebtType.HB_OVERPAYMENT: "Housing Benefit overpaid, recoverable under s.75 Social Security Administration Act 1992",
    DebtType.TEMPORARY_ACCOMMODATION: "Temporary Accommodation charges",
    DebtType.SUNDRY: "Sundry debt",
}
COUNTY_OUTCOMES = {
    "judgment": Stage.COUNTY_JUDGMENT,
    "warrant": Stage.COUNTY_WARRANT,
    "attachment": Stage.COUNTY_ATTACHMENT,
}
_REPLY_AWAITED = frozenset({Stage.LETTER_BEFORE_CLAIM, Stage.NOTICE_OF_INTENTION, Stage.REPLY_RECEIVED})


@dataclass(frozen=True, slots=True)
class Overpayment:
    """A Housing Benefit overpayment decision, as the benefits system made it."""

    classification: HbopClassification
    period_start: date
    period_end: date
    decided_on: date
    reason: str
    calculation: str
    liable_role: str
    could_reasonably_have_realised: bool


def on_overpayment_decided(case: Case, rules: CivilRules, overpayment: Overpayment, today: date) -> Decision:
    """An official error nobody could reasonably have realised is not recoverable (SI 2006/213
    reg 100(2)): the case closes with no notice. Any other overpayment's decision is notified
    at once, within 14 days of the decision where the bill reached us in time [S35][S39]."""
    s = _begin(case)
    c = s.case
    c.hbop_classification, c.hbop_decided_on = overpayment.classification.value, overpayment.decided_on
    if not housing_benefit.is_recoverable(overpayment.classification, overpayment.could_reasonably_have_realised):
        c.is_open = False
        s.move(Stage.NOT_RECOVERABLE, "official error nobody could reasonably have realised (SI 2006/213 reg 100(2))")
        s.notes.append(Note("not_recoverable", overpayment.reason))
        return s.decide(rules, today)
    served = rules.served(today)
    s.notices.append(
        NoticeToRequest(
            NoticeType.HBOP_DECISION,
            {"overpaid": c.charged_pence},
            {
                "period_start": overpayment.period_start,
                "period_end": overpayment.period_end,
                "decided_on": overpayment.decided_on,
                "reconsider_by": _months_after(served, housing_benefit.RECONSIDERATION_MONTHS),
            },
            template_data={
                "classification": overpayment.classification.value,
                "reason": overpayment.reason,
                "calculation": overpayment.calculation,
                "liable_role": overpayment.liable_role,
                "could_reasonably_have_realised": overpayment.could_reasonably_have_realised,
            },
        )
    )
    s.notes.append(Note("hbop_decision_notified", f"decided {overpayment.decided_on}, served {served}"))
    if served > overpayment.decided_on + timedelta(days=housing_benefit.NOTIFY_WITHIN_DAYS):
        s.notes.append(
            Note(
                "hbop_notified_late",
                f"the bill reached recovery on {today}: the decision of {overpayment.decided_on} is served {served},"
                f" later than the {housing_benefit.NOTIFY_WITHIN_DAYS} days the regulations allow (SI 2001/1002"
                " reg 10); an officer should check why the benefits system sent it late",
            )
        )
    return s.decide(rules, today)


def _months_after(day: date, months: int) -> date:
    """The same day ``months`` calendar months later; the month's last day where it is shorter."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")


def _civil_next_action_on(c: Case) -> date | None:
    if c.stage == Stage.DEA and c.attachment is not None:
        return c.attachment.reconcile_on
    d = c.benefit_deduction
    if c.stage == Stage.DWP_REQUESTED and d is not None:
        return d.answer_by + timedelta(days=1)
    if c.stage == Stage.DWP_DEDUCTION and d is not None:
        return d.reconcile_on
    waiting = {
        # An invoice enforcement sent itself (after deductions from HB stopped) keeps its
        # due date where a reminder keeps its pay-by date.
        Stage.INVOICED: c.reminder_pay_by,
        Stage.INVOICE_REMINDER: c.reminder_pay_by,
        Stage.LETTER_BEFORE_CLAIM: c.reply_by,
        Stage.NOTICE_OF_INTENTION: c.claim_after,
    }.get(c.stage)
    return waiting + timedelta(days=1) if waiting is not None else None


def _civil_missed(s: _Steps, rules: CivilRules, miss: MissedInstalment) -> None:
    """The invoice unpaid: the reminder, or the letter before claim where the council sends none."""
    c = s.case
    if not c.is_open or c.stage != Stage.BILLED or c.balance_pence <= 0:
        return  # closed, or the ladder has started: a later miss changes nothing
    c.fell_due_on = c.fell_due_on or miss.due_date
    today = miss.detected_on
    if _statute_barred(s, today):
        return
    _invoice_unpaid(s, rules, miss.due_date, today)


def _invoice_unpaid(s: _Steps, rules: CivilRules, invoice_due: date, today: date) -> None:
    """The council's reminder, or the letter before claim where it sends none."""
    c = s.case
    if not rules.ladder.sends_reminder:
        _letter_before_claim(s, rules, today)
        return
    c.reminders_sent += 1
    c.reminder_issued_on = today
    c.reminder_pay_by = rules.served(today) + timedelta(days=rules.ladder.reminder_pay_days)
    s.notices.append(
        NoticeToRequest(
            NoticeType.INVOICE_REMINDER,
            {"balance": c.balance_pence},
            {"invoice_due": invoice_due, "pay_by": c.reminder_pay_by},
        )
    )
    s.move(Stage.INVOICE_REMINDER, f"invoice due {invoice_due} not paid")


def _civil_advance(s: _Steps, rules: CivilRules, today: date) -> None:
    """Each wait's day after: the letter before claim, the notice of intention, the claim."""
    c = s.case
    due = _civil_next_action_on(c)
    if c.balance_pence <= 0 or due is None or today < due:
        return
    # Deductions from pay or benefits need no court, so the Limitation Act does not stop them.
    if c.stage == Stage.DEA:
        _reconcile_remittances(s, today)
        return
    if c.stage == Stage.DWP_REQUESTED:
        _dwp_unanswered(s, rules, today)
        return
    if c.stage == Stage.DWP_DEDUCTION:
        _reconcile_dwp(s, rules, today)
        return
    if _statute_barred(s, today):
        return
    if c.stage == Stage.INVOICED:
        assert c.reminder_pay_by is not None, "an invoice has a due date"
        c.fell_due_on = c.reminder_pay_by
        _invoice_unpaid(s, rules, c.reminder_pay_by, today)
    elif c.stage == Stage.INVOICE_REMINDER:
        _next_route(s, rules, today)
    elif c.stage == Stage.LETTER_BEFORE_CLAIM:
        _notice_of_intention(s, rules, today)
    elif c.stage == Stage.NOTICE_OF_INTENTION:
        _refer_claim(s, today)


def _statute_barred(s: _Steps, today: date) -> bool:
    """Closes a case whose six years have run (Limitation Act 1980 s.5 or s.9): no step
    threatens, or brings, a claim the debtor has a complete defence to."""
    c = s.case
    fell_due = c.fell_due_on or c.bill_issued_on
    if not limitation.is_time_barred(fell_due, c.debt_type, today):
        return False
    years, section = limitation.limitation_for(c.debt_type)
    c.is_open = False
    c.reminder_pay_by = c.reply_by = c.claim_after = None
    s.move(Stage.STATUTE_BARRED, f"fell due {fell_due}: no claim after {years} years ({section})")
    return True


def _letter_before_claim(s: _Steps, rules: CivilRules, today: date) -> None:
    c = s.case
    c.reminder_pay_by = None
    c.letter_before_claim_on = today
    c.reply_by = pre_action.reply_by(rules.served(today))
    s.notices.append(
        NoticeToRequest(NoticeType.LETTER_BEFORE_CLAIM, {"balance": c.balance_pence}, {"reply_by": c.reply_by})
    )
    s.move(Stage.LETTER_BEFORE_CLAIM, f"unpaid: {pre_action.LETTER_OF_CLAIM_REPLY_DAYS} days to reply, to {c.reply_by}")


def _notice_of_intention(s: _Steps, rules: CivilRules, today: date) -> None:
    c = s.case
    assert c.letter_before_claim_on is not None, "a notice of intention follows a letter before claim"
    c.reply_by = None
    c.notice_of_intention_on = today
    c.claim_after = pre_action.claim_after(rules.served(today))
    s.notices.append(
        NoticeToRequest(
            NoticeType.NOTICE_OF_INTENTION,
            {"balance": c.balance_pence},
            {"letter_before_claim_on": c.letter_before_claim_on, "claim_after": c.claim_after},
        )
    )
    s.move(Stage.NOTICE_OF_INTENTION, f"no agreement: a claim may follow after {c.claim_after}")


def _refer_claim(s: _Steps, today: date) -> None:
    c = s.case
    assert c.letter_before_claim_on is not None and c.notice_of_intention_on is not None
    c.claim_after = None
    c.claim_id, c.claim_referred_on = f"CLM-{c.case_id}", today
    decided = f" (decision of {c.hbop_decided_on})" if c.hbop_decided_on else ""
    particulars = (
        f"{CLAIMED_AS.get(c.debt_type, c.debt_type.value)}{decided}, invoiced on {c.bill_issued_on} and due on"
        f" {c.fell_due_on or c.bill_issued_on}; unpaid after a letter before claim of {c.letter_before_claim_on}"
        f" and a notice of intention of {c.notice_of_intention_on}"
    )
    s.claim = Claim(c.claim_id, c.balance_pence, c.letter_before_claim_on, c.notice_of_intention_on, particulars)
    s.move(Stage.CLAIM_REFERRED, f"claim {c.claim_id} referred to the county court")


# --- recovery from ongoing Housing Benefit (SI 2006/213 reg 102) [S36][S39] ---------
# Payments takes the deductions week by week; the case follows the route it is on.

_DEDUCTIBLE = frozenset(
    {
        Stage.BILLED,
        Stage.INVOICED,
        Stage.INVOICE_REMINDER,
        Stage.LETTER_BEFORE_CLAIM,
        Stage.REPLY_RECEIVED,
        Stage.NOTICE_OF_INTENTION,
    }
)


def on_hb_deductions_started(case: Case, rules: AnyRules, claim_ref: str, weekly_pence: int, on: date) -> Decision:
    """While the person's Housing Benefit award lasts the overpayment is recovered from it,
    and the invoice ladder waits: no reminder, letter or claim for money being deducted.
    A case already referred to the county court, or closed, only notes it."""
    s = _begin(case)
    c = s.case
    route = f"deductions from ongoing HB (claim {claim_ref}) of {pounds(weekly_pence)} a week from {on}"
    if not c.is_open or c.stage not in _DEDUCTIBLE:
        s.notes.append(Note("hb_deductions_started", f"{route}; the case is {c.stage.value}: no step changed"))
        return s.decide(rules, on)
    c.reminder_pay_by = c.reply_by = c.claim_after = None
    c.reply = None
    s.move(Stage.HB_DEDUCTION, route)
    return s.decide(rules, on)


def on_hb_deductions_stopped(case: Case, rules: AnyRules, award_ended: bool, on: date) -> Decision:
    """The award ended with money still owed: the next route, the invoice on the council's
    terms, then the ladder from its reminder. Paid off: the balance closes the case."""
    s = _begin(case)
    c = s.case
    if not award_ended or not c.is_open or c.stage != Stage.HB_DEDUCTION or c.balance_pence <= 0:
        why = "the award ended" if award_ended else "the overpayments are paid"
        s.notes.append(Note("hb_deductions_stopped", f"deductions from HB stopped on {on}: {why}"))
        return s.decide(rules, on)
    terms = rules.council.instalments.invoice_terms(c.debt_type)
    due = rules.served(on) + timedelta(days=terms)
    c.reminder_pay_by = due
    s.notices.append(NoticeToRequest(NoticeType.INVOICE, {"amount": c.balance_pence}, {"due_date": due}))
    s.move(Stage.INVOICED, f"HB award ended on {on}: invoiced for what is left, due {due}")
    return s.decide(rules, on)


def on_reply(case: Case, rules: AnyRules, reply: str, replied_on: date, offer_pence: int) -> Decision:
    """The debtor's reply holds the case for an officer: no further step is taken until
    they supply documents asked for or decide to continue to claim."""
    s = _begin(case)
    c = s.case
    words = reply.replace("_", " ")
    offer = f", offering {offer_pence}p a month" if offer_pence else ""
    if not c.is_open or c.claim_id is not None:
        s.notes.append(Note("reply_received", f"{words}{offer} (the case is {c.stage.value}: no step held)"))
    elif c.stage in _REPLY_AWAITED:
        c.reply, c.reply_by, c.claim_after = reply, None, None
        s.move(Stage.REPLY_RECEIVED, f"debtor replied on {replied_on}: {words}{offer}; held for an officer")
    else:
        raise Refused(
            f"a reply to a letter before claim came for debt {c.debt_id}, which has had no letter before claim (it is"
            f" at {c.stage.value}): check the debt id on the Reply Form and send the reply again under the right one"
        )
    return s.decide(rules, replied_on)


def _awaiting_officer(c: Case, command: str) -> None:
    if not c.is_open or c.stage != Stage.REPLY_RECEIVED:
        raise Refused(
            f"case {c.case_id} is at {c.stage.value}{'' if c.is_open else ' (closed)'}: '{command}' is for a case"
            " held on the debtor's reply to a letter before claim"
        )


def documents_supplied(case: Case, rules: CivilRules, on: date) -> Decision:
    """The documents the debtor asked for are sent: the Protocol's 30 days run again from
    their served date, then the ladder carries on [S45]."""
    _awaiting_officer(case, "documents supplied")
    s = _begin(case)
    c = s.case
    c.reply = None
    c.reply_by = pre_action.reply_by_after_documents(rules.served(on))
    s.move(
        Stage.LETTER_BEFORE_CLAIM,
        f"documents supplied on {on}: {pre_action.DOCUMENTS_REPLY_DAYS} days to reply, to {c.reply_by}",
    )
    return s.decide(rules, on)


def continue_to_claim(case: Case, rules: CivilRules, on: date) -> Decision:
    """The officer has considered the reply: the notice of intention follows."""
    _awaiting_officer(case, "continue to claim")
    if case.held:
        raise Refused(
            f"case {case.case_id} is held since {case.held_since}: no step is taken while a hold stands;"
            " continue to claim once it is released"
        )
    s = _begin(case)
    if not _statute_barred(s, on):
        s.case.reply = None
        _notice_of_intention(s, rules, on)
    return s.decide(rules, on)


def on_county_outcome(case: Case, rules: AnyRules, outcome: str, dated: date, costs_pence: int) -> Decision:
    """What the county court did on the claim, as the case's state; its costs are added to
    the debt as court costs are."""
    s = _begin(case)
    if costs_pence:
        s.costs.append(Costs(f"county_{outcome}", costs_pence))
    s.move(COUNTY_OUTCOMES[outcome], f"county court {outcome} on {dated}")
    return s.decide(rules, dated)


# --- Direct Earnings Attachment (SI 2013/384 Part 6) [S42][S42c][S43] ---------------
# Once the invoice and its reminder go unpaid, an overpayment is recovered from the
# person's pay where their employer is known and the council puts that route before a
# county court claim ([hbop] after_invoice). The employer deducts each pay-day by the
# statute's table and pays the month's deductions over by the 19th of the next month;
# the day after, the council checks what arrived against what it expected.

_ATTACHABLE = frozenset({Stage.LETTER_BEFORE_CLAIM, Stage.NOTICE_OF_INTENTION})
"""Past the invoice and its reminder, with no claim made or being weighed: a reminder's
days to pay run out first (then the daily run attaches), and a reply to the letter before
claim waits for an officer."""

DEBTOR_NAME = "{debtor}"
"""Stands for the person's name in a notice to their employer: the mapper fills it in,
as names are not part of the case the rules see."""


def on_employment_reported(case: Case, rules: AnyRules, employment: Employment, today: date) -> Decision:
    """The person's employer and earnings: kept on every case of theirs (another remedy
    may need them); an HB overpayment past its invoice goes to a Direct Earnings
    Attachment at once, and one already attached follows the person to a new employer."""
    s = _begin(case)
    c = s.case
    c.employment = employment
    earnings = f"{pounds(employment.net_earnings_pence)} {employment.pay_frequency.value}"
    s.notes.append(Note("employment_reported", f"employer {employment.employer_ref}, {earnings} net"))
    if not c.is_open or c.held or not isinstance(rules, CivilRules):
        return s.decide(rules, today)
    if c.stage == Stage.DEA and c.attachment is not None:
        if c.attachment.employer_ref == employment.employer_ref:
            c.attachment = _estimate(c.attachment, c, employment)
            return s.decide(rules, today)
        # A new employer: the attachment to the old one lapses (reg 27) and a new notice goes out.
        s.notes.append(Note("dea_employer_changed", f"from {c.attachment.employer_ref} to {employment.employer_ref}"))
        c.attachment = None
        if not _attach_earnings(s, rules, today):
            _next_route(s, rules, today, after=DEA_ROUTE)
    elif c.stage in _ATTACHABLE:
        _attach_earnings(s, rules, today)
    return s.decide(rules, today)


def on_employment_ended(case: Case, rules: AnyRules, employer_ref: str, left_on: date, today: date) -> Decision:
    """The employer says the person has left (reg 24): the attachment to that employer
    lapses and the overpayment goes on to the county court route."""
    s = _begin(case)
    c = s.case
    if c.employment is not None and c.employment.employer_ref == employer_ref:
        c.employment = None
    attached = c.stage == Stage.DEA and c.attachment is not None and c.attachment.employer_ref == employer_ref
    s.notes.append(Note("employment_ended", f"left employer {employer_ref} on {left_on}"))
    if attached:
        c.attachment = None
        if c.is_open and c.balance_pence > 0 and isinstance(rules, CivilRules) and not c.held:
            _next_route(s, rules, today, after=DEA_ROUTE)
    return s.decide(rules, today)


def on_employer_remittance(case: Case, rules: AnyRules, amount_pence: int, received_on: date) -> Decision:
    """Money an employer paid over under the attachment, counted towards what is expected."""
    s = _begin(case)
    c = s.case
    if c.attachment is None:
        s.notes.append(Note("employer_remittance", f"{pounds(amount_pence)} with no attachment in force"))
    else:
        c.attachment = replace(c.attachment, remitted_pence=c.attachment.remitted_pence + amount_pence)
        s.notes.append(Note("employer_remittance", f"{pounds(amount_pence)} received {received_on}"))
    return s.decide(rules, received_on)


def _attach_earnings(s: _Steps, rules: CivilRules, today: date) -> bool:
    """Serves the DEA notice on the employer, with a copy to the person, where the law and
    the council allow; says whether it did."""
    c = s.case
    e = c.employment
    if c.debt_type != DebtType.HB_OVERPAYMENT or e is None or DEA_ROUTE not in rules.council.hbop.after_invoice:
        return False
    first_pay_day = _pay_day_on_or_after(e.next_pay_day, e.pay_frequency, housing_benefit.first_deduction_day(today))
    attachment = _estimate(
        Attachment(
            employer_ref=e.employer_ref,
            percent=0,
            deduction_pence=0,
            pay_frequency=e.pay_frequency,
            first_pay_day=first_pay_day,
            owed_at_start_pence=c.balance_pence,
            started_on=today,
            reconcile_on=_day_after_remittance_due(first_pay_day),
        ),
        c,
        e,
    )
    if attachment.deduction_pence <= 0:
        nil_band = f"net earnings of {pounds(e.net_earnings_pence)} {e.pay_frequency.value} are in the table's nil band"
        s.notes.append(Note("dea_not_possible", nil_band))
        return False
    c.attachment = attachment
    c.reminder_pay_by = c.reply_by = c.claim_after = None
    amounts = {"owed": c.balance_pence, "deduction": attachment.deduction_pence, "net_earnings": e.net_earnings_pence}
    terms: dict[str, str | bool] = {
        "pay_frequency": e.pay_frequency.value,
        "percent": str(attachment.percent),
        "fraud": _higher_rates(c),
    }
    s.notices.append(
        NoticeToRequest(
            NoticeType.DEA_EMPLOYER,
            amounts,
            {"first_pay_day": first_pay_day, "remit_by": housing_benefit.remittance_due(first_pay_day)},
            template_data={**terms, "employer_ref": e.employer_ref, "employee_name": DEBTOR_NAME},
            to=Addressee(e.employer_name, e.employer_address),
        )
    )
    s.notices.append(
        NoticeToRequest(
            NoticeType.DEA_DEBTOR,
            amounts,
            {"first_pay_day": first_pay_day},
            template_data={**terms, "employer_name": e.employer_name},
        )
    )
    s.move(
        Stage.DEA,
        f"Direct Earnings Attachment with employer {e.employer_ref}: {attachment.percent}% of"
        f" {pounds(e.net_earnings_pence)} {e.pay_frequency.value}, about {pounds(attachment.deduction_pence)}"
        f" a pay-day from {first_pay_day}",
    )
    return True


def _higher_rates(c: Case) -> bool:
    return c.hbop_classification in {k.value for k in housing_benefit.FRAUD_TABLES_APPLY_TO}


def _estimate(a: Attachment, c: Case, e: Employment) -> Attachment:
    """The table's percentage and one pay-day's deduction on the earnings last reported."""
    fraud = _higher_rates(c)
    percent = housing_benefit.dea_percent(e.net_earnings_pence, e.pay_frequency, fraud=fraud)
    deduction = housing_benefit.dea_deduction(
        e.net_earnings_pence, e.pay_frequency, fraud=fraud, owed_pence=a.owed_at_start_pence
    )
    return replace(a, percent=percent, deduction_pence=deduction, pay_frequency=e.pay_frequency)


def _reconcile_remittances(s: _Steps, today: date) -> None:
    """The day after a remittance fell due: what the employer has paid over against the
    deductions expected from every pay-day up to the end of the month before; a shortfall
    is put to the employer."""
    c = s.case
    a = c.attachment
    assert a is not None, "a case at DEA has its attachment"
    deducted_through = date(a.reconcile_on.year, a.reconcile_on.month, 1) - timedelta(days=1)
    pay_days = _pay_days_between(a.first_pay_day, a.pay_frequency, deducted_through)
    expected = min(pay_days * a.deduction_pence, a.owed_at_start_pence)
    figures = f"expected {pounds(expected)} for pay-days to {deducted_through}, received {pounds(a.remitted_pence)}"
    c.attachment = replace(
        a,
        reconcile_on=_day_after_remittance_due(a.reconcile_on),
        short_pence=max(expected - a.remitted_pence, 0),
    )
    if a.remitted_pence >= expected:
        s.notes.append(Note("dea_remittances_reconciled", figures))
        return
    e = c.employment
    s.notes.append(Note("dea_remittance_missed", figures))
    s.notices.append(
        NoticeToRequest(
            NoticeType.DEA_REMITTANCE_MISSED,
            {"expected": expected, "received": a.remitted_pence, "shortfall": expected - a.remitted_pence},
            {"deducted_through": deducted_through, "remit_by": housing_benefit.remittance_due(deducted_through)},
            template_data={"employer_ref": a.employer_ref, "employee_name": DEBTOR_NAME},
            to=Addressee(e.employer_name, e.employer_address) if e is not None else None,
        )
    )


_STEP_DAYS = {PayFrequency.WEEKLY: 7, PayFrequency.FORTNIGHTLY: 14, PayFrequency.FOUR_WEEKLY: 28}
_MOST_PAY_DAYS = 53 * 6
"""Bounds a walk along pay-days: six years of weekly pay."""


def _next_pay_day(day: date, frequency: PayFrequency) -> date:
    step = _STEP_DAYS.get(frequency)
    return day + timedelta(days=step) if step is not None else _months_after(day, 1)


def _pay_day_on_or_after(pay_day: date, frequency: PayFrequency, earliest: date) -> date:
    """The first pay-day on or after ``earliest`` (the day the notice has effect from)."""
    for _ in range(_MOST_PAY_DAYS):
        if pay_day >= earliest:
            return pay_day
        pay_day = _next_pay_day(pay_day, frequency)
    raise Refused(f"the pay-day reported is years before {earliest}: report the person's pay again")


def _pay_days_between(first: date, frequency: PayFrequency, through: date) -> int:
    days, pay_day = 0, first
    while pay_day <= through and days < _MOST_PAY_DAYS:
        days += 1
        pay_day = _next_pay_day(pay_day, frequency)
    return days


def _day_after_remittance_due(deducted_on: date) -> date:
    return housing_benefit.remittance_due(deducted_on) + timedelta(days=1)


def _discharge(s: _Steps, why: str, on: date) -> None:
    """Tells the employer to stop deducting: the council discharges the notice (reg 26)."""
    c = s.case
    a, e = c.attachment, c.employment
    if a is None:
        return
    c.attachment = None
    s.notes.append(Note("dea_discharged", f"employer {a.employer_ref}: {why}"))
    s.notices.append(
        NoticeToRequest(
            NoticeType.DEA_DISCHARGED,
            {"remitted": a.remitted_pence},
            {"discharged_on": on},
            template_data={"employer_ref": a.employer_ref, "employee_name": DEBTOR_NAME, "reason": why},
            to=Addressee(e.employer_name, e.employer_address) if e is not None else None,
        )
    )


# --- the council's order of routes, and deduction from other benefits ---------------
# An overpayment's invoice and reminder unpaid, the council's [hbop] after_invoice order
# decides what comes next; a route that cannot be taken (no employer known, earnings in
# the nil band, the DWP refusing or not answering) passes to the next. The DWP recovers
# from the person's other benefits at a weekly rate it sets itself and pays the council
# over (DWP Debt Management; the council keeps the debt) [S40][S41].

DEA_ROUTE = "direct_earnings_attachment"
DWP_ROUTE = "dwp_deduction"
COURT_ROUTE = "county_court"


def _next_route(s: _Steps, rules: CivilRules, today: date, *, after: str | None = None) -> None:
    """The first route in the council's order, after ``after``, that can be taken."""
    c = s.case
    order: list[str] = (
        list(rules.council.hbop.after_invoice) if c.debt_type == DebtType.HB_OVERPAYMENT else [COURT_ROUTE]
    )
    for route in order[order.index(after) + 1 if after in order else 0 :]:
        if route == DEA_ROUTE and _attach_earnings(s, rules, today):
            return
        if route == DWP_ROUTE and _ask_dwp(s, rules, today):
            return
        if route == COURT_ROUTE:
            _letter_before_claim(s, rules, today)
            return


def on_deduction_accepted(
    case: Case, rules: AnyRules, request_id: str, weekly_pence: int, first_on: date, today: date
) -> Decision:
    """The DWP will deduct ``weekly_pence`` a week from ``first_on``: the case waits on it,
    and checks what the DWP pays over."""
    s = _begin(case)
    c = s.case
    d = c.benefit_deduction
    if d is None or d.request_id != request_id or d.status != DeductionStatus.REQUESTED:
        s.notes.append(Note("dwp_answer_not_awaited", f"request {request_id} accepted; the case is {c.stage.value}"))
        if d is not None and d.request_id == request_id and d.status == DeductionStatus.UNANSWERED:
            # Answered after the council moved on: the DWP is told not to deduct after all.
            s.deduction_cancel = DeductionCancel(request_id, f"answered after {d.answer_by}; recovered another way")
        return s.decide(rules, today)
    every = timedelta(days=rules.council.hbop.dwp_paid_every_days)
    c.benefit_deduction = replace(
        d,
        status=DeductionStatus.ACCEPTED,
        weekly_pence=weekly_pence,
        first_on=first_on,
        owed_at_start_pence=c.balance_pence,
        reconcile_on=first_on + every + _DWP_GRACE,
    )
    s.move(Stage.DWP_DEDUCTION, f"the DWP deducts {pounds(weekly_pence)} a week from other benefits from {first_on}")
    return s.decide(rules, today)


def on_deduction_refused(case: Case, rules: AnyRules, request_id: str, reason: str, today: date) -> Decision:
    """The DWP cannot deduct (no benefit in payment, or the person's deductions at their
    limit): the next route."""
    s = _begin(case)
    c = s.case
    d = c.benefit_deduction
    s.notes.append(Note("dwp_refused", f"request {request_id}: {reason}"))
    awaited = d is not None and d.request_id == request_id and d.status == DeductionStatus.REQUESTED
    if awaited and d is not None:
        c.benefit_deduction = replace(d, status=DeductionStatus.REFUSED)
        if c.stage == Stage.DWP_REQUESTED and c.is_open and not c.held and isinstance(rules, CivilRules):
            _next_route(s, rules, today, after=DWP_ROUTE)
    return s.decide(rules, today)


def on_dwp_remittance(case: Case, rules: AnyRules, amount_pence: int, received_on: date) -> Decision:
    """Money the DWP paid over from the person's benefits, counted against what it promised."""
    s = _begin(case)
    c = s.case
    d = c.benefit_deduction
    if d is None or d.status != DeductionStatus.ACCEPTED:
        s.notes.append(Note("dwp_remittance", f"{pounds(amount_pence)} with no deduction agreed"))
    else:
        c.benefit_deduction = replace(d, remitted_pence=d.remitted_pence + amount_pence)
        s.notes.append(Note("dwp_remittance", f"{pounds(amount_pence)} received {received_on}"))
    return s.decide(rules, received_on)


_DWP_GRACE = timedelta(days=7)
"""Each payment over is checked a week after it is due: money in transit is not a shortfall."""


def _ask_dwp(s: _Steps, rules: CivilRules, today: date) -> bool:
    """Asks the DWP to recover the overpayment from the person's other benefits, with a
    letter telling the person; not again once the DWP has refused or not answered."""
    c = s.case
    d = c.benefit_deduction
    if DWP_ROUTE not in rules.council.hbop.after_invoice or c.debt_type != DebtType.HB_OVERPAYMENT:
        return False
    if d is not None and d.status in (DeductionStatus.REFUSED, DeductionStatus.UNANSWERED):
        return False
    answer_by = today + timedelta(days=rules.council.hbop.dwp_answer_days)
    request_id = f"DWP-{c.case_id}-{today.isoformat()}"
    c.benefit_deduction = BenefitDeduction(request_id, DeductionStatus.REQUESTED, today, answer_by)
    s.deduction_request = DeductionRequest(request_id, c.balance_pence, _higher_rates(c), answer_by)
    c.reminder_pay_by = c.reply_by = c.claim_after = None
    s.notices.append(
        NoticeToRequest(
            NoticeType.DWP_DEDUCTION_REQUESTED,
            {"owed": c.balance_pence},
            {"answer_by": answer_by},
            template_data={"fraud": _higher_rates(c)},
        )
    )
    s.move(Stage.DWP_REQUESTED, f"asked the DWP to recover {pounds(c.balance_pence)} from other benefits")
    return True


def _dwp_unanswered(s: _Steps, rules: CivilRules, today: date) -> None:
    c = s.case
    d = c.benefit_deduction
    assert d is not None, "a case waiting on the DWP has its request"
    c.benefit_deduction = replace(d, status=DeductionStatus.UNANSWERED)
    s.notes.append(Note("dwp_unanswered", f"request {d.request_id}: no answer by {d.answer_by}"))
    _next_route(s, rules, today, after=DWP_ROUTE)


def _reconcile_dwp(s: _Steps, rules: CivilRules, today: date) -> None:
    """A week after each payment over fell due: what the DWP has paid against the weeks it
    promised up to then (never more than was owed when it agreed)."""
    c = s.case
    d = c.benefit_deduction
    assert d is not None and d.first_on is not None and d.reconcile_on is not None
    due_on = d.reconcile_on - _DWP_GRACE
    weeks = max(0, -(-(due_on - d.first_on).days // 7))
    expected = min(weeks * d.weekly_pence, d.owed_at_start_pence)
    every = timedelta(days=rules.council.hbop.dwp_paid_every_days)
    c.benefit_deduction = replace(
        d, reconcile_on=d.reconcile_on + every, short_pence=max(expected - d.remitted_pence, 0)
    )
    figures = f"expected {pounds(expected)} for {weeks} weeks to {due_on}, received {pounds(d.remitted_pence)}"
    if d.remitted_pence >= expected:
        s.notes.append(Note("dwp_remittances_reconciled", figures))
    else:
        s.notes.append(Note("dwp_remittance_short", f"{figures}: short by {pounds(expected - d.remitted_pence)}"))


def _cancel_dwp(s: _Steps, why: str) -> None:
    """Tells the DWP to stop deducting (or not to start)."""
    c = s.case
    d = c.benefit_deduction
    if d is None or d.status not in (DeductionStatus.REQUESTED, DeductionStatus.ACCEPTED):
        return
    c.benefit_deduction = replace(d, status=DeductionStatus.CANCELLED)
    s.deduction_cancel = DeductionCancel(d.request_id, why)
    s.notes.append(Note("dwp_cancelled", f"request {d.request_id}: {why}"))
