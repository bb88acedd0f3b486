"""The recovery ladder against the statute, day by day.

Council Tax (Administration and Enforcement) Regulations 1992 (SI 1992/613):
reg 23(2)-(4) reminders and loss of instalments [S1][S7]; reg 33 final notice
[S7]; reg 34(1) application 7 days after a final notice [S5]; reg 35(2A) no
liability order until 14 days after service of the summons [S6].
NNDR: SI 1989/1058 reg 8 [S24].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from recovery_enforcement import domain
from recovery_enforcement.models import RecoveryCase
from recovery_shared.contracts.internal import NoticeType
from recovery_shared.council import load_council_config

COUNCIL = load_council_config()
CT = COUNCIL.ladder("CT")
NNDR = COUNCIL.ladder("NNDR")
INSTALMENT = 15000
SCHEDULE = [[date(2026 + (m > 12), (m - 1) % 12 + 1, 1).isoformat(), INSTALMENT] for m in range(4, 14)]  # Apr..Jan


def new_case(debt_type: str = "CT") -> RecoveryCase:
    return RecoveryCase(
        case_id="C1",
        debt_id="C1",
        account_ref="1001",
        party_id="P1",
        debt_type=debt_type,
        financial_year="2026/27",
        bill_issued_on=date(2026, 3, 10),
        charged_pence=INSTALMENT * 10,
        balance_pence=INSTALMENT * 10,
        charge_at_last_notice_pence=INSTALMENT * 10,
        schedule=SCHEDULE,
    )


@dataclass
class Diary:
    """Drives one case through business days and writes down what happened when."""

    case: RecoveryCase
    ladder: object
    notices: list[tuple[date, NoticeType]] = field(default_factory=list)
    fell_due: list[tuple[date, date]] = field(default_factory=list)  # (on, due_on)
    summonses: list[tuple[date, date]] = field(default_factory=list)  # (issued, hearing)
    misses: int = 0

    def record(self, on: date, steps: domain.Steps) -> None:
        self.notices += [(on, n) for n, _, _ in steps.notices]
        if steps.balance_due:
            self.fell_due.append((on, steps.balance_due[0]))
        if steps.summons:
            self.summonses.append((steps.summons[0], steps.summons[1]))

    def pay(self, pence: int) -> None:
        c = self.case
        self.record(date.min, domain.on_balance(c, c.charged_pence, c.paid_pence + pence, c.balance_pence - pence))

    def miss(self, due: date) -> None:
        self.misses += 1
        steps = domain.on_missed_instalment(
            self.case, self.ladder, domain.MissedInstalment(due, self.misses, 0, due + timedelta(days=1))
        )  # type: ignore[arg-type]
        self.record(due + timedelta(days=1), steps)

    def days(self, start: date, end: date) -> None:
        day = start
        while day <= end:
            self.record(day, domain.on_day(self.case, self.ladder, COUNCIL, day))  # type: ignore[arg-type]
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
    ((issued, hearing),) = d.summonses
    assert issued >= date(2026, 9, 2)
    assert hearing - issued >= timedelta(days=14)  # reg 35(2A)
    assert d.case.stage == "summons"


def test_ignoring_the_first_reminder_loses_instalments_seven_days_after_the_failure() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))  # reminder issued 2 May: 7 days beginning with 2 May end on 8 May
    d.days(date(2026, 5, 2), date(2026, 5, 31))
    assert d.notices[0] == (date(2026, 5, 2), NoticeType.REMINDER)
    assert d.case.failure_on == date(2026, 5, 9)
    assert d.fell_due == [(date(2026, 5, 16), date(2026, 5, 16))]  # 7 days after the failure (reg 23(3))
    issued, hearing = d.summonses[0]
    assert issued >= date(2026, 5, 16)
    assert hearing >= issued + timedelta(days=14)


def test_paying_only_part_of_what_the_reminder_asked_is_not_compliance() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))
    d.pay(INSTALMENT - 1)
    d.days(date(2026, 5, 2), date(2026, 5, 20))
    assert d.fell_due == [(date(2026, 5, 16), date(2026, 5, 16))]


def test_a_final_notice_when_the_amount_changed_and_no_summons_until_seven_days_after_it() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))
    d.days(date(2026, 5, 2), date(2026, 5, 10))
    d.case.charged_pence += 5000  # the bill was increased after the reminder
    d.case.balance_pence += 5000
    d.days(date(2026, 5, 11), date(2026, 6, 30))
    finals = [on for on, n in d.notices if n == NoticeType.FINAL_NOTICE]
    assert finals == [date(2026, 5, 16)]
    issued, hearing = d.summonses[0]
    assert issued >= finals[0] + timedelta(days=7)  # reg 34(1)
    assert hearing >= issued + timedelta(days=14)


def test_full_payment_stops_the_ladder_at_any_stage() -> None:
    d = Diary(new_case(), CT)
    d.miss(date(2026, 4, 1))
    d.days(date(2026, 4, 2), date(2026, 4, 20))
    d.pay(d.case.balance_pence)
    d.days(date(2026, 4, 21), date(2026, 7, 1))
    assert d.case.stage == "paid" and not d.case.is_open
    assert d.summonses == []


def test_a_hold_freezes_the_ladder_and_stops_the_clock() -> None:
    d = Diary(new_case(), CT)
    d.pay(INSTALMENT)
    d.miss(date(2026, 5, 1))  # reminder 2 May, pay by 8 May
    d.days(date(2026, 5, 2), date(2026, 5, 4))
    d.case.held, d.case.held_since = True, date(2026, 5, 5)  # breathing space starts
    d.miss(date(2026, 6, 1))
    d.days(date(2026, 5, 5), date(2026, 7, 3))  # 60 days of breathing space
    assert d.notices == [(date(2026, 5, 2), NoticeType.REMINDER)] and d.fell_due == []
    held = (date(2026, 7, 4) - date(2026, 5, 5)).days
    domain.stop_the_clock(d.case, held)
    d.case.held = False
    assert d.case.reminder_pay_by == date(2026, 5, 8) + timedelta(days=held)
    d.days(date(2026, 7, 4), date(2026, 8, 31))
    assert d.fell_due and d.fell_due[0][0] >= date(2026, 7, 4)


def test_business_rates_one_further_notice_then_any_later_miss_makes_the_balance_due_in_seven_days() -> None:
    d = Diary(new_case("NNDR"), NNDR)
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
