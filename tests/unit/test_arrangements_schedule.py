"""The statutory instalment schedule (recovery_shared.statute.instalments), each rule
against its source, and the council's choices on top (arrangements.domain.schedule_for).

[S2] SI 1992/613 Sch 1 Part I (Council Tax); [S25] SI 1989/1058 Sch 1 Part I (NNDR);
[S3] SI 1992/613 reg 21(1A)-(1D) (12 instalments on request); [S26] SI 2014/479 (NNDR 12);
[S4] the 14-day notice. The instalment day and invoice terms come from the default
council configuration (council_default.toml).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recovery_arrangements import domain
from recovery_shared.clock import financial_year_bounds
from recovery_shared.contracts.common import DebtType
from recovery_shared.council import load_council_config
from recovery_shared.statute import instalments as statute
from recovery_shared.statute.instalments import BUSINESS_RATES as NNDR
from recovery_shared.statute.instalments import COUNCIL_TAX as CT
from recovery_shared.statute.instalments import InstalmentScheme, Schedule

COUNCIL = load_council_config()
YEAR = "2026/27"


def ct(total: int, issued: date, *, twelve: bool = False, day: int = 1) -> Schedule:
    return statute.statutory_schedule(total, issued, YEAR, CT, day, twelve)


def monthly(first: date, count: int) -> list[date]:
    return [statute.add_months(first, n) for n in range(count)]


def test_the_statutory_figures_are_the_regulations() -> None:
    """Sch 1 para 2(3)(a) and 2(7)/3(1), SI 1992/613 [S2]: 10 instalments, £5 minimum;
    reg 21(1A)-(1D) [S3]: 12 on request; Sch 1 paras 1 and 3, SI 1989/1058 [S25]: 10 and
    £50; SI 2014/479 [S26]: 12 on request; the bill 14 days before the first [S4]."""
    assert (CT.standard_count, CT.requested_count, CT.minimum_instalment_pence, CT.notice_days) == (10, 12, 500, 14)
    assert (NNDR.standard_count, NNDR.requested_count, NNDR.minimum_instalment_pence, NNDR.notice_days) == (
        10,
        12,
        5000,
        14,
    )
    assert statute.scheme_for(DebtType.COUNCIL_TAX) is CT and statute.scheme_for("NNDR") is NNDR
    assert statute.scheme_for(DebtType.SUNDRY) is None


# --- how many, and when ---------------------------------------------------------------------


def test_a_bill_issued_before_the_year_is_ten_instalments_from_april_to_january() -> None:
    """Sch 1 para 2(3)(a), SI 1992/613 [S2]: issued on or before 30 April -> 10; para 2(4):
    uninterrupted months of the year on the council's day (the 1st) [S2]."""
    schedule = ct(150000, date(2026, 3, 10))
    assert [d for d, _ in schedule] == monthly(date(2026, 4, 1), 10)
    assert schedule[-1][0] == date(2027, 1, 1)


def test_twelve_instalments_on_written_request_run_to_march() -> None:
    """reg 21(1A)-(1D), SI 1992/613 [S3]: 12 monthly instalments on request."""
    schedule = ct(150000, date(2026, 3, 10), twelve=True)
    assert [d for d, _ in schedule] == monthly(date(2026, 4, 1), 12)
    assert schedule[-1][0] == date(2027, 3, 1)
    assert {a for _, a in schedule} == {12500}


def test_a_bill_issued_in_may_gets_one_fewer_than_the_whole_months_left() -> None:
    """Sch 1 para 2(3)(b), SI 1992/613 [S2]: after 15 May, June-March are 10 whole months,
    so 9 instalments; the first on the instalment day at least 14 days after issue [S4]."""
    schedule = ct(123456, date(2026, 5, 15))
    assert [d for d, _ in schedule] == monthly(date(2026, 6, 1), 9)


@pytest.mark.parametrize(
    ("issued", "count"),
    [
        (date(2026, 4, 30), 10),  # para 2(3)(a) [S2]
        (date(2026, 5, 1), 9),  # para 2(3)(b) [S2]
        (date(2026, 9, 20), 5),  # October-March = 6 whole months, less one
        (date(2026, 12, 20), 2),  # January-March = 3, less one
    ],
)
def test_the_number_of_instalments_follows_the_issue_date(issued: date, count: int) -> None:
    """Sch 1 para 2(3), SI 1992/613 [S2]."""
    assert len(ct(150000, issued)) == count


