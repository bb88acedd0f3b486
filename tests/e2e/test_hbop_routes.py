"""Recovering Housing Benefit overpayments by Direct Earnings Attachment and by deduction
from other benefits through the DWP, end to end (issue 10): the four services as processes
on the real broker; the person's employment on debtors.circumstances.v1, the DWP's answers
on benefits.deduction-responses.v1, the employers' and the DWP's payments over on
payments.receipts.v1, business days driven one day.started each. Written against the
contracts, payments' ledger and enforcement's officer list of remittances behind.

Sources (numbers as in ../shared/domain.md):
- The Social Security (Overpayments and Recovery) Regulations 2013 (SI 2013/384) Part 6
  [S42][S42c][S43]: reg 20(3) and Sch 2 Tables A (weekly) and B (monthly) for the standard
  rates; reg 20(3B) and Tables C and D, the higher rates where the person was found guilty
  of an offence (inserted by SI 2015/499 reg 5); reg 17, the protected earnings proportion
  of 60%, so never more than 40% of net pay; reg 22, a month's deductions paid over by the
  19th of the next month; reg 24, the employer tells the council the person has left.
- Domain §4 [S39][S40][S41][S43b]: the invoice (14 days), then its reminder (7 more days),
  then the council's routes in its order ([hbop] after_invoice): a DEA where the employer is
  known, a request to the DWP to deduct from other benefits (the DWP sets the weekly
  amount; the council keeps the debt), then the Pre-Action Protocol's letters [S45].
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from recovery_shared import topics
from recovery_shared.contracts.common import (
    HbopClassification,
    LiableParty,
    PayFrequency,
)
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    ChargeRaised,
    DayStarted,
    DayStartedData,
    EmploymentEnded,
    EmploymentEndedData,
    EmploymentReported,
    EmploymentReportedData,
    PaymentReceived,
)
from recovery_shared.council import load_council_config
from recovery_shared.statute.housing_benefit import DEA_CAP_PERCENT
from tests.factories import (
    deduction_accepted,
    deduction_refused,
    overpayment_decision,
    overpayment_raised,
    payment_received,
)
from tests.processes import ServiceProcess, Watcher, driving, http_json, send, wait_quiet

pytestmark = pytest.mark.e2e

BILLED_ON = date(2026, 3, 2)
LAST_DAY = date(2026, 6, 22)
OWED = {"weekly": 90000, "monthly": 120000, "leaver": 60000, "benefits": 50000}
WATCH = [
    topics.PAYMENT_EVENTS,
    topics.NOTICE_REQUESTS,
    topics.NOTICE_EVENTS,
    topics.ENFORCEMENT_EVENTS,
    topics.BENEFITS_DEDUCTION_REQUESTS,
]
DWP_WEEKLY = 1500
DWP_EVERY_DAYS = load_council_config().hbop.dwp_paid_every_days

# The table's figures for the earnings below, written out so a change to the table shows here.
WEEKLY_NET, WEEKLY_PERCENT, WEEKLY_DEDUCTION = 30000, 11, 3300  # £300: over £270, not over £375 (Table A)
MONTHLY_NET, MONTHLY_PERCENT, MONTHLY_DEDUCTION = 150000, 22, 33000  # £1,500: over £1,160, not over £1,615 (Table D)
LEAVER_NET, LEAVER_PERCENT, LEAVER_DEDUCTION = 60000, 20, 12000  # £600: over £520 (Table A)


def overpayment_bill(account: str, classification: HbopClassification, owed: int) -> ChargeRaised:
    return overpayment_raised(
        account,
        debt_id=f"HBOP-{account}",
        amount_pence=owed,
        bill_issued_on=BILLED_ON,
        decision=overpayment_decision(classification, decided_on=date(2026, 2, 25)),
        liable_party=LiableParty(
            party_id=f"P-{account}", name="Test Earner", address_lines=["2 Low Road"], postcode="AB3 4EF"
        ),
    )


def employed(account: str, net: int, frequency: PayFrequency, next_pay_day: date) -> EmploymentReported:
    return EmploymentReported(
        key=account,
        data=EmploymentReportedData(
            party_id=f"P-{account}",
            account_ref=account,
            employer_ref=f"EMP/{account}",
            employer_name=f"Employer of {account} Ltd",
            employer_address=["Payroll", "1 Mill Lane", "AB2 3CD"],
            pay_frequency=frequency,
            net_earnings_pence=net,
            next_pay_day=next_pay_day,
            reported_on=BILLED_ON,
        ),
    )


def remittance(account: str, pence: int, on: date) -> PaymentReceived:
    return payment_received(
        f"DEA-{account}-{on.isoformat()}",
        pence,
        reference=account,
        received_on=on,
        channel="direct_earnings_attachment",
        directed_debt_id=f"HBOP-{account}",
    )


def pay_days_in_month(first: date, step_days: int | None, year: int, month: int) -> int:
    """How many pay-days from ``first`` fall in the month (monthly pay: one)."""
    if step_days is None:
        return 1 if (year, month) >= (first.year, first.month) else 0
    day, count = first, 0
    while (day.year, day.month) <= (year, month):
        count += (day.year, day.month) == (year, month)
        day += timedelta(days=step_days)
    return count


def dwp_answer(watcher: Watcher, day: date, benefits: str, leaver: str, answered: set[str]) -> list[Envelope]:
    """Playing the DWP: the person on benefits has a benefit to deduct from, the leaver none."""
    answers: list[Envelope] = []
    for account in (benefits, leaver):
        for e in watcher.events[account]:
            data = e["data"]
            if e["type"] != "deduction.requested" or data["request_id"] in answered:
                continue
            answered.add(data["request_id"])
            debt = data["debt_ids"][0]
            if account == benefits:
                week_on = day + timedelta(days=7)
                answers.append(deduction_accepted(account, data["request_id"], debt, DWP_WEEKLY, week_on, day))
            else:
                answers.append(deduction_refused(account, data["request_id"], debt, day))
    return answers


def dwp_pays(watcher: Watcher, day: date, benefits: str, remitted: dict[str, list[tuple[date, int]]]) -> list[Envelope]:
    """Every 28 days from the first deduction the DWP pays over: the first time all four
    weeks, the second time one week only."""
    accepted = [e["data"] for e in watcher.events[benefits] if e["type"] == "stage.changed"]
    first = next(
        (date.fromisoformat(d["on"]) for d in accepted if d["to_stage"] == "dwp_deduction"),
        None,
    )
    if first is None:
        return []
    first += timedelta(days=7)  # the first deduction, as the DWP answered
    since = (day - first).days
    if since <= 0 or since % DWP_EVERY_DAYS:
        return []
    weeks = -(-DWP_EVERY_DAYS // 7) if not remitted[benefits] else 1
    pence = weeks * DWP_WEEKLY
    remitted[benefits].append((day, pence))
    return [
        payment_received(
            f"DWP-{benefits}-{day.isoformat()}",
            pence,
            reference=benefits,
            received_on=day,
            channel="dwp_deduction",
            directed_debt_id=f"HBOP-{benefits}",
        )
    ]


@dataclass
class Run:
    weekly: str
    monthly: str
    leaver: str
    benefits: str
    events: dict[str, list[dict[str, Any]]]
    ledger: dict[str, Any]
    remitted: dict[str, list[tuple[date, int]]]
    behind: dict[str, Any]

    def of(self, account: str, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events[account] if e["type"] == kind]

    def notices(self, account: str, notice_type: str) -> list[dict[str, Any]]:
        return [d for d in self.of(account, "notice.requested") if d["notice_type"] == notice_type]


@pytest.fixture(scope="module")
async def run(kafka_bootstrap: str, services: dict[str, ServiceProcess]) -> AsyncIterator[Run]:
    tag = uuid.uuid4().hex[:6]
    weekly, monthly, leaver, benefits = f"DEW-{tag}", f"DEM-{tag}", f"DEL-{tag}", f"DWB-{tag}"
    remitted: dict[str, list[tuple[date, int]]] = {weekly: [], monthly: [], leaver: [], benefits: []}
    answered: set[str] = set()
    async with driving(kafka_bootstrap, f"test-dea-{tag}", tag, WATCH) as (producer, probe, watcher):
        await send(
            producer,
            topics.BILLING_CHARGES,
            [
                overpayment_bill(weekly, HbopClassification.CLAIMANT_ERROR, OWED["weekly"]),
                overpayment_bill(monthly, HbopClassification.FRAUD, OWED["monthly"]),
                overpayment_bill(leaver, HbopClassification.CLAIMANT_ERROR, OWED["leaver"]),
                overpayment_bill(benefits, HbopClassification.CLAIMANT_ERROR, OWED["benefits"]),
            ],
        )
        await send(
            producer,
            topics.DEBTOR_CIRCUMSTANCES,
            [
                employed(weekly, WEEKLY_NET, PayFrequency.WEEKLY, date(2026, 3, 6)),
                employed(monthly, MONTHLY_NET, PayFrequency.MONTHLY, date(2026, 3, 27)),
                employed(leaver, LEAVER_NET, PayFrequency.WEEKLY, date(2026, 3, 5)),
            ],
        )
        await wait_quiet(probe, services)
        day = BILLED_ON
        while day <= LAST_DAY:
            await send(producer, topics.CLOCK_DAYS, [DayStarted(data=DayStartedData(business_date=day))])
            await send(producer, topics.PAYMENT_RECEIPTS, _employers_pay(watcher, day, weekly, monthly, remitted))
            await send(producer, topics.PAYMENT_RECEIPTS, dwp_pays(watcher, day, benefits, remitted))
            await send(
                producer, topics.BENEFITS_DEDUCTION_RESPONSES, dwp_answer(watcher, day, benefits, leaver, answered)
            )
            if (attached := watcher.notice_on(leaver, "dea_employer")) is not None and day == attached + timedelta(
                days=10
            ):
                ended = EmploymentEnded(
                    key=leaver,
                    data=EmploymentEndedData(
                        party_id=f"P-{leaver}", account_ref=leaver, employer_ref=f"EMP/{leaver}", left_on=day
                    ),
                )
                await send(producer, topics.DEBTOR_CIRCUMSTANCES, [ended])
            await wait_quiet(probe, services)
            await asyncio.sleep(0.05)
            day += timedelta(days=1)
        await asyncio.sleep(1.0)
        await wait_quiet(probe, services)
    ledger = await http_json(services["payments"], "/ledger")
    behind = await http_json(services["enforcement"], "/officer/remittances/behind")
    yield Run(weekly, monthly, leaver, benefits, watcher.events, ledger, remitted, behind)


def _employers_pay(
    watcher: Watcher, day: date, weekly: str, monthly: str, remitted: dict[str, list[tuple[date, int]]]
) -> list[Envelope]:
    """Each employer pays a month's deductions over on the 15th of the next month: the
    weekly payer in full for the first month and half of the second, the monthly payer in
    full every month."""
    if day.day != 15:
        return []
    paying: list[Envelope] = []
    for account, step, deduction in ((weekly, 7, WEEKLY_DEDUCTION), (monthly, None, MONTHLY_DEDUCTION)):
        notice = next(
            (
                e["data"]
                for e in watcher.events[account]
                if e["type"] == "notice.requested" and e["data"]["notice_type"] == "dea_employer"
            ),
            None,
        )
        if notice is None:
            continue
        first = date.fromisoformat(notice["dates"]["first_pay_day"])
        month = date(day.year, day.month, 1) - timedelta(days=1)  # the month the deductions were made in
        owed = deduction * pay_days_in_month(first, step, month.year, month.month)
        if owed == 0:
            continue
        if account == weekly and (month.year, month.month) != (first.year, first.month):
            owed //= 2
        remitted[account].append((day, owed))
        paying.append(remittance(account, owed, day))
    return paying


def test_the_deductions_are_the_tables_figures_never_over_40_percent(run: Run) -> None:
    """SI 2013/384 reg 20(3)/(3B), Sch 2 Tables A and D; reg 17's 60% protected."""
    for account, net, percent, deduction, fraud, frequency in (
        (run.weekly, WEEKLY_NET, WEEKLY_PERCENT, WEEKLY_DEDUCTION, False, "weekly"),
        (run.monthly, MONTHLY_NET, MONTHLY_PERCENT, MONTHLY_DEDUCTION, True, "monthly"),
        (run.leaver, LEAVER_NET, LEAVER_PERCENT, LEAVER_DEDUCTION, False, "weekly"),
    ):
        [notice] = run.notices(account, "dea_employer")
        assert notice["amounts"]["deduction"] == deduction == net * percent // 100
        assert notice["amounts"]["net_earnings"] == net
        assert notice["template_data"]["percent"] == str(percent)
        assert notice["template_data"]["fraud"] is fraud
        assert notice["template_data"]["pay_frequency"] == frequency
        assert deduction <= net * DEA_CAP_PERCENT // 100
        # To the employer, naming the employee; the person gets their own copy.
        assert notice["recipient_name"] == f"Employer of {account} Ltd"
        assert notice["template_data"]["employee_name"] == "Test Earner"
        [copy] = run.notices(account, "dea_debtor")
        assert copy["recipient_name"] == "Test Earner" and copy["amounts"] == notice["amounts"]


