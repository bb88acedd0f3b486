"""The letter telling the person the council has asked the Department for Work and
Pensions (DWP Debt Management) to recover their Housing Benefit overpayment by
deductions from the other benefits it pays them: Social Security Administration Act
1992 s.75 and the Social Security (Overpayments and Recovery) Regulations 2013 (SI
2013/384) Part 5, regs 10-14 (recovery by deduction from benefits; paraphrased, the
text not being to hand); the council keeps the debt [S40][S41]. Every check runs on
the composed words and on the text of the PDF.

The requests are the ones enforcement sends (tests/unit/test_notice_rendering.py):
issued Saturday 2 May 2026, served Wednesday 6 May, the DWP's answer expected by
Saturday 30 May; the person is Alex Example.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from recovery_notices.domain import compose_notice
from recovery_notices.render import page_count, render_pdf
from recovery_shared.contracts.internal import NoticeRequestedData, NoticeType
from recovery_shared.refusal import Refused
from tests.unit.test_notice_rendering import COUNCIL, ENFORCEMENT_SHAPES, request
from tests.unit.test_notice_statutory_content import assert_in_both, both

DWP = NoticeType.DWP_DEDUCTION_REQUESTED
FRAUD_WORDS = "Because the overpayment was found to be the result of fraud, the higher limits the law sets"


def _with(**template_data: Any) -> NoticeRequestedData:
    return request(DWP, template_data={**ENFORCEMENT_SHAPES[DWP][2], **template_data})


def test_dwp_deduction_letter_tells_the_person_what_was_asked_of_the_dwp_and_what_they_can_do() -> None:
    """SSAA 1992 s.75 and SI 2013/384 reg 10 (paraphrased): the DWP may recover the
    overpayment by deduction from the benefits it pays the person; the letter states the
    amount still owed, that the council has asked the DWP to take it from their benefits
    and keeps the debt; regs 11-14 (paraphrased): the DWP sets the weekly amount within
    each benefit's limit, and the letter prints no rate; the day the council expects the
    DWP's answer, and that the DWP tells the person before deductions start; paying the
    balance or agreeing an arrangement at any time stops them; hardship; the right to a
    reconsideration or appeal of the overpayment decision is unchanged; whom to contact."""
    content = compose_notice(request(DWP), COUNCIL)
    assert content.title == "Housing Benefit overpayment: recovery from your benefits"
    assert content.recipient_name == "Alex Example"  # the letter goes to the person, not the DWP
    assert content.amount("owed") == 123456
    assert content.day("answer_by") == date(2026, 5, 30)
    assert_in_both(
        content,
        "Dear Alex Example,",
        "You still owe £1,234.56 of overpaid Housing Benefit on account 1001",
        "We have asked the Department for Work and Pensions (DWP) to recover it by taking deductions from the other"
        " benefits it pays you, under section 75 of the Social Security Administration Act 1992 and Part 5 of the"
        " Social Security (Overpayments and Recovery) Regulations 2013",
        "the debt is still owed to Example District Council",
        "The DWP decides how much to take each week. The law sets a limit for each benefit on how much can be taken,"
        " and the DWP will not take more than that limit.",
        "We expect the DWP's answer by Saturday 30 May 2026",
        "the DWP will write to you before any deductions start",
        "You can pay the balance, or agree an arrangement with us to pay it in instalments, at any time. Either stops"
        " the deductions",
        "If the deductions would cause you hardship",
        "contact us at once",
        "This letter does not change your right to ask us to look at the overpayment decision again, or to appeal"
        " against it, if you are still in time to do so",
        "Contact Example District Council, Revenues and Benefits, quoting your account reference 1001",
        "DWP's answer expected by",
    )
    words, printed = both(content)
    for text in (words, printed):
        assert "fraud" not in text
        # No rate or percentage: the DWP sets the amount, and the rates are not confirmed here.
        assert "%" not in text and "per cent" not in text
        assert set(re.findall(r"£[\d,.]+\d", text)) == {"£1,234.56"}
    assert page_count(render_pdf(content, "doc")) == 1


def test_dwp_deduction_letter_says_the_higher_limits_apply_only_where_the_overpayment_was_fraud() -> None:
    """SI 2013/384 regs 11-14 (paraphrased): a higher limit where the person was found
    guilty of an offence, admitted fraud after caution, or agreed to a penalty."""
    content = compose_notice(_with(fraud=True), COUNCIL)
    assert_in_both(content, FRAUD_WORDS, "so the DWP may take more each week than it otherwise could")
    assert "%" not in content.text()
    assert page_count(render_pdf(content, "doc")) == 1
    assert FRAUD_WORDS not in compose_notice(_with(fraud=False), COUNCIL).text()


def test_dwp_deduction_letter_is_about_an_hb_overpayment_when_the_request_does_not_say() -> None:
    """Without a debt_type the letter is still an HB overpayment's: a person whose name is
    not known is not addressed as a Council Tax payer."""
    content = compose_notice(
        request(DWP, recipient_name="", template_data={"fraud": False}),
        COUNCIL,
    )
    assert content.recipient_name == "The Account Holder"
    assert "Council Tax" not in content.text()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (request(DWP, amounts={}), "needs amounts['owed']"),
        (request(DWP, amounts={"owed": 0}), "nothing is owed"),
        (request(DWP, dates={}), "needs dates['answer_by']"),
        (
            request(DWP, dates={"answer_by": date(2026, 5, 1)}),
            "dated 2026-05-02 cannot say the DWP's answer is expected by 2026-05-01",
        ),
        (_with(fraud="yes"), "needs template_data['fraud'] as true or false"),
        (_with(fraud="true"), "needs template_data['fraud'] as true or false"),
        (request(DWP, template_data={"debt_type": "HBOP"}), "needs template_data['fraud'] as true or false"),
    ],
)
def test_a_dwp_deduction_request_its_letter_cannot_be_sent_on_is_refused_without_personal_data(
    data: NoticeRequestedData, reason: str
) -> None:
    with pytest.raises(Refused) as refused:
        compose_notice(data, COUNCIL)
    assert reason in str(refused.value)
    assert str(refused.value).startswith("a DWP deduction request letter to the person ")
    assert data.request_id in str(refused.value)
    # Reasons are logged and travel on notice.failed: never the person's name.
    assert "Alex Example" not in str(refused.value)