def test_a_bill_issued_in_january_to_march_is_one_instalment_at_least_14_days_later() -> None:
    """Bills issued 1 January-31 March: one instalment, due at least 14 days after issue [S4]
    (the NNDR rule is Sch 1 para 2, SI 1989/1058 [S25])."""
    assert ct(150000, date(2027, 1, 20)) == [(date(2027, 2, 3), 150000)]
    assert statute.statutory_schedule(900000, date(2027, 3, 2), YEAR, NNDR, 1, True) == [(date(2027, 3, 16), 900000)]


def test_the_first_instalment_is_at_least_14_days_after_the_bill() -> None:
    """The bill goes out at least 14 days before the first instalment [S4]: a bill on
    25 March misses 1 April and starts on 1 May (still 10, ending in February)."""
    schedule = ct(150000, date(2026, 3, 25))
    assert schedule[0][0] == date(2026, 5, 1)
    assert len(schedule) == 10 and schedule[-1][0] == date(2027, 2, 1)


def test_the_schedule_stays_inside_the_financial_year() -> None:
    """Sch 1 para 2(4) [S2]: the months are months of the relevant year, so 12 requested on a
    bill issued 30 April (first instalment 1 June) fit only June-March: 10."""
    schedule = ct(150000, date(2026, 4, 30), twelve=True)
    assert [d for d, _ in schedule] == monthly(date(2026, 6, 1), 10)


def test_instalments_fall_on_the_councils_chosen_day() -> None:
    """Sch 1 para 2(4) [S2]: on such day in each month as the notice specifies (configurable)."""
    assert [d.day for d, _ in ct(150000, date(2026, 3, 10), day=15)] == [15] * 10


# --- how much ----------------------------------------------------------------------------------


def test_instalments_are_whole_pounds_with_the_difference_on_the_first() -> None:
    """Sch 1 para 2(5)-(6), SI 1992/613 [S2]: A = C / D to the nearest pound, B = C - (D - 1) x A."""
    amounts = [a for _, a in ct(123456, date(2026, 5, 15))]
    assert amounts == [13856] + [13700] * 8
    assert statute.whole_pound_instalments(150000, 10) == [15000] * 10  # para 2(5): exact pounds
    assert statute.whole_pound_instalments(5500, 10) == [100] + [600] * 9  # £5.50 rounds up to £6


def test_a_first_instalment_under_the_minimum_absorbs_the_second() -> None:
    """Sch 1 para 2(7), SI 1992/613 [S2]: £55 over 10 gives a £1 first instalment; the second
    is added to it and there are 9."""
    assert statute.instalment_amounts(5500, 10, 500) == [700] + [600] * 8


def test_a_small_council_tax_bill_gets_fewer_instalments_of_at_least_five_pounds() -> None:
    """Sch 1 para 3(1)(b), SI 1992/613 [S2]: as many instalments as £5 fits into the total: £40 -> 8 x £5."""
    schedule = ct(4000, date(2026, 3, 10))
    assert schedule == [(d, 500) for d in monthly(date(2026, 4, 1), 8)]


def test_a_council_tax_bill_under_ten_pounds_is_one_instalment() -> None:
    """Sch 1 para 3(1)(a), SI 1992/613 [S2]: under £10, a single instalment."""
    assert ct(800, date(2026, 3, 10)) == [(date(2026, 4, 1), 800)]


def test_a_small_business_rates_bill_gets_instalments_of_at_least_fifty_pounds() -> None:
    """Sch 1 para 3, SI 1989/1058 [S25]: minimum £50, so £300 is 6 instalments of £50."""
    schedule = statute.statutory_schedule(30000, date(2026, 3, 10), YEAR, NNDR, 1, False)
    assert schedule == [(d, 5000) for d in monthly(date(2026, 4, 1), 6)]


