"""Recovering Housing Benefit overpayments from ongoing HB, end to end (issue 10): the four
services as processes on the real broker, the benefits system's award feed on
benefits.hb-awards.v1, business days driven one day.started each across the start of
the 2025/26 benefit year. Written against the contracts and payments' ledger only.

Sources (numbers as in ../shared/domain.md):
- SI 2006/213 reg 102(1) [S36][S37]: at most three times 5% of the 25+ personal allowance a
  week (five times for fraud), 5% rounded up to the next 5p: £13.65 (fraud £22.75) in
  2024/25 from the £90.50 allowance [S37]; £13.95 (fraud £23.25) in 2025/26 from £92.05
  [DERIVED] (``statute.housing_benefit.PERSONAL_ALLOWANCE_25_PLUS``).
- SI 2006/213 reg 2: the benefit year starts on the first Monday in April (7 April 2025).
- The Debt Respite Scheme (Breathing Space Moratorium) Regulations 2020 (SI 2020/1311) [S47]:
  no step to recover the person's debts while it lasts, deduction from HB included.
- Domain §4 [S43b]: when the award ends with money still owed, the next route is the invoice
  on the council's terms, then its reminder.
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
from recovery_shared.contracts.common import DebtType, HbopClassification, LiableParty, OverpaymentDecision
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    ChargeRaised,
    ChargeRaisedData,
    CircumstanceData,
    DayStarted,
    DayStartedData,
    HbAwardData,
    HbAwardEnded,
    HbAwardEndedData,
    HbAwardStarted,
)
from recovery_shared.council import load_council_config
from recovery_shared.statute.housing_benefit import benefit_year_of, maximum_weekly_deduction
from recovery_shared.statute.service import served_on
from tests.processes import ServiceProcess, driving, http_json, send, wait_quiet

pytestmark = pytest.mark.e2e

BILLED_ON = date(2025, 3, 3)  # a Monday: the first benefit week of both awards
NEW_YEAR = date(2025, 4, 7)  # the first Monday in April 2025: benefit year 2025/26 begins
AWARD_ENDS = date(2025, 4, 27)  # a Sunday: the ordinary award's last week is 21-27 April
ENDED_SENT_ON = date(2025, 4, 23)
LAST_DAY = date(2025, 5, 31)
ORDINARY_PENCE = 30000
HELD_PENCE = 50000
BS_START, BS_END = date(2025, 3, 12), date(2025, 3, 25)
FRAUD_PENCE = 15000
WEEKLY_AWARD_PENCE = 12000
WATCH = [topics.PAYMENT_EVENTS, topics.NOTICE_REQUESTS, topics.ENFORCEMENT_EVENTS]

# The figures the regulation gives, written out so a change to the table shows here.
ORDINARY_2024, ORDINARY_2025 = 1365, 1395
FRAUD_2024, FRAUD_2025 = 2275, 2325


def overpayment_bill(account: str, amount_pence: int, classification: HbopClassification) -> ChargeRaised:
    return ChargeRaised(
        key=account,
        data=ChargeRaisedData(
            debt_id=f"HBOP-{account}",
            account_ref=account,
            debt_type=DebtType.HB_OVERPAYMENT,
            amount_pence=amount_pence,
            bill_issued_on=BILLED_ON,
            liable_party=LiableParty(party_id=f"P-{account}", name="Test Claimant"),
            overpayment=OverpaymentDecision(
                classification=classification,
                period_start=date(2024, 9, 2),
                period_end=date(2025, 1, 26),
                reason="A partner's earnings were not reported",
                calculation="21 weeks at the difference between the award paid and the award due",
                decided_on=date(2025, 2, 26),
                could_reasonably_have_realised=True,
            ),
        ),
    )


def award_started(account: str, *, fraud: bool) -> HbAwardStarted:
    return HbAwardStarted(
        key=account,
        data=HbAwardData(
            claim_ref=f"CLAIM-{account}",
            account_ref=account,
            weekly_award_pence=WEEKLY_AWARD_PENCE,
            fraud=fraud,
            effective_on=BILLED_ON,
        ),
    )


@dataclass
class Run:
    ordinary: str
    fraud: str
    held: str
    events: dict[str, list[dict[str, Any]]]
    ledger: dict[str, Any]

    def of(self, account: str, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events[account] if e["type"] == kind]

    def deductions(self, account: str) -> list[tuple[date, int]]:
        return [
            (date.fromisoformat(d["received_on"]), d["amount_pence"]) for d in self.of(account, "payment.allocated")
        ]


@pytest.fixture(scope="module")
async def run(kafka_bootstrap: str, services: dict[str, ServiceProcess]) -> AsyncIterator[Run]:
    tag = uuid.uuid4().hex[:6]
    ordinary, fraud, held = f"HBD-{tag}", f"HBF-{tag}", f"HBB-{tag}"
    circumstances: dict[date, list[Envelope]] = {
        BS_START: [
            BreathingSpaceStarted(
                key=held,
                data=BreathingSpaceStartedData(
                    party_id=f"P-{held}", account_ref=held, effective_on=BS_START, expected_end=BS_END
                ),
            )
        ],
        BS_END: [
            BreathingSpaceEnded(
                key=held, data=CircumstanceData(party_id=f"P-{held}", account_ref=held, effective_on=BS_END)
            )
        ],
    }
    async with driving(kafka_bootstrap, f"test-hb-{tag}", tag, WATCH) as (producer, probe, watcher):
        await send(
            producer,
            topics.BILLING_CHARGES,
            [
                overpayment_bill(ordinary, ORDINARY_PENCE, HbopClassification.CLAIMANT_ERROR),
                overpayment_bill(fraud, FRAUD_PENCE, HbopClassification.FRAUD),
                overpayment_bill(held, HELD_PENCE, HbopClassification.CLAIMANT_ERROR),
            ],
        )
        await send(
            producer,
            topics.BENEFITS_HB_AWARDS,
            [
                award_started(ordinary, fraud=False),
                award_started(fraud, fraud=True),
                award_started(held, fraud=False),
            ],
        )
        await wait_quiet(probe, services)
        day = BILLED_ON
        while day <= LAST_DAY:
            await send(producer, topics.CLOCK_DAYS, [DayStarted(data=DayStartedData(business_date=day))])
            await send(producer, topics.DEBTOR_CIRCUMSTANCES, circumstances.get(day, []))
            if day == ENDED_SENT_ON:
                ended = HbAwardEnded(
                    key=ordinary,
                    data=HbAwardEndedData(claim_ref=f"CLAIM-{ordinary}", account_ref=ordinary, ended_on=AWARD_ENDS),
                )
                await send(producer, topics.BENEFITS_HB_AWARDS, [ended])
            await wait_quiet(probe, services)
            await asyncio.sleep(0.1)
            if watcher.notice_on(ordinary, "invoice_reminder") is not None:
                break
            day += timedelta(days=1)
    ledger = await http_json(services["payments"], "/ledger")
    yield Run(ordinary, fraud, held, watcher.events, ledger)


def _weeks(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def test_the_figures_are_reg_102s_for_each_benefit_year() -> None:
    """SI 2006/213 reg 102(1) and reg 2 [S36][S37]."""
    assert benefit_year_of(NEW_YEAR - timedelta(days=1)) == "2024/25" and benefit_year_of(NEW_YEAR) == "2025/26"
    assert maximum_weekly_deduction("2024/25", fraud=False) == ORDINARY_2024
    assert maximum_weekly_deduction("2025/26", fraud=False) == ORDINARY_2025
    assert maximum_weekly_deduction("2024/25", fraud=True) == FRAUD_2024
    assert maximum_weekly_deduction("2025/26", fraud=True) == FRAUD_2025


def test_an_ordinary_overpayment_is_deducted_weekly_at_each_years_maximum_until_the_award_ends(run: Run) -> None:
    """Claimant error: reg 102(1)(a)'s maximum each week, the 2025/26 figure from 7 April;
    the award's last week (21-27 April) is the last deduction."""
    expected = [
        (week, ORDINARY_2024 if week < NEW_YEAR else ORDINARY_2025) for week in _weeks(BILLED_ON, date(2025, 4, 21))
    ]
    assert run.deductions(run.ordinary) == expected
    [started] = run.of(run.ordinary, "hb-deductions.started")
    assert (started["weekly_pence"], started["maximum_weekly_pence"]) == (ORDINARY_2024, ORDINARY_2024)
    [stopped] = run.of(run.ordinary, "hb-deductions.stopped")
    deducted = sum(pence for _, pence in expected)
    assert stopped["reason"] == "award_ended"
    assert (stopped["deducted_pence"], stopped["outstanding_pence"]) == (deducted, ORDINARY_PENCE - deducted)


