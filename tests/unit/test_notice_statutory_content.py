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
from datetime import date, timedelta

import pytest

from recovery_notices.domain import NoticeContent, compose_notice, months_after
from recovery_notices.render import page_count, render_pdf
from recovery_shared.contracts.inbound import ReplyKind
from recovery_shared.contracts.internal import NoticeType
from recovery_shared.council import ServiceMethod, ServiceRule
from recovery_shared.refusal import Refused
from recovery_shared.statute.housing_benefit import RECONSIDERATION_MONTHS
from recovery_shared.statute.pre_action import LETTER_OF_CLAIM_REPLY_DAYS
from tests.unit.test_notice_rendering import COUNCIL, request

FIRST_CLASS = COUNCIL.model_copy(
    update={"service": ServiceRule(method=ServiceMethod.FIRST_CLASS_POST, business_days=1)}
)  # Saturday 2 May 2026: served Tuesday 5 May (Monday 4 May is a bank holiday)

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


# The Reply Form's option for each kind of reply the council records (debtors.replies.v1).
REPLY_OPTIONS = {
    ReplyKind.OFFERS_TO_PAY: "I owe the amount claimed, or part of it, and I offer to pay",
    ReplyKind.DISPUTES: "I dispute the debt, or part of it",
    ReplyKind.REQUESTS_DOCUMENTS: "I need copies of documents before I can reply",
    ReplyKind.NEEDS_TIME: "I am getting, or want to get, debt advice and need more time",
}


def test_letter_before_claim_encloses_the_four_protocol_documents_as_pages_of_its_own() -> None:
    """Pre-Action Protocol for Debt Claims [S45][S45b]: the Letter of Claim encloses an
    up-to-date statement of account, the Information Sheet and Reply Form from the
    Protocol's Annex, and a Financial Statement; here each starts a page of the same
    PDF, so they cannot be posted apart. The Reply Form has one option per kind of
    reply the council records (ReplyKind); the Financial Statement follows the
    Standard Financial Statement's headings (domain.md §7 [S48])."""
    content = compose_notice(request(NoticeType.LETTER_BEFORE_CLAIM), COUNCIL)
    enclosures = [b.plain() for b in content.blocks if b.kind == "enclosure"]
    assert enclosures == ["Statement of account", "Information Sheet", "Reply Form", "Financial Statement"]
    pdf = render_pdf(content, "doc")
    assert page_count(pdf) >= 1 + len(enclosures)
    assert set(REPLY_OPTIONS) == set(ReplyKind)
    # The statement of account (the first table after its title) totals the balance.
    statement = content.blocks.index(
        next(b for b in content.blocks if b.kind == "enclosure" and b.plain() == "Statement of account")
    )
    table = next(b for b in content.blocks[statement:] if b.kind == "table")
    assert [(row.cells, row.total) for row in table.rows] == [(("Balance outstanding", "£450.00"), True)]
    reply_form = content.blocks.index(
        next(b for b in content.blocks if b.kind == "enclosure" and b.plain() == "Reply Form")
    )
    assert "Your name: Alex Example" in content.blocks[reply_form + 2].plain()
    assert_in_both(
        content,
        # The statement of account: the balance, as at the letter's date.
        "Account 1001, temporary accommodation charges, as at 2 May 2026",
        # The Information Sheet: the 30 days, advice, and what follows silence.
        "Reply within 30 days, by Friday 5 June 2026, using the Reply Form",
        "National Debtline",
        "we will give you 14 days' notice before we start a claim",
        # The Reply Form, addressed and referenced, one option per ReplyKind.
        "Send this form to Example District Council, Revenues and Benefits",
        "Your name",
        *REPLY_OPTIONS.values(),
        # The Financial Statement's SFS headings.
        "Income",
        "Fixed costs",
        "Housing: rent, mortgage",
        "Utilities",
        "Travel",
        "Care and health costs",
        "School costs",
        "Pensions and insurance",
        "Professional costs",
        "Flexible costs",
        "Communications and leisure",
        "Food and housekeeping",
        "Personal costs",
        "Savings",
        "Priority debts",
        "Non-priority debts",
    )
    replied = compose_notice(
        request(
            NoticeType.LETTER_BEFORE_CLAIM, template_data={"debt_type": "TA", "reply_address": "PO Box 7, EX1 9ZZ"}
        ),
        COUNCIL,
    ).text()
    assert "Send this form to Example District Council, Revenues and Benefits, PO Box 7, EX1 9ZZ, by" in replied


