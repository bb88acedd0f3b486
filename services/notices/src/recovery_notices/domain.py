"""What each notice says: the figures and dates a notice needs, checked and
completed from the request, then put into words by the notice type's template
(``recovery_notices/templates/<notice type>.html``, or the council's own).

Pure: no I/O beyond rendering an already compiled template, no clock.

Dates. A notice is served on the council's deemed-service day
(``recovery_shared.statute.service.served_on`` with ``CouncilConfig.service``).
The deadlines a notice prints are the ones enforcement put in the request; where
a request leaves one out and this module derives it from a statutory period, it
counts from the served date, which is never earlier than the period the
regulation itself counts (from issue, for most of them) and so never early.

The Council Tax and Business Rates periods, the fee scale and the service rule
are ``recovery_shared.statute``'s (council_tax, business_rates, fees, service).

Sources (../shared/domain.md; the templates cite each paragraph beside its words):
- Council Tax (Administration and Enforcement) Regulations 1992 (SI 1992/613):
  reg 23 reminders, reg 33 final notice, reg 34(1) the 7 days before a complaint,
  reg 35(2A) 14 days between serving a summons and a liability order.
- Non-Domestic Rating (Collection and Enforcement) (Local Lists) Regulations
  1989 (SI 1989/1058): reg 8 the further notice, reg 12 the summons.
- Taking Control of Goods Regulations 2013 (SI 2013/1894) regs 6-8 and the Taking
  Control of Goods (Fees) Regulations 2014 (SI 2014/1) Schedule.
- Pre-Action Protocol for Debt Claims: the letter before claim, 30 days to reply,
  with its enclosures (statement of account, Information Sheet, Reply Form,
  Financial Statement), and the notice of intention before a claim is issued.
- Housing Benefit Regulations 2006 (SI 2006/213) reg 90 and Sch 9 para 15, and the
  HB (Decisions and Appeals) Regulations 2001 (SI 2001/1002) regs 4 and 18: the
  overpayment decision notice and its one month to ask for a reconsideration or
  appeal (``recovery_shared.statute.housing_benefit``).
- Social Security (Overpayments and Recovery) Regulations 2013 (SI 2013/384) Part 6:
  the Direct Earnings Attachment notice to the employer (reg 19, with the Schedule 2
  tables of reg 20), the person's copy, the letter to an employer whose
  deductions were not paid over by the 19th (reg 22), and the notice telling the
  employer the attachment is discharged (reg 26)
  (``recovery_shared.statute.housing_benefit``: the tables, the 40% cap, the 19th).
- Social Security Administration Act 1992 s.75 and SI 2013/384 Part 5 (regs 10-14,
  recovery by deduction from benefits): the letter telling the person the council has
  asked the DWP (DWP Debt Management) to recover the overpayment from their other
  benefits; the council keeps the debt [S40][S41].

A request missing something its notice cannot be served without (a summons
without a hearing date, a reminder without the amount overdue) is refused with
a reason a person can act on; anything optional that is missing is left out.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from recovery_notices.templating import Block, NoticeTemplates, load_templates, long_date
from recovery_shared.contracts.common import HbopClassification, LiableRole, PayFrequency
from recovery_shared.contracts.inbound import ReplyKind
from recovery_shared.contracts.internal import NoticeRequestedData, NoticeType
from recovery_shared.council import CouncilConfig, Remedy, ServiceRule
from recovery_shared.money import pounds
from recovery_shared.refusal import Refused
from recovery_shared.statute.business_rates import BUSINESS_RATES
from recovery_shared.statute.council_tax import COUNCIL_TAX, RecoveryStatute
from recovery_shared.statute.housing_benefit import (
    DEA_CAP_PERCENT,
    NOTICE_EFFECT_DAYS,
    RECONSIDERATION_MONTHS,
    REMIT_BY_DAY,
    dea_percent,
    first_deduction_day,
    is_recoverable,
    remittance_due,
)
from recovery_shared.statute.pre_action import LETTER_OF_CLAIM_REPLY_DAYS
from recovery_shared.statute.service import served_on
from recovery_shared.statute.taking_control import NOTICE_OF_ENFORCEMENT_CLEAR_DAYS

# The Council Tax and Business Rates periods are recovery_shared.statute's; these
# are the ones only notices states.

# Labels for the amounts and dates enforcement sends; any other key is shown too,
# after these, with a label made from its name.
AMOUNT_LABELS: dict[str, str] = {
    "amount_to_pay": "Amount overdue: pay now",
    "instalment": "Instalment missed",
    "amount": "Amount due",
    "balance": "Balance outstanding",
    "overpaid": "Housing Benefit overpaid",
    "weekly_deduction": "Weekly deduction from your Housing Benefit",
    "owed": "Housing Benefit overpayment still owed",
    "net_earnings": "Net earnings on a usual pay-day, as last reported",
    "deduction": "Estimated deduction each pay-day",
    "expected": "Deductions that should have been paid to us",
    "received": "Deductions we have received",
    "shortfall": "Shortfall still to be paid",
    "remitted": "Deductions we have received under this notice",
    "summons_costs": "Summons costs",
    "liability_order_costs": "Liability order costs",
    "compliance_fee": "Enforcement agent's compliance fee",
    "total": "Total now due",
}
DATE_LABELS: dict[str, str] = {
    "missed_instalment_due": "Instalment missed (was due)",
    "pay_by": "Pay by",
    "due_date": "Payment due by",
    "balance_due_if_unpaid": "Whole balance due if unpaid",
    "court_application_from": "Court application from",
    "hearing_date": "Hearing date",
    "liability_order_date": "Liability order made",
    "referred_on": "Passed to enforcement agent",
    "first_pay_day": "Deductions start from the pay-day on",
    "deducted_through": "Deductions for pay-days up to",
    "discharged_on": "Notice discharged with effect from",
    "remit_by": "Deductions to be paid to us by",
    "reply_by": "Reply by",
    "invoice_due": "Invoice was due",
    "letter_before_claim_on": "Letter before claim sent",
    "claim_after": "Claim may be issued after",
    "period_start": "Overpaid from",
    "period_end": "Overpaid to",
    "decided_on": "Decision made",
    "reconsider_by": "Ask for a reconsideration or appeal by",
    "answer_by": "DWP's answer expected by",
}

DEBT_TYPE_NAMES: dict[str, str] = {
    "CT": "Council Tax",
    "NNDR": "Business Rates",
    "HBOP": "Housing Benefit overpayment",
    "TA": "Temporary accommodation charges",
    "SUNDRY": "Sundry debt",
}

SERVICE_METHOD_WORDS = {
    "second_class_post": "second-class post",
    "first_class_post": "first-class post",
    "hand_delivery": "hand delivery",
}

REMEDY_WORDS: dict[Remedy, str] = {
    Remedy.ENFORCEMENT_AGENT: "passing the debt to enforcement agents (bailiffs)",
    Remedy.ATTACHMENT_OF_EARNINGS: "asking your employer to take it from your earnings",
    Remedy.DEDUCTION_FROM_BENEFITS: "asking the Department for Work and Pensions to take it from your benefits",
    Remedy.ATTACHMENT_OF_ALLOWANCES: "taking it from allowances paid to you as a councillor",
    Remedy.CHARGING_ORDER: "applying for a charging order on property you own",
    Remedy.BANKRUPTCY: "bankruptcy or winding-up proceedings",
    Remedy.COMMITTAL: "applying for committal to prison",
}


def label_for(key: str, labels: Mapping[str, str]) -> str:
    return labels.get(key) or key.replace("_", " ").strip().capitalize()


@dataclass(frozen=True)
class AmountLine:
    key: str
    label: str
    pence: int

    @property
    def shown(self) -> str:
        return pounds(self.pence)


@dataclass(frozen=True)
class DateLine:
    key: str
    label: str
    on: date

    @property
    def shown(self) -> str:
        return long_date(self.on)


@dataclass(frozen=True)
class NoticeContent:
    """Everything printed on one notice, in the order it is printed."""

    request_id: str
    notice_type: NoticeType
    council_name: str
    title: str
    account_ref: str
    issued_on: date
    served_on: date
    recipient_name: str
    recipient_address: tuple[str, ...]
    references: tuple[tuple[str, str], ...]
    blocks: tuple[Block, ...]
    amounts: tuple[AmountLine, ...]
    key_dates: tuple[DateLine, ...]
    template_version: str

    def amount(self, key: str) -> int | None:
        return next((a.pence for a in self.amounts if a.key == key), None)

    def day(self, key: str) -> date | None:
        return next((d.on for d in self.key_dates if d.key == key), None)

    def text(self) -> str:
        """All the words on the notice, for tests and previews."""
        lines = [self.council_name, self.recipient_name, *self.recipient_address]
        lines += [f"{k}: {v}" for k, v in self.references]
        lines += [block.plain() for block in self.blocks]
        return "\n".join(lines)


# --- reading the request ------------------------------------------------------


# Where a notice type's code does not read as words in a refusal ("a hbop decision").
_KIND_WORDS = {
    NoticeType.HBOP_DECISION: "HB overpayment decision",
    NoticeType.DEA_EMPLOYER: "Direct Earnings Attachment notice to an employer",
    NoticeType.DEA_DEBTOR: "Direct Earnings Attachment notice to the person whose earnings are attached",
    NoticeType.DEA_REMITTANCE_MISSED: "Direct Earnings Attachment missed payment letter",
    NoticeType.DEA_DISCHARGED: "Direct Earnings Attachment discharge notice",
    NoticeType.DWP_DEDUCTION_REQUESTED: "DWP deduction request letter to the person",
}

# The notices recovering a Housing Benefit overpayment from earnings (SI 2013/384 Part 6).
_DEA_NOTICES = frozenset(
    {NoticeType.DEA_EMPLOYER, NoticeType.DEA_DEBTOR, NoticeType.DEA_REMITTANCE_MISSED, NoticeType.DEA_DISCHARGED}
)
# The notices only ever about a Housing Benefit overpayment.
_HBOP_NOTICES = _DEA_NOTICES | {NoticeType.HBOP_DECISION, NoticeType.DWP_DEDUCTION_REQUESTED}


class _Request:
    """The request's figures, with a refusal that names what is missing."""

    def __init__(self, data: NoticeRequestedData, served: date, council: CouncilConfig | None) -> None:
        self.data = data
        self.served = served
        self.council = council
        self.kind = _KIND_WORDS.get(data.notice_type, data.notice_type.value.replace("_", " "))
        self.a_kind = f"{'an' if self.kind[0] in 'aeiouH' else 'a'} {self.kind}"

    def amount(self, *keys: str) -> int | None:
        return next((self.data.amounts[k] for k in keys if k in self.data.amounts), None)

    def day(self, *keys: str) -> date | None:
        return next((self.data.dates[k] for k in keys if k in self.data.dates), None)

    def require_amount(self, *keys: str, why: str, positive: bool = True) -> int:
        value = self.amount(*keys)
        if value is None:
            raise Refused(f"{self.a_kind} needs amounts[{keys[0]!r}] ({why}); request {self.data.request_id}")
        if positive and value <= 0:
            raise Refused(
                f"{self.a_kind} cannot be served for {pounds(value)} ({keys[0]}): nothing is owed;"
                f" request {self.data.request_id}"
            )
        return value

    def require_date(self, *keys: str, why: str) -> date:
        value = self.day(*keys)
        if value is None:
            raise Refused(f"{self.a_kind} needs dates[{keys[0]!r}] ({why}); request {self.data.request_id}")
        return value

    @property
    def court(self) -> str:
        if given := self.given("court"):
            return given
        return self.council.court.name if self.council is not None else "the magistrates' court"

    def given(self, key: str) -> str:
        value: Any = self.data.template_data.get(key)
        return str(value).strip() if value not in (None, "") else ""

    @property
    def debt_type(self) -> str:
        """The debt type code ('CT' when the request does not say, as enforcement's ladders assume)."""
        given = self.given("debt_type").upper()
        if given:
            return given
        if self.data.notice_type in _HBOP_NOTICES:
            return "HBOP"
        return "NNDR" if self.data.notice_type == NoticeType.NNDR_FURTHER_NOTICE else "CT"


