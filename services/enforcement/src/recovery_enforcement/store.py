"""Enforcement's unit of work and repositories: every query the service makes.

``Cases`` is the unit the use cases are written against; ``SqlCases`` is the real
one on the service's database and ``tests/unit/fakes/enforcement.FakeCases`` the
in-memory twin. A batch's cases, holds and waiting schedules are loaded by the
route table's prefetch in a few queries; each event's use case then finds them
held in memory, and the changes go back in bulk at commit.

A case's id is its debt's id (one recovery case per debt), so a case is looked up
by debt id as by primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import and_, func, or_, select

from recovery_enforcement import domain
from recovery_enforcement.models import AgentReturn, Hold, LadderStep, PendingSchedule, RecoveryCase
from recovery_shared.clock import utc_now
from recovery_shared.contracts.common import DebtType, PayFrequency
from recovery_shared.messaging.records import Log, Records
from recovery_shared.messaging.unit_of_work import SqlUnitOfWork, UnitOfWork

# --- records: one dataclass per table, fields named as its columns ----------------


@dataclass(slots=True)
class CaseRecord:
    case_id: str
    debt_id: str
    account_ref: str
    party_id: str
    debt_type: str
    financial_year: str | None
    bill_issued_on: date
    recipient_name: str
    recipient_address: tuple[str, ...]
    stage: str
    is_open: bool
    charged_pence: int
    paid_pence: int
    balance_pence: int
    schedule: tuple[tuple[str, int], ...]
    reminders_sent: int
    reminder_issued_on: date | None
    reminder_pay_by: date | None
    reminder_required_pence: int
    charge_at_last_notice_pence: int
    unanswered_miss_on: date | None
    failure_on: date | None
    balance_due_on: date | None
    balance_fell_due: bool
    final_notice_issued_on: date | None
    summons_id: str | None
    summons_issued_on: date | None
    hearing_date: date | None
    liability_order_on: date | None
    referral_id: str | None
    referral_due_on: date | None
    referred_on: date | None
    agent: str | None
    fell_due_on: date | None
    letter_before_claim_on: date | None
    reply_by: date | None
    reply: str | None
    notice_of_intention_on: date | None
    claim_after: date | None
    claim_id: str | None
    claim_referred_on: date | None
    hbop_classification: str | None
    hbop_decided_on: date | None
    employment: dict[str, Any] | None
    attachment: dict[str, Any] | None
    benefit_deduction: dict[str, Any] | None
    held: bool
    held_since: date | None
    vulnerable: bool
    next_action_on: date | None
    opened_at: datetime
    updated_at: datetime
    attention_reason: str | None
    """Why the case could not be moved (no personal data); None while it moves."""
    attention_since: date | None

    def __post_init__(self) -> None:
        # Held as tuples, not the lists the JSON columns read as: the unit of work keeps
        # a deep copy of every list it holds to spot changes, and these change only
        # by being replaced.
        self.recipient_address = tuple(self.recipient_address)
        self.schedule = tuple((str(due), int(pence)) for due, pence in self.schedule)

    def snapshot(self) -> domain.Case:
        """The case as the ladder's rules see it."""
        return domain.Case(
            case_id=self.case_id,
            debt_id=self.debt_id,
            account_ref=self.account_ref,
            party_id=self.party_id,
            debt_type=DebtType(self.debt_type),
            bill_issued_on=self.bill_issued_on,
            stage=domain.Stage(self.stage),
            is_open=self.is_open,
            charged_pence=self.charged_pence,
            paid_pence=self.paid_pence,
            balance_pence=self.balance_pence,
            schedule=tuple(domain.Due(date.fromisoformat(due), pence) for due, pence in self.schedule),
            reminders_sent=self.reminders_sent,
            reminder_issued_on=self.reminder_issued_on,
            reminder_pay_by=self.reminder_pay_by,
            reminder_required_pence=self.reminder_required_pence,
            charge_at_last_notice_pence=self.charge_at_last_notice_pence,
            unanswered_miss_on=self.unanswered_miss_on,
            failure_on=self.failure_on,
            balance_due_on=self.balance_due_on,
            balance_fell_due=self.balance_fell_due,
            final_notice_issued_on=self.final_notice_issued_on,
            summons_id=self.summons_id,
            summons_issued_on=self.summons_issued_on,
            hearing_date=self.hearing_date,
            liability_order_on=self.liability_order_on,
            referral_id=self.referral_id,
            referral_due_on=self.referral_due_on,
            referred_on=self.referred_on,
            agent=self.agent,
            fell_due_on=self.fell_due_on,
            letter_before_claim_on=self.letter_before_claim_on,
            reply_by=self.reply_by,
            reply=self.reply,
            notice_of_intention_on=self.notice_of_intention_on,
            claim_after=self.claim_after,
            claim_id=self.claim_id,
            claim_referred_on=self.claim_referred_on,
            hbop_classification=self.hbop_classification,
            hbop_decided_on=self.hbop_decided_on,
            employment=_employment(self.employment),
            attachment=_attachment(self.attachment),
            benefit_deduction=_benefit_deduction(self.benefit_deduction),
            held=self.held,
            held_since=self.held_since,
            vulnerable=self.vulnerable,
            next_action_on=self.next_action_on,
        )

    def take(self, case: domain.Case) -> bool:
        """Store what a decision made of the case (the fields the rules may change);
        says whether anything changed."""
        changed = self.stage != case.stage.value
        self.stage = case.stage.value
        for name in _LADDER_FIELDS:
            value = getattr(case, name)
            if getattr(self, name) != value:
                setattr(self, name, value)
                changed = True
        for name, value in (
            ("employment", _as_json(case.employment)),
            ("attachment", _as_json(case.attachment)),
            ("benefit_deduction", _as_json(case.benefit_deduction)),
        ):
            if getattr(self, name) != value:
                setattr(self, name, value)  # replaced, never changed in place
                changed = True
        return changed