def test_other_debts_are_one_payment_on_the_councils_invoice_terms() -> None:
    """HBOP, TA and sundry: an invoice on the council's terms, 14 days by default (domain
    §4-5 [S43b][S45]); CT and NNDR take the statutory schedule on the council's day."""
    choices = COUNCIL.instalments
    for debt_type in (DebtType.HB_OVERPAYMENT, DebtType.TEMPORARY_ACCOMMODATION, DebtType.SUNDRY):
        bill = domain.Bill("D-1", debt_type, 25000, date(2026, 6, 3), YEAR)
        assert [(i.due_date, i.amount_pence) for i in domain.schedule_for(bill, choices)] == [
            (date(2026, 6, 17), 25000)
        ]
    later = choices.model_copy(update={"invoice_terms_days": {**choices.invoice_terms_days, DebtType.SUNDRY: 28}})
    bill = domain.Bill("D-1", DebtType.SUNDRY, 25000, date(2026, 6, 3), YEAR)
    assert [i.due_date for i in domain.schedule_for(bill, later)] == [date(2026, 7, 1)]
    ct_bill = domain.Bill("D-2", DebtType.COUNCIL_TAX, 150000, date(2026, 3, 10), YEAR)
    assert [(i.due_date, i.amount_pence) for i in domain.schedule_for(ct_bill, choices)] == ct(
        150000, date(2026, 3, 10)
    )


def test_the_council_configures_only_its_choices() -> None:
    """The statutory figures are not the council's to set: a council file naming them, or
    giving invoice terms to a debt with a statutory schedule, is refused."""
    from pydantic import ValidationError

    data = COUNCIL.model_dump()
    with pytest.raises(ValidationError):
        COUNCIL.model_validate(data | {"instalments": {**data["instalments"], "minimum_instalment_pence": 100}})
    with pytest.raises(ValidationError, match="statutory schedule"):
        terms = {**data["instalments"]["invoice_terms_days"], DebtType.COUNCIL_TAX: 7}
        COUNCIL.model_validate(data | {"instalments": {**data["instalments"], "invoice_terms_days": terms}})


# --- properties over every bill ----------------------------------------------------------------

RULES = st.sampled_from([CT, NNDR, replace(CT, notice_days=21)])


@settings(max_examples=400, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=10**8),
    issued=st.dates(min_value=date(2025, 10, 1), max_value=date(2027, 3, 31)),
    twelve=st.booleans(),
    day=st.integers(min_value=1, max_value=28),
    rules=RULES,
)
def test_every_schedule_adds_up_and_keeps_the_rules(
    total: int, issued: date, twelve: bool, day: int, rules: InstalmentScheme
) -> None:
    """Sum = total (Sch 1 para 2(6) B = C - (D-1)A [S2]); at most the standard or requested
    count [S2][S3]; every instalment positive and, unless there is only one, at least the
    minimum (para 3 [S2]; [S25]); all but the first whole pounds (para 2(5)-(6)); monthly
    on the council's day, the first at least the notice period after issue [S4], all inside
    the financial year (para 2(4))."""
    schedule = statute.statutory_schedule(total, issued, YEAR, rules, day, twelve)
    amounts = [a for _, a in schedule]
    dates = [d for d, _ in schedule]
    assert sum(amounts) == total
    assert all(a > 0 for a in amounts)
    assert 1 <= len(schedule) <= (rules.requested_count if twelve else rules.standard_count)
    assert dates[0] >= issued + timedelta(days=rules.notice_days)
    if len(schedule) > 1:
        start, end = financial_year_bounds(YEAR)
        assert all(a >= rules.minimum_instalment_pence for a in amounts)
        assert all(a % 100 == 0 for a in amounts[1:])
        assert dates == monthly(dates[0], len(dates)) and dates[0].day == day
        assert start <= dates[0] and dates[-1] <= end


@settings(max_examples=300, deadline=None)
@given(total=st.integers(min_value=1, max_value=10**9), count=st.integers(1, 12), minimum=st.sampled_from([500, 5000]))
def test_instalment_amounts_always_sum_to_the_total(total: int, count: int, minimum: int) -> None:
    """Sch 1 para 2(5)-(7) and 3, SI 1992/613 [S2]: the parts always add back to the whole."""
    amounts = statute.instalment_amounts(total, count, minimum)
    assert sum(amounts) == total
    assert 1 <= len(amounts) <= count
    assert len(amounts) == 1 or min(amounts) >= minimum
