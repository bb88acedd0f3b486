"""What each notice says and how it is rendered.

Wording (from each notice type's template): CT reg 23 reminders, reg 33/34(1)
final notice, reg 34/35 and 35(2A) summons (SI 1992/613) [S1][S5][S6][S7]; NNDR
reg 8 further notice (SI 1989/1058) [S24]; compliance fee, Taking Control of Goods
(Fees) Regs 2014 Sch [S29]; Pre-Action Protocol for Debt Claims [S45]; HB
overpayment decision, SI 2006/213 reg 90 and Sch 9 para 15 [S39]; Direct
Earnings Attachment notices, SI 2013/384 Part 6 [S42]; the letter telling the
person the DWP has been asked to deduct from their benefits, SSAA 1992 s.75 and
SI 2013/384 Part 5 [S40][S41]. The
requests below carry the amounts and dates enforcement sends for each notice type.
ISSUED is Saturday 2 May 2026; under the default council's rule (second-class
post, two business days) the notices are served on Wednesday 6 May, Monday 4 May
being the Early May bank holiday.
"""

from __future__ import annotations

import base64
import hashlib
import re
import subprocess
import sys
import zlib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import reportlab
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from recovery_notices.domain import compose_notice
from recovery_notices.render import load_typeface, page_count, render_pdf
from recovery_notices.storage import document_id_for
from recovery_shared.contracts.common import (
    MAX_ADDRESS_BLOCK_LINES,
    MAX_ADDRESS_LINE,
    MAX_NAME,
    MAX_REF,
    MAX_TEMPLATE_TEXT,
)
from recovery_shared.contracts.internal import NoticeRequestedData, NoticeType
from recovery_shared.council import load_council_config
from recovery_shared.refusal import Refused
from recovery_shared.statute.council_tax import COUNCIL_TAX

COUNCIL = load_council_config()
ISSUED = date(2026, 5, 2)
SERVED = date(2026, 5, 6)
EARLIEST_ORDER = COUNCIL_TAX.liability_order_earliest(SERVED)  # SI 1992/613 reg 35(2A)

