"""What each notice says: pure rules from a request to a notice's content, no I/O.

The wording a council sends is its legal team's; this module carries the
figures and the dates, and marks each statutory passage as a placeholder
(``STATUTORY_MARK``) the legal team replaces with reviewed text. The figures
inside those passages come from the request, so the reviewed text keeps them.

Sources (../shared/domain.md):
- Council Tax (Administration and Enforcement) Regulations 1992 (SI 1992/613):
  reg 23 reminders, reg 33 final notice, reg 34(1) the 7 days before a
  complaint, reg 35(2A) 14 days between serving a summons and a liability order.
- Non-Domestic Rating (Collection and Enforcement) (Local Lists) Regulations
  1989 (SI 1989/1058) reg 8: the one further notice.
- Taking Control of Goods (Fees) Regulations 2014 Sch 1: the compliance fee.
- Pre-Action Protocol for Debt Claims: the letter before claim, 30 days to reply.

A request missing something its notice cannot be served without (a summons
without a hearing date, a reminder without the amount overdue) is refused with
a reason a person can act on; anything optional that is missing is left out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from recovery_shared.contracts.internal import NoticeRequestedData, NoticeType
from recovery_shared.council import CouncilConfig
from recovery_shared.messaging.errors import Refused
from recovery_shared.money import pounds

STATUTORY_MARK = "[STATUTORY WORDING \N{EM DASH} to be replaced by text reviewed by the council's legal team]"

# Statutory periods the wording states (days).
REG_23_PAY_WITHIN_DAYS = 7
REG_34_FINAL_NOTICE_DAYS = 7
REG_35_SUMMONS_SERVICE_DAYS = 14
PRE_ACTION_REPLY_DAYS = 30

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Labels for the amounts and dates enforcement sends; any other key is shown too,
# after these, with a label made from its name.
AMOUNT_LABELS: dict[str, str] = {
    "amount_to_pay": "Amount overdue: pay now",
    "instalment": "Instalment missed",
    "amount": "Amount due",
    "balance": "Balance outstanding",
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
    "reply_by": "Reply by",
}

DEBT_TYPE_NAMES: dict[str, str] = {
    "CT": "Council Tax",
    "NNDR": "Business Rates",
    "HBOP": "Housing Benefit overpayment",
    "TA": "Temporary accommodation charges",
    "SUNDRY": "Sundry debt",
}


def long_date(day: date) -> str:
    """'2 May 2026', the same whatever the machine's locale."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def label_for(key: str, labels: Mapping[str, str]) -> str:
    return labels.get(key) or key.replace("_", " ").strip().capitalize()


@dataclass(frozen=True)
class Clause:
    """One paragraph. A statutory one is a placeholder for reviewed wording."""

    text: str
    statutory: bool = False


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
    recipient_name: str
    recipient_address: tuple[str, ...]
    references: tuple[tuple[str, str], ...]
    clauses: tuple[Clause, ...]
    amounts: tuple[AmountLine, ...]
    key_dates: tuple[DateLine, ...]
    closing: tuple[str, ...] = field(default=())

    def amount(self, key: str) -> int | None:
        return next((a.pence for a in self.amounts if a.key == key), None)

    def text(self) -> str:
        """All the words on the notice, for tests and previews."""
        lines = [self.council_name, self.title, self.recipient_name, *self.recipient_address]
        lines += [f"{k}: {v}" for k, v in self.references]
        lines += [c.text for c in self.clauses]
        lines += [f"{a.label}: {a.shown}" for a in self.amounts]
        lines += [f"{d.label}: {d.shown}" for d in self.key_dates]
        lines += list(self.closing)
        return "\n".join(lines)


# --- reading the request ------------------------------------------------------


class _Request:
    """The request's figures, with a refusal that names what is missing."""

    def __init__(self, data: NoticeRequestedData) -> None:
        self.data = data
        self.kind = data.notice_type.value.replace("_", " ")
        self.a_kind = f"{'an' if self.kind[0] in 'aeiou' else 'a'} {self.kind}"

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

    def template(self, key: str) -> str:
        value: Any = self.data.template_data.get(key)
        return str(value).strip() if value not in (None, "") else ""

    @property
    def debt_type(self) -> str:
        """The debt type code ('CT' when the request does not say, as enforcement's ladders assume)."""
        given = self.template("debt_type").upper()
        if given:
            return given
        return "NNDR" if self.data.notice_type == NoticeType.NNDR_FURTHER_NOTICE else "CT"

    @property
    def debt_name(self) -> str:
        return DEBT_TYPE_NAMES.get(self.debt_type, self.debt_type)

    @property
    def year_suffix(self) -> str:
        year = self.template("financial_year")
        return f" {year}" if year else ""


