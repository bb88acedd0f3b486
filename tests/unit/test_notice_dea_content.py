"""The Direct Earnings Attachment notices, worded by their templates and rendered to
PDF, carry what the Social Security (Overpayments and Recovery) Regulations 2013
(SI 2013/384) Part 6 requires: the notice to the employer (reg 19, with the
Schedule 2 table for the person's pay, reg 20), the person's copy (reg 19(1)(a)),
the letter to an employer whose deductions were not paid over by the 19th (reg 22),
and the notice telling the employer the attachment is discharged (reg 26). Every
check runs on the composed words and on the text of the PDF.

The requests are the ones enforcement sends (tests/unit/test_notice_rendering.py):
issued Saturday 2 May 2026, served Wednesday 6 May; the employer is Exampleton Foods
Ltd and the person whose earnings are attached is Alex Example.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from recovery_notices.domain import NoticeContent, compose_notice
from recovery_notices.render import page_count, render_pdf
from recovery_shared.contracts.common import PayFrequency
from recovery_shared.contracts.internal import NoticeRequestedData, NoticeType
from recovery_shared.refusal import Refused
from recovery_shared.statute.housing_benefit import REMIT_BY_DAY, dea_percent
from tests.unit.test_notice_rendering import COUNCIL, ENFORCEMENT_SHAPES, ISSUED, request
from tests.unit.test_notice_statutory_content import assert_in_both, both

# SI 2013/384 Schedule 2, as the Schedule words its bands: (band, standard %, higher %),
# weekly (Tables A and C) and monthly (Tables B and D). The pence are each band's top,
# for checking the printed table against recovery_shared.statute's (None: no top).
WEEKLY_BANDS = [
    ("Not exceeding £100", "Nil", "5%", 10000),
    ("Exceeding £100 but not exceeding £160", "3%", "6%", 16000),
    ("Exceeding £160 but not exceeding £220", "5%", "10%", 22000),
    ("Exceeding £220 but not exceeding £270", "7%", "14%", 27000),
    ("Exceeding £270 but not exceeding £375", "11%", "22%", 37500),
    ("Exceeding £375 but not exceeding £520", "15%", "30%", 52000),
    ("Exceeding £520", "20%", "40%", None),
]
MONTHLY_BANDS = [
    ("Not exceeding £430", "Nil", "5%", 43000),
    ("Exceeding £430 but not exceeding £690", "3%", "6%", 69000),
    ("Exceeding £690 but not exceeding £950", "5%", "10%", 95000),
    ("Exceeding £950 but not exceeding £1,160", "7%", "14%", 116000),
    ("Exceeding £1,160 but not exceeding £1,615", "11%", "22%", 161500),
    ("Exceeding £1,615 but not exceeding £2,240", "15%", "30%", 224000),
    ("Exceeding £2,240", "20%", "40%", None),
]


def employer_request(
    *, pay_frequency: str = "weekly", fraud: bool = False, percent: str | None = "11", **changes: Any
) -> NoticeRequestedData:
    amounts, dates, template_data = ENFORCEMENT_SHAPES[NoticeType.DEA_EMPLOYER]
    data = {**template_data, "pay_frequency": pay_frequency, "fraud": fraud}
    if percent is None:
        del data["percent"]
    else:
        data["percent"] = percent
    fields: dict[str, Any] = {"amounts": amounts, "dates": dates, "template_data": data, **changes}
    return request(NoticeType.DEA_EMPLOYER, **fields)


def band_table(content: NoticeContent) -> tuple[str, list[tuple[str, str]]]:
    """The Schedule 2 table the notice prints: its heading and its (band, percentage) rows."""
    blocks = list(content.blocks)
    for i, block in enumerate(blocks):
        if block.kind == "table" and block.rows[0].cells[0].startswith("<b>Net earnings"):
            heading = blocks[i - 1]
            assert heading.kind == "heading"
            return heading.plain(), [(row.cells[0], row.cells[1]) for row in block.rows[1:]]
    raise AssertionError(f"no band table in the {content.notice_type.value}")


def expected_rows(bands: list[tuple[str, str, str, int | None]], *, higher: bool) -> list[tuple[str, str]]:
    return [(band, higher_percent if higher else standard) for band, standard, higher_percent, _ in bands]


def test_dea_employer_notice_requires_the_deductions_reg_19_to_24_and_30_set_out() -> None:
    """SI 2013/384 reg 19(1)(b) and (2): the notice to the employer names the employer and
    the person and states the rate (reg 20(3): the Schedule 2 Table A band for weekly pay)
    and the protected earnings proportion of 60% (reg 17); reg 19(3): it has effect from
    the first pay-day at least 22 days after it is given; the amount to be recovered
    (ss.71 and 75 SSAA 1992); reg 20(5): deductions stop once it is recovered; reg 21
    (paraphrased): the employee is told in writing of each deduction on or before the
    pay-day; reg 22: the month's deductions are paid over by the 19th of the next month,
    the first by 19 June 2026; reg 24 (paraphrased): the council is told within 10 days
    if the person does not work there or leaves; reg 30 (paraphrased): failing to comply
    is an offence."""
    content = compose_notice(request(NoticeType.DEA_EMPLOYER), COUNCIL)
    assert content.title == "Direct Earnings Attachment: notice to employer"
    assert content.recipient_name == "Exampleton Foods Ltd"  # reg 19(2)(b): addressed to the employer
    assert ("Employer reference", "123/AB45678") in content.references
    assert content.day("remit_by") == date(2026, 6, 19)
    assert_in_both(
        content,
        "To the payroll manager, Exampleton Foods Ltd",
        # reg 19: the requirement, the person, the overpayment and the power it is made under.
        "Example District Council requires you, as the employer of Alex Example, to make deductions from their"
        " earnings to recover an overpayment of Housing Benefit (sections 71 and 75 of the Social Security"
        " Administration Act 1992)",
        "regulation 19 of the Social Security (Overpayments and Recovery) Regulations 2013",
        "Amount to be recovered",
        # reg 19(3) and reg 20(3): from the first pay-day, the table's percentage of that day's net earnings.
        "Starting with the pay-day on Friday 29 May 2026, on each pay-day deduct from Alex Example's net earnings"
        " the percentage shown in the table below",
        "until £1,234.56 has been recovered",
        "Table A: deductions from earnings paid weekly",
        # reg 17 and reg 19(2)(f): the protected earnings proportion.
        "is paid less than 60% of their net earnings for the pay-day (the protected earnings proportion), so never"
        " more than 40% of them",
        # The council's estimate, as a guide.
        "net earnings were last reported to us as £300.00 a week. On that amount the table gives 11%, a deduction"
        " of about £33.00 each pay-day",
        # reg 20(5).
        "Stop deducting once your deductions add up to £1,234.56",
        # reg 21.
        "Tell Alex Example in writing of the amount of each deduction, on or before the pay-day you make it",
        # reg 22.
        "Pay us the deductions you make in each month by the 19th of the following month",
        "The first payment, for the deductions you make in May 2026, is due by Friday 19 June 2026",
        "quote your employer reference 123/AB45678 and our account reference 1001 (regulation 22)",
        # reg 24.
        "If Alex Example does not work for you, tell us in writing within 10 days of the date of this notice",
        "tell us in writing within 10 days of the day they leave",
        "(regulation 24)",
        # reg 30, with no penalty figure.
        "commits an offence and may be prosecuted (regulation 30 of the Social Security (Overpayments and"
        " Recovery) Regulations 2013)",
    )
    summary = next(b for b in content.blocks if b.kind == "table")
    assert [row.cells for row in summary.rows] == [
        ("Employee", "Alex Example"),
        ("How often they are paid", "Weekly"),
        ("Amount to be recovered", "£1,234.56"),
        ("First pay-day to deduct from", "Friday 29 May 2026"),
        ("Your employer reference", "123/AB45678"),
        ("Our account reference", "1001"),
    ]
    heading, rows = band_table(content)
    assert heading == "Table A: deductions from earnings paid weekly"
    assert rows == expected_rows(WEEKLY_BANDS, higher=False)
    words, printed = both(content)
    for band, percent in rows:
        assert band in printed and percent in printed
    assert "higher rates" not in words and "Table C" not in words
    assert "£" not in content.text().split("If you do not comply")[1].split("Amounts")[0]  # no invented fine
    assert page_count(render_pdf(content, "doc")) == 2


def test_dea_employer_notice_prints_the_higher_table_c_where_the_fraud_rates_apply() -> None:
    """SI 2013/384 reg 20(3A)-(3B) (inserted by SI 2015/499 reg 5): where the person was
    found guilty of an offence over the overpayment, the employer deducts at the Schedule 2
    Table C rates for weekly pay; the fortnightly pay is read against the weekly bands on a
    week's share (£300 a fortnight is £150 a week: the 6% band)."""
    data = employer_request(
        pay_frequency="fortnightly",
        fraud=True,
        percent="6",
        amounts={"owed": 123456, "deduction": 1800, "net_earnings": 30000},
    )
    content = compose_notice(data, COUNCIL)
    heading, rows = band_table(content)
    assert heading == "Table C: deductions from earnings paid weekly"
    assert rows == expected_rows(WEEKLY_BANDS, higher=True)
    assert_in_both(
        content,
        "How often they are paid",
        "Fortnightly",
        "Alex Example is paid fortnightly. On each pay-day divide their net earnings by 2 to find a week's share",
        "These are the higher rates: they apply because Alex Example has been found guilty of an offence in"
        " connection with this overpayment (regulation 20(3B))",
        "£300.00 a fortnight. On that amount the table gives 6%, a deduction of about £18.00 each pay-day",
        "Exceeding £520",
        "40%",
    )
    assert "Table A" not in content.text()
    four_weekly = compose_notice(
        employer_request(
            pay_frequency="four_weekly", percent="3", amounts={"owed": 123456, "deduction": 1800, "net_earnings": 60000}
        ),
        COUNCIL,
    ).text()
    assert "divide their net earnings by 4" in four_weekly and "£600.00 every four weeks." in four_weekly