def _as_json(value: domain.Employment | domain.Attachment | domain.BenefitDeduction | None) -> dict[str, Any] | None:
    if value is None:
        return None
    raw = {name: getattr(value, name) for name in value.__slots__}
    return {
        k: (v.isoformat() if isinstance(v, date) else list(v) if isinstance(v, tuple) else v) for k, v in raw.items()
    }


def _benefit_deduction(raw: dict[str, Any] | None) -> domain.BenefitDeduction | None:
    if raw is None:
        return None
    return domain.BenefitDeduction(
        request_id=raw["request_id"],
        status=domain.DeductionStatus(raw["status"]),
        requested_on=date.fromisoformat(raw["requested_on"]),
        answer_by=date.fromisoformat(raw["answer_by"]),
        weekly_pence=raw["weekly_pence"],
        first_on=_day(raw["first_on"]),
        owed_at_start_pence=raw["owed_at_start_pence"],
        remitted_pence=raw["remitted_pence"],
        reconcile_on=_day(raw["reconcile_on"]),
        short_pence=raw.get("short_pence", 0),
    )


def _day(raw: str | None) -> date | None:
    return None if raw is None else date.fromisoformat(raw)


def _employment(raw: dict[str, Any] | None) -> domain.Employment | None:
    if raw is None:
        return None
    return domain.Employment(
        employer_ref=raw["employer_ref"],
        employer_name=raw["employer_name"],
        employer_address=tuple(raw["employer_address"]),
        pay_frequency=PayFrequency(raw["pay_frequency"]),
        net_earnings_pence=raw["net_earnings_pence"],
        next_pay_day=date.fromisoformat(raw["next_pay_day"]),
        reported_on=date.fromisoformat(raw["reported_on"]),
    )