def test_the_attachment_follows_the_unpaid_invoice_and_reminder_with_no_letter_before_claim(run: Run) -> None:
    """Domain §4 [S43b]: invoice, reminder, then the council's next route (a DEA)."""
    for account in (run.weekly, run.monthly):
        kinds = [d["notice_type"] for d in run.of(account, "notice.requested")]
        assert kinds[:2] == ["hbop_decision", "invoice_reminder"], kinds
        assert kinds[2:4] == ["dea_employer", "dea_debtor"], kinds
        assert "letter_before_claim" not in kinds
        stages = [d["to_stage"] for d in run.of(account, "stage.changed")]
        assert stages[-1] == "dea", stages


def test_the_notices_are_rendered_from_their_templates(run: Run) -> None:
    issued = {d["notice_type"] for d in run.of(run.weekly, "notice.issued")}
    assert {"dea_employer", "dea_debtor", "dea_remittance_missed"} <= issued, issued
    assert run.of(run.weekly, "notice.failed") == []


def test_a_month_paid_over_in_full_passes_and_a_short_month_is_followed_up_with_the_employer(run: Run) -> None:
    """Reg 22: the day after the 19th, what arrived against the pay-days' deductions."""
    [notice] = run.notices(run.weekly, "dea_employer")
    first = date.fromisoformat(notice["dates"]["first_pay_day"])
    [follow_up] = run.notices(run.weekly, "dea_remittance_missed")
    through = date.fromisoformat(follow_up["dates"]["deducted_through"])
    assert (through.year, through.month) == (
        (first.year, first.month + 1) if first.month < 12 else (first.year + 1, 1)
    ), "the first month was paid in full: only the second is short"
    expected = WEEKLY_DEDUCTION * sum(
        pay_days_in_month(first, 7, y, m) for y, m in ((first.year, first.month), (through.year, through.month))
    )
    received = sum(pence for _, pence in run.remitted[run.weekly][:2])
    assert follow_up["amounts"] == {"expected": expected, "received": received, "shortfall": expected - received}
    assert follow_up["dates"]["remit_by"] == date(through.year, through.month + 1, 19).isoformat()
    assert follow_up["recipient_name"] == f"Employer of {run.weekly} Ltd"
    assert run.notices(run.monthly, "dea_remittance_missed") == []


