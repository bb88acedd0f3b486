"""Housing Benefit overpayments: who can be made to repay, how fast it may be taken from
ongoing benefit, and the Direct Earnings Attachment table (domain §4).

Sources: the Housing Benefit Regulations 2006 (SI 2006/213) Part 13, regs 99-107 [S36]
[S36b]; the DWP's HB Overpayments Guide [S39]; the Social Security (Overpayments and
Recovery) Regulations 2013 (SI 2013/384) Part 6, Direct Earnings Attachments [S41][S42].
Figures a council may choose (invoice terms, the order of recovery routes, the weekly
rate it actually deducts below the maximum) are in the council's TOML.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from recovery_shared.contracts.common import EarningsDisregard, HbopClassification, OverpaymentDecision, PayFrequency

NOTIFY_WITHIN_DAYS = 14
"""Everyone affected by a recoverable overpayment decision is notified within 14 days of
it (HB and CTB (Decisions and Appeals) Regulations 2001 reg 10; HB Regs 2006 reg 90 and
Sch 9 para 15 for the notice's contents) [S35][S39]."""

RECONSIDERATION_MONTHS = 1
"""The person may ask for the decision to be looked at again, or appeal, within one
calendar month of the notice (SI 2001/1002 regs 4 and 18) [S39]."""


OFFICIAL_ERRORS = frozenset({HbopClassification.COUNCIL_OFFICIAL_ERROR, HbopClassification.DWP_ERROR})


def is_recoverable(classification: HbopClassification, could_reasonably_have_realised: bool) -> bool:
    """Every overpayment is recoverable except one caused by official error (the council's
    or the DWP's) that neither the claimant, their representative nor the payee could
    reasonably have realised was an overpayment, at the time or later (SI 2006/213 reg 100(2)
    and (3)) [S36b][S39]."""
    if classification in OFFICIAL_ERRORS:
        return could_reasonably_have_realised
    return True


def is_owed(overpayment: OverpaymentDecision | None) -> bool:
    """Whether a bill is money the council may recover: every bill is, except a Housing
    Benefit overpayment the law leaves with the claimant (``is_recoverable``). Payments
    opens no debt for that one and arrangements sends no invoice."""
    if overpayment is None:
        return True
    return is_recoverable(overpayment.classification, overpayment.could_reasonably_have_realised)


# --- reg 102: the most that may be deducted from ongoing Housing Benefit each week ---


@dataclass(frozen=True)
class PersonalAllowance:
    """The weekly personal allowance for a single claimant aged 25 or over in a benefit
    year, the figure reg 102's maximum is reckoned from."""

    pence: int
    source: str
    confirmed: bool = True
    """False where the figure is derived (uprated by this project) rather than read from
    the uprating order: a council checks it before relying on it, and may set its own in
    its TOML ([hbop] personal_allowance_pence)."""


PERSONAL_ALLOWANCE_25_PLUS: dict[str, PersonalAllowance] = {
    "2022/23": PersonalAllowance(7700, "the 2022 uprating order; maxima £11.55/£19.25 [S38]"),
    "2023/24": PersonalAllowance(8480, "the 2023 uprating order; maxima £12.75/£21.25 [S38b]"),
    "2024/25": PersonalAllowance(9050, "the 2024 uprating order; maxima £13.65/£22.75 [S37]"),
    "2025/26": PersonalAllowance(9205, "maxima £13.95/£23.25 [DERIVED]", confirmed=False),
}


_DISREGARD_UPLIFT_PENCE = {
    EarningsDisregard.NONE: 0,
    EarningsDisregard.SINGLE: 250,  # half of £5
    EarningsDisregard.COUPLE: 500,  # half of £10
    EarningsDisregard.DISABLED: 1000,  # half of £20
    EarningsDisregard.LONE_PARENT: 1250,  # half of £25
}


class MissingFigure(LookupError):
    """The statute table has no figure for the year asked about; the message says where
    to add it."""


def benefit_year_of(day: date) -> str:
    """The Housing Benefit year a day falls in: it starts on the first Monday in April
    (SI 2006/213 reg 2, "benefit week" and "benefit year")."""
    start = _first_monday_in_april(day.year)
    first = day.year if day >= start else day.year - 1
    return f"{first}/{(first + 1) % 100:02d}"


def _first_monday_in_april(year: int) -> date:
    first = date(year, 4, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7)


def maximum_weekly_deduction(
    benefit_year: str,
    *,
    fraud: bool,
    disregard: EarningsDisregard = EarningsDisregard.NONE,
    allowance_override_pence: int | None = None,
) -> int:
    """The most that may be deducted from a week's Housing Benefit for an overpayment
    (SI 2006/213 reg 102(1)): three times 5% of the 25+ personal allowance, or five times
    where the claimant was found to have committed fraud, 5% being rounded up to the
    next 5p; plus, where the claimant has earnings, up to half of their earnings
    disregard (reg 102(2))."""
    if allowance_override_pence is not None:
        allowance = allowance_override_pence
    else:
        figure = PERSONAL_ALLOWANCE_25_PLUS.get(benefit_year)
        if figure is None:
            raise MissingFigure(
                f"no reg 102 personal allowance for benefit year {benefit_year}: add the year's 25+ "
                "personal allowance to statute/housing_benefit.py, or set it in the council's TOML "
                "([hbop] personal_allowance_pence)"
            )
        allowance = figure.pence
    five_percent = -(-allowance * 5 // 100)  # pence, rounded up
    unit = -(-five_percent // 5) * 5  # then up to the next 5p
    return unit * (5 if fraud else 3) + _DISREGARD_UPLIFT_PENCE[disregard]


# --- Direct Earnings Attachment (SI 2013/384 Part 6) ---------------------------------


# An employer served with a DEA notice deducts, each pay-day, a percentage of that day's
# net earnings read from a table (reg 20), and pays the month's deductions over to the
# council by the 19th of the next month (reg 22). The council never sees the pay-day's
# figure in advance: what it expects is worked out from the earnings last reported.

DEA_CAP_PERCENT = 40
"""An employer never deducts more than 40% of net earnings under DEAs: the protected
earnings proportion is 60% (SI 2013/384 reg 17, "protected earnings proportion") [S42][S42c]."""

REMIT_BY_DAY = 19
"""The employer pays the deductions made in a month over by the 19th of the following
month (SI 2013/384 reg 22) [S42][S43]."""

NOTICE_EFFECT_DAYS = 22
"""A DEA notice has effect from the next pay-day falling at least 22 days after the day it
is given or sent (SI 2013/384 reg 19(3)), counted from the notice's date."""


def first_deduction_day(notice_sent_on: date) -> date:
    """The earliest pay-day a DEA notice sent on that day can take a deduction from (reg 19(3))."""
    return notice_sent_on + timedelta(days=NOTICE_EFFECT_DAYS)


def remittance_due(deducted_on: date) -> date:
    """The day deductions made on ``deducted_on`` must reach the council: the 19th of the
    next month (SI 2013/384 reg 22)."""
    year, month = deducted_on.year + deducted_on.month // 12, deducted_on.month % 12 + 1
    return date(year, month, REMIT_BY_DAY)


FRAUD_TABLES_APPLY_TO = frozenset({HbopClassification.FRAUD})
"""The higher tables (C and D) apply where the person was found guilty of an offence over
the overpayment (reg 20(3A), inserted by SI 2015/499 reg 5); the benefits system records
that as the fraud classification."""

# (net earnings up to and including, standard %, higher (fraud) %), in pence per period;
# None is the top band. SI 2013/384 Sch 2: Tables A (weekly) and B (monthly) for reg 20(3),
# Tables C and D for reg 20(3B) [S42].
_WEEKLY_BANDS: tuple[tuple[int | None, int, int], ...] = (
    (10000, 0, 5),
    (16000, 3, 6),
    (22000, 5, 10),
    (27000, 7, 14),
    (37500, 11, 22),
    (52000, 15, 30),
    (None, 20, 40),
)
_MONTHLY_BANDS: tuple[tuple[int | None, int, int], ...] = (
    (43000, 0, 5),
    (69000, 3, 6),
    (95000, 5, 10),
    (116000, 7, 14),
    (161500, 11, 22),
    (224000, 15, 30),
    (None, 20, 40),
)


def dea_percent(net_earnings_pence: int, frequency: PayFrequency, *, fraud: bool) -> int:
    """The percentage of a pay period's net earnings the employer deducts. Weekly and
    monthly pay are read from their own tables [S42]; fortnightly and four-weekly pay
    from the weekly table on a week's share of the pay [DERIVED: check the employer
    guidance the council sends with the DEA notice]."""
    if net_earnings_pence < 0:
        raise ValueError("net earnings cannot be negative")
    weeks = 1
    bands = _WEEKLY_BANDS
    if frequency is PayFrequency.MONTHLY:
        bands = _MONTHLY_BANDS
    elif frequency is PayFrequency.FORTNIGHTLY:
        weeks = 2
    elif frequency is PayFrequency.FOUR_WEEKLY:
        weeks = 4
    for ceiling, standard, higher in bands:
        # Compared as whole pence: pay of more than ``weeks`` times a week's ceiling.
        if ceiling is None or net_earnings_pence <= ceiling * weeks:
            return higher if fraud else standard
    raise AssertionError("the top band has no ceiling")


def dea_deduction(net_earnings_pence: int, frequency: PayFrequency, *, fraud: bool, owed_pence: int) -> int:
    """The pence an employer deducts from one pay period: the table's percentage of net
    earnings, rounded down to the penny, never above 40% of them and never more than is
    still owed."""
    percent = min(dea_percent(net_earnings_pence, frequency, fraud=fraud), DEA_CAP_PERCENT)
    return max(0, min(net_earnings_pence * percent // 100, owed_pence))