def _attachment(raw: dict[str, Any] | None) -> domain.Attachment | None:
    if raw is None:
        return None
    return domain.Attachment(
        employer_ref=raw["employer_ref"],
        percent=raw["percent"],
        deduction_pence=raw["deduction_pence"],
        pay_frequency=PayFrequency(raw["pay_frequency"]),
        first_pay_day=date.fromisoformat(raw["first_pay_day"]),
        owed_at_start_pence=raw["owed_at_start_pence"],
        started_on=date.fromisoformat(raw["started_on"]),
        reconcile_on=date.fromisoformat(raw["reconcile_on"]),
        remitted_pence=raw["remitted_pence"],
        short_pence=raw.get("short_pence", 0),
    )


# The case's identity, its bill and its schedule are set by the use cases, never by a rule.
_LADDER_FIELDS = (
    "is_open",
    "charged_pence",
    "paid_pence",
    "balance_pence",
    "reminders_sent",
    "reminder_issued_on",
    "reminder_pay_by",
    "reminder_required_pence",
    "charge_at_last_notice_pence",
    "unanswered_miss_on",
    "failure_on",
    "balance_due_on",
    "balance_fell_due",
    "final_notice_issued_on",
    "summons_id",
    "summons_issued_on",
    "hearing_date",
    "liability_order_on",
    "referral_id",
    "referral_due_on",
    "referred_on",
    "agent",
    "fell_due_on",
    "letter_before_claim_on",
    "reply_by",
    "reply",
    "notice_of_intention_on",
    "claim_after",
    "claim_id",
    "claim_referred_on",
    "hbop_classification",
    "hbop_decided_on",
    "held",
    "held_since",
    "vulnerable",
    "next_action_on",
)


def new_case(
    *,
    debt_id: str,
    account_ref: str,
    party_id: str,
    debt_type: DebtType,
    financial_year: str | None,
    bill_issued_on: date,
    recipient_name: str,
    recipient_address: list[str],
    amount_pence: int,
    schedule: list[tuple[str, int]],
) -> CaseRecord:
    now = utc_now()
    return CaseRecord(
        case_id=debt_id,
        debt_id=debt_id,
        account_ref=account_ref,
        party_id=party_id,
        debt_type=debt_type.value,
        financial_year=financial_year,
        bill_issued_on=bill_issued_on,
        recipient_name=recipient_name,
        recipient_address=tuple(recipient_address),
        stage=domain.Stage.BILLED.value,
        is_open=True,
        charged_pence=amount_pence,
        paid_pence=0,
        balance_pence=amount_pence,
        schedule=tuple(schedule),
        reminders_sent=0,
        reminder_issued_on=None,
        reminder_pay_by=None,
        reminder_required_pence=0,
        charge_at_last_notice_pence=amount_pence,
        unanswered_miss_on=None,
        failure_on=None,
        balance_due_on=None,
        balance_fell_due=False,
        final_notice_issued_on=None,
        summons_id=None,
        summons_issued_on=None,
        hearing_date=None,
        liability_order_on=None,
        referral_id=None,
        referral_due_on=None,
        referred_on=None,
        agent=None,
        fell_due_on=None,
        letter_before_claim_on=None,
        reply_by=None,
        reply=None,
        notice_of_intention_on=None,
        claim_after=None,
        claim_id=None,
        claim_referred_on=None,
        hbop_classification=None,
        hbop_decided_on=None,
        employment=None,
        attachment=None,
        benefit_deduction=None,
        held=False,
        held_since=None,
        vulnerable=False,
        next_action_on=None,
        opened_at=now,
        updated_at=now,
        attention_reason=None,
        attention_since=None,
    )


@dataclass(slots=True)
class HoldRecord:
    """A breathing space, paused dispute, death or insolvency, or a vulnerability flag,
    and the cases it covers; pending while it covers none (models.Hold)."""

    party_id: str
    account_ref: str
    kind: str
    reference: str
    started_on: date
    ended_on: date | None
    case_ids: list[str]
    pending: bool


HOLD_KEY = ("party_id", "kind", "started_on", "reference")


