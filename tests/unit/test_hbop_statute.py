"""Housing Benefit overpayment rules (statute/housing_benefit.py) against their sources
(domain §4): recoverability (SI 2006/213 reg 100), the weekly maximum from ongoing HB
(reg 102) [S36][S37][S38], and the Direct Earnings Attachment table (SI 2013/384 Part 6)
[S42][S42c]."""

from __future__ import annotations

from datetime import date

import pytest

from recovery_shared.contracts.common import EarningsDisregard, HbopClassification
from recovery_shared.statute.housing_benefit import (
    MissingFigure,
    PayFrequency,
    benefit_year_of,
    dea_deduction,
    dea_percent,
    first_deduction_day,
    is_owed,
    is_recoverable,
    maximum_weekly_deduction,
    remittance_due,
)
from tests.factories import overpayment_decision


@pytest.mark.parametrize(
    ("classification", "could_realise", "recoverable"),
    [
        (HbopClassification.CLAIMANT_ERROR, False, True),
        (HbopClassification.FRAUD, False, True),
        (HbopClassification.LANDLORD, False, True),
        (HbopClassification.COUNCIL_OFFICIAL_ERROR, False, False),
        (HbopClassification.DWP_ERROR, False, False),
        (HbopClassification.COUNCIL_OFFICIAL_ERROR, True, True),
        (HbopClassification.DWP_ERROR, True, True),
    ],
)
def test_only_official_error_nobody_could_have_realised_is_not_recoverable(
    classification: HbopClassification, could_realise: bool, recoverable: bool
) -> None:
    """SI 2006/213 reg 100(2)-(3) [S36b][S39]."""
    assert is_recoverable(classification, could_realise) is recoverable


@pytest.mark.parametrize(
    ("classification", "realised", "owed"),
    [
        (HbopClassification.COUNCIL_OFFICIAL_ERROR, False, False),
        (HbopClassification.DWP_ERROR, False, False),
        (HbopClassification.COUNCIL_OFFICIAL_ERROR, True, True),
        (HbopClassification.DWP_ERROR, True, True),
        (HbopClassification.CLAIMANT_ERROR, True, True),
        (HbopClassification.FRAUD, True, True),
        (HbopClassification.LANDLORD, True, True),
        # "Could have realised" is asked of official error only (reg 100(2)).
        (HbopClassification.CLAIMANT_ERROR, False, True),
        (HbopClassification.FRAUD, False, True),
    ],
)
def test_a_bill_is_owed_unless_an_official_error_nobody_could_have_realised(
    classification: HbopClassification, realised: bool, owed: bool
) -> None:
    """SI 2006/213 reg 100(2)-(3) [S36b]: the one rule payments and arrangements both ask
    (``is_owed``), so a bill that is no debt on the ledger is never invoiced either."""
    assert is_owed(overpayment_decision(classification, could_reasonably_have_realised=realised)) is owed


def test_a_bill_that_is_no_overpayment_is_always_owed() -> None:
    assert is_owed(None)


@pytest.mark.parametrize(
    ("year", "ordinary", "fraud"),
    [
        ("2022/23", 1155, 1925),  # [S38]
        ("2023/24", 1275, 2125),  # [S38b]
        ("2024/25", 1365, 2275),  # [S37]
        ("2025/26", 1395, 2325),  # domain §4 [DERIVED]
    ],
)
def test_the_weekly_maximum_is_three_or_five_times_five_percent_of_the_allowance(
    year: str, ordinary: int, fraud: int
) -> None:
    """Reg 102(1): 3 x (5% of the 25+ personal allowance, rounded up to the next 5p); 5 x for fraud."""
    assert maximum_weekly_deduction(year, fraud=False) == ordinary
    assert maximum_weekly_deduction(year, fraud=True) == fraud


@pytest.mark.parametrize(
    ("disregard", "uplift"),
    [
        (EarningsDisregard.SINGLE, 250),
        (EarningsDisregard.COUPLE, 500),
        (EarningsDisregard.DISABLED, 1000),
        (EarningsDisregard.LONE_PARENT, 1250),
    ],
)
def test_half_the_earnings_disregard_may_be_added(disregard: EarningsDisregard, uplift: int) -> None:
    """Reg 102(2) [S36][S37]: +£2.50 single, £5 couple, £10 disabled, £12.50 lone parent."""
    assert maximum_weekly_deduction("2024/25", fraud=False, disregard=disregard) == 1365 + uplift