# What enforcement's ladder puts in each request (amounts in pence).
ENFORCEMENT_SHAPES: dict[NoticeType, tuple[dict[str, int], dict[str, date], dict[str, Any]]] = {
    NoticeType.REMINDER: (
        {"amount_to_pay": 15000, "balance": 135000},
        {
            "missed_instalment_due": date(2026, 5, 1),
            "pay_by": date(2026, 5, 8),
            "balance_due_if_unpaid": date(2026, 5, 16),
        },
        {"debt_type": "CT", "financial_year": "2026/27"},
    ),
    NoticeType.SECOND_REMINDER: (
        {"amount_to_pay": 30000, "balance": 120000},
        {
            "missed_instalment_due": date(2026, 5, 1),
            "pay_by": date(2026, 5, 8),
            "balance_due_if_unpaid": date(2026, 5, 16),
        },
        {"debt_type": "CT", "financial_year": "2026/27"},
    ),
    NoticeType.FINAL_NOTICE: (
        {"balance": 120000},
        {"court_application_from": date(2026, 5, 9)},
        {"debt_type": "CT", "financial_year": "2026/27"},
    ),
    NoticeType.SUMMONS: (
        {"balance": 120000, "summons_costs": 8000, "total": 128000},
        {"hearing_date": date(2026, 5, 28)},
        {"debt_type": "CT", "financial_year": "2026/27"},
    ),
    NoticeType.NNDR_FURTHER_NOTICE: (
        {"amount_to_pay": 250000, "balance": 2250000},
        {
            "missed_instalment_due": date(2026, 5, 1),
            "pay_by": date(2026, 5, 8),
            "balance_due_if_unpaid": date(2026, 5, 16),
        },
        {"debt_type": "NNDR", "financial_year": "2026/27"},
    ),
    NoticeType.AGENT_REFERRAL_LETTER: (
        {"balance": 128000, "compliance_fee": 7500},
        {"liability_order_date": date(2026, 4, 14), "referred_on": ISSUED},
        {"debt_type": "CT", "financial_year": "2026/27"},
    ),
    NoticeType.INVOICE: ({"amount": 45000}, {"due_date": date(2026, 6, 1)}, {"debt_type": "SUNDRY"}),
    NoticeType.INVOICE_REMINDER: (
        {"balance": 45000},
        {"invoice_due": date(2026, 4, 20), "pay_by": date(2026, 5, 12)},
        {"debt_type": "SUNDRY"},
    ),
    NoticeType.LETTER_BEFORE_CLAIM: ({"balance": 45000}, {}, {"debt_type": "TA"}),
    NoticeType.NOTICE_OF_INTENTION: (
        {"balance": 45000},
        {"letter_before_claim_on": date(2026, 3, 30), "claim_after": date(2026, 5, 20)},  # 14 days from service
        {"debt_type": "TA"},
    ),
    NoticeType.HBOP_DECISION: (
        {"overpaid": 123456},
        {
            "period_start": date(2025, 10, 6),
            "period_end": date(2026, 3, 29),
            "decided_on": date(2026, 4, 30),
            "reconsider_by": date(2026, 6, 6),  # one month from service on 6 May
        },
        {
            "debt_type": "HBOP",
            "classification": "claimant_error",
            "reason": "Your earnings went up from 6 October 2025 and we were told on 30 March 2026.",
            "calculation": "Housing Benefit paid £95.12 a week for 25 weeks; you were entitled to £45.74 a week.",
            "liable_role": "claimant",
        },
    ),
    # SI 2013/384 Part 6: weekly net earnings of £300 fall in Table A's 11% band, so about
    # £33.00 a pay-day; the first pay-day is at least 22 days after the notice is sent on
    # 2 May (reg 19(3)) and its month's deductions are due by the 19th of the next (reg 22).
    NoticeType.DEA_EMPLOYER: (
        {"owed": 123456, "deduction": 3300, "net_earnings": 30000},
        {"first_pay_day": date(2026, 5, 29), "remit_by": date(2026, 6, 19)},
        {
            "debt_type": "HBOP",
            "employee_name": "Alex Example",
            "employer_ref": "123/AB45678",
            "pay_frequency": "weekly",
            "percent": "11",
            "fraud": False,
        },
    ),
    NoticeType.DEA_DEBTOR: (
        {"owed": 123456, "deduction": 3300, "net_earnings": 30000},
        {"first_pay_day": date(2026, 5, 29)},
        {
            "debt_type": "HBOP",
            "employer_name": "Exampleton Foods Ltd",
            "pay_frequency": "weekly",
            "percent": "11",
            "fraud": False,
        },
    ),
    # Four weekly deductions of £33.00 in March, due by 19 April; £99.00 paid over.
    NoticeType.DEA_REMITTANCE_MISSED: (
        {"expected": 13200, "received": 9900, "shortfall": 3300},
        {"deducted_through": date(2026, 3, 31), "remit_by": date(2026, 4, 19)},
        {"debt_type": "HBOP", "employee_name": "Alex Example", "employer_ref": "123/AB45678"},
    ),
    # SI 2013/384 reg 26: discharged the day it is sent, the overpayment paid; deductions made
    # before 2 May (those of 1 May) are still paid over by the 19th of the next month (reg 22).
    NoticeType.DEA_DISCHARGED: (
        {"remitted": 9900},
        {"discharged_on": ISSUED},
        {
            "debt_type": "HBOP",
            "financial_year": "2025/26",
            "employee_name": "Alex Example",
            "employer_ref": "123/AB45678",
            "reason": "the overpayment is paid in full",
        },
    ),
    # SSAA 1992 s.75, SI 2013/384 Part 5: the DWP is asked to deduct from the person's
    # other benefits; the council's [hbop] dwp_answer_days (28) from 2 May.
    NoticeType.DWP_DEDUCTION_REQUESTED: (
        {"owed": 123456},
        {"answer_by": date(2026, 5, 30)},
        {"debt_type": "HBOP", "financial_year": "2025/26", "fraud": False},
    ),
}

# The notices addressed to the person's employer rather than the person.
EMPLOYER = ("Exampleton Foods Ltd", ["Payroll Department", "Unit 4, Mill Lane", "Exampleton", "EX2 3CD"])
ADDRESSED_TO_EMPLOYER = {NoticeType.DEA_EMPLOYER, NoticeType.DEA_REMITTANCE_MISSED, NoticeType.DEA_DISCHARGED}