def test_when_the_award_ends_the_overpayment_moves_to_the_invoice_then_its_reminder(run: Run) -> None:
    """Domain §4 [S43b]: the invoice on the council's terms for what is left; unpaid, its reminder."""
    notices = [(d["notice_type"], date.fromisoformat(d["issued_on"])) for d in run.of(run.ordinary, "notice.requested")]
    kinds = [kind for kind, _ in notices]
    assert kinds[0] == "hbop_decision"
    # While deductions ran, the invoice arrangements scheduled at billing fell due unpaid
    # in full, and no reminder or letter came of it.
    invoices = [(kind, on) for kind, on in notices if kind == "invoice"]
    assert len(invoices) == 1, notices
    invoiced_on = invoices[0][1]
    assert invoiced_on >= ENDED_SENT_ON
    [invoice] = [d for d in run.of(run.ordinary, "notice.requested") if d["notice_type"] == "invoice"]
    deducted = sum(pence for _, pence in run.deductions(run.ordinary))
    assert invoice["amounts"]["amount"] == ORDINARY_PENCE - deducted
    terms = load_council_config().instalments.invoice_terms(DebtType.HB_OVERPAYMENT)
    due = date.fromisoformat(invoice["dates"]["due_date"])
    assert due == served_on(invoiced_on, load_council_config().service) + timedelta(days=terms)
    reminders = [on for kind, on in notices if kind == "invoice_reminder"]
    assert reminders and reminders[0] > due, notices
    assert "letter_before_claim" not in kinds[: kinds.index("invoice")]


