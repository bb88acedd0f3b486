"""The recovery ladder: pure rules over a case's dates and amounts, no I/O.

Each debt type's ladder (notices, periods, costs, remedies) comes from the
council configuration; the statutory floors are enforced here whatever the
configuration says.

Council Tax (SI 1992/613) [S1][S5][S6][S7]:
- reg 23(2)-(3): after a missed instalment, a reminder; the taxpayer has 7 days
  beginning with its issue to pay what is overdue and anything falling due in
  those 7 days; if not, the unpaid balance is payable 7 days after the failure.
- reg 23(4): after a second reminder, a later miss makes the balance payable the
  day after the failure, with no further reminder (at most 2 reminders a year).
- reg 33/34(1): a final notice only where one is needed (the amount changed
  since the last reminder, or no reminder was served); then the council may
  apply for a liability order once 7 days from its issue have passed.
- reg 35(2A): no liability order until 14 days after the summons is served.
NNDR (SI 1989/1058 reg 8) [S24]: one further notice; if it is not complied with,
or any later instalment is missed, the balance is due 7 days after the failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from recovery_shared.contracts.internal import NoticeType
from recovery_shared.council import CouncilConfig, FinalNoticePolicy, Ladder, Remedy

# Statutory floors (days) the configuration cannot go below.
REG_23_COMPLIANCE_DAYS = 7
REG_34_FINAL_NOTICE_DAYS = 7
REG_35_HEARING_NOTICE_DAYS = 14

CLOSED_STAGES = frozenset({"paid", "withdrawn", "nulla_bona", "closed"})


@dataclass(frozen=True)
class MissedInstalment:
    due_date: date
    misses_this_year: int
    overdue_pence: int
    detected_on: date


@dataclass
class Steps:
    """What the rules decided; the use case turns these into events."""

    notices: list[tuple[NoticeType, dict[str, int], dict[str, date]]] = field(default_factory=list)
    stages: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, why)
    balance_due: tuple[date, str] | None = None
    summons: tuple[date, date, int] | None = None  # (issued, hearing, costs)
    costs: list[tuple[str, int]] = field(default_factory=list)
    referral: tuple[str, int, int] | None = None  # (agent, amount, compliance fee)
    recall: str | None = None

    def move(self, case: Any, to: str, why: str) -> None:
        if case.stage != to:
            self.stages.append((case.stage, to, why))
            case.stage = to

    def __bool__(self) -> bool:
        return bool(
            self.notices
            or self.stages
            or self.balance_due
            or self.summons
            or self.costs
            or self.referral
            or self.recall
        )


def days(n: int) -> timedelta:
    return timedelta(days=n)


def cumulative_due(schedule: list[list[Any]], by: date) -> int:
    """Everything the schedule makes due on or before ``by``."""
    return sum(int(amount) for due, amount in schedule if date.fromisoformat(str(due)) <= by)


def compliance_days(ladder: Ladder) -> int:
    return max(ladder.reminder_compliance_days, REG_23_COMPLIANCE_DAYS)


def next_sitting(council: CouncilConfig, on_or_after: date) -> date:
    day = on_or_after
    for _ in range(14):
        if not council.court.sitting_weekdays or day.weekday() in council.court.sitting_weekdays:
            return day
        day += days(1)
    return on_or_after


def on_missed_instalment(case: Any, ladder: Ladder, miss: MissedInstalment) -> Steps:
    steps = Steps()
    if case.is_open and case.held:
        case.unanswered_miss_on = miss.due_date
        return steps
    if case.is_open:
        # Settle an open reminder first, in case the day's sweep has not run yet.
        _advance(case, ladder, miss.detected_on, steps, council=None)
    if not case.is_open or case.balance_fell_due or case.failure_on is not None:
        return steps  # the balance is (or is about to be) due: misses no longer matter
    if case.reminder_pay_by is not None and miss.detected_on <= case.reminder_pay_by:
        return steps  # the open reminder already covers instalments falling due in its 7 days
    today = miss.detected_on
    if case.reminders_sent < len(ladder.reminder_notices):
        notice = ladder.reminder_notices[case.reminders_sent]
        case.reminders_sent += 1
        case.reminder_issued_on = today
        case.reminder_pay_by = today + days(compliance_days(ladder) - 1)
        case.reminder_required_pence = cumulative_due(case.schedule, case.reminder_pay_by)
        case.charge_at_last_notice_pence = case.charged_pence
        overdue_now = max(case.reminder_required_pence - case.paid_pence, 0)
        steps.notices.append(
            (
                notice,
                {"amount_to_pay": overdue_now, "balance": case.balance_pence},
                {
                    "missed_instalment_due": miss.due_date,
                    "pay_by": case.reminder_pay_by,
                    "balance_due_if_unpaid": case.reminder_pay_by + days(1 + ladder.balance_due_days_after_failure),
                },
            )
        )
        steps.move(case, notice.value, f"instalment due {miss.due_date} missed ({miss.misses_this_year} this year)")
    else:
        # Reminders used up: reg 23(4) (CT, the next day) / reg 8 (NNDR, 7 days).
        case.failure_on = miss.due_date
        case.balance_due_on = miss.due_date + days(ladder.balance_due_days_after_later_miss)
        steps.move(case, "reminders_exhausted", f"instalment due {miss.due_date} missed after the reminders")
    _advance(case, ladder, today, steps, council=None)
    return steps


def on_day(case: Any, ladder: Ladder, council: CouncilConfig, today: date) -> Steps:
    """Everything that falls due on a business day for one case."""
    steps = Steps()
    if not case.is_open or case.held:
        return steps
    _advance(case, ladder, today, steps, council)
    return steps


def _advance(case: Any, ladder: Ladder, today: date, steps: Steps, council: CouncilConfig | None) -> None:
    # 1. Was the reminder complied with? Judged the day after its 7 days end.
    if case.reminder_pay_by is not None and today > case.reminder_pay_by:
        pay_by = case.reminder_pay_by
        case.reminder_pay_by = None
        if case.paid_pence >= case.reminder_required_pence:
            steps.move(case, f"{case.stage}_complied" if not case.stage.endswith("_complied") else case.stage, "paid")
        else:
            case.failure_on = pay_by + days(1)
            case.balance_due_on = case.failure_on + days(ladder.balance_due_days_after_failure)
            steps.move(case, "reminder_failed", f"not paid by {pay_by}; balance due {case.balance_due_on}")
    # 2. The right to instalments is lost: the whole balance falls due.
    if not case.balance_fell_due and case.balance_due_on is not None and today >= case.balance_due_on:
        case.balance_fell_due = True
        steps.balance_due = (case.balance_due_on, "instalments not paid as the reminder required")
        steps.move(case, "balance_due", f"whole balance due from {case.balance_due_on}")
    if council is None or not case.balance_fell_due or case.balance_pence <= 0:
        return
    # 3. Final notice where one is needed, then the summons.
    if case.summons_id is None:
        if needs_final_notice(case, ladder) and case.final_notice_issued_on is None:
            case.final_notice_issued_on = today
            case.charge_at_last_notice_pence = case.charged_pence
            steps.notices.append(
                (
                    NoticeType.FINAL_NOTICE,
                    {"balance": case.balance_pence},
                    {"court_application_from": earliest_summons(case, ladder)},
                )
            )
            steps.move(case, "final_notice", "final notice needed (reg 33)")
            return
        if today >= earliest_summons(case, ladder):
            hearing = next_sitting(council, today + days(max(ladder.hearing_after_days, REG_35_HEARING_NOTICE_DAYS)))
            case.summons_id = f"SUM-{case.case_id}"
            case.summons_issued_on = today
            case.hearing_date = hearing
            costs = ladder.summons_costs_pence
            steps.summons = (today, hearing, costs)
            if costs:
                steps.costs.append(("summons", costs))
            steps.notices.append(
                (
                    NoticeType.SUMMONS,
                    {"balance": case.balance_pence, "summons_costs": costs, "total": case.balance_pence + costs},
                    {"hearing_date": hearing},
                )
            )
            steps.move(case, "summons", f"hearing {hearing} at {council.court.name}")
        return
    # 4. After a liability order: referral to an enforcement agent.
    if (
        case.liability_order_on is not None
        and case.referred_on is None
        and case.referral_due_on is not None
        and today >= case.referral_due_on
        and Remedy.ENFORCEMENT_AGENT in ladder.remedies
        and not case.vulnerable
    ):
        fees = council.agent_fees_on(today)
        agent = council.enforcement_agents[sum(map(ord, case.case_id)) % len(council.enforcement_agents)]
        case.referred_on = today
        case.agent = agent
        case.referral_id = f"REF-{case.case_id}"
        steps.referral = (agent, case.balance_pence, fees.compliance_fee_pence)
        steps.notices.append(
            (
                NoticeType.AGENT_REFERRAL_LETTER,
                {"balance": case.balance_pence, "compliance_fee": fees.compliance_fee_pence},
                {"liability_order_date": case.liability_order_on, "referred_on": today},
            )
        )
        steps.move(case, "agent", f"referred to {agent}")


def needs_final_notice(case: Any, ladder: Ladder) -> bool:
    if ladder.final_notice == FinalNoticePolicy.ALWAYS:
        return True
    if ladder.final_notice == FinalNoticePolicy.NEVER:
        return False
    # reg 33: no reminder was served, or the amount has changed since the last one.
    return bool(case.reminders_sent == 0 or case.charged_pence != case.charge_at_last_notice_pence)


def earliest_summons(case: Any, ladder: Ladder) -> date:
    """The first day the council may lay a complaint, never earlier than the statute allows."""
    assert case.balance_due_on is not None
    earliest: date = case.balance_due_on + days(ladder.summons_wait_days)
    if case.final_notice_issued_on is not None:
        wait = max(ladder.final_notice_wait_days, REG_34_FINAL_NOTICE_DAYS)
        earliest = max(earliest, case.final_notice_issued_on + days(wait))
    return earliest


def next_action_on(case: Any, ladder: Ladder) -> date | None:
    """The next business date on which ``on_day`` can change this case."""
    if not case.is_open:
        return None
    candidates: list[date] = []
    if case.reminder_pay_by is not None:
        candidates.append(case.reminder_pay_by + days(1))
    if not case.balance_fell_due and case.balance_due_on is not None:
        candidates.append(case.balance_due_on)
    if case.balance_fell_due and case.summons_id is None and case.balance_pence > 0:
        if needs_final_notice(case, ladder) and case.final_notice_issued_on is None:
            candidates.append(case.balance_due_on or date.min)
        else:
            candidates.append(earliest_summons(case, ladder))
    if case.liability_order_on is not None and case.referred_on is None and case.referral_due_on is not None:
        candidates.append(case.referral_due_on)
    return min(candidates) if candidates else None


def on_balance(case: Any, charged: int, paid: int, balance: int) -> Steps:
    steps = Steps()
    case.charged_pence, case.paid_pence, case.balance_pence = charged, paid, balance
    if case.is_open and charged > 0 and balance <= 0:
        if case.stage == "agent":
            steps.recall = "paid in full"
        steps.move(case, "paid", "balance cleared")
        case.is_open = False
    return steps


def stop_the_clock(case: Any, held_days: int) -> None:
    """While a hold lasts no time runs against the debtor: pending dates move on."""
    shift = days(held_days)
    for name in ("reminder_pay_by", "balance_due_on", "referral_due_on"):
        value = getattr(case, name)
        if value is not None and not (name == "balance_due_on" and case.balance_fell_due):
            setattr(case, name, value + shift)
    if case.final_notice_issued_on is not None and case.summons_id is None:
        case.final_notice_issued_on = case.final_notice_issued_on + shift