@pytest.mark.parametrize(
    ("fraud", "table", "percent", "deduction"), [(False, "B", "11", 16500), (True, "D", "22", 33000)]
)
def test_dea_employer_notice_prints_the_monthly_table_for_monthly_pay(
    fraud: bool, table: str, percent: str, deduction: int
) -> None:
    """SI 2013/384 reg 20(3)(b) and (3B)(b), Schedule 2 Tables B and D: monthly pay is read
    against the monthly bands (£1,500 a month: Exceeding £1,160 but not exceeding £1,615,
    11% standard or 22% higher); the printed table agrees with the statute's bands
    (recovery_shared.statute.housing_benefit.dea_percent) at each band's top and above it."""
    data = employer_request(
        pay_frequency="monthly",
        fraud=fraud,
        percent=percent,
        amounts={"owed": 123456, "deduction": deduction, "net_earnings": 150000},
    )
    content = compose_notice(data, COUNCIL)
    heading, rows = band_table(content)
    assert heading == f"Table {table}: deductions from earnings paid monthly"
    assert rows == expected_rows(MONTHLY_BANDS, higher=fraud)
    assert_in_both(
        content,
        "Monthly",
        f"£1,500.00 a month. On that amount the table gives {percent}%",
        *(band for band, *_ in MONTHLY_BANDS),
    )
    assert "divide their net earnings" not in content.text() and "paid weekly" not in content.text()