def _amount_lines(amounts: Mapping[str, int]) -> tuple[AmountLine, ...]:
    known = [k for k in AMOUNT_LABELS if k in amounts]
    others = sorted(k for k in amounts if k not in AMOUNT_LABELS)
    return tuple(AmountLine(k, label_for(k, AMOUNT_LABELS), amounts[k]) for k in [*known, *others])


def _date_lines(issued_on: date, dates: Mapping[str, date]) -> tuple[DateLine, ...]:
    known = [k for k in DATE_LABELS if k in dates]
    others = sorted(k for k in dates if k not in DATE_LABELS)
    lines = [DateLine("issued_on", "Date of this notice", issued_on)]
    return tuple(lines + [DateLine(k, label_for(k, DATE_LABELS), dates[k]) for k in [*known, *others]])


def _statutory(text: str) -> Clause:
    return Clause(f"{STATUTORY_MARK} {text}", statutory=True)


def _by(day: date | None) -> str:
    return f" (that is, by {long_date(day)})" if day is not None else ""


# --- one builder per notice type ---------------------------------------------------


@dataclass(frozen=True)
class _Body:
    title: str
    clauses: list[Clause]
    closing: list[str] = field(default_factory=list)
    extra_amounts: dict[str, int] = field(default_factory=dict)
    extra_references: list[tuple[str, str]] = field(default_factory=list)


CT_REGS = "Council Tax (Administration and Enforcement) Regulations 1992"
NNDR_REGS = "Non-Domestic Rating (Collection and Enforcement) (Local Lists) Regulations 1989"
ADVICE = "Free independent debt advice is available from Citizens Advice, StepChange and National Debtline."


def _reminder(r: _Request, council: CouncilConfig | None) -> _Body:
    overdue = r.require_amount("amount_to_pay", why="what is overdue now, which the reminder asks for")
    balance = r.amount("balance")
    pay_by = r.day("pay_by")
    balance_due = r.day("balance_due_if_unpaid")
    missed = r.day("missed_instalment_due")
    second = r.data.notice_type == NoticeType.SECOND_REMINDER
    clauses = [
        Clause(
            f"Our records show that the {r.debt_name.lower()} "
            + (f"instalment due on {long_date(missed)}" if missed is not None else "payment due")
            + f" has not been paid. Please pay {pounds(overdue)} now."
        )
    ]
    if r.debt_type == "CT":
        whole = f"the full balance of {pounds(balance)}" if balance is not None else "the full unpaid balance"
        later = f" on {long_date(balance_due)}" if balance_due is not None else " 7 days later"
        clauses.append(
            _statutory(
                f"{CT_REGS}, regulation 23: if you do not pay the amount overdue of {pounds(overdue)}, and any"
                f" instalment falling due, within {REG_23_PAY_WITHIN_DAYS} days of the date of this"
                f" notice{_by(pay_by)}, you lose the right to pay by instalments and {whole} becomes"
                f" payable{later}."
            )
        )
        if second:
            clauses.append(
                _statutory(
                    "This is the second reminder this year. If you pay as this reminder asks but then miss a further"
                    " instalment, the whole balance becomes payable the day after, without another reminder"
                    " (regulation 23(4))."
                )
            )
    else:
        # HBOP, TA and sundry debt: no statutory reminder scheme, the council's own terms.
        clauses.append(
            Clause(
                f"Please pay within {REG_23_PAY_WITHIN_DAYS} days of the date of this reminder{_by(pay_by)}."
                " If you do not, the council may take further action to recover the debt"
                + (f" of {pounds(balance)}." if balance is not None else ".")
            )
        )
    clauses.append(
        Clause(f"If you cannot pay, contact us straight away: we may be able to agree an arrangement. {ADVICE}")
    )
    return _Body(
        title=f"{r.debt_name}{r.year_suffix}: {'second reminder' if second else 'reminder'}",
        clauses=clauses,
    )


def _final_notice(r: _Request, council: CouncilConfig | None) -> _Body:
    balance = r.require_amount("balance", "total", why="the amount the final notice demands")
    court_from = r.day("court_application_from") or r.data.issued_on + timedelta(days=REG_34_FINAL_NOTICE_DAYS)
    if r.debt_type == "CT":
        legal = _statutory(
            f"{CT_REGS}, regulation 33: this final notice demands {pounds(balance)}. If it is not paid, the council"
            f" may apply to the magistrates' court for a liability order after {REG_34_FINAL_NOTICE_DAYS} days from"
            f" the date of this notice (regulation 34(1)), that is from {long_date(court_from)}, and court costs"
            " will be added."
        )
    else:
        legal = Clause(
            f"If {pounds(balance)} is not paid, the council may take further recovery action from"
            f" {long_date(court_from)}, which may include court proceedings and added costs."
        )
    return _Body(
        title=f"{r.debt_name}{r.year_suffix}: final notice",
        clauses=[
            Clause(f"You have not paid your {r.debt_name.lower()} as required. You must now pay {pounds(balance)}."),
            legal,
            Clause(f"If you cannot pay in full, contact us now to discuss how the amount can be paid. {ADVICE}"),
        ],
    )