# The figures each notice must carry, as printed.
FIGURES: dict[NoticeType, list[str]] = {
    NoticeType.REMINDER: ["£150.00", "£1,350.00", "8 May 2026", "16 May 2026", "1 May 2026"],
    NoticeType.SECOND_REMINDER: ["£300.00", "£1,200.00", "8 May 2026", "16 May 2026"],
    NoticeType.FINAL_NOTICE: ["£1,200.00", "9 May 2026"],
    NoticeType.SUMMONS: ["£1,200.00", "£80.00", "£1,280.00", "28 May 2026", "Example Magistrates' Court"],
    NoticeType.NNDR_FURTHER_NOTICE: ["£2,500.00", "£22,500.00", "8 May 2026"],
    NoticeType.AGENT_REFERRAL_LETTER: ["£1,280.00", "£75.00", "14 April 2026"],
    NoticeType.INVOICE: ["£450.00", "1 June 2026"],
    NoticeType.INVOICE_REMINDER: ["£450.00", "12 May 2026", "20 April 2026"],
    NoticeType.LETTER_BEFORE_CLAIM: ["£450.00", "5 June 2026"],  # 30 days from service to reply
    NoticeType.NOTICE_OF_INTENTION: ["£450.00", "20 May 2026", "30 March 2026"],  # 14 days from service
    NoticeType.HBOP_DECISION: ["£1,234.56", "6 October 2025", "29 March 2026", "6 June 2026"],
    NoticeType.DEA_EMPLOYER: ["£1,234.56", "£33.00", "£300.00", "11%", "29 May 2026", "19 June 2026"],
    NoticeType.DEA_DEBTOR: ["£1,234.56", "£33.00", "£300.00", "11%", "29 May 2026", "Exampleton Foods Ltd"],
    NoticeType.DEA_REMITTANCE_MISSED: ["£132.00", "£99.00", "£33.00", "31 March 2026", "19 April 2026"],
    NoticeType.DEA_DISCHARGED: ["£99.00", "Saturday 2 May 2026", "19 June 2026", "123/AB45678", "Alex Example"],
    NoticeType.DWP_DEDUCTION_REQUESTED: ["£1,234.56", "Saturday 30 May 2026"],
}

# The regulations each notice names in its words.
CITES: dict[NoticeType, list[str]] = {
    NoticeType.REMINDER: ["regulation 23(3)", "within 7 days of the date of this notice"],
    NoticeType.SECOND_REMINDER: ["regulation 23(3)", "second reminder notice", "regulation 23(4)"],
    NoticeType.FINAL_NOTICE: ["regulation 34(1)", "within 7 days of the date of this notice"],
    NoticeType.SUMMONS: ["Council Tax (Administration and Enforcement) Regulations 1992", "(regulation 35(2A))"],
    NoticeType.NNDR_FURTHER_NOTICE: ["regulation 8(2) of the Non-Domestic Rating (Collection and Enforcement)"],
    NoticeType.AGENT_REFERRAL_LETTER: [
        "Taking Control of Goods (Fees) Regulations 2014",
        "regulation 6 of the Taking Control of Goods Regulations 2013",
    ],
    NoticeType.INVOICE: [],
    NoticeType.INVOICE_REMINDER: [],
    NoticeType.LETTER_BEFORE_CLAIM: ["Pre-Action Protocol for Debt Claims", "30 days"],
    NoticeType.NOTICE_OF_INTENTION: ["Pre-Action Protocol for Debt Claims"],
    NoticeType.HBOP_DECISION: ["within 1 month"],
    NoticeType.DEA_EMPLOYER: [
        "regulation 19 of the Social Security (Overpayments and Recovery) Regulations 2013",
        "(regulation 22)",
        "(regulation 24)",
        "regulation 30",
    ],
    NoticeType.DEA_DEBTOR: ["Social Security (Overpayments and Recovery) Regulations 2013"],
    NoticeType.DEA_REMITTANCE_MISSED: [
        "regulation 22 of the Social Security (Overpayments and Recovery) Regulations 2013",
        "regulation 30",
    ],
    NoticeType.DEA_DISCHARGED: [
        "regulation 26 of the Social Security (Overpayments and Recovery) Regulations 2013",
        "(regulation 22)",
    ],
    NoticeType.DWP_DEDUCTION_REQUESTED: [
        "section 75 of the Social Security Administration Act 1992",
        "Part 5 of the Social Security (Overpayments and Recovery) Regulations 2013",
    ],
}