@pytest.mark.parametrize(
    ("frequency", "bands"), [(PayFrequency.WEEKLY, WEEKLY_BANDS), (PayFrequency.MONTHLY, MONTHLY_BANDS)]
)
@pytest.mark.parametrize("higher", [False, True])
def test_the_printed_tables_are_the_bands_the_council_works_its_estimates_from(
    frequency: PayFrequency, bands: list[tuple[str, str, str, int | None]], higher: bool
) -> None:
    """SI 2013/384 Schedule 2: the tables the templates print (checked against these rows
    above) give, at each band's top penny and the penny above it, the percentage that
    recovery_shared.statute.housing_benefit.dea_percent works the council's estimate from."""

    def shown(percent: int) -> str:
        return "Nil" if percent == 0 else f"{percent}%"

    printed = [higher_percent if higher else standard for _, standard, higher_percent, _ in bands]
    for i, (_, _, _, top) in enumerate(bands):
        if top is None:
            assert shown(dea_percent(10**8, frequency, fraud=higher)) == printed[i]
            continue
        assert shown(dea_percent(top, frequency, fraud=higher)) == printed[i]
        assert shown(dea_percent(top + 1, frequency, fraud=higher)) == printed[i + 1]


def test_dea_debtor_notice_tells_the_person_what_will_be_taken_and_what_they_must_do() -> None:
    """SI 2013/384 reg 19(1)(a): the person whose earnings are attached is sent the notice
    too; it names the employer it went to, the amount owed, the percentage and estimated
    deduction per pay-day and the first pay-day (reg 19(3), reg 20(3)); that 60% of net
    earnings is protected (reg 17); reg 23 (paraphrased): they must tell the council within
    10 days if they leave or change employer; how to contact the council about hardship or
    a dispute; and that paying the balance ends the deductions."""
    content = compose_notice(request(NoticeType.DEA_DEBTOR), COUNCIL)
    assert content.title == "Direct Earnings Attachment: deductions from your earnings"
    assert content.recipient_name == "Alex Example"
    assert_in_both(
        content,
        "Dear Alex Example,",
        "You owe £1,234.56 of overpaid Housing Benefit on account 1001",
        "We have sent a Direct Earnings Attachment notice to your employer, Exampleton Foods Ltd, under the Social"
        " Security (Overpayments and Recovery) Regulations 2013",
        "From your pay-day on Friday 29 May 2026, your employer will take a percentage of your net earnings",
        "£300.00 a week, that is 11%: about £33.00 each pay-day",
        "At least 60% of your net earnings is protected: your employer can never take more than 40%",
        "You must tell us in writing within 10 days if you leave your job with Exampleton Foods Ltd, or if you"
        " start work with another employer",
        "If this causes you hardship, or you think the amount is wrong",
        "Contact us as soon as possible at Example District Council, Revenues and Benefits, quoting your account"
        " reference 1001",
        "You can pay off the balance at any time",
        "we will tell your employer to stop the deductions",
    )
    assert "found guilty" not in content.text()
    fraud = request(
        NoticeType.DEA_DEBTOR,
        template_data={**ENFORCEMENT_SHAPES[NoticeType.DEA_DEBTOR][2], "fraud": True, "percent": "22"},
        amounts={"owed": 123456, "deduction": 6600, "net_earnings": 30000},
    )
    assert "found guilty of an offence in connection with the overpayment" in compose_notice(fraud, COUNCIL).text()
    assert page_count(render_pdf(content, "doc")) == 1