@dataclass
class _Facts:
    """What a notice type adds to the request: derived amounts and dates, extra
    references, and anything its template needs beyond the common context."""

    amounts: dict[str, int] = field(default_factory=dict)
    dates: dict[str, date] = field(default_factory=dict)
    references: list[tuple[str, str]] = field(default_factory=list)
    context: dict[str, object] = field(default_factory=dict)


def _remedies(council: CouncilConfig | None, debt_type: str) -> list[str]:
    if council is None:
        return []
    try:
        ladder = council.ladder(debt_type)
    except KeyError:
        return []
    return [REMEDY_WORDS[r] for r in ladder.remedies]


# --- one set of facts per notice type -------------------------------------------


def _pay_within(r: _Request, statute: RecoveryStatute) -> _Facts:
    # SI 1992/613 reg 23(3) / SI 1989/1058 reg 8(2): pay within 7 days, then the
    # balance is due 7 days after the failure; the days run from the served date.
    facts = _Facts()
    pay_by = r.day("pay_by")
    if pay_by is None:
        pay_by = statute.reminder_pay_by(r.served)
        facts.dates["pay_by"] = pay_by
    if r.day("balance_due_if_unpaid") is None:
        facts.dates["balance_due_if_unpaid"] = statute.balance_due_after_failure(statute.failure_on(pay_by))
    return facts