def request(
    notice_type: NoticeType,
    *,
    amounts: dict[str, int] | None = None,
    dates: dict[str, date] | None = None,
    template_data: dict[str, Any] | None = None,
    request_id: str | None = None,
    **overrides: Any,
) -> NoticeRequestedData:
    shape_amounts, shape_dates, shape_template = ENFORCEMENT_SHAPES[notice_type]
    employer = notice_type in ADDRESSED_TO_EMPLOYER
    fields: dict[str, Any] = {
        "request_id": request_id or f"CASE-1001:{notice_type.value}:{ISSUED.isoformat()}",
        "notice_type": notice_type,
        "account_ref": "1001",
        "case_id": "CASE-1001",
        "debt_ids": ["CT-1001-2026"],
        "council_name": "Example District Council",
        "recipient_name": EMPLOYER[0] if employer else "Alex Example",
        "recipient_address": EMPLOYER[1] if employer else ["1 High Street", "Exampleton", "EX1 1AA"],
        "amounts": shape_amounts if amounts is None else amounts,
        "dates": shape_dates if dates is None else dates,
        "issued_on": ISSUED,
        "template_data": shape_template if template_data is None else template_data,
    }
    fields.update(overrides)
    return NoticeRequestedData(**fields)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- content ------------------------------------------------------------------


@pytest.mark.parametrize("notice_type", list(NoticeType))
def test_each_notice_carries_its_figures_and_cites_its_regulations(notice_type: NoticeType) -> None:
    content = compose_notice(request(notice_type), COUNCIL)
    text = content.text()
    for figure in FIGURES[notice_type]:
        assert figure in text, f"{figure} missing from the {notice_type.value}"
    for cite in CITES[notice_type]:
        assert cite in text, f"{cite!r} missing from the {notice_type.value}"
    assert "Example District Council" in text and "1001" in text
    # The wording is the statute's content, not a placeholder for it.
    for marker in ("STATUTORY WORDING", "to be replaced", "[", "{{", "{%"):
        assert marker not in text, f"{marker!r} left in the {notice_type.value}"
    assert content.title in text and content.served_on == SERVED


def test_every_amount_sent_is_in_the_table_in_pounds_and_unknown_keys_get_a_label() -> None:
    data = request(NoticeType.REMINDER, amounts={"amount_to_pay": 15000, "balance": 135000, "penalty_costs": 7000})
    content = compose_notice(data, COUNCIL)
    assert [(a.key, a.shown) for a in content.amounts] == [
        ("amount_to_pay", "£150.00"),
        ("balance", "£1,350.00"),
        ("penalty_costs", "£70.00"),
    ]
    assert "Penalty costs" in [a.label for a in content.amounts]
    assert content.key_dates[0].key == "issued_on" and content.key_dates[0].shown == "2 May 2026"
    assert content.key_dates[1].key == "served_on" and content.key_dates[1].shown == "6 May 2026"
    assert "Penalty costs: £70.00" in content.text()  # the template's table prints every line


def test_the_reminder_states_the_reg_23_consequence_with_the_figures() -> None:
    text = compose_notice(request(NoticeType.REMINDER), COUNCIL).text()
    assert "You must pay £150.00 within 7 days of the date of this notice, that is by Friday 8 May 2026." in text
    assert (
        "you lose the right to pay by instalments, and the unpaid balance for the year, £1,350.00, becomes payable"
        " in one sum on Saturday 16 May 2026" in text
    )
    assert "second reminder" not in text


