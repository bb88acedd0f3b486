"""Each notice type, worded by its template and rendered to PDF, carries what its
regulation requires. One test per notice type, each naming its source; every
check runs on the composed words and on the text of the PDF itself.

The requests are the ones enforcement sends (tests/unit/test_notice_rendering.py):
issued Saturday 2 May 2026, served Wednesday 6 May under the default council's
second-class-post rule.
"""

from __future__ import annotations

import base64
import re
import zlib
from datetime import date

from recovery_notices.domain import NoticeContent, compose_notice
from recovery_notices.render import render_pdf
from recovery_shared.contracts.internal import NoticeType
from tests.unit.test_notice_rendering import COUNCIL, request

_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
# A shown string, or a move to a new line (T*, Tm) or the end of a text object (ET).
_TEXT_OP = re.compile(rb"\(((?:\\.|[^\\)])*)\)\s*Tj|T\*|\bTm\b|\bET\b")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)


def _unescape(match: re.Match[bytes]) -> bytes:
    code = match.group(1)
    if code[:1].isdigit():
        return bytes([int(code, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t"}.get(code, code)


def pdf_text(pdf: bytes) -> str:
    """The words a reader sees in a PDF this service rendered with the standard
    fonts (page streams ASCII85 + Flate, WinAnsi text), spaces normalised."""
    shown: list[str] = []
    for stream in _STREAM.finditer(pdf):
        content = zlib.decompress(base64.a85decode(stream.group(1).strip(), adobe=True))
        for op in _TEXT_OP.finditer(content):
            # Pieces of one line (a change of font) join directly; lines join with a space.
            text = op.group(1)
            shown.append(" " if text is None else _ESCAPE.sub(_unescape, text).decode("cp1252"))
    return re.sub(r"\s+", " ", "".join(shown))


def both(content: NoticeContent) -> tuple[str, str]:
    """The composed words and the PDF's words, whitespace normalised alike."""
    return re.sub(r"\s+", " ", content.text()), pdf_text(render_pdf(content, "doc"))


def assert_in_both(content: NoticeContent, *items: str) -> None:
    words, printed = both(content)
    for item in items:
        assert item in words, f"{item!r} missing from the {content.notice_type.value}'s words"
        assert item in printed, f"{item!r} missing from the {content.notice_type.value}'s PDF"


def test_pdf_text_reads_what_was_printed() -> None:
    content = compose_notice(request(NoticeType.INVOICE, recipient_name="O'Brien & Sons (Ltd)"), COUNCIL)
    printed = pdf_text(render_pdf(content, "doc"))
    assert "Dear O'Brien & Sons (Ltd)," in printed and "£450.00" in printed
    assert "Nothing like this" not in printed


def test_reminder_states_what_is_owed_the_7_days_and_the_consequence() -> None:
    """SI 1992/613 reg 23(1)(i)-(iii) and (3): the aggregate of the instalments due and
    unpaid and falling due within 7 days of issue, that it must be paid within that
    period, the effect of reg 23(3) and the amount that then becomes payable."""
    content = compose_notice(request(NoticeType.REMINDER), COUNCIL)
    assert content.title == "Council Tax 2026/27: reminder notice"
    assert_in_both(
        content,
        "come to £150.00",  # (i) the aggregate
        "You must pay £150.00 within 7 days of the date of this notice, that is by Friday 8 May 2026",  # (ii)
        "you lose the right to pay by instalments",  # (iii) the effect of (3)
        "£1,350.00",  # (iii) the amount that becomes payable
        "becomes payable in one sum on Saturday 16 May 2026",
        "(regulation 23(3) of the Council Tax (Administration and Enforcement) Regulations 1992)",
        "apply to the magistrates' court for a liability order",
        "Instalment missed (was due)",
        "1 May 2026",
    )
    assert "regulation 23(4)" not in content.text()  # only a second reminder states (4)


def test_second_reminder_also_states_the_effect_of_reg_23_4() -> None:
    """SI 1992/613 reg 23(1)(iv) and (4): the year's second reminder also states that
    a later missed instalment makes the balance payable the next day, with no
    further reminder."""
    content = compose_notice(request(NoticeType.SECOND_REMINDER), COUNCIL)
    assert content.title == "Council Tax 2026/27: second reminder notice"
    assert_in_both(
        content,
        "You must pay £300.00 within 7 days of the date of this notice, that is by Friday 8 May 2026",
        "£1,200.00",
        "becomes payable in one sum on Saturday 16 May 2026",
        "This is the second reminder notice we have sent you for 2026/27",
        "you will not get another reminder",
        "becomes payable the day after that instalment was due",
        "(regulation 23(4) of the Council Tax (Administration and Enforcement) Regulations 1992)",
    )


def test_final_notice_states_the_amount_and_when_the_council_may_go_to_court() -> None:
    """SI 1992/613 regs 33 and 34(1): the final notice states the amount the council
    will apply for, and the council may apply for a liability order once it is unpaid
    7 days after the notice; the order adds the costs reasonably incurred (reg 34(7))."""
    content = compose_notice(request(NoticeType.FINAL_NOTICE), COUNCIL)
    assert_in_both(
        content,
        "must be paid in full: £1,200.00",
        "within 7 days of the date of this notice",
        "apply to the magistrates' court for a liability order against you on or after Saturday 9 May 2026",
        "(regulation 34(1) of the Council Tax (Administration and Enforcement) Regulations 1992)",
        "it will include the costs the council reasonably incurred",
        "asking your employer to take it from your earnings",  # the CT ladder's remedies
    )


def test_summons_states_the_complaint_hearing_costs_order_and_defences() -> None:
    """SI 1992/613 regs 34-35: the complaint to a justice, the summons to appear and
    show why the sum outstanding has not been paid (34(2)), the hearing's court and
    date, the costs (34(5), (7)), that the court shall make the order if the sum is
    payable and unpaid (34(6)), the 14 days after service (35(2A)) and the narrow
    defences [S28b]."""
    data = request(
        NoticeType.SUMMONS, template_data={"debt_type": "CT", "financial_year": "2026/27", "hearing_time": "10:00am"}
    )
    content = compose_notice(data, COUNCIL)
    assert ("Court", "Example Magistrates' Court") in content.references
    assert_in_both(
        content,
        "has made complaint to a justice of the peace",
        "have not paid £1,200.00 of council tax for 2026/27",
        "You are summoned to appear before Example Magistrates' Court on Thursday 28 May 2026 at 10:00am",
        "to show why you have not paid the sum which is outstanding",
        "This summons is treated as served on 6 May 2026 (second-class post)",
        "No liability order can be made until 14 days have passed since the day this summons was served",
        "Costs of £80.00 for issuing this summons",
        "further costs of £20.00",  # the council's liability order costs
        "If you pay £1,280.00 (the sum outstanding and the costs so far) before the hearing",
        "The court must make the order if it is satisfied that the sum has become payable by you",
        "you are not the person liable to pay it",
        "Not being able to pay",
        "Total now due",
        "£1,280.00",
        "28 May 2026",
    )


def test_business_rates_summons_cites_the_1989_regulations_and_14_days_notice() -> None:
    """SI 1989/1058 reg 12(2): the summons to show why the sum outstanding has not
    been paid; at least 14 days' notice of the hearing [S28]."""
    content = compose_notice(request(NoticeType.SUMMONS, template_data={"debt_type": "NNDR"}), COUNCIL)
    assert content.title == "Business Rates: summons to the magistrates' court"
    assert_in_both(
        content,
        "as the ratepayer on account 1001",
        "the Non-Domestic Rating (Collection and Enforcement) (Local Lists) Regulations 1989",
        "to show why you have not paid the sum which is outstanding",
        "You are given at least 14 days' notice of the hearing",
        "rateable value",
    )
    assert "Council Tax" not in content.text()


def test_nndr_further_notice_states_the_instalments_and_the_reg_8_consequence() -> None:
    """SI 1989/1058 reg 8(1)-(2): the further notice states the instalments required
    to be paid; unpaid within 7 days of service, or any later instalment missed, the
    unpaid balance becomes payable 7 days after the failure."""
    content = compose_notice(request(NoticeType.NNDR_FURTHER_NOTICE), COUNCIL)
    assert content.title == "Business Rates 2026/27: further notice"
    assert_in_both(
        content,
        "The instalments you are required to pay now come to £2,500.00",
        "Pay £2,500.00 by Friday 8 May 2026",
        "or if you later miss any other instalment",
        "£22,500.00",
        "at the end of a further 7 days beginning with the day of that failure",
        "(regulation 8(2) of the Non-Domestic Rating (Collection and Enforcement) (Local Lists) Regulations 1989)",
        "You will not be sent another reminder",
    )


def test_agent_letter_carries_the_notice_of_enforcement_content_and_fees() -> None:
    """Taking Control of Goods Regulations 2013 (SI 2013/1894) reg 6 (7 clear days'
    notice, Sundays and bank holidays not counted), reg 7(d)-(e) (the liability order,
    the debt, the costs incurred and the possible further costs) and reg 8(2) (the
    agent gives the notice); the fees from the Taking Control of Goods (Fees)
    Regulations 2014 Schedule: compliance £75, enforcement £235 and sale £110, each
    later stage plus 7.5% of the debt above £1,500."""
    data = request(
        NoticeType.AGENT_REFERRAL_LETTER,
        amounts={"balance": 300000},
        template_data={
            "debt_type": "CT",
            "financial_year": "2026/27",
            "agent": "North Bailiff Services Ltd",
            "agent_phone": "0300 000 0000",
            "agent_address": "1 Court Street, Exampleton EX1 2BB",
            "agent_hours": "Monday to Friday, 8am to 8pm",
        },
    )
    content = compose_notice(data, COUNCIL)
    assert content.amount("compliance_fee") == 7500
    assert_in_both(
        content,
        "On 14 April 2026 Example Magistrates' Court made a liability order against you",  # reg 7(d)
        "on account 1001",  # reg 7(e)(i)
        "passed the debt of £3,000.00 to North Bailiff Services Ltd",  # reg 7(e)(ii)
        "A compliance fee of £75.00 is added",  # reg 7(e)(iii)
        "at least 7 clear days after that notice is given to you",  # reg 6(1)
        "Sundays, bank holidays, Good Friday and Christmas Day do not count",  # reg 6(2)
        "regulation 6 of the Taking Control of Goods Regulations 2013",
        "Taking Control of Goods (Fees) Regulations 2014",
        "£235.00",
        "£110.00",
        "7.5%",
        "£1,500.00",
        # reg 7(e)(iv), for this debt: 7.5% of the £1,500 above the threshold is £112.50.
        "£347.50",
        "£222.50",
        "on 0300 000 0000, at 1 Court Street, Exampleton EX1 2BB (Monday to Friday, 8am to 8pm)",  # reg 7(f)-(g)
        "where only a child or a vulnerable person is present",
    )


def test_agent_letter_without_the_agents_contact_details_sends_the_debtor_to_the_council() -> None:
    """SI 2013/1894 reg 7(g) needs the agent's telephone number and address; a
    request without them must not print an empty one."""
    text = compose_notice(request(NoticeType.AGENT_REFERRAL_LETTER), COUNCIL).text()
    assert "their notice of enforcement gives their telephone number, address and opening hours" in text
    assert " on ," not in text and "()" not in text


def test_invoice_states_the_amount_the_due_date_and_what_follows() -> None:
    """No regulation prescribes an invoice (sundry, TA and HB overpayment debts are
    the council's own terms, domain.md §4-5 [S43b]): the amount, the date to pay by,
    the reference to quote and what happens if it is not paid."""
    content = compose_notice(request(NoticeType.INVOICE), COUNCIL)
    assert content.title == "Sundry debt: invoice"
    assert_in_both(
        content,
        "This invoice is for £450.00 of sundry debt on account 1001",
        "Please pay £450.00 by Monday 1 June 2026",
        "we will send you a reminder",
    )
    derived = compose_notice(request(NoticeType.INVOICE, dates={}), COUNCIL)
    assert derived.day("due_date") == date(2026, 5, 20)  # 14 days from the served date


def test_letter_before_claim_gives_30_days_and_the_protocol_enclosures() -> None:
    """Pre-Action Protocol for Debt Claims: the amount, whether interest or charges
    continue, how to pay, where to send the Reply Form, 30 days to reply, and the
    enclosures: statement of account, Information Sheet, Reply Form, Financial
    Statement [S45]."""
    content = compose_notice(request(NoticeType.LETTER_BEFORE_CLAIM), COUNCIL)
    assert content.day("reply_by") == date(2026, 6, 5)  # 30 days from service on 6 May
    assert_in_both(
        content,
        "letter before claim under the Pre-Action Protocol for Debt Claims",
        "says you owe it £450.00 for temporary accommodation charges",
        "No interest or other charges are being added",
        "Please reply within 30 days, by Friday 5 June 2026, using the enclosed Reply Form",
        "start a claim against you in the county court",
        "Send the Reply Form to Example District Council",
        "Statement of account",
        "Information Sheet",
        "Reply Form",
        "Financial Statement",
        "14 days' notice",
    )
    with_interest = compose_notice(
        request(NoticeType.LETTER_BEFORE_CLAIM, amounts={"balance": 45000, "interest": 1250}), COUNCIL
    )
    assert "It includes interest of £12.50, and interest continues to be added." in with_interest.text()
