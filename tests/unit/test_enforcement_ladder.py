"""The recovery ladder against the statute, day by day.

Council Tax (Administration and Enforcement) Regulations 1992 (SI 1992/613):
reg 23(3)-(4) reminders and loss of instalments [S1][S7]; reg 33 final notice
[S7]; reg 34(1) application 7 days after a final notice [S5]; reg 34(3) six years
[S9]; reg 35(2A) no liability order until 14 days after service of the summons [S6].
NNDR: SI 1989/1058 reg 8 [S24].

Every period counts from the day the notice is served: the default council serves
by second class post, deemed served two business days after issue (its TOML
``[service]``; Interpretation Act 1978 s.7). In May 2026 that matters: a reminder
issued on Saturday 2 May is served on Wednesday 6 May, Monday 4 May being the
Early May bank holiday.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import pytest

from recovery_enforcement import domain
from recovery_enforcement.domain import Case, Decision, MissedInstalment, Stage
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.internal import NoticeType
from recovery_shared.council import load_council_config
from recovery_shared.refusal import Refused
from recovery_shared.statute.holds import HoldKind

COUNCIL = load_council_config()
CT = domain.rules_for(COUNCIL, DebtType.COUNCIL_TAX)
NNDR = domain.rules_for(COUNCIL, DebtType.BUSINESS_RATES)
INSTALMENT = 15000
SCHEDULE = tuple(domain.Due(date(2026 + (m > 12), (m - 1) % 12 + 1, 1), INSTALMENT) for m in range(4, 14))


def new_case(debt_type: DebtType = DebtType.COUNCIL_TAX, billed: date = date(2026, 3, 10)) -> Case:
    return Case(
        case_id="C1",
        debt_id="C1",
        account_ref="1001",
        party_id="P1",
        debt_type=debt_type,
        bill_issued_on=billed,
        charged_pence=INSTALMENT * 10,
        balance_pence=INSTALMENT * 10,
        charge_at_last_notice_pence=INSTALMENT * 10,
        schedule=SCHEDULE,
    )


@dataclass
class Diary:
    """Drives one case through business days and writes down what happened when."""

    case: Case
    rules: domain.Rules
    notices: list[tuple[date, NoticeType]] = field(default_factory=list)
    requests: list[domain.NoticeToRequest] = field(default_factory=list)
    fell_due: list[tuple[date, date]] = field(default_factory=list)  # (on, due_on)
    summonses: list[domain.Summons] = field(default_factory=list)
    misses: int = 0

    def record(self, decision: Decision) -> None:
        self.case = decision.case
        self.notices += [(decision.on, n.notice) for n in decision.notices]
        self.requests += decision.notices
        if decision.balance_due:
            self.fell_due.append((decision.on, decision.balance_due.due_on))
        if decision.summons:
            self.summonses.append(decision.summons)

    def pay(self, pence: int) -> None:
        c = self.case
        self.record(
            domain.on_balance(c, self.rules, c.charged_pence, c.paid_pence + pence, c.balance_pence - pence, date.min)
        )

    def miss(self, due: date) -> None:
        self.misses += 1
        miss = MissedInstalment(due, self.misses, due + timedelta(days=1))
        self.record(domain.on_missed_instalment(self.case, self.rules, miss))

    def days(self, start: date, end: date) -> None:
        day = start
        while day <= end:
            self.record(domain.on_day(self.case, self.rules, day))
            day += timedelta(days=1)


def test_two_complied_reminders_then_a_third_miss_makes_the_balance_due_next_day_without_a_reminder() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)  # April
    d.miss(date(2026, 5, 1))
    d.days(date(2026, 5, 2), date(2026, 5, 4))
    d.pay(INSTALMENT)  # May, within the 7 days
    d.days(date(2026, 5, 5), date(2026, 6, 30))
    d.pay(INSTALMENT)  # June on time
    d.miss(date(2026, 7, 1))
    d.days(date(2026, 7, 2), date(2026, 7, 6))
    d.pay(INSTALMENT)  # July, within the 7 days
    d.days(date(2026, 7, 7), date(2026, 8, 31))
    d.pay(INSTALMENT)  # August on time
    d.miss(date(2026, 9, 1))
    d.days(date(2026, 9, 2), date(2026, 10, 31))

    assert d.notices[:2] == [(date(2026, 5, 2), NoticeType.REMINDER), (date(2026, 7, 2), NoticeType.SECOND_REMINDER)]
    # reg 23(4): payable the day after the failure (missing 1 September), no third reminder.
    assert d.fell_due == [(date(2026, 9, 2), date(2026, 9, 2))]
    assert [n for _, n in d.notices].count(NoticeType.REMINDER) == 1
    assert NoticeType.FINAL_NOTICE not in [n for _, n in d.notices]  # reg 33: not needed, amount unchanged
    (summons,) = d.summonses
    assert summons.issued_on == date(2026, 9, 9)  # the council's summons_wait_days (7) after 2 September
    assert d.case.stage == Stage.SUMMONS


def test_a_reminders_seven_days_run_from_its_served_date_and_the_balance_falls_due_seven_days_after_failure() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))  # reminder issued Saturday 2 May, served Wednesday 6 May
    d.days(date(2026, 5, 2), date(2026, 5, 31))
    assert d.notices[0] == (date(2026, 5, 2), NoticeType.REMINDER)
    reminder = d.requests[0]
    # reg 23(3): 7 days beginning with the served day end on 12 May ...
    assert reminder.dates["pay_by"] == date(2026, 5, 12)
    assert reminder.amounts["amount_to_pay"] == INSTALMENT  # May, the instalment falling due in those days
    # ... the failure is on 13 May, and the balance is payable 7 days after it.
    assert d.case.failure_on == date(2026, 5, 13)
    assert reminder.dates["balance_due_if_unpaid"] == date(2026, 5, 20)
    assert d.fell_due == [(date(2026, 5, 20), date(2026, 5, 20))]
    summons = d.summonses[0]
    assert summons.issued_on == date(2026, 5, 27)  # the council's 7 days' wait after the balance fell due


def test_paying_only_part_of_what_the_reminder_asked_is_not_compliance() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))
    d.pay(INSTALMENT - 1)
    d.days(date(2026, 5, 2), date(2026, 5, 25))
    assert d.fell_due == [(date(2026, 5, 20), date(2026, 5, 20))]


def test_no_liability_order_hearing_until_fourteen_days_after_the_summons_is_served() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))
    d.days(date(2026, 5, 2), date(2026, 6, 30))
    summons = d.summonses[0]
    request = next(r for r in d.requests if r.notice == NoticeType.SUMMONS)
    # Issued Wednesday 27 May, served Friday 29 May: reg 35(2A) allows the order once 14 days
    # have elapsed, from 13 June.
    assert request.dates["liability_order_earliest"] == date(2026, 6, 13)
    assert summons.hearing_date >= date(2026, 6, 13)
    # The council lists 21 days after issue (17 June), at the next sitting (Tuesdays, Thursdays).
    assert summons.hearing_date == request.dates["hearing_date"] == date(2026, 6, 18)


def test_a_final_notice_when_the_amount_changed_and_no_summons_until_seven_days_after_it_is_served() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))
    d.days(date(2026, 5, 2), date(2026, 5, 10))
    # The bill was increased after the reminder (reg 33: a final notice is now needed).
    d.case = replace(d.case, charged_pence=d.case.charged_pence + 5000, balance_pence=d.case.balance_pence + 5000)
    d.days(date(2026, 5, 11), date(2026, 6, 30))
    finals = [on for on, n in d.notices if n == NoticeType.FINAL_NOTICE]
    assert finals == [date(2026, 5, 20)]
    # Served Friday 22 May; reg 34(1): the complaint no sooner than 7 days later.
    final = next(r for r in d.requests if r.notice == NoticeType.FINAL_NOTICE)
    assert final.dates["court_application_from"] == date(2026, 5, 29)
    assert d.summonses[0].issued_on == date(2026, 5, 29)


def test_full_payment_stops_the_ladder_at_any_stage() -> None:
    d = Diary(new_case(), CT)
    d.miss(date(2026, 4, 1))
    d.days(date(2026, 4, 2), date(2026, 4, 20))
    d.pay(d.case.balance_pence)
    d.days(date(2026, 4, 21), date(2026, 7, 1))
    assert d.case.stage == Stage.PAID and not d.case.is_open and d.case.next_action_on is None
    assert d.summonses == []


def test_a_hold_freezes_the_ladder_and_stops_the_clock() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))  # reminder 2 May, served 6 May, pay by 12 May
    d.days(date(2026, 5, 2), date(2026, 5, 4))
    d.record(domain.apply_hold(d.case, CT, HoldKind.BREATHING_SPACE, date(2026, 5, 5)))
    d.miss(date(2026, 6, 1))
    d.days(date(2026, 5, 5), date(2026, 7, 3))  # 60 days of breathing space
    assert d.notices == [(date(2026, 5, 2), NoticeType.REMINDER)] and d.fell_due == []
    assert d.case.unanswered_miss_on == date(2026, 6, 1)
    d.record(domain.release_hold(d.case, CT, HoldKind.BREATHING_SPACE, date(2026, 7, 4)))
    held = (date(2026, 7, 4) - date(2026, 5, 5)).days
    assert d.case.reminder_pay_by == date(2026, 5, 12) + timedelta(days=held)
    d.days(date(2026, 7, 4), date(2026, 8, 31))
    assert d.fell_due and d.fell_due[0][0] >= date(2026, 7, 4)


def test_business_rates_one_further_notice_then_any_later_miss_makes_the_balance_due_in_seven_days() -> None:
    d = Diary(new_case(DebtType.BUSINESS_RATES), NNDR)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))
    d.pay(INSTALMENT)
    d.days(date(2026, 5, 2), date(2026, 5, 31))
    d.pay(INSTALMENT)
    d.miss(date(2026, 7, 1))
    d.days(date(2026, 7, 2), date(2026, 8, 31))
    assert d.notices[0] == (date(2026, 5, 2), NoticeType.NNDR_FURTHER_NOTICE)
    assert NoticeType.SECOND_REMINDER not in [n for _, n in d.notices]
    assert d.fell_due == [(date(2026, 7, 8), date(2026, 7, 8))]  # reg 8: 7 days after the failure
    assert NoticeType.FINAL_NOTICE not in [n for _, n in d.notices]


def test_no_complaint_once_six_years_have_passed_since_the_bill_was_served() -> None:
    """reg 34(3) [S9]: a liability order must be applied for within six years."""
    d = Diary(new_case(billed=date(2020, 3, 10)), CT)
    d.miss(date(2026, 5, 1))
    d.days(date(2026, 5, 2), date(2026, 6, 30))
    assert d.summonses == []
    assert d.case.stage == Stage.OUT_OF_TIME and not d.case.is_open


def test_the_rules_never_change_the_case_they_are_given() -> None:
    case = new_case()
    before = replace(case)
    decision = domain.on_missed_instalment(case, CT, MissedInstalment(date(2026, 5, 1), 1, date(2026, 5, 2)))
    assert case == before
    assert decision.case.stage == Stage.REMINDER and decision.case is not case


@pytest.mark.parametrize("debt_type", [DebtType.HB_OVERPAYMENT, DebtType.TEMPORARY_ACCOMMODATION, DebtType.SUNDRY])
def test_a_debt_type_without_a_ladder_is_refused_with_a_reason(debt_type: DebtType) -> None:
    with pytest.raises(Refused, match="no recovery ladder in the council's configuration"):
        domain.rules_for(COUNCIL.model_copy(update={"civil_ladders": {}}), debt_type)


@pytest.mark.parametrize("debt_type", [DebtType.HB_OVERPAYMENT, DebtType.TEMPORARY_ACCOMMODATION, DebtType.SUNDRY])
def test_hbop_ta_and_sundry_debt_follow_the_councils_civil_ladder(debt_type: DebtType) -> None:
    rules = domain.rules_for(COUNCIL, debt_type)
    assert isinstance(rules, domain.CivilRules) and rules.ladder == COUNCIL.civil_ladders[debt_type]