def test_optional_figures_may_be_missing_without_breaking_the_notice() -> None:
    """Dates a request leaves out are derived from their statutory periods counted
    from the served date (6 May), never the issue date (2 May)."""
    reminder = compose_notice(request(NoticeType.REMINDER, amounts={"amount_to_pay": 15000}, dates={}), COUNCIL)
    # reg 23(3): 7 days beginning with the served day, then a further 7 from the failure.
    assert reminder.day("pay_by") == date(2026, 5, 12)
    assert reminder.day("balance_due_if_unpaid") == date(2026, 5, 20)
    assert "the unpaid balance for the year becomes payable in one sum on Wednesday 20 May 2026" in reminder.text()
    assert [a.key for a in reminder.amounts] == ["amount_to_pay"]
    summons = compose_notice(request(NoticeType.SUMMONS, amounts={"balance": 120000}, template_data={}), council=None)
    assert summons.amount("total") == 120000  # no costs sent: the total is the balance
    assert "the magistrates' court" in summons.text()
    final = compose_notice(request(NoticeType.FINAL_NOTICE, dates={}), COUNCIL)
    assert final.day("court_application_from") == date(2026, 5, 13)  # reg 34(1): 7 days, from service
    assert "13 May 2026" in final.text() and "9 May 2026" not in final.text()
    nameless = compose_notice(request(NoticeType.REMINDER, recipient_name="", recipient_address=[]), COUNCIL)
    assert nameless.recipient_name == "The Council Tax Payer" and nameless.recipient_address == ()
    assert "Dear The Council Tax Payer," in nameless.text()


def test_the_agent_letter_takes_the_compliance_fee_in_force_when_the_request_has_none() -> None:
    data = request(NoticeType.AGENT_REFERRAL_LETTER, amounts={"balance": 128000})
    content = compose_notice(data, COUNCIL)
    assert content.amount("compliance_fee") == 7500
    assert "A compliance fee of £75.00 is added" in content.text()
    named = compose_notice(
        request(NoticeType.AGENT_REFERRAL_LETTER, template_data={"agent": "North Bailiff Services Ltd"}), COUNCIL
    )
    assert ("Enforcement agent", "North Bailiff Services Ltd") in named.references
    assert "passed the debt of £1,280.00 to North Bailiff Services Ltd" in named.text()


def test_a_summons_names_the_court_given_in_the_request_over_the_councils_default() -> None:
    data = request(NoticeType.SUMMONS, template_data={"debt_type": "CT", "court": "Westshire Magistrates' Court"})
    assert ("Court", "Westshire Magistrates' Court") in compose_notice(data, COUNCIL).references


def test_business_rates_and_other_debts_do_not_cite_council_tax_regulations() -> None:
    nndr_summons = compose_notice(request(NoticeType.SUMMONS, template_data={"debt_type": "NNDR"}), COUNCIL).text()
    assert "Non-Domestic Rating (Collection and Enforcement) (Local Lists) Regulations 1989" in nndr_summons
    assert "Council Tax (Administration" not in nndr_summons and "regulation 35(2A)" not in nndr_summons
    assert "You are given at least 14 days' notice of the hearing." in nndr_summons
    sundry_reminder = compose_notice(
        request(NoticeType.REMINDER, template_data={"debt_type": "SUNDRY"}), COUNCIL
    ).text()
    assert "regulation 23" not in sundry_reminder and "£150.00" in sundry_reminder
    assert "Council Tax" not in sundry_reminder and "Sundry debt: reminder notice" in sundry_reminder


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (request(NoticeType.SUMMONS, dates={}), "a summons needs dates['hearing_date']"),
        (
            request(NoticeType.SUMMONS, dates={"hearing_date": date(2026, 5, 10)}),
            "no liability order can be made until 14 days have elapsed since the day the summons was served",
        ),
        (
            # Served 6 May: the statute's earliest order day, less one, is too early.
            request(NoticeType.SUMMONS, dates={"hearing_date": EARLIEST_ORDER - timedelta(days=1)}),
            f"the earliest hearing is {EARLIEST_ORDER.isoformat()}",
        ),
        (request(NoticeType.SUMMONS, amounts={"summons_costs": 8000}), "a summons needs amounts['balance']"),
        (request(NoticeType.REMINDER, amounts={"balance": 100}), "a reminder needs amounts['amount_to_pay']"),
        (request(NoticeType.SECOND_REMINDER, amounts={"amount_to_pay": 0}), "nothing is owed"),
        (request(NoticeType.FINAL_NOTICE, amounts={}), "a final notice needs amounts['balance']"),
        (request(NoticeType.NNDR_FURTHER_NOTICE, amounts={}), "needs amounts['amount_to_pay']"),
        (
            request(NoticeType.AGENT_REFERRAL_LETTER, dates={}),
            "an agent may act only under a liability order",
        ),
        (
            request(NoticeType.AGENT_REFERRAL_LETTER, dates={"liability_order_date": date(2026, 6, 1)}),
            "cannot rely on a liability order of 2026-06-01",
        ),
        (request(NoticeType.INVOICE, amounts={}), "an invoice needs amounts['amount']"),
        (request(NoticeType.INVOICE_REMINDER, amounts={}), "an invoice reminder needs amounts['balance']"),
        (request(NoticeType.NOTICE_OF_INTENTION, dates={}), "a notice of intention needs dates['claim_after']"),
        (
            # Served 6 May: a claim "after" the served day gives no notice at all.
            request(NoticeType.NOTICE_OF_INTENTION, dates={"claim_after": date(2026, 5, 6)}),
            "cannot give 2026-05-06 as the day a claim may follow",
        ),
        (request(NoticeType.HBOP_DECISION, amounts={}), "an HB overpayment decision needs amounts['overpaid']"),
        (request(NoticeType.HBOP_DECISION, dates={"period_end": date(2026, 3, 29)}), "dates['period_start']"),
        (
            request(NoticeType.HBOP_DECISION, template_data={"classification": "fraud"}),
            "needs template_data['reason']",
        ),
        (
            request(NoticeType.HBOP_DECISION, template_data={"classification": "guesswork", "reason": "x"}),
            "needs a known template_data['classification']",
        ),
        (
            # SI 2001/1002 regs 4 and 18: one month from service on 6 May is 6 June.
            request(
                NoticeType.HBOP_DECISION,
                dates={
                    "period_start": date(2025, 10, 6),
                    "period_end": date(2026, 3, 29),
                    "reconsider_by": date(2026, 6, 5),
                },
            ),
            "must allow until 2026-06-06",
        ),
        (request(NoticeType.REMINDER, council_name="  "), "must name the council"),
    ],
)
def test_a_request_missing_what_its_notice_cannot_do_without_is_refused(data: NoticeRequestedData, reason: str) -> None:
    with pytest.raises(Refused) as refused:
        compose_notice(data, COUNCIL)
    assert reason in str(refused.value)
    assert data.request_id in str(refused.value)
    assert "Alex Example" not in str(refused.value)  # reasons travel on notice.failed: no personal data


