"""The served date follows the council's service rule (``[service]`` in its TOML):
the issue date plus the council's business days, leaving out weekends and England
and Wales bank holidays (Interpretation Act 1978 s.7; CPR 6.26; SI 1992/613 reg
1(2) for "business day"). Notices state that date and put it on notice.issued."""

from __future__ import annotations

import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from recovery_notices.domain import compose_notice
from recovery_notices.events import notice_issued
from recovery_shared.contracts.internal import NoticeType
from recovery_shared.council import DEFAULT_PATH, CouncilConfig, ServiceMethod, ServiceRule, load_council_config
from recovery_shared.refusal import Refused
from recovery_shared.statute.council_tax import COUNCIL_TAX
from recovery_shared.statute.service import bank_holidays, is_business_day, served_on
from tests.unit.test_notice_rendering import COUNCIL, request

SECOND_CLASS = ServiceRule(method=ServiceMethod.SECOND_CLASS_POST, business_days=2)
FIRST_CLASS = ServiceRule(method=ServiceMethod.FIRST_CLASS_POST, business_days=1)
BY_HAND = ServiceRule(method=ServiceMethod.HAND_DELIVERY, business_days=0)


def test_the_default_council_serves_by_second_class_post_in_two_business_days() -> None:
    assert COUNCIL.service == SECOND_CLASS


@pytest.mark.parametrize(
    ("issued", "rule", "served"),
    [
        # A plain week: Tuesday + 2 business days.
        (date(2026, 3, 3), SECOND_CLASS, date(2026, 3, 5)),
        # Over a weekend: Friday 6 March -> Monday 9 (1), Tuesday 10 (2).
        (date(2026, 3, 6), SECOND_CLASS, date(2026, 3, 10)),
        # Over Easter: Thursday 2 April; Good Friday 3, the weekend and Easter Monday 6 April do not count.
        (date(2026, 4, 2), SECOND_CLASS, date(2026, 4, 8)),
        # Over Christmas: Thursday 24 December 2026; Christmas Day (Friday), the weekend, and Monday 28,
        # the substitute bank holiday for Boxing Day (a Saturday), do not count: Tuesday 29 (1), Wednesday 30 (2).
        (date(2026, 12, 24), SECOND_CLASS, date(2026, 12, 30)),
        # Issued on a Saturday before the Early May bank holiday (Monday 4 May 2026).
        (date(2026, 5, 2), SECOND_CLASS, date(2026, 5, 6)),
        (date(2026, 3, 6), FIRST_CLASS, date(2026, 3, 9)),
        (date(2026, 12, 24), FIRST_CLASS, date(2026, 12, 29)),
        # By hand: the same day on a business day, otherwise the next one (CPR 6.26).
        (date(2026, 3, 4), BY_HAND, date(2026, 3, 4)),
        (date(2026, 5, 2), BY_HAND, date(2026, 5, 5)),
    ],
)
def test_served_on_counts_the_councils_business_days(issued: date, rule: ServiceRule, served: date) -> None:
    assert served_on(issued, rule) == served


def test_bank_holidays_come_from_the_england_calendar_with_substitute_days() -> None:
    holidays_2026 = bank_holidays(2026)
    assert {date(2026, 12, 25), date(2026, 12, 28), date(2026, 4, 3), date(2026, 5, 4)} <= holidays_2026
    assert date(2026, 3, 17) not in holidays_2026  # St Patrick's Day is Northern Ireland's, not England's
    assert not is_business_day(date(2026, 12, 26)) and is_business_day(date(2026, 12, 29))


def test_a_one_off_bank_holiday_the_calendar_does_not_know_yet_is_set_in_the_toml() -> None:
    rule = ServiceRule(business_days=2, extra_closed_days=(date(2026, 3, 9),))
    assert served_on(date(2026, 3, 6), rule) == date(2026, 3, 11)