def test_dea_remittance_missed_letter_states_the_shortfall_reg_22_and_reg_30() -> None:
    """SI 2013/384 reg 22: the deductions made in a month are paid over by the 19th of the
    next; the letter states what was expected for the months through the month end, what
    was received and the shortfall; asks the employer to pay it or explain within 14 days
    (the council's own term: lower earnings, or the person left, which reg 24 required it
    to report within 10 days, paraphrased); and that failing to comply is an offence
    (reg 30, paraphrased)."""
    content = compose_notice(request(NoticeType.DEA_REMITTANCE_MISSED), COUNCIL)
    assert content.title == "Direct Earnings Attachment: deductions not paid to us"
    assert content.recipient_name == "Exampleton Foods Ltd"
    assert content.day("reply_by") == date(2026, 5, 20)  # 14 days from service on 6 May
    assert_in_both(
        content,
        "to make deductions from the earnings of Alex Example to recover an overpayment of Housing Benefit",
        "your employer reference 123/AB45678, our account reference 1001",
        "The deductions for pay-days up to 31 March 2026 had to be paid to us by Sunday 19 April 2026",
        "regulation 22 of the Social Security (Overpayments and Recovery) Regulations 2013 requires the deductions"
        " made in a month to be paid over by the 19th of the following month",
        "Deductions due for pay-days up to 31 March 2026",
        "£132.00",
        "Deductions we have received",
        "£99.00",
        "Shortfall",
        "£33.00",
        "Within 14 days, by Wednesday 20 May 2026, please either pay us the shortfall of £33.00",
        "or tell us in writing why it has not been paid",
        "net earnings on a pay-day were lower",
        "If Alex Example has left your employment, tell us the date they left",
        "within 10 days",
        "(regulation 24)",
        "commits an offence and may be prosecuted (regulation 30",
    )
    table = next(b for b in content.blocks if b.kind == "table")
    assert [(row.cells[1], row.total) for row in table.rows] == [
        ("£132.00", False),
        ("£99.00", False),
        ("£33.00", True),
    ]