def _reminder(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("amount_to_pay", why="what is overdue now, which the reminder asks for")
    # Debts with no statutory reminder (HBOP, TA, sundry) are given the same days.
    return _pay_within(r, COUNCIL_TAX)


def _nndr_further_notice(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("amount_to_pay", why="the instalments required to be paid (reg 8(1))")
    return _pay_within(r, BUSINESS_RATES)


def _final_notice(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("balance", "total", why="the amount the final notice demands")
    facts = _Facts()
    if r.day("court_application_from") is None:
        facts.dates["court_application_from"] = COUNCIL_TAX.court_application_from(r.served)
    return facts


def _summons(r: _Request, council: CouncilConfig | None) -> _Facts:
    hearing = r.require_date("hearing_date", why="the day the court hears the complaint")
    statute = BUSINESS_RATES if r.debt_type == "NNDR" else COUNCIL_TAX
    earliest = statute.liability_order_earliest(r.served)
    if hearing < earliest:
        raise Refused(
            f"a summons issued on {r.data.issued_on} and served on {r.served} cannot have its hearing on {hearing}:"
            f" no liability order can be made until {statute.liability_order_after_service_days} days have elapsed"
            f" since the day the summons was served (CT reg 35(2A); NNDR reg 12), so the earliest hearing is"
            f" {earliest};"
            f" request {r.data.request_id}"
        )
    balance = r.require_amount("balance", why="the unpaid amount the complaint is for")
    facts = _Facts()
    costs = r.amount("summons_costs") or 0
    if r.amount("total") is None:
        facts.amounts["total"] = balance + costs
    order_costs = r.amount("liability_order_costs")
    if order_costs is None and council is not None:
        try:
            order_costs = council.ladder(r.debt_type).liability_order_costs_pence
        except KeyError:
            order_costs = None
    facts.references.append(("Court", r.court))
    facts.context["liability_order_costs"] = order_costs
    return facts


def _agent_referral_letter(r: _Request, council: CouncilConfig | None) -> _Facts:
    order_date = r.require_date("liability_order_date", why="an agent may act only under a liability order")
    if order_date > r.data.issued_on:
        raise Refused(
            f"an agent referral letter dated {r.data.issued_on} cannot rely on a liability order of {order_date};"
            f" request {r.data.request_id}"
        )
    balance = r.require_amount("balance", why="the amount passed to the enforcement agent")
    facts = _Facts()
    scale = None
    if council is not None:
        try:
            scale = council.agent_fees_on(r.data.issued_on)
        except LookupError:
            scale = None
    compliance = r.amount("compliance_fee")
    if compliance is None and scale is not None:
        compliance = scale.compliance_fee_pence
        facts.amounts["compliance_fee"] = compliance
    fees: dict[str, object] | None = None
    if scale is not None:
        fees = {
            "compliance": compliance if compliance is not None else scale.compliance_fee_pence,
            "enforcement": scale.enforcement_fee_pence,
            "sale": scale.sale_fee_pence,
            "threshold": scale.percentage_threshold_pence,
            "percent": f"{scale.percentage_basis_points / 100:g}%",
            "enforcement_here": scale.enforcement_fee_pence + scale.percentage_fee_pence(balance),
            "sale_here": scale.sale_fee_pence + scale.percentage_fee_pence(balance),
        }
    agent = r.given("agent") or (
        council.enforcement_agents[0] if council is not None and len(council.enforcement_agents) == 1 else ""
    )
    if agent:
        facts.references.append(("Enforcement agent", agent))
    facts.context["fees"] = fees
    facts.context["agent"] = {
        "name": agent,
        "phone": r.given("agent_phone"),
        "address": r.given("agent_address"),
        "hours": r.given("agent_hours"),
    }
    return facts


def _invoice(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("amount", "balance", "total", why="the amount invoiced")
    facts = _Facts()
    if r.day("due_date", "pay_by") is None:
        # The council's invoice terms, the same ones arrangements schedules the payment by.
        if council is None:
            raise Refused(f"an invoice needs a due date, or the council's invoice terms; request {r.data.request_id}")
        terms = council.instalments.invoice_terms(r.debt_type)
        facts.dates["due_date"] = r.served + timedelta(days=terms)
    return facts


def _letter_before_claim(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("balance", "amount", "total", why="the amount the claim would be for")
    facts = _Facts()
    if r.day("reply_by") is None:
        facts.dates["reply_by"] = r.served + timedelta(days=LETTER_OF_CLAIM_REPLY_DAYS)
    return facts


def _invoice_reminder(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("balance", why="what is owed now, which the reminder asks for")
    facts = _Facts()
    if r.day("pay_by") is None:
        # No regulation sets a sundry, TA or HB overpayment reminder's days [S43b]: it
        # is given a Council Tax reminder's 7, from the served date, as _reminder does.
        facts.dates["pay_by"] = COUNCIL_TAX.reminder_pay_by(r.served)
    return facts


def _notice_of_intention(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("balance", why="the amount the claim would be for")
    # The Protocol's 14 days' notice is enforcement's to count (from the served
    # date); without the date the notice cannot say when a claim may follow.
    claim_after = r.require_date("claim_after", why="the day after which a county court claim may be issued")
    if claim_after <= r.served:
        raise Refused(
            f"a notice of intention served on {r.served} cannot give {claim_after} as the day a claim may follow:"
            f" it must give notice before the claim (Pre-Action Protocol for Debt Claims); request {r.data.request_id}"
        )
    return _Facts()


def months_after(day: date, months: int) -> date:
    """The same day ``months`` calendar months later, or that month's last day when it
    has no such day (31 January + 1 month is 28 or 29 February)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


HBOP_CLASSIFICATION_WORDS: dict[HbopClassification, str] = {
    HbopClassification.CLAIMANT_ERROR: "a change or fact that was not reported to us, or was reported late or wrongly",
    HbopClassification.COUNCIL_OFFICIAL_ERROR: "a mistake made by the council",
    HbopClassification.DWP_ERROR: "a mistake made by the Department for Work and Pensions",
    HbopClassification.FRAUD: "a deliberate failure to tell us about a change, or false information",
    HbopClassification.LANDLORD: "a change the landlord knew of and did not report",
}
LIABLE_ROLE_WORDS: dict[LiableRole, str] = {
    LiableRole.CLAIMANT: "you, as the person who claimed the Housing Benefit",
    LiableRole.PARTNER: "you, as the partner of the person who claimed the Housing Benefit",
    LiableRole.PAYEE: "you, as the person the Housing Benefit was paid to (the landlord or agent)",
}


def _hbop_decision(r: _Request, council: CouncilConfig | None) -> _Facts:
    r.require_amount("overpaid", why="the amount of the recoverable overpayment (SI 2006/213 Sch 9 para 15(1)(c))")
    start = r.require_date("period_start", why="the benefit weeks overpaid (Sch 9 para 15(1)(e))")
    end = r.require_date("period_end", why="the benefit weeks overpaid (Sch 9 para 15(1)(e))")
    if end < start:
        raise Refused(
            f"an HB overpayment decision's period ends ({end}) before it starts ({start}); request {r.data.request_id}"
        )
    reason = r.given("reason")
    if not reason:
        raise Refused(
            f"an HB overpayment decision needs template_data['reason'] (why there is an overpayment,"
            f" Sch 9 para 15(1)(b)); request {r.data.request_id}"
        )
    try:
        classification = HbopClassification(r.given("classification"))
        role = LiableRole(r.given("liable_role") or LiableRole.CLAIMANT)
    except ValueError:
        raise Refused(
            f"an HB overpayment decision needs a known template_data['classification']"
            f" ({', '.join(HbopClassification)}) and liable_role ({', '.join(LiableRole)}); request {r.data.request_id}"
        ) from None
    # SI 2001/1002 regs 4 and 18: one calendar month from notification, counted here
    # from the day the notice is treated as served, so never short.
    earliest = months_after(r.served, RECONSIDERATION_MONTHS)
    facts = _Facts()
    given = r.day("reconsider_by")
    if given is None:
        facts.dates["reconsider_by"] = earliest
    elif given < earliest:
        raise Refused(
            f"an HB overpayment decision served on {r.served} must allow until {earliest} to ask for a"
            f" reconsideration or appeal (one month, SI 2001/1002 regs 4 and 18), not {given};"
            f" request {r.data.request_id}"
        )
    realised = r.data.template_data.get("could_reasonably_have_realised")
    facts.context["hbop"] = {
        "classification": classification.value,
        "cause": HBOP_CLASSIFICATION_WORDS[classification],
        "reason": reason,
        "calculation": r.given("calculation"),
        "liable": LIABLE_ROLE_WORDS[role],
        "liable_role": role.value,
        # SI 2006/213 reg 100(2): unrecoverable only if official error no one could
        # reasonably have realised; a request that does not say is taken as could.
        "recoverable": is_recoverable(classification, realised is not False),
        "reconsider_months": RECONSIDERATION_MONTHS,
    }
    return facts


# --- Direct Earnings Attachment (SI 2013/384 Part 6) ------------------------------

DEA_REMITTANCE_REPLY_DAYS = 14
"""The council's own days for an employer to pay a missed remittance or explain it: no
regulation sets them."""

# How often the person is paid, in the words a notice prints: the pay frequency itself,
# the period one pay-day's earnings cover ("£300.00 a week"), and how many weeks of the
# weekly table it is (0: the monthly table).
PAY_FREQUENCY_WORDS: dict[PayFrequency, dict[str, object]] = {
    PayFrequency.WEEKLY: {"frequency": "weekly", "per": "a week", "weeks": 1},
    PayFrequency.FORTNIGHTLY: {"frequency": "fortnightly", "per": "a fortnight", "weeks": 2},
    PayFrequency.FOUR_WEEKLY: {"frequency": "four-weekly", "per": "every four weeks", "weeks": 4},
    PayFrequency.MONTHLY: {"frequency": "monthly", "per": "a month", "weeks": 0},
}


def _required_text(r: _Request, key: str, why: str) -> str:
    value = r.given(key)
    if not value:
        # Never the value itself: a refusal is logged and travels on notice.failed.
        raise Refused(f"{r.a_kind} needs template_data[{key!r}] ({why}); request {r.data.request_id}")
    return value


def _named_employer(r: _Request) -> None:
    if not r.data.recipient_name.strip():
        raise Refused(
            f"{r.a_kind} must be addressed to the employer by name (SI 2013/384 reg 19(2)(b));"
            f" request {r.data.request_id}"
        )


def _dea_terms(r: _Request) -> dict[str, object]:
    """What the employer's and the person's notices both state: how often the person is
    paid, which tables apply, the percentage for the earnings last reported and the
    estimate of one pay-day's deduction (SI 2013/384 regs 17, 19(2)(e)-(f) and 20)."""
    owed = r.require_amount("owed", why="the overpayment to be recovered from earnings")
    net = r.require_amount("net_earnings", why="the net earnings on a usual pay-day the estimate is worked from")
    deduction = r.require_amount(
        "deduction", why="the estimate of one pay-day's deduction from those earnings", positive=False
    )
    try:
        frequency = PayFrequency(r.given("pay_frequency"))
    except ValueError:
        raise Refused(
            f"{r.a_kind} needs a known template_data['pay_frequency'] ({', '.join(PayFrequency)}), which decides"
            f" the table the employer reads (SI 2013/384 reg 20); request {r.data.request_id}"
        ) from None
    fraud = r.data.template_data.get("fraud")
    if not isinstance(fraud, bool):
        raise Refused(
            f"{r.a_kind} needs template_data['fraud'] as true or false: whether the higher tables C and D"
            f" apply (SI 2013/384 reg 20(3A)-(3B)); request {r.data.request_id}"
        )
    table_percent = dea_percent(net, frequency, fraud=fraud)
    given = r.given("percent").removesuffix("%").strip()
    if given and (not given.isdigit() or int(given) != table_percent):
        raise Refused(
            f"{r.a_kind} gives {given!r} percent for net earnings of {pounds(net)} paid {frequency.value}, but the"
            f" {'higher' if fraud else 'standard'} table the notice prints gives {table_percent}%"
            f" (SI 2013/384 reg 20, Sch 2); request {r.data.request_id}"
        )
    if deduction < 0 or deduction * 100 > net * DEA_CAP_PERCENT or deduction > owed:
        raise Refused(
            f"{r.a_kind} cannot estimate a deduction of {pounds(deduction)} from net earnings of {pounds(net)}:"
            f" a deduction is never negative, never more than {DEA_CAP_PERCENT}% of net earnings (the"
            f" protected earnings proportion, SI 2013/384 reg 17) and never more than the {pounds(owed)} owed;"
            f" request {r.data.request_id}"
        )
    return {
        **PAY_FREQUENCY_WORDS[frequency],
        "pay_frequency": frequency.value,
        "monthly": frequency is PayFrequency.MONTHLY,
        "higher": fraud,
        "percent": table_percent,
        "protected_percent": 100 - DEA_CAP_PERCENT,
        "cap_percent": DEA_CAP_PERCENT,
    }


def _first_pay_day(r: _Request) -> date:
    first = r.require_date("first_pay_day", why="the first pay-day deductions are made from (SI 2013/384 reg 19(3))")
    earliest = first_deduction_day(r.data.issued_on)
    if first < earliest:
        raise Refused(
            f"{r.a_kind} sent on {r.data.issued_on} cannot start deductions on {first}: a notice has effect from"
            f" the next pay-day at least {NOTICE_EFFECT_DAYS} days after the day it is given or sent"
            f" (SI 2013/384 reg 19(3)), so no earlier than {earliest}; request {r.data.request_id}"
        )
    return first


def _dea_employer(r: _Request, council: CouncilConfig | None) -> _Facts:
    _named_employer(r)
    terms = _dea_terms(r)
    first = _first_pay_day(r)
    employer_ref = _required_text(r, "employer_ref", "the employer's reference, quoted with each payment")
    _required_text(r, "employee_name", "the person whose earnings are attached (SI 2013/384 reg 19(2)(a))")
    facts = _Facts()
    due = remittance_due(first)
    given = r.day("remit_by")
    if given is None:
        facts.dates["remit_by"] = due
    elif given != due:
        raise Refused(
            f"{r.a_kind} whose first pay-day is {first} must give {due} for the first payment (the {REMIT_BY_DAY}th"
            f" of the following month, SI 2013/384 reg 22), not {given}; request {r.data.request_id}"
        )
    facts.references.append(("Employer reference", employer_ref))
    facts.context["dea"] = {**terms, "first_month": long_date(first).partition(" ")[2]}
    return facts


def _dea_debtor(r: _Request, council: CouncilConfig | None) -> _Facts:
    terms = _dea_terms(r)
    _first_pay_day(r)
    _required_text(r, "employer_name", "the employer the notice was sent to (SI 2013/384 reg 19(1))")
    facts = _Facts()
    facts.context["dea"] = terms
    return facts


def _dea_remittance_missed(r: _Request, council: CouncilConfig | None) -> _Facts:
    _named_employer(r)
    expected = r.require_amount("expected", why="the deductions that should have been paid over")
    received = r.require_amount("received", why="what the employer has paid over", positive=False)
    shortfall = r.require_amount("shortfall", why="what is still to be paid over")
    if received < 0 or shortfall != expected - received:
        raise Refused(
            f"{r.a_kind}'s shortfall of {pounds(shortfall)} is not the {pounds(expected)} expected less the"
            f" {pounds(received)} received; request {r.data.request_id}"
        )
    through = r.require_date("deducted_through", why="the last day of the month the deductions were for")
    remit_by = r.require_date("remit_by", why="the day the deductions were due (SI 2013/384 reg 22)")
    if remit_by != remittance_due(through):
        raise Refused(
            f"{r.a_kind} for deductions up to {through} must give {remittance_due(through)} as the day they were due"
            f" (the {REMIT_BY_DAY}th of the following month, SI 2013/384 reg 22), not {remit_by};"
            f" request {r.data.request_id}"
        )
    if r.data.issued_on <= remit_by:
        raise Refused(
            f"{r.a_kind} dated {r.data.issued_on} cannot say that deductions due by {remit_by} were not paid:"
            f" the employer has until the end of that day; request {r.data.request_id}"
        )
    _required_text(r, "employee_name", "the person whose earnings are attached")
    employer_ref = _required_text(r, "employer_ref", "the employer's reference, quoted with each payment")
    facts = _Facts()
    if r.day("reply_by") is None:
        facts.dates["reply_by"] = r.served + timedelta(days=DEA_REMITTANCE_REPLY_DAYS)
    facts.references.append(("Employer reference", employer_ref))
    facts.context["dea"] = {"reply_days": DEA_REMITTANCE_REPLY_DAYS}
    return facts


def _dea_discharged(r: _Request, council: CouncilConfig | None) -> _Facts:
    _named_employer(r)
    remitted = r.require_amount("remitted", why="what the employer has paid over under this attachment", positive=False)
    if remitted < 0:
        raise Refused(
            f"{r.a_kind} cannot say the employer has paid over {pounds(remitted)}; request {r.data.request_id}"
        )
    discharged_on = r.require_date(
        "discharged_on", why="the day the notice is discharged with effect from (SI 2013/384 reg 26)"
    )
    employer_ref = _required_text(r, "employer_ref", "the employer's reference, quoted with each payment")
    _required_text(r, "employee_name", "the person whose earnings were attached")
    _required_text(r, "reason", "why the notice is discharged: the overpayment paid, or recovery held")
    # SI 2013/384 reg 22: deductions made before the discharge are still paid over by the
    # 19th of the month after each was made; the last of them by the 19th of the month
    # after the last day before the discharge.
    last_day = discharged_on - timedelta(days=1)
    due = remittance_due(last_day)
    facts = _Facts()
    given = r.day("remit_by")
    if given is None:
        facts.dates["remit_by"] = due
    elif given != due:
        raise Refused(
            f"{r.a_kind} discharging the notice from {discharged_on} must give {due} for the last deductions (the"
            f" {REMIT_BY_DAY}th of the month after {last_day}, SI 2013/384 reg 22), not {given};"
            f" request {r.data.request_id}"
        )
    facts.references.append(("Employer reference", employer_ref))
    facts.context["dea"] = {"remit_by_day": REMIT_BY_DAY, "last_month": long_date(last_day).partition(" ")[2]}
    return facts


# --- deduction from other benefits (SSAA 1992 s.75; SI 2013/384 Part 5) -------------


def _dwp_deduction_requested(r: _Request, council: CouncilConfig | None) -> _Facts:
    """The letter telling the person the council has asked the DWP to recover the
    overpayment from the other benefits it pays them (SI 2013/384 reg 10, paraphrased).
    The DWP sets the weekly amount within each benefit's limit (regs 11-14), higher
    where the overpayment was fraud; the letter prints no rate, since it is the DWP's."""
    r.require_amount("owed", why="the overpayment the DWP is asked to recover")
    answer_by = r.require_date("answer_by", why="the day by which the council expects the DWP's answer")
    if answer_by < r.data.issued_on:
        raise Refused(
            f"{r.a_kind} dated {r.data.issued_on} cannot say the DWP's answer is expected by {answer_by};"
            f" request {r.data.request_id}"
        )
    fraud = r.data.template_data.get("fraud")
    if not isinstance(fraud, bool):
        raise Refused(
            f"{r.a_kind} needs template_data['fraud'] as true or false: whether the overpayment was fraud, so"
            f" the DWP may deduct at its higher rate (SI 2013/384 regs 11-14); request {r.data.request_id}"
        )
    facts = _Facts()
    facts.context["dwp"] = {"higher": fraud}
    return facts


_FACTS: dict[NoticeType, Callable[[_Request, CouncilConfig | None], _Facts]] = {
    NoticeType.REMINDER: _reminder,
    NoticeType.SECOND_REMINDER: _reminder,
    NoticeType.FINAL_NOTICE: _final_notice,
    NoticeType.SUMMONS: _summons,
    NoticeType.NNDR_FURTHER_NOTICE: _nndr_further_notice,
    NoticeType.AGENT_REFERRAL_LETTER: _agent_referral_letter,
    NoticeType.INVOICE: _invoice,
    NoticeType.INVOICE_REMINDER: _invoice_reminder,
    NoticeType.LETTER_BEFORE_CLAIM: _letter_before_claim,
    NoticeType.NOTICE_OF_INTENTION: _notice_of_intention,
    NoticeType.HBOP_DECISION: _hbop_decision,
    NoticeType.DEA_EMPLOYER: _dea_employer,
    NoticeType.DEA_DEBTOR: _dea_debtor,
    NoticeType.DEA_REMITTANCE_MISSED: _dea_remittance_missed,
    NoticeType.DEA_DISCHARGED: _dea_discharged,
    NoticeType.DWP_DEDUCTION_REQUESTED: _dwp_deduction_requested,
}


def _amount_lines(amounts: Mapping[str, int]) -> tuple[AmountLine, ...]:
    known = [k for k in AMOUNT_LABELS if k in amounts]
    others = sorted(k for k in amounts if k not in AMOUNT_LABELS)
    return tuple(AmountLine(k, label_for(k, AMOUNT_LABELS), amounts[k]) for k in [*known, *others])


def _date_lines(issued: date, served: date, dates: Mapping[str, date]) -> tuple[DateLine, ...]:
    known = [k for k in DATE_LABELS if k in dates]
    others = sorted(k for k in dates if k not in DATE_LABELS)
    lines = [
        DateLine("issued_on", "Date of this notice", issued),
        DateLine("served_on", "Treated as served on", served),
    ]
    return tuple(lines + [DateLine(k, label_for(k, DATE_LABELS), dates[k]) for k in [*known, *others]])


# SI 1992/613 reg 2(3): a notice may be addressed to "The Council Tax Payer" when the
# name cannot be found after reasonable inquiry; the others follow its example.
_NAMELESS = {"CT": "The Council Tax Payer", "NNDR": "The Ratepayer"}


def compose_notice(
    data: NoticeRequestedData, council: CouncilConfig | None = None, templates: NoticeTemplates | None = None
) -> NoticeContent:
    """The content of the notice ``data`` asks for, worded by its template;
    raises ``Refused`` when the request lacks something that notice cannot be
    served without.

    ``council`` supplies the service rule and what a request may leave out (the
    court's name, the agents' fee scale in force); the council's name always comes
    from the request. ``templates`` defaults to the packaged set.
    """
    facts_for = _FACTS.get(data.notice_type)
    templates = templates if templates is not None else load_templates()
    if facts_for is None or data.notice_type not in templates:
        raise Refused(f"notices has no template for {data.notice_type.value}; request {data.request_id}")
    if not data.council_name.strip():
        raise Refused(f"a notice must name the council that serves it; request {data.request_id}")
    rule = council.service if council is not None else ServiceRule()
    served = served_on(data.issued_on, rule)
    request = _Request(data, served, council)
    facts = facts_for(request, council)
    template = templates.for_type(data.notice_type)

    debt_code = request.debt_type
    debt_name = DEBT_TYPE_NAMES.get(debt_code, debt_code)
    name = data.recipient_name.strip() or _NAMELESS.get(debt_code, "The Account Holder")
    address = tuple(line.strip() for line in data.recipient_address if line.strip())
    amounts = {**data.amounts, **facts.amounts}
    dates = {**data.dates, **facts.dates}
    references = [("Account reference", data.account_ref)]
    if data.case_id:
        references.append(("Case", data.case_id))
    references += facts.references
    amount_lines = _amount_lines(amounts)
    date_lines = _date_lines(data.issued_on, served, dates)
    context: dict[str, object] = {
        "notice_type": data.notice_type.value,
        "council_name": data.council_name.strip(),
        "recipient": {"name": name, "address": list(address)},
        "account_ref": data.account_ref,
        "case_id": data.case_id,
        "issued_on": data.issued_on,
        "served_on": served,
        "service": {"method": SERVICE_METHOD_WORDS.get(rule.method.value, rule.method.value)},
        "debt": {"code": debt_code, "name": debt_name, "year": request.given("financial_year")},
        "amount": amounts,
        "date": dates,
        "amounts": amount_lines,
        "key_dates": date_lines,
        "remedies": _remedies(council, debt_code),
        "court": {"name": request.court, "hearing_time": request.given("hearing_time")},
        "periods": {
            "reminder_days": COUNCIL_TAX.pay_within_days,
            "final_notice_days": COUNCIL_TAX.final_notice_wait_days,
            "summons_service_days": COUNCIL_TAX.liability_order_after_service_days,
            "enforcement_clear_days": NOTICE_OF_ENFORCEMENT_CLEAR_DAYS,
            "reply_days": LETTER_OF_CLAIM_REPLY_DAYS,
        },
        "extra": dict(data.template_data),
        # The Reply Form's options, one per kind of reply the council records
        # (debtors.replies.v1), so a new kind without wording stops the template.
        "reply_kinds": [kind.value for kind in ReplyKind],
        **facts.context,
    }
    blocks = template.render(context)
    title = next(b.plain() for b in blocks if b.kind == "title")
    return NoticeContent(
        request_id=data.request_id,
        notice_type=data.notice_type,
        council_name=data.council_name.strip(),
        title=title,
        account_ref=data.account_ref,
        issued_on=data.issued_on,
        served_on=served,
        recipient_name=name,
        recipient_address=address,
        references=tuple(references),
        blocks=blocks,
        amounts=amount_lines,
        key_dates=date_lines,
        template_version=template.version,
    )