# --- rendering ----------------------------------------------------------------


# The summons and the agent letter carry the hearing notes and the fee scale: a
# second page, as councils' own do; so does the DEA notice to the employer, with its
# Schedule 2 table and the employer's duties; the letter before claim's four Protocol
# enclosures each start a page of their own; every other notice fits on one.
PAGES = {
    NoticeType.SUMMONS: 2,
    NoticeType.AGENT_REFERRAL_LETTER: 2,
    NoticeType.LETTER_BEFORE_CLAIM: 5,
    NoticeType.DEA_EMPLOYER: 2,
}


def pages(notice_type: NoticeType) -> int:
    return PAGES.get(notice_type, 1)


@pytest.mark.parametrize("notice_type", list(NoticeType))
def test_each_notice_renders_to_a_short_pdf(notice_type: NoticeType) -> None:
    data = request(notice_type)
    pdf = render_pdf(compose_notice(data, COUNCIL), document_id_for(data.request_id))
    assert pdf.startswith(b"%PDF-1.")
    assert pdf.rstrip().endswith(b"%%EOF")
    assert page_count(pdf) == pages(notice_type)
    assert 2_000 < len(pdf) < 20_000


def test_the_same_request_renders_to_the_same_bytes_and_another_to_different_ones() -> None:
    data = request(NoticeType.SUMMONS)
    document_id = document_id_for(data.request_id)
    first = render_pdf(compose_notice(data, COUNCIL), document_id)
    again = render_pdf(compose_notice(data, COUNCIL), document_id)
    assert sha256(first) == sha256(again)
    other = request(NoticeType.SUMMONS, amounts={"balance": 120001, "summons_costs": 8000})
    assert sha256(render_pdf(compose_notice(other, COUNCIL), document_id)) != sha256(first)