def test_a_fraud_overpayment_is_deducted_at_the_fraud_maximum_across_the_year_and_stops_at_nil(run: Run) -> None:
    """Fraud: reg 102(1)(b)'s five times 5%, in both benefit years, never more than is owed."""
    deductions = run.deductions(run.fraud)
    full_weeks = _weeks(BILLED_ON, date(2025, 4, 7))
    expected = [(week, FRAUD_2024 if week < NEW_YEAR else FRAUD_2025) for week in full_weeks]
    expected.append((date(2025, 4, 14), FRAUD_PENCE - sum(pence for _, pence in expected)))
    assert deductions == expected
    assert sum(pence for _, pence in deductions) == FRAUD_PENCE
    [stopped] = run.of(run.fraud, "hb-deductions.stopped")
    assert (stopped["reason"], stopped["outstanding_pence"]) == ("recovered", 0)
    balances = run.of(run.fraud, "balance.changed")
    assert balances[-1]["balance_pence"] == 0
    kinds = [d["notice_type"] for d in run.of(run.fraud, "notice.requested")]
    assert kinds == ["hbop_decision"], "no invoice reminder or letter for money being deducted"


def test_every_deduction_reconciles_in_the_ledger_to_the_penny(run: Run) -> None:
    deducted = sum(p for _, p in run.deductions(run.ordinary)) + sum(p for _, p in run.deductions(run.fraud))
    ledger = run.ledger
    assert ledger["balanced"], ledger
    assert ledger["receipts_out_of_balance"] == 0
    deducted += sum(p for _, p in run.deductions(run.held))
    assert ledger["received_pence"] == deducted
    assert ledger["allocated_to_debts_pence"] == deducted
    for account in (run.ordinary, run.fraud, run.held):
        for allocated in run.of(account, "payment.allocated"):
            assert [p["debt_id"] for p in allocated["parts"]] == [f"HBOP-{account}"]
            assert allocated["credit_pence"] == 0


def test_a_breathing_space_pauses_deductions_from_hb_and_they_carry_on_after_it(run: Run) -> None:
    """SI 2020/1311 [S47]: no deduction for a benefit week that begins while the moratorium
    lasts; the weeks before it and after it are deducted as usual."""
    weeks = [on for on, _ in run.deductions(run.held)]
    assert weeks[:3] == [BILLED_ON, BILLED_ON + timedelta(weeks=1), date(2025, 3, 31)]
    assert not [on for on in weeks if BS_START <= on <= BS_END]
    assert [d["hold"] for d in run.of(run.held, "hold.applied")] == ["breathing_space"]
    assert run.of(run.held, "hb-deductions.stopped") == []