@dataclass(slots=True)
class PendingScheduleRecord:
    debt_id: str
    schedule: list[list[Any]]
    received_at: datetime


@dataclass(slots=True)
class LadderStepRecord:
    case_id: str
    on: date
    step: str
    detail: str
    recorded_at: datetime


@dataclass(slots=True)
class AgentReturnRecord:
    referral_id: str
    case_id: str
    outcome: str
    amount_collected_pence: int
    fees_pence: int
    returned_on: date


# --- what the use cases ask of the store ------------------------------------------


class CaseRepository(Protocol):
    async def load(
        self,
        *,
        debt_ids: Iterable[str] = (),
        summons_ids: Iterable[str] = (),
        referral_ids: Iterable[str] = (),
        parties: Iterable[str] = (),
        accounts: Iterable[str] = (),
        claim_ids: Iterable[str] = (),
    ) -> None:
        """Hold every case these name, in a few queries (a batch's prefetch)."""

    async def for_debt(self, debt_id: str) -> CaseRecord | None: ...
    async def for_summons(self, summons_id: str) -> CaseRecord | None: ...
    async def for_referral(self, referral_id: str) -> CaseRecord | None: ...
    async def for_claim(self, claim_id: str) -> CaseRecord | None: ...
    async def of_party(self, party_id: str) -> list[CaseRecord]: ...
    async def of_account(self, account_ref: str) -> list[CaseRecord]: ...

    async def due_for_action(self, today: date) -> list[CaseRecord]:
        """Open, unheld cases whose next step falls due by ``today``, and open cases
        needing attention, held or not (the daily sweep)."""

    async def needing_attention(self) -> list[CaseRecord]:
        """Cases that could not be moved, longest waiting first (for officers and ops)."""

    async def at_stage(self, stage: str) -> list[CaseRecord]:
        """Every case at one stage, by case id (officers' lists: not recoverable, statute-barred)."""

    def add(self, case: CaseRecord) -> None: ...


class HoldRepository(Protocol):
    async def load_open(self, parties: Iterable[str]) -> None: ...

    async def open_holds(self, party_id: str, kind: str | None = None) -> list[HoldRecord]:
        """The person's holds not yet ended (of one kind, if given)."""

    def add(self, hold: HoldRecord) -> None: ...

    async def of_party(self, party_id: str) -> list[HoldRecord]:
        """Every hold and flag kept for the person, ended ones too."""

    async def pending(self) -> list[HoldRecord]:
        """Every pending hold not yet ended, oldest first (for officers and ops)."""

    async def pending_count(self) -> int:
        """How many pending holds there are, this unit's changes included."""


class PendingSchedules(Protocol):
    """Instalment schedules that arrived (arrangement.made) before their bill."""

    async def load(self, debt_ids: Iterable[str]) -> None: ...
    async def take(self, debt_id: str) -> list[list[Any]] | None: ...
    async def keep(self, debt_id: str, schedule: list[list[Any]]) -> None: ...


class CaseHistory(Protocol):
    """What an officer reads: every stage change, notice, court step and agent return."""

    def step(self, case_id: str, on: date, step: str, detail: str) -> None: ...
    def agent_return(self, record: AgentReturnRecord) -> None: ...


class Cases(UnitOfWork):
    """Enforcement's unit of work, whatever it stores into."""

    cases: CaseRepository
    holds: HoldRepository
    schedules: PendingSchedules
    history: CaseHistory


# --- on the service's database --------------------------------------------------------


def _find(records: Records[CaseRecord], match: Callable[[CaseRecord], bool]) -> list[CaseRecord]:
    return [r for r in records.held_records() if match(r)]