def _summons(r: _Request, council: CouncilConfig | None) -> _Body:
    hearing = r.require_date("hearing_date", why="the day the court hears the complaint")
    if hearing < r.data.issued_on + timedelta(days=REG_35_SUMMONS_SERVICE_DAYS):
        raise Refused(
            f"a summons issued on {r.data.issued_on} cannot have its hearing on {hearing}: the hearing must be at least"
            f" {REG_35_SUMMONS_SERVICE_DAYS} days after the summons is served (CT reg 35(2A); NNDR reg 12);"
            f" request {r.data.request_id}"
        )
    balance = r.require_amount("balance", why="the unpaid amount the complaint is for")
    costs = r.amount("summons_costs") or 0
    extra: dict[str, int] = {}
    if r.amount("total") is None:
        extra["total"] = balance + costs
    court = r.template("court") or (council.court.name if council is not None else "the magistrates' court")
    hearing_time = r.template("hearing_time")
    at = f" at {hearing_time}" if hearing_time else ""
    cost_words = f" and costs of {pounds(costs)}" if costs else ""
    if r.debt_type == "NNDR":
        statute, service = f"{NNDR_REGS}, regulation 12", "You are given at least 14 days' notice of the hearing."
    else:
        statute = f"{CT_REGS}, regulations 34 and 35"
        service = (
            f"No liability order can be made until {REG_35_SUMMONS_SERVICE_DAYS} days after this summons was served"
            " (regulation 35(2A))."
        )
    return _Body(
        title=f"{r.debt_name}{r.year_suffix}: summons to the magistrates' court",
        clauses=[
            _statutory(
                f"{statute}: the council has complained to the justices that {pounds(balance)} is due from you and"
                f" unpaid. You are summoned to appear before {court} on {long_date(hearing)}{at} to show why you"
                f" have not paid. The council will ask the court for a liability order for"
                f" {pounds(balance)}{cost_words}."
            ),
            _statutory(service),
            Clause(
                f"If you pay {pounds(balance + costs)} before the hearing, the council will not ask for the order."
                " You need not attend if you have paid in full or agreed an arrangement with us."
            ),
        ],
        extra_amounts=extra,
        extra_references=[("Court", court)],
    )


def _nndr_further_notice(r: _Request, council: CouncilConfig | None) -> _Body:
    overdue = r.require_amount("amount_to_pay", why="the instalment(s) overdue that the further notice asks for")
    balance = r.amount("balance")
    pay_by = r.day("pay_by")
    whole = f"the full balance of {pounds(balance)}" if balance is not None else "the full unpaid balance for the year"
    return _Body(
        title=f"Business Rates{r.year_suffix}: further notice",
        clauses=[
            Clause(
                f"The business rates instalment(s) shown below have not been paid. Please pay {pounds(overdue)} now."
            ),
            _statutory(
                f"{NNDR_REGS}, regulation 8: if the amount overdue of {pounds(overdue)} is not paid within"
                f" {REG_23_PAY_WITHIN_DAYS} days of this notice{_by(pay_by)}, or any later instalment is not paid"
                f" when due, {whole} becomes payable {REG_23_PAY_WITHIN_DAYS} days after that failure, and the"
                " council may apply for a liability order."
            ),
        ],
    )


def _agent_referral_letter(r: _Request, council: CouncilConfig | None) -> _Body:
    order_date = r.require_date("liability_order_date", why="an agent may act only under a liability order")
    if order_date > r.data.issued_on:
        raise Refused(
            f"an agent referral letter dated {r.data.issued_on} cannot rely on a liability order of {order_date};"
            f" request {r.data.request_id}"
        )
    balance = r.require_amount("balance", why="the amount passed to the enforcement agent")
    extra: dict[str, int] = {}
    fee = r.amount("compliance_fee")
    if fee is None and council is not None:
        try:
            fee = council.agent_fees_on(r.data.issued_on).compliance_fee_pence
        except KeyError:
            fee = None
        if fee is not None:
            extra["compliance_fee"] = fee
    agent = r.template("agent") or (
        council.enforcement_agents[0] if council is not None and len(council.enforcement_agents) == 1 else ""
    )
    agent_words = agent or "an enforcement agent firm acting for the council"
    fee_words = (
        f" A compliance fee of {pounds(fee)} is added to your debt (Taking Control of Goods (Fees) Regulations 2014,"
        " Schedule 1) once the agent receives your case."
        if fee
        else " The agent's fees under the Taking Control of Goods (Fees) Regulations 2014 are added to your debt."
    )
    refs = [("Enforcement agent", agent)] if agent else []
    return _Body(
        title=f"{r.debt_name}{r.year_suffix}: your case has been passed to an enforcement agent",
        clauses=[
            Clause(
                f"The magistrates' court made a liability order against you on {long_date(order_date)}. You have not"
                f" paid or agreed an arrangement, so the council has passed {pounds(balance)} to {agent_words}."
            ),
            _statutory(
                "Tribunals, Courts and Enforcement Act 2007, Schedule 12, and the Taking Control of Goods Regulations"
                " 2013: the agent will send you a notice of enforcement, and may take control of your goods after the"
                f" notice period if the debt is not paid.{fee_words}"
            ),
            Clause(
                "Pay the enforcement agent, or contact them to agree payment. If you or someone in your home is"
                " vulnerable, tell us or the agent straight away."
            ),
        ],
        extra_amounts=extra,
        extra_references=refs,
    )