def test_a_year_without_its_figure_is_refused_saying_where_to_add_it() -> None:
    with pytest.raises(MissingFigure, match=r"2030/31.*housing_benefit.py.*personal_allowance_pence"):
        maximum_weekly_deduction("2030/31", fraud=False)
    # A council that has the year's figure sets it: £95.55 -> 5% = £4.78 -> £4.80 -> 3 x = £14.40.
    assert maximum_weekly_deduction("2030/31", fraud=False, allowance_override_pence=9555) == 1440


def test_the_benefit_year_starts_on_the_first_monday_in_april() -> None:
    """SI 2006/213 reg 2: 1 April 2026 is a Wednesday, so 2026/27 starts on Monday 6 April."""
    assert benefit_year_of(date(2026, 4, 5)) == "2025/26"
    assert benefit_year_of(date(2026, 4, 6)) == "2026/27"
    assert benefit_year_of(date(2027, 4, 4)) == "2026/27"
    assert benefit_year_of(date(2027, 4, 5)) == "2027/28"


@pytest.mark.parametrize(
    ("net_pence", "frequency", "standard", "fraud"),
    [
        (10000, PayFrequency.WEEKLY, 0, 5),  # not exceeding £100
        (10001, PayFrequency.WEEKLY, 3, 6),
        (16000, PayFrequency.WEEKLY, 3, 6),
        (22000, PayFrequency.WEEKLY, 5, 10),
        (27000, PayFrequency.WEEKLY, 7, 14),
        (37500, PayFrequency.WEEKLY, 11, 22),
        (52000, PayFrequency.WEEKLY, 15, 30),
        (52001, PayFrequency.WEEKLY, 20, 40),
        (43000, PayFrequency.MONTHLY, 0, 5),  # not exceeding £430
        (69000, PayFrequency.MONTHLY, 3, 6),
        (95000, PayFrequency.MONTHLY, 5, 10),
        (116000, PayFrequency.MONTHLY, 7, 14),
        (161500, PayFrequency.MONTHLY, 11, 22),
        (224000, PayFrequency.MONTHLY, 15, 30),
        (224001, PayFrequency.MONTHLY, 20, 40),
        (44000, PayFrequency.FORTNIGHTLY, 5, 10),  # £220 a week
        (88001, PayFrequency.FOUR_WEEKLY, 7, 14),  # just over £220 a week
    ],
)
def test_dea_percentages_follow_the_bands(net_pence: int, frequency: PayFrequency, standard: int, fraud: int) -> None:
    """SI 2013/384 Part 6, the weekly and monthly tables [S42]."""
    assert dea_percent(net_pence, frequency, fraud=False) == standard
    assert dea_percent(net_pence, frequency, fraud=True) == fraud


def test_a_dea_deduction_is_rounded_down_never_over_40_percent_and_never_over_what_is_owed() -> None:
    """[S42c]: £300 a week, standard 11% = £33.00; fraud on £3,000 a month 40% = £1,200 exactly."""
    assert dea_deduction(30000, PayFrequency.WEEKLY, fraud=False, owed_pence=10**9) == 3300
    assert dea_deduction(300000, PayFrequency.MONTHLY, fraud=True, owed_pence=10**9) == 120000
    assert dea_deduction(30099, PayFrequency.WEEKLY, fraud=False, owed_pence=10**9) == 3310  # 3310.89 down
    assert dea_deduction(30000, PayFrequency.WEEKLY, fraud=False, owed_pence=1234) == 1234
    for net in range(0, 1_000_000, 997):
        for frequency in PayFrequency:
            for fraud in (False, True):
                assert dea_deduction(net, frequency, fraud=fraud, owed_pence=10**9) <= net * 40 // 100


def test_a_dea_notice_has_effect_from_a_pay_day_22_days_on_and_deductions_are_paid_over_by_the_19th() -> None:
    """SI 2013/384 reg 19(3) (the next pay-day at least 22 days after the notice is sent) and
    reg 22 (a month's deductions paid over by the 19th of the next month) [S42][S43]."""
    assert first_deduction_day(date(2026, 4, 4)) == date(2026, 4, 26)
    assert remittance_due(date(2026, 4, 30)) == date(2026, 5, 19)
    assert remittance_due(date(2026, 12, 5)) == date(2027, 1, 19)