def test_the_employer_saying_the_person_left_ends_it_and_the_next_routes_follow(run: Run) -> None:
    """Reg 24; then the council's next route, the DWP, which has no benefit to deduct from;
    then the county court route [S45]."""
    kinds = [d["notice_type"] for d in run.of(run.leaver, "notice.requested")]
    assert kinds.index("dwp_deduction_requested") > kinds.index("dea_employer"), kinds
    assert kinds.index("letter_before_claim") > kinds.index("dwp_deduction_requested"), kinds
    stages = [d["to_stage"] for d in run.of(run.leaver, "stage.changed")]
    left_at = stages.index("dea") + 1
    assert stages[left_at:] == [
        "dwp_requested",
        "letter_before_claim",
        "notice_of_intention",
        "claim_referred",
    ], stages
    assert run.remitted[run.leaver] == [] and run.notices(run.leaver, "dea_remittance_missed") == []


def test_every_remittance_reconciles_in_the_ledger_to_the_penny(run: Run) -> None:
    ledger = run.ledger
    assert ledger["balanced"], ledger
    assert ledger["receipts_out_of_balance"] == 0
    paid = sum(pence for payments in run.remitted.values() for _, pence in payments)
    assert paid > 0 and ledger["received_pence"] == paid == ledger["allocated_to_debts_pence"]
    for account in (run.weekly, run.monthly):
        allocations = run.of(account, "payment.allocated")
        assert [(a["channel"], [p["debt_id"] for p in a["parts"]]) for a in allocations] == [
            ("direct_earnings_attachment", [f"HBOP-{account}"])
        ] * len(run.remitted[account])
        [*_, last] = run.of(account, "balance.changed")
        assert last["balance_pence"] == OWED["weekly" if account == run.weekly else "monthly"] - sum(
            pence for _, pence in run.remitted[account]
        )