def test_dea_discharged_notice_stops_the_deductions_reg_26_and_keeps_reg_22_for_those_made() -> None:
    """SI 2013/384 reg 26 (paraphrased): the council may discharge a notice and tells the
    employer; the notice names the attachment (the employer reference and the person) and
    the day it is discharged with effect from, and says no deduction is made from a pay-day
    on or after it, and why (the overpayment paid, or recovery held: a Breathing Space, SI
    2020/1311). Reg 22 (paraphrased): deductions already made are still paid over by the
    19th of the month after each was made, the last of them (those of 1 May, the day
    before the discharge on 2 May) by 19 June 2026. It states what has been received, that
    a new notice would be sent if deductions are needed again, and whom to contact."""
    content = compose_notice(request(NoticeType.DEA_DISCHARGED), COUNCIL)
    assert content.title == "Direct Earnings Attachment: notice discharged"
    assert content.recipient_name == "Exampleton Foods Ltd"  # reg 26: the employer is told
    assert ("Employer reference", "123/AB45678") in content.references
    assert content.day("remit_by") == date(2026, 6, 19)
    assert content.amount("remitted") == 9900
    assert_in_both(
        content,
        "To the payroll manager, Exampleton Foods Ltd",
        # reg 26: which notice, from when and why.
        "We sent you a Direct Earnings Attachment notice requiring you to make deductions from the earnings of Alex"
        " Example to recover an overpayment of Housing Benefit (your employer reference 123/AB45678, our account"
        " reference 1001)",
        "Example District Council has discharged that notice with effect from Saturday 2 May 2026, because the"
        " overpayment is paid in full (regulation 26 of the Social Security (Overpayments and Recovery)"
        " Regulations 2013)",
        "make no deduction under this notice from Alex Example's earnings on any pay-day on or after Saturday"
        " 2 May 2026",
        # reg 22: what was deducted before the discharge is still paid over by the 19th.
        f"Pay us any deductions you made from pay-days before 2 May 2026 that you have not already paid over, by the"
        f" {REMIT_BY_DAY}th of the month after the month you made them: those made in May 2026 by Friday 19 June 2026",
        "quote your employer reference 123/AB45678 and our account reference 1001 (regulation 22)",
        "So far we have received £99.00 from you under this notice",
        "we will send you a new Direct Earnings Attachment notice saying from which pay-day to deduct",
        "contact Example District Council, Revenues and Benefits, quoting your employer reference 123/AB45678",
    )
    assert "offence" not in content.text() and "prosecut" not in content.text()  # nothing left to enforce
    assert page_count(render_pdf(content, "doc")) == 1