class SqlCaseRepository:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self.uow = uow
        self.records: Records[CaseRecord] = Records(RecoveryCase.__table__, CaseRecord, key=("case_id",))  # type: ignore[attr-defined]
        self._asked: dict[str, set[str]] = {
            "summons_id": set(),
            "referral_id": set(),
            "party_id": set(),
            "account_ref": set(),
            "claim_id": set(),
        }

    async def load(
        self,
        *,
        debt_ids: Iterable[str] = (),
        summons_ids: Iterable[str] = (),
        referral_ids: Iterable[str] = (),
        parties: Iterable[str] = (),
        accounts: Iterable[str] = (),
        claim_ids: Iterable[str] = (),
    ) -> None:
        records = self.records
        wanted = [d for d in set(debt_ids) if not records.knows(d)]
        conditions = records.key_column_in(wanted)
        for column, values in (
            ("summons_id", summons_ids),
            ("referral_id", referral_ids),
            ("party_id", parties),
            ("account_ref", accounts),
            ("claim_id", claim_ids),
        ):
            asked = self._asked[column]
            new = sorted(set(values) - asked)
            asked.update(new)
            for start in range(0, len(new), 2000):
                conditions.append(records.table.c[column].in_(new[start : start + 2000]))
        for condition in conditions:
            rows = await self.uow.session.execute(records.select().where(condition))
            records.remember(rows)
        records.absent(wanted)

    async def for_debt(self, debt_id: str) -> CaseRecord | None:
        if not self.records.knows(debt_id):
            await self.load(debt_ids=[debt_id])
        return self.records.held(debt_id)

    async def _one(self, column: str, value: str) -> CaseRecord | None:
        if value not in self._asked[column]:
            await self.load(**{_LOAD_ARGUMENT[column]: [value]})
        found = _find(self.records, lambda r: getattr(r, column) == value)
        return found[0] if found else None

    async def for_summons(self, summons_id: str) -> CaseRecord | None:
        return await self._one("summons_id", summons_id)

    async def for_referral(self, referral_id: str) -> CaseRecord | None:
        return await self._one("referral_id", referral_id)

    async def for_claim(self, claim_id: str) -> CaseRecord | None:
        return await self._one("claim_id", claim_id)

    async def of_party(self, party_id: str) -> list[CaseRecord]:
        if party_id not in self._asked["party_id"]:
            await self.load(parties=[party_id])
        return sorted(_find(self.records, lambda r: r.party_id == party_id), key=lambda r: r.case_id)

    async def of_account(self, account_ref: str) -> list[CaseRecord]:
        if account_ref not in self._asked["account_ref"]:
            await self.load(accounts=[account_ref])
        return sorted(_find(self.records, lambda r: r.account_ref == account_ref), key=lambda r: r.case_id)

    async def due_for_action(self, today: date) -> list[CaseRecord]:
        await self.uow.flush()  # the query must see what earlier events of the batch changed
        c = self.records.table.c
        rows = await self.uow.session.execute(
            self.records.select()
            .where(
                c.is_open.is_(True),
                or_(and_(c.held.is_(False), c.next_action_on <= today), c.attention_since.is_not(None)),
            )
            .order_by(c.case_id)
        )
        return self.records.remember(rows)

    async def needing_attention(self) -> list[CaseRecord]:
        await self.uow.flush()
        c = self.records.table.c
        rows = await self.uow.session.execute(
            self.records.select().where(c.attention_since.is_not(None)).order_by(c.attention_since, c.case_id)
        )
        return self.records.remember(rows)

    async def at_stage(self, stage: str) -> list[CaseRecord]:
        await self.uow.flush()
        c = self.records.table.c
        rows = await self.uow.session.execute(self.records.select().where(c.stage == stage).order_by(c.case_id))
        return self.records.remember(rows)

    def add(self, case: CaseRecord) -> None:
        self.records.add(case)


_LOAD_ARGUMENT = {"summons_id": "summons_ids", "referral_id": "referral_ids", "claim_id": "claim_ids"}