def test_invoice_reminder_states_the_balance_the_date_to_pay_and_what_follows() -> None:
    """No regulation prescribes a reminder of a sundry, TA or HB overpayment invoice
    (the council's own terms: an invoice, then a reminder with 7 more days, domain.md
    §4 [S43b]): what is owed now, the invoice's due date, the date to pay by, and
    what follows if it is not paid (a letter before claim and the county court,
    Pre-Action Protocol for Debt Claims [S45])."""
    content = compose_notice(request(NoticeType.INVOICE_REMINDER), COUNCIL)
    assert content.title == "Sundry debt: invoice reminder"
    assert_in_both(
        content,
        "which was due to be paid by 20 April 2026",
        "The amount you owe now is £450.00",
        "Please pay £450.00 by Tuesday 12 May 2026, quoting your account reference 1001",
        "send you a letter before claim and then make a claim against you in the county court",
    )
    hbop = compose_notice(request(NoticeType.INVOICE_REMINDER, template_data={"debt_type": "HBOP"}), COUNCIL)
    assert "take it from other benefits you receive" in hbop.text()


def test_invoice_reminder_pay_by_counts_from_the_served_date_under_the_councils_rule() -> None:
    """A reminder without its pay-by date gets 7 days beginning with the day it is
    treated as served, as a Council Tax reminder does (SI 1992/613 reg 23(3)): 12 May
    when served on 6 May by second-class post, 11 May when served on 5 May by first."""
    second = compose_notice(request(NoticeType.INVOICE_REMINDER, dates={}), COUNCIL)
    first = compose_notice(request(NoticeType.INVOICE_REMINDER, dates={}), FIRST_CLASS)
    assert (second.served_on, second.day("pay_by")) == (date(2026, 5, 6), date(2026, 5, 12))
    assert (first.served_on, first.day("pay_by")) == (date(2026, 5, 5), date(2026, 5, 11))
    assert "Please pay £450.00 by Monday 11 May 2026" in first.text()
    assert "invoice was due" not in second.text().lower()  # no invoice date sent: none printed


def test_notice_of_intention_says_a_claim_follows_the_date_unless_paid_or_agreed() -> None:
    """Pre-Action Protocol for Debt Claims [S45]: where no agreement is reached after
    the letter before claim, the creditor gives 14 days' notice of its intention to
    issue a claim; the notice says the council intends to issue a county court claim
    after the date given unless the debt is paid or an agreement made."""
    content = compose_notice(request(NoticeType.NOTICE_OF_INTENTION), COUNCIL)
    assert content.title == "Temporary accommodation charges: notice of intention to issue a claim"
    assert content.day("claim_after") == content.served_on + timedelta(days=14)
    assert_in_both(
        content,
        "On 30 March 2026 we sent you a letter before claim under the Pre-Action Protocol for Debt Claims",
        "The amount you owe now is £450.00",
        "Example District Council intends to issue a claim against you in the county court for £450.00 after"
        " Wednesday 20 May 2026, unless by then you have paid the debt or we have agreed with you how it will be paid",
        "Claim may be issued after",
    )


def test_notice_of_intention_is_refused_when_its_claim_date_gives_no_notice_under_the_councils_rule() -> None:
    """The days of notice count from the served date, which the council's rule sets:
    a claim date of 5 May gives no notice when the notice is served on 5 May (first
    class), and 6 May none when served on 6 May (second class)."""
    on_5_may = {"claim_after": date(2026, 5, 5)}
    on_6_may = {"claim_after": date(2026, 5, 6)}
    for council, dates in ((FIRST_CLASS, on_5_may), (COUNCIL, on_6_may)):
        with pytest.raises(Refused, match="as the day a claim may follow"):
            compose_notice(request(NoticeType.NOTICE_OF_INTENTION, dates=dates), council)
    assert compose_notice(request(NoticeType.NOTICE_OF_INTENTION, dates=on_6_may), FIRST_CLASS).served_on == date(
        2026, 5, 5
    )