def test_with_no_employer_the_dwp_deducts_from_benefits_and_a_short_payment_is_listed(run: Run) -> None:
    """Domain §4 [S40][S41]: the request, the DWP's weekly amount, what it pays over checked
    a week after each payment falls due ([hbop] dwp_paid_every_days)."""
    [request] = run.of(run.benefits, "deduction.requested")
    assert (request["owed_pence"], request["fraud"]) == (OWED["benefits"], False)
    assert request["person_name"] == "Test Earner"
    kinds = [d["notice_type"] for d in run.of(run.benefits, "notice.requested")]
    assert kinds == ["hbop_decision", "invoice_reminder", "dwp_deduction_requested"], kinds
    stages = [d["to_stage"] for d in run.of(run.benefits, "stage.changed")]
    assert stages[-2:] == ["dwp_requested", "dwp_deduction"], stages
    assert len(run.remitted[run.benefits]) == 2, run.remitted[run.benefits]
    listed = {c["case_id"]: c for c in run.behind["cases"]}
    # The DWP's short payment, and the employer who paid half a month (written to already).
    assert set(listed) == {f"HBOP-{run.benefits}", f"HBOP-{run.weekly}"}, listed
    assert listed[f"HBOP-{run.weekly}"]["route"] == "employer (DEA)"
    behind = listed[f"HBOP-{run.benefits}"]
    weeks = -(-DWP_EVERY_DAYS // 7)
    received = sum(p for _, p in run.remitted[run.benefits])
    assert behind["case_id"] == f"HBOP-{run.benefits}" and behind["route"] == "DWP"
    assert (behind["received_pence"], behind["short_pence"]) == (received, 2 * weeks * DWP_WEEKLY - received)
    assert "Test Earner" not in str(run.behind)