class SqlHoldRepository:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self.uow = uow
        self.records: Records[HoldRecord] = Records(Hold.__table__, HoldRecord, key=HOLD_KEY)  # type: ignore[attr-defined]
        self._parties: set[str] = set()

    async def load_open(self, parties: Iterable[str]) -> None:
        new = sorted(set(parties) - self._parties)
        self._parties.update(new)
        c = self.records.table.c
        for start in range(0, len(new), 2000):
            rows = await self.uow.session.execute(
                self.records.select().where(and_(c.party_id.in_(new[start : start + 2000]), c.ended_on.is_(None)))
            )
            self.records.remember(rows)

    async def open_holds(self, party_id: str, kind: str | None = None) -> list[HoldRecord]:
        if party_id not in self._parties:
            await self.load_open([party_id])
        return [
            h
            for h in self.records.held_records()
            if h.party_id == party_id and h.ended_on is None and (kind is None or h.kind == kind)
        ]

    async def of_party(self, party_id: str) -> list[HoldRecord]:
        rows = await self.uow.session.execute(self.records.select().where(self.records.table.c.party_id == party_id))
        self.records.remember(rows)
        return [h for h in self.records.held_records() if h.party_id == party_id]

    def add(self, hold: HoldRecord) -> None:
        self.records.add(hold)

    async def pending(self) -> list[HoldRecord]:
        c = self.records.table.c
        rows = await self.uow.session.execute(
            self.records.select()
            .where(c.pending.is_(True), c.ended_on.is_(None))
            .order_by(c.started_on, c.party_id, c.kind)
        )
        return self.records.remember(rows)

    async def pending_count(self) -> int:
        await self.uow.flush()  # a hold this unit kept pending counts too
        c = self.records.table.c
        query = select(func.count()).select_from(self.records.table).where(c.pending.is_(True), c.ended_on.is_(None))
        return int((await self.uow.session.execute(query)).scalar_one())


class SqlPendingSchedules:
    def __init__(self, uow: SqlUnitOfWork) -> None:
        self.uow = uow
        self.records: Records[PendingScheduleRecord] = Records(
            PendingSchedule.__table__,  # type: ignore[attr-defined]
            PendingScheduleRecord,
            key=("debt_id",),
        )

    async def load(self, debt_ids: Iterable[str]) -> None:
        wanted = [d for d in set(debt_ids) if not self.records.knows(d)]
        for condition in self.records.key_column_in(wanted):
            self.records.remember(await self.uow.session.execute(self.records.select().where(condition)))
        self.records.absent(wanted)

    async def take(self, debt_id: str) -> list[list[Any]] | None:
        await self.load([debt_id])
        pending = self.records.held(debt_id)
        if pending is None:
            return None
        self.records.remove(pending)
        return list(pending.schedule)

    async def keep(self, debt_id: str, schedule: list[list[Any]]) -> None:
        await self.load([debt_id])
        pending = self.records.held(debt_id)
        if pending is None:
            self.records.add(PendingScheduleRecord(debt_id, schedule, utc_now()))
        else:
            pending.schedule = schedule


class SqlCaseHistory:
    def __init__(self) -> None:
        self.steps: Log[LadderStepRecord] = Log(LadderStep.__table__, LadderStepRecord)  # type: ignore[attr-defined]
        self.returns: Log[AgentReturnRecord] = Log(AgentReturn.__table__, AgentReturnRecord)  # type: ignore[attr-defined]

    def step(self, case_id: str, on: date, step: str, detail: str) -> None:
        self.steps.append(LadderStepRecord(case_id, on, step, detail, utc_now()))

    def agent_return(self, record: AgentReturnRecord) -> None:
        self.returns.append(record)


class SqlCases(SqlUnitOfWork, Cases):
    def open_repositories(self) -> None:
        cases, holds = SqlCaseRepository(self), SqlHoldRepository(self)
        schedules, history = SqlPendingSchedules(self), SqlCaseHistory()
        self.cases, self.holds, self.schedules, self.history = cases, holds, schedules, history
        for records in (cases.records, holds.records, schedules.records, history.steps, history.returns):
            self.track(records)