def test_hbop_decision_states_what_schedule_9_paragraph_15_requires() -> None:
    """Housing Benefit Regulations 2006 (SI 2006/213) reg 90 and Sch 9 para 15(1): the
    fact that there is a recoverable overpayment (a), the reason (b), the amount (c),
    how it was calculated (d) and the benefit weeks (e); from whom it is recovered
    (reg 101); Sch 9 para 2 and SI 2001/1002 regs 4 and 18: the right to ask for a
    reconsideration or appeal within one month, and how [S39]."""
    content = compose_notice(request(NoticeType.HBOP_DECISION), COUNCIL)
    assert content.title == "Housing Benefit: overpayment decision"
    assert_in_both(
        content,
        "On 30 April 2026 we decided that £1,234.56 of Housing Benefit was paid on account 1001",  # (c)
        "for the period from 6 October 2025 to 29 March 2026",  # (e)
        "Your earnings went up from 6 October 2025 and we were told on 30 March 2026.",  # (b)
        "The overpayment arose from a change or fact that was not reported to us",  # the classification
        "Housing Benefit paid £95.12 a week for 25 weeks; you were entitled to £45.74 a week.",  # (d)
        "This overpayment of £1,234.56 is recoverable",  # (a)
        "will recover it from you, as the person who claimed the Housing Benefit",  # reg 101
        "You can ask us to look at this decision again (a reconsideration), or appeal against it, within 1 month:"
        " we must receive your request by Saturday 6 June 2026",
        "To ask for a reconsideration, write to us at Example District Council",
        "First-tier Tribunal",
        "written statement of the reasons",
    )
    landlord = compose_notice(
        request(
            NoticeType.HBOP_DECISION,
            amounts={"overpaid": 123456, "weekly_deduction": 1395},
            template_data={"classification": "landlord", "reason": "The tenant left.", "liable_role": "payee"},
        ),
        COUNCIL,
    ).text()
    assert "recover it from you, as the person the Housing Benefit was paid to" in landlord
    assert "We will take £13.95 a week from the Housing Benefit we pay" in landlord  # Sch 9 para 15(1)(f)
    # (d) with no calculation sent: how it is worked out, never a blank.
    assert "For each benefit week from 6 October 2025 to 29 March 2026" in landlord


def test_an_official_error_no_one_could_have_realised_is_stated_as_not_recoverable() -> None:
    """SI 2006/213 reg 100(2): an overpayment from official error that no one could
    reasonably have realised is not recoverable, and the notice says so."""
    data = request(
        NoticeType.HBOP_DECISION,
        template_data={
            "classification": "council_official_error",
            "reason": "We used the wrong rent.",
            "could_reasonably_have_realised": False,
        },
    )
    text = compose_notice(data, COUNCIL).text()
    assert "so it is not recoverable: you do not have to pay it back" in text
    assert "is recoverable:" not in text


def test_hbop_reconsideration_month_counts_from_the_served_date_under_the_councils_rule() -> None:
    """SI 2001/1002 regs 4 and 18: one calendar month from notification, counted from
    the day the notice is treated as served: 6 June from 6 May (second class), 5 June
    from 5 May (first class); a month from 29 January 2027 ends on 28 February."""
    assert RECONSIDERATION_MONTHS == 1
    dates = {"period_start": date(2025, 10, 6), "period_end": date(2026, 3, 29)}
    second = compose_notice(request(NoticeType.HBOP_DECISION, dates=dates), COUNCIL)
    first = compose_notice(request(NoticeType.HBOP_DECISION, dates=dates), FIRST_CLASS)
    assert second.day("reconsider_by") == date(2026, 6, 6)
    assert first.day("reconsider_by") == date(2026, 6, 5)
    assert "we must receive your request by Friday 5 June 2026" in first.text()
    late_january = compose_notice(request(NoticeType.HBOP_DECISION, dates=dates, issued_on=date(2027, 1, 27)), COUNCIL)
    assert late_january.served_on == date(2027, 1, 29)
    assert late_january.day("reconsider_by") == date(2027, 2, 28)
    assert months_after(date(2028, 1, 31), 1) == date(2028, 2, 29)


def test_letter_before_claim_reply_date_counts_from_the_served_date_under_the_councils_rule() -> None:
    """Pre-Action Protocol for Debt Claims [S45]: 30 days to reply, from the served
    date: 5 June from 6 May (second class), 4 June from 5 May (first class); the
    Information Sheet and Reply Form print the same date as the letter."""
    first = compose_notice(request(NoticeType.LETTER_BEFORE_CLAIM), FIRST_CLASS)
    assert first.day("reply_by") == date(2026, 5, 5) + timedelta(days=LETTER_OF_CLAIM_REPLY_DAYS)
    text = first.text()
    assert text.count("Thursday 4 June 2026") >= 3 and "5 June 2026" not in text


def test_each_new_notice_renders_to_a_pdf_with_its_wording_version() -> None:
    for notice_type in (NoticeType.INVOICE_REMINDER, NoticeType.NOTICE_OF_INTENTION, NoticeType.HBOP_DECISION):
        content = compose_notice(request(notice_type), COUNCIL)
        pdf = render_pdf(content, "doc")
        assert pdf.startswith(b"%PDF-1.") and content.template_version == "1.0"
        assert f"wording {notice_type.value} 1.0" in pdf_text(pdf)