def test_the_service_rule_is_read_from_the_councils_toml(tmp_path: Path) -> None:
    own = tmp_path / "council.toml"
    own.write_text('[service]\nmethod = "first_class_post"\nbusiness_days = 1\nextra_closed_days = [2026-06-08]\n')
    council = load_council_config(own)
    assert council.service == ServiceRule(
        method=ServiceMethod.FIRST_CLASS_POST, business_days=1, extra_closed_days=(date(2026, 6, 8),)
    )
    # Friday 5 June + 1 business day, with Monday 8 June closed by the council's own list.
    assert served_on(date(2026, 6, 5), council.service) == date(2026, 6, 9)


def test_a_council_file_from_before_service_rules_still_loads() -> None:
    data = tomllib.loads(DEFAULT_PATH.read_text())
    del data["service"]
    assert CouncilConfig.model_validate(data).service == ServiceRule()


@pytest.mark.parametrize(
    "service",
    [
        {"method": "carrier_pigeon", "business_days": 2},
        {"method": "second_class_post", "business_days": -1},
        {"method": "second_class_post", "business_days": 2, "posted_by": "4pm"},
    ],
)
def test_a_service_rule_the_law_cannot_mean_is_rejected(service: dict[str, object]) -> None:
    data = tomllib.loads(DEFAULT_PATH.read_text())
    data["service"] = service
    with pytest.raises(ValidationError):
        CouncilConfig.model_validate(data)


def test_a_notice_is_served_on_the_councils_rule_and_says_so() -> None:
    """Saturday 2 May 2026 by first-class post: one business day, and Monday 4 May is
    a bank holiday, so served on Tuesday 5 May; notice.issued carries that date."""
    council = COUNCIL.model_copy(update={"service": FIRST_CLASS})
    data = request(NoticeType.SUMMONS)
    content = compose_notice(data, council)
    assert content.served_on == date(2026, 5, 5)
    assert "This summons is treated as served on 5 May 2026 (first-class post)." in content.text()
    assert content.day("served_on") == date(2026, 5, 5)
    issued = notice_issued(data, content, document_id="d", checksum_sha256="0" * 64, location="file:///d", size=1)
    assert issued.data.served_on == date(2026, 5, 5) and data.issued_on == date(2026, 5, 2)


def test_dates_notices_derives_count_from_the_served_date_not_the_issue_date() -> None:
    """SI 1992/613 reg 23(3) and reg 34(1) count from issue; counting from the later,
    deemed-service day never acts early. Issued Thursday 24 December 2026, served
    Wednesday 30 December."""
    christmas = {"issued_on": date(2026, 12, 24), "dates": {}}
    reminder = compose_notice(request(NoticeType.REMINDER, **christmas), COUNCIL)
    assert reminder.served_on == date(2026, 12, 30)
    assert reminder.day("pay_by") == date(2027, 1, 5)  # 7 days beginning with 30 December
    final = compose_notice(request(NoticeType.FINAL_NOTICE, **christmas), COUNCIL)
    assert final.day("court_application_from") == date(2027, 1, 6)
    letter = compose_notice(request(NoticeType.LETTER_BEFORE_CLAIM, **christmas), COUNCIL)
    assert letter.day("reply_by") == date(2027, 1, 29)


def test_the_summons_hearing_counts_from_service_not_issue() -> None:
    """SI 1992/613 reg 35(2A): no order until 14 days have elapsed since the day the
    summons was served; notices holds a summons to the statute's earliest order day
    (recovery_shared.statute.council_tax) counted from service. Issued Thursday 24
    December 2026, served Wednesday 30 December: a hearing 14 days after issue
    (7 January) is refused."""
    issued, served = date(2026, 12, 24), date(2026, 12, 30)
    earliest = COUNCIL_TAX.liability_order_earliest(served)
    assert earliest >= served + timedelta(days=14)
    ok = request(NoticeType.SUMMONS, issued_on=issued, dates={"hearing_date": earliest})
    assert compose_notice(ok, COUNCIL).served_on == served
    for too_early in (issued + timedelta(days=14), earliest - timedelta(days=1)):
        early = request(NoticeType.SUMMONS, issued_on=issued, dates={"hearing_date": too_early})
        with pytest.raises(Refused, match=f"the earliest hearing is {earliest.isoformat()}"):
            compose_notice(early, COUNCIL)
