"""The statute modules enforcement's ladder reads, against the regulations they cite.
Source numbers are ../shared/domain.md's."""

from __future__ import annotations

from datetime import date

import pytest

from recovery_shared.contracts.common import DebtType
from recovery_shared.council import load_council_config
from recovery_shared.statute import business_rates, council_tax, fees, holds, limitation, pre_action
from recovery_shared.statute.holds import HoldKind


def test_council_tax_periods_are_those_of_si_1992_613() -> None:
    ct = council_tax.COUNCIL_TAX
    # reg 23(3) [S1]: 7 days beginning with the day of the reminder (here, from its service) ...
    assert ct.reminder_pay_by(date(2026, 5, 6)) == date(2026, 5, 12)
    # ... then the balance at the expiry of a further 7 days from the failure.
    assert ct.balance_due_after_failure(ct.failure_on(date(2026, 5, 12))) == date(2026, 5, 20)
    # reg 23(4) [S1][S7]: after a second reminder complied with, the day after a later failure.
    assert ct.balance_due_after_later_miss(date(2026, 9, 1)) == date(2026, 9, 2)
    assert ct.max_reminders == 2
    # reg 34(1) [S5]: 7 days after the final notice.
    assert ct.court_application_from(date(2026, 5, 22)) == date(2026, 5, 29)
    # reg 35(2A) [S6]: "How long after a summons can the order be made?" 14 days after service.
    assert council_tax.LIABILITY_ORDER_AFTER_SERVICE_DAYS == 14
    assert ct.liability_order_earliest(date(2026, 5, 29)) == date(2026, 6, 13)
    # reg 34(3) [S9][S10]: six years, a 29 February bill ending on 28 February.
    assert ct.last_application_day(date(2020, 2, 29)) == date(2026, 2, 28)


def test_reg_33_a_final_notice_only_without_a_reminder_or_after_the_amount_changed() -> None:
    assert council_tax.final_notice_required(reminders_sent=0, charged_pence=100, charged_at_last_notice_pence=100)
    assert council_tax.final_notice_required(reminders_sent=1, charged_pence=150, charged_at_last_notice_pence=100)
    assert not council_tax.final_notice_required(reminders_sent=2, charged_pence=100, charged_at_last_notice_pence=100)


def test_business_rates_one_further_notice_and_seven_days_after_any_later_miss() -> None:
    """SI 1989/1058 reg 8 [S24]; reg 12 [S28]."""
    nndr = business_rates.BUSINESS_RATES
    assert nndr.max_reminders == 1 and not nndr.final_notice
    assert nndr.balance_due_after_later_miss(date(2026, 7, 1)) == date(2026, 7, 8)
    assert nndr.liability_order_after_service_days == 14


def test_the_agents_fee_scale_is_kept_by_date() -> None:
    """Taking Control of Goods (Fees) Regulations 2014 Schedule [S29]: £75, £235, £110;
    7.5% of the debt above £1,500 at the enforcement and sale stages."""
    scale = fees.fee_scale_on(date(2026, 5, 1))
    assert (scale.compliance_fee_pence, scale.enforcement_fee_pence, scale.sale_fee_pence) == (7500, 23500, 11000)
    assert scale.percentage_fee_pence(250000) == 7500  # 7.5% of £1,000
    assert scale.percentage_fee_pence(100000) == 0
    with pytest.raises(LookupError):
        fees.fee_scale_on(date(2014, 4, 5))  # before the Regulations came into force
    assert load_council_config().agent_fees_on(date(2026, 5, 1)) == scale


def test_holds_reach_and_pause_as_the_law_and_the_council_say() -> None:
    """SI 2020/1311 [S47]: reg 14 reaches every debt of the person; debts arising after the
    start are not covered [S47e]. A dispute does not suspend liability [S28b][S54]."""
    assert holds.reaches_every_debt_of_the_person(HoldKind.BREATHING_SPACE)
    assert not holds.reaches_every_debt_of_the_person(HoldKind.DISPUTE)
    assert not holds.covers(HoldKind.BREATHING_SPACE, debt_arose_on=date(2026, 6, 1), hold_starts_on=date(2026, 5, 4))
    assert holds.covers(HoldKind.DECEASED, debt_arose_on=date(2026, 6, 1), hold_starts_on=date(2026, 5, 4))
    assert holds.pauses_recovery(HoldKind.BREATHING_SPACE, dispute_pauses_recovery=False)
    assert not holds.pauses_recovery(HoldKind.DISPUTE, dispute_pauses_recovery=False)
    assert holds.pauses_recovery(HoldKind.DISPUTE, dispute_pauses_recovery=True)
    assert load_council_config().holds.dispute_pauses_recovery is False


def test_the_pre_action_protocols_periods() -> None:
    # Pre-Action Protocol for Debt Claims [S45][S45b]: 30 days to reply to the letter ...
    assert pre_action.reply_by(date(2026, 4, 8)) == date(2026, 5, 8)
    # ... 30 days again after supplying documents the debtor asked for ...
    assert pre_action.reply_by_after_documents(date(2026, 6, 1)) == date(2026, 7, 1)
    # ... and 14 days' notice before issuing where no agreement is reached.
    assert pre_action.claim_after(date(2026, 5, 12)) == date(2026, 5, 26)


@pytest.mark.parametrize(
    ("debt_type", "section"),
    [
        (DebtType.TEMPORARY_ACCOMMODATION, "Limitation Act 1980 s.5"),  # simple contract [S45]
        (DebtType.SUNDRY, "Limitation Act 1980 s.5"),
        (DebtType.HB_OVERPAYMENT, "Limitation Act 1980 s.9"),  # sum recoverable by statute, s.75(7) SSAA [S44]
    ],
)
def test_a_civil_debt_is_claimed_within_six_years_of_falling_due(debt_type: DebtType, section: str) -> None:
    assert limitation.limitation_for(debt_type) == (6, section)
    assert limitation.barred_from(date(2020, 3, 24), debt_type) == date(2026, 3, 24)
    assert not limitation.is_time_barred(date(2020, 3, 24), debt_type, date(2026, 3, 23))
    assert limitation.is_time_barred(date(2020, 3, 24), debt_type, date(2026, 3, 24))
    assert limitation.barred_from(date(2020, 2, 29), debt_type) == date(2026, 2, 28)


def test_council_tax_is_not_claimed_in_the_county_court_under_these_periods() -> None:
    with pytest.raises(ValueError, match="not claimed in the county court"):
        limitation.limitation_for(DebtType.COUNCIL_TAX)