def test_dea_discharged_for_a_breathing_space_counts_reg_22_from_the_last_day_before_it() -> None:
    """SI 2020/1311: a Breathing Space holds recovery, so the notice is discharged (SI
    2013/384 reg 26) from the day it starts; discharged on 1 June, the last deductions are
    May's, due by 19 June (reg 22); nothing received yet is said as such."""
    data = request(
        NoticeType.DEA_DISCHARGED,
        amounts={"remitted": 0},
        dates={"discharged_on": date(2026, 6, 1)},
        template_data={
            **ENFORCEMENT_SHAPES[NoticeType.DEA_DISCHARGED][2],
            "reason": "recovery is held (breathing space)",
        },
    )
    content = compose_notice(data, COUNCIL)
    assert content.day("remit_by") == date(2026, 6, 19)
    assert_in_both(
        content,
        "has discharged that notice with effect from Monday 1 June 2026, because recovery is held (breathing space)",
        "those made in May 2026 by Friday 19 June 2026",
        "We have not received any deductions from you under this notice.",
    )
    year_end = compose_notice(request(NoticeType.DEA_DISCHARGED, dates={"discharged_on": date(2026, 12, 31)}), COUNCIL)
    assert year_end.day("remit_by") == date(2027, 1, 19)
    assert "those made in December 2026 by Tuesday 19 January 2027" in year_end.text()


def test_dea_employer_notice_prints_the_reg_19_2_particulars_a_request_carries() -> None:
    """SI 2013/384 reg 19(2)(a), (c), (d), (g) and (h): the person's address, their payroll
    number, National Insurance number, the address for cheques and the account for
    transfers, printed when the request carries them; without them the notice still
    says how to pay."""
    data = request(
        NoticeType.DEA_EMPLOYER,
        template_data={
            **ENFORCEMENT_SHAPES[NoticeType.DEA_EMPLOYER][2],
            "employee_address": "1 High Street, Exampleton EX1 1AA",
            "ni_number": "QQ 12 34 56 C",
            "payroll_number": "E-0042",
            "remit_account": "Example District Council, sort code 00-00-00, account 12345678",
            "remit_address": "PO Box 7, Exampleton EX1 9ZZ",
        },
    )
    assert_in_both(
        compose_notice(data, COUNCIL),
        "as the employer of Alex Example of 1 High Street, Exampleton EX1 1AA, to make deductions",
        "National Insurance number",
        "QQ 12 34 56 C",
        "Payroll or staff number",
        "E-0042",
        "Pay by bank transfer to Example District Council, sort code 00-00-00, account 12345678, or by cheque"
        " payable to Example District Council sent to PO Box 7, Exampleton EX1 9ZZ.",
    )
    plain = compose_notice(request(NoticeType.DEA_EMPLOYER), COUNCIL).text()
    assert "National Insurance number" not in plain and "Payroll or staff number" not in plain
    assert "Pay by bank transfer to the account Example District Council gives you" in plain


def test_dea_dates_and_the_percentage_are_derived_when_a_request_leaves_them_out() -> None:
    """SI 2013/384 reg 22: the first payment is due by the 19th of the month after the first
    pay-day's; Schedule 2: the percentage is the table's for the earnings reported."""
    content = compose_notice(employer_request(percent=None, dates={"first_pay_day": date(2026, 12, 31)}), COUNCIL)
    assert content.day("remit_by") == date(2027, 1, 19)
    assert "The first payment, for the deductions you make in December 2026, is due by Tuesday 19 January 2027" in (
        content.text()
    )
    assert "On that amount the table gives 11%" in content.text()
    letter = compose_notice(
        request(
            NoticeType.DEA_REMITTANCE_MISSED,
            dates={"deducted_through": date(2026, 3, 31), "remit_by": date(2026, 4, 19)},
        ),
        COUNCIL,
    )
    assert letter.day("reply_by") == letter.served_on + timedelta(days=14)