def test_the_checksum_is_stable_across_processes() -> None:
    """What a re-render after a crash (another process, another hash seed) relies on."""
    data = request(NoticeType.REMINDER)
    here = sha256(render_pdf(compose_notice(data, COUNCIL), document_id_for(data.request_id)))
    script = (
        "import hashlib, sys\n"
        "from tests.unit.test_notice_rendering import COUNCIL, request\n"
        "from recovery_notices.domain import compose_notice\n"
        "from recovery_notices.render import render_pdf\n"
        "from recovery_notices.storage import document_id_for\n"
        "from recovery_shared.contracts.internal import NoticeType\n"
        "data = request(NoticeType.REMINDER)\n"
        "pdf = render_pdf(compose_notice(data, COUNCIL), document_id_for(data.request_id))\n"
        "print(hashlib.sha256(pdf).hexdigest())\n"
    )
    repo = Path(__file__).resolve().parents[2]
    there = subprocess.run(
        [sys.executable, "-c", script],
        cwd=repo,
        env={"PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(repo)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert there == here


def test_document_ids_are_derived_from_the_request_id() -> None:
    assert document_id_for("CASE-1:reminder:2026-05-02") == document_id_for("CASE-1:reminder:2026-05-02")
    assert document_id_for("CASE-1:reminder:2026-05-02") != document_id_for("CASE-1:reminder:2026-05-03")
    # Fixed for ever: files already filed are found under this id.
    assert document_id_for("CASE-1:reminder:2026-05-02") == "35d02f6e-2fcc-5f9d-9c47-41e7bb6c61a5"


def test_markup_in_names_and_long_content_still_render() -> None:
    data = request(
        NoticeType.REMINDER,
        recipient_name="O'Brien & <Sons> Ltd",
        recipient_address=[f"Line {i} of a long address" for i in range(7)],
        amounts={"amount_to_pay": 15000, "balance": 120000, **{f"charge_{i}": 1000 * i for i in range(1, 9)}},
    )
    content = compose_notice(data, COUNCIL)
    # The name reaches the words escaped, as text, never as markup.
    assert "Dear O'Brien & <Sons> Ltd," in content.text()
    pdf = render_pdf(content, "doc")
    assert page_count(pdf) in (1, 2)


def test_a_truetype_face_renders_deterministically() -> None:
    fonts = Path(reportlab.__file__).parent / "fonts"
    face = load_typeface(fonts / "Vera.ttf", fonts / "VeraBd.ttf", fonts / "VeraIt.ttf")
    data = request(NoticeType.REMINDER, recipient_name="Zoë Åström")
    first = render_pdf(compose_notice(data, COUNCIL), "doc", face)
    assert sha256(first) == sha256(render_pdf(compose_notice(data, COUNCIL), "doc", face))
    assert b"BitstreamVeraSans" in first  # embedded, not Helvetica
    assert page_count(first) == 1


# --- the largest valid request ------------------------------------------------

# A DL or C5 envelope's window is 90mm wide; the address block must print within it.
WINDOW = 90 * mm
_WORDS = "Flat Apartment Westminster Buildings Sutton-under-Whitestonecliffe Llanfairpwllgwyngyll Road".split()


def words(length: int, seed: int) -> str:
    """Text of exactly ``length`` characters made of words, different for each seed."""
    text = ""
    while len(text) < length:
        text += f"{_WORDS[seed % len(_WORDS)]}{seed} "
        seed += 1
    return text[:length].strip() + "x" * (length - len(text[:length].strip()))


def unbroken(length: int, seed: int) -> str:
    """No space to break at, in the widest letter: the hardest text to fit."""
    return "W" * (length - len(str(seed))) + str(seed)


def at_the_bounds(notice_type: NoticeType, fill: Any) -> NoticeRequestedData:
    """Every text the header prints at its longest: the name, 11 address lines, the
    council, the references and the court's and agent's names a request may send;
    and every free text a notice's body prints (the overpayment's reason and
    calculation, the agreement and reply address) at its longest too."""
    return request(
        notice_type,
        council_name=fill(MAX_NAME, 1),
        recipient_name=fill(MAX_NAME, 2),
        recipient_address=[fill(MAX_ADDRESS_LINE, 10 + i) for i in range(MAX_ADDRESS_BLOCK_LINES)],
        account_ref="9" * 64,
        case_id=fill(MAX_REF, 3),
        template_data={
            **ENFORCEMENT_SHAPES[notice_type][2],
            "court": fill(MAX_TEMPLATE_TEXT, 4),
            "agent": fill(MAX_TEMPLATE_TEXT, 5),
            # The free text the HB overpayment decision and the letter before claim print.
            "reason": fill(MAX_TEMPLATE_TEXT, 6),
            "calculation": fill(MAX_TEMPLATE_TEXT, 7),
            "agreement": fill(MAX_TEMPLATE_TEXT, 8),
            "reply_address": fill(MAX_TEMPLATE_TEXT, 9),
            "description": fill(MAX_TEMPLATE_TEXT, 10),
        },
    )


_TEXT_OPS = re.compile(rb"/(\S+) ([\d.]+) Tf|\(((?:\\.|[^\\)])*)\)\s*Tj|T\*|\bTm\b|\bET\b")


def printed_lines(pdf: bytes) -> list[tuple[str, float]]:
    """Each line of text in a PDF rendered with the standard fonts, with its size."""
    from tests.unit.test_notice_statutory_content import _ESCAPE, _STREAM, _unescape

    lines: list[tuple[str, float]] = []
    size, line = 0.0, ""
    for stream in _STREAM.finditer(pdf):
        content = zlib.decompress(base64.a85decode(stream.group(1).strip(), adobe=True))
        for op in _TEXT_OPS.finditer(content):
            if op.group(2) is not None:
                size = float(op.group(2))
            elif op.group(3) is not None:
                line += _ESCAPE.sub(_unescape, op.group(3)).decode("cp1252")
            elif line:
                lines.append((line, size))
                line = ""
    return lines


@pytest.mark.parametrize("notice_type", list(NoticeType))
def test_every_notice_renders_at_the_bounds_with_every_address_line_whole(notice_type: NoticeType) -> None:
    from tests.unit.test_notice_statutory_content import pdf_text

    data = at_the_bounds(notice_type, words)
    content = compose_notice(data, COUNCIL)
    pdf = render_pdf(content, document_id_for(data.request_id))
    text = pdf_text(pdf)
    # Wrapped lines read on with a space, so each address line's words are there in order.
    for line in [data.recipient_name, *data.recipient_address]:
        assert line in text
    # A reference's narrow column breaks long words between letters.
    for _, value in content.references:
        assert value.replace(" ", "") in text.replace(" ", "")
    assert data.council_name in text and content.title in text
    block = [data.recipient_name, *data.recipient_address]
    lines = printed_lines(pdf)
    header = lines[: [line for line, _ in lines].index(content.title)]  # the body repeats the name
    address = [(line, size) for line, size in header if any(line in whole for whole in block)]
    assert len(address) > len(block)  # wrapped
    for line, size in address:
        assert stringWidth(line, "Helvetica", size) <= WINDOW, line
    # The ordinary request of the same type keeps its pages.
    ordinary = request(notice_type)
    assert page_count(render_pdf(compose_notice(ordinary, COUNCIL), "doc")) == pages(notice_type)


@pytest.mark.parametrize("notice_type", list(NoticeType))
def test_unbroken_text_at_the_bounds_is_broken_within_the_window_and_kept_whole(notice_type: NoticeType) -> None:
    data = at_the_bounds(notice_type, unbroken)
    content = compose_notice(data, COUNCIL)
    pdf = render_pdf(content, "doc")
    lines = printed_lines(pdf)
    header = lines[: [line for line, _ in lines].index(content.title)]  # the body repeats the name
    together = "".join(line for line, _ in header)
    for line in [data.council_name, data.recipient_name, *data.recipient_address]:
        assert line in together
    address = [(line, size) for line, size in header if line.startswith("WWW") and size <= 10]
    assert address
    for line, size in address:
        assert size >= 8  # still legible
        assert stringWidth(line, "Helvetica", size) <= WINDOW


def test_an_ordinary_address_is_printed_as_before_and_a_line_wider_than_the_window_wraps() -> None:
    long_line = "Flat 3, The Old Rectory Buildings, 27-29 Long Causeway Road"
    assert stringWidth(long_line, "Helvetica", 10) > WINDOW
    data = request(NoticeType.REMINDER, recipient_address=[long_line, "Little Snoring", "Exampleton", "EX1 1AA"])
    pdf = render_pdf(compose_notice(data, COUNCIL), "doc")
    lines = [line for line, size in printed_lines(pdf) if size == 10]
    assert lines[:3] == ["Alex Example", "Flat 3, The Old Rectory Buildings, 27-29 Long Causeway", "Road"]
    assert lines[3:6] == ["Little Snoring", "Exampleton", "EX1 1AA"]
    assert page_count(pdf) == 1