def _invoice(r: _Request, council: CouncilConfig | None) -> _Body:
    amount = r.require_amount("amount", "balance", "total", why="the amount invoiced")
    due = r.day("due_date", "pay_by")
    return _Body(
        title=f"{r.debt_name}{r.year_suffix}: invoice",
        clauses=[
            Clause(
                f"This invoice is for {pounds(amount)}. Please pay"
                + (f" by {long_date(due)}" if due is not None else " within 14 days of the date of this invoice")
                + ", quoting the account reference shown."
            ),
            Clause("If you think this invoice is wrong, or you cannot pay, contact us as soon as possible."),
        ],
    )


def _letter_before_claim(r: _Request, council: CouncilConfig | None) -> _Body:
    amount = r.require_amount("balance", "amount", "total", why="the amount the claim would be for")
    reply_by = r.day("reply_by") or r.data.issued_on + timedelta(days=PRE_ACTION_REPLY_DAYS)
    return _Body(
        title=f"{r.debt_name}{r.year_suffix}: letter before claim",
        clauses=[
            _statutory(
                "Pre-Action Protocol for Debt Claims: the council says you owe it"
                f" {pounds(amount)}. Please reply within {PRE_ACTION_REPLY_DAYS} days of the date of this letter"
                f" (by {long_date(reply_by)}) using the enclosed reply form. If you do not reply or pay, the council"
                " may start court proceedings against you without further notice, which may add costs and interest."
            ),
            Clause("Enclosed: statement of account, information sheet, reply form and financial statement."),
            Clause(ADVICE),
        ],
    )


_BUILDERS: dict[NoticeType, Callable[[_Request, CouncilConfig | None], _Body]] = {
    NoticeType.REMINDER: _reminder,
    NoticeType.SECOND_REMINDER: _reminder,
    NoticeType.FINAL_NOTICE: _final_notice,
    NoticeType.SUMMONS: _summons,
    NoticeType.NNDR_FURTHER_NOTICE: _nndr_further_notice,
    NoticeType.AGENT_REFERRAL_LETTER: _agent_referral_letter,
    NoticeType.INVOICE: _invoice,
    NoticeType.LETTER_BEFORE_CLAIM: _letter_before_claim,
}


def compose_notice(data: NoticeRequestedData, council: CouncilConfig | None = None) -> NoticeContent:
    """The content of the notice ``data`` asks for; raises ``Refused`` when the
    request lacks something that notice cannot be served without.

    ``council`` supplies what a request may leave out (the court's name, the
    agents' compliance fee in force); the council's name always comes from the request.
    """
    builder = _BUILDERS.get(data.notice_type)
    if builder is None:
        raise Refused(f"notices has no template for {data.notice_type.value}; request {data.request_id}")
    if not data.council_name.strip():
        raise Refused(f"a notice must name the council that serves it; request {data.request_id}")
    request = _Request(data)
    body = builder(request, council)
    references = [("Account reference", data.account_ref)]
    if data.case_id:
        references.append(("Case", data.case_id))
    references += body.extra_references
    name = data.recipient_name.strip() or (
        "The Ratepayer" if request.debt_name == "Business Rates" else "The Council Tax payer"
    )
    return NoticeContent(
        request_id=data.request_id,
        notice_type=data.notice_type,
        council_name=data.council_name.strip(),
        title=body.title,
        account_ref=data.account_ref,
        issued_on=data.issued_on,
        recipient_name=name,
        recipient_address=tuple(line.strip() for line in data.recipient_address if line.strip()),
        references=tuple(references),
        clauses=tuple(body.clauses),
        amounts=_amount_lines({**data.amounts, **body.extra_amounts}),
        key_dates=_date_lines(data.issued_on, data.dates),
        closing=(
            f"Please quote your account reference {data.account_ref} whenever you contact us or pay.",
            f"{data.council_name.strip()}, Revenues and Benefits",
        ),
    )