def _with(notice_type: NoticeType, **template_data: Any) -> NoticeRequestedData:
    return request(notice_type, template_data={**ENFORCEMENT_SHAPES[notice_type][2], **template_data})


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (employer_request(percent="7"), "gives '7' percent for net earnings of £300.00 paid weekly"),
        (employer_request(fraud=True), "the higher table the notice prints gives 22%"),
        (_with(NoticeType.DEA_EMPLOYER, fraud="yes"), "needs template_data['fraud'] as true or false"),
        (_with(NoticeType.DEA_EMPLOYER, pay_frequency="daily"), "needs a known template_data['pay_frequency']"),
        (_with(NoticeType.DEA_EMPLOYER, employer_ref=""), "needs template_data['employer_ref']"),
        (_with(NoticeType.DEA_EMPLOYER, employee_name=""), "needs template_data['employee_name']"),
        (request(NoticeType.DEA_EMPLOYER, recipient_name=""), "must be addressed to the employer by name"),
        (
            request(NoticeType.DEA_EMPLOYER, amounts={"owed": 123456, "deduction": 12001, "net_earnings": 30000}),
            "never more than 40% of net earnings",
        ),
        (request(NoticeType.DEA_EMPLOYER, amounts={"deduction": 3300, "net_earnings": 30000}), "needs amounts['owed']"),
        (
            # Sent 2 May: the notice has effect from a pay-day at least 22 days on (reg 19(3)).
            request(NoticeType.DEA_EMPLOYER, dates={"first_pay_day": date(2026, 5, 23)}),
            "so no earlier than 2026-05-24",
        ),
        (
            request(NoticeType.DEA_EMPLOYER, dates={"first_pay_day": date(2026, 5, 29), "remit_by": date(2026, 6, 30)}),
            "must give 2026-06-19 for the first payment",
        ),
        (_with(NoticeType.DEA_DEBTOR, employer_name=""), "needs template_data['employer_name']"),
        (request(NoticeType.DEA_DEBTOR, dates={}), "needs dates['first_pay_day']"),
        (
            request(NoticeType.DEA_REMITTANCE_MISSED, amounts={"expected": 13200, "received": 9900, "shortfall": 3200}),
            "shortfall of £32.00 is not the £132.00 expected less the £99.00 received",
        ),
        (
            request(
                NoticeType.DEA_REMITTANCE_MISSED,
                dates={"deducted_through": date(2026, 3, 31), "remit_by": date(2026, 4, 30)},
            ),
            "must give 2026-04-19 as the day they were due",
        ),
        (
            request(
                NoticeType.DEA_REMITTANCE_MISSED,
                dates={"deducted_through": date(2026, 4, 30), "remit_by": date(2026, 5, 19)},
            ),
            "cannot say that deductions due by 2026-05-19 were not paid",
        ),
        (_with(NoticeType.DEA_REMITTANCE_MISSED, employer_ref=""), "needs template_data['employer_ref']"),
        (request(NoticeType.DEA_DISCHARGED, recipient_name=" "), "must be addressed to the employer by name"),
        (_with(NoticeType.DEA_DISCHARGED, employer_ref=""), "needs template_data['employer_ref']"),
        (_with(NoticeType.DEA_DISCHARGED, employee_name=""), "needs template_data['employee_name']"),
        (_with(NoticeType.DEA_DISCHARGED, reason=" "), "needs template_data['reason']"),
        (request(NoticeType.DEA_DISCHARGED, amounts={}), "needs amounts['remitted']"),
        (request(NoticeType.DEA_DISCHARGED, amounts={"remitted": -1}), "cannot say the employer has paid over"),
        (request(NoticeType.DEA_DISCHARGED, dates={}), "needs dates['discharged_on']"),
        (
            request(NoticeType.DEA_DISCHARGED, dates={"discharged_on": ISSUED, "remit_by": date(2026, 5, 19)}),
            "must give 2026-06-19 for the last deductions",
        ),
    ],
)
def test_a_dea_request_its_notice_cannot_be_served_on_is_refused_without_personal_data(
    data: NoticeRequestedData, reason: str
) -> None:
    with pytest.raises(Refused) as refused:
        compose_notice(data, COUNCIL)
    assert reason in str(refused.value)
    assert data.request_id in str(refused.value)
    # Reasons are logged and travel on notice.failed: never the person's or the employer's name.
    assert "Alex Example" not in str(refused.value) and "Exampleton Foods" not in str(refused.value)
