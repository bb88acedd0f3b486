"""Civil recovery (HBOP, TA, sundry debt) on SQLite and PostgreSQL, through enforcement's
real consumer and officer endpoints.

Sources ([S..] as in ../shared/domain.md): the Pre-Action Protocol for Debt Claims, 30 days
to reply to a letter before claim and 14 days' notice before issuing [S45][S45b]; the
invoice reminder's 7 days [S43b]; SI 2006/213 reg 100(2), an official error nobody could
reasonably have realised is not recoverable [S36b][S39]; Breathing Space reaches every
debt of the person (SI 2020/1311 reg 14) [S47].
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from recovery_enforcement.app import create_app
from recovery_enforcement.models import RecoveryCase
from recovery_enforcement.settings import EnforcementSettings
from recovery_shared import topics
from recovery_shared.contracts.common import DebtType, HbopClassification, LiableParty
from recovery_shared.contracts.inbound import (
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    ChargeRaised,
    ChargeRaisedData,
    CountyCourtOutcomeData,
    CountyJudgmentEntered,
    DayStarted,
    DayStartedData,
    LetterBeforeClaimReplied,
    LetterBeforeClaimRepliedData,
    ReplyKind,
)
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.statute.service import served_on
from tests.factories import charge_raised, instalment_missed, overpayment_decision, record

INVOICE_DUE = date(2026, 3, 24)


def _app(database_url: str) -> tuple[Any, ServiceRuntime]:
    app = create_app(EnforcementSettings(database_url=database_url))
    runtime: ServiceRuntime = app.context.get("runtime")
    runtime.migrate()
    return app, runtime


async def _outbox(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as session:
        return list((await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all())


def _published(rows: list[Any], event_type: str) -> list[dict[str, Any]]:
    return [json.loads(r.payload)["data"] for r in rows if r.headers.get("type") == event_type]


def _notices(rows: list[Any], notice_type: str) -> list[dict[str, Any]]:
    return [n for n in _published(rows, "notice.requested") if n["notice_type"] == notice_type]


async def _days(runtime: ServiceRuntime, first: date, last: date) -> None:
    day = first
    while day <= last:
        await runtime.handle_records([record(topics.CLOCK_DAYS, DayStarted(data=DayStartedData(business_date=day)))])
        day += timedelta(days=1)


async def _stage(runtime: ServiceRuntime, case_id: str) -> str:
    table = RecoveryCase.__table__  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        stage: str = (await session.execute(select(table.c.stage).where(table.c.case_id == case_id))).scalar_one()
    return stage


async def _to_letter_before_claim(runtime: ServiceRuntime, account: str, debt_type: DebtType) -> tuple[str, date]:
    debt = f"{debt_type.value}-{account}-2026"
    bill = charge_raised(account, debt_type=debt_type, amount_pence=42000)
    missed = instalment_missed(
        account, debt_id=debt, due_date=INVOICE_DUE, amount_pence=42000, detected_on=INVOICE_DUE + timedelta(days=1)
    )
    await runtime.handle_records([record(topics.BILLING_CHARGES, bill), record(topics.ARRANGEMENT_EVENTS, missed)])
    [reminder] = _notices(await _outbox(runtime), "invoice_reminder")
    pay_by = date.fromisoformat(reminder["dates"]["pay_by"])
    await _days(runtime, INVOICE_DUE + timedelta(days=1), pay_by + timedelta(days=1))
    [letter] = _notices(await _outbox(runtime), "letter_before_claim")
    return debt, date.fromisoformat(letter["issued_on"])


async def test_a_ta_debt_goes_from_its_invoice_to_a_county_court_claim_and_judgment(database_url: str) -> None:
    _, runtime = _app(database_url)
    debt, letter_on = await _to_letter_before_claim(runtime, "7101", DebtType.TEMPORARY_ACCOMMODATION)
    [letter] = _notices(await _outbox(runtime), "letter_before_claim")
    council = EnforcementSettings(database_url=database_url).council()
    reply_by = served_on(letter_on, council.service) + timedelta(days=30)  # Protocol [S45]
    assert letter["dates"] == {"reply_by": reply_by.isoformat()}
    await _days(runtime, letter_on + timedelta(days=1), reply_by + timedelta(days=1))
    [intention] = _notices(await _outbox(runtime), "notice_of_intention")
    noi_on = reply_by + timedelta(days=1)
    claim_after = served_on(noi_on, council.service) + timedelta(days=14)  # Protocol [S45]
    assert intention["dates"] == {
        "letter_before_claim_on": letter_on.isoformat(),
        "claim_after": claim_after.isoformat(),
    }
    await _days(runtime, noi_on + timedelta(days=1), claim_after)
    assert _published(await _outbox(runtime), "claim.referred") == []
    await _days(runtime, claim_after + timedelta(days=1), claim_after + timedelta(days=1))

    rows = await _outbox(runtime)
    [claim_row] = [r for r in rows if r.headers.get("type") == "claim.referred"]
    assert claim_row.topic == topics.COUNTY_COURT_CLAIMS
    claim = json.loads(claim_row.payload)["data"]
    assert (claim["claim_id"], claim["debt_ids"], claim["amount_pence"], claim["referred_on"]) == (
        f"CLM-{debt}",
        [debt],
        42000,
        (claim_after + timedelta(days=1)).isoformat(),
    )
    assert (claim["letter_before_claim_on"], claim["notice_of_intention_on"]) == (
        letter_on.isoformat(),
        noi_on.isoformat(),
    )
    assert await _stage(runtime, debt) == "claim_referred"

    judgment = CountyJudgmentEntered(
        key="7101",
        data=CountyCourtOutcomeData(
            claim_id=claim["claim_id"], account_ref="7101", dated=claim_after + timedelta(days=40), costs_pence=11500
        ),
    )
    await runtime.handle_records([record(topics.COURT_OUTCOMES, judgment)])
    [costs] = _published(await _outbox(runtime), "costs.added")
    assert (costs["debt_id"], costs["amount_pence"], costs["kind"]) == (debt, 11500, "county_judgment")
    assert await _stage(runtime, debt) == "county_judgment"
    await runtime.db.dispose()


async def test_a_reply_holds_the_case_until_an_officer_continues_to_claim_once(database_url: str) -> None:
    app, runtime = _app(database_url)
    debt, letter_on = await _to_letter_before_claim(runtime, "7201", DebtType.SUNDRY)
    reply = LetterBeforeClaimReplied(
        key="7201",
        data=LetterBeforeClaimRepliedData(
            account_ref="7201", debt_id=debt, replied_on=letter_on + timedelta(days=6), reply=ReplyKind.NEEDS_TIME
        ),
    )
    await runtime.handle_records([record(topics.DEBTOR_REPLIES, reply)])
    await _days(runtime, letter_on + timedelta(days=1), letter_on + timedelta(days=60))
    assert _notices(await _outbox(runtime), "notice_of_intention") == []
    assert await _stage(runtime, debt) == "reply_received"

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enforcement") as client:
        command = {"command_id": "cmd-7201-1", "officer": "officer-12", "debt_id": debt}
        first = await client.post("/officer/cases/continue-to-claim", json=command)
        again = await client.post("/officer/cases/continue-to-claim", json=command)
        later = await client.post("/officer/cases/documents-supplied", json={**command, "command_id": "cmd-7201-2"})
        unreadable = await client.post("/officer/cases/continue-to-claim", json={"officer": "officer-12"})
    assert first.status_code == 200 and first.json()["stage"] == "notice_of_intention"
    assert again.status_code == 200 and again.json()["repeated"] is True
    assert later.status_code == 409 and "is at notice_of_intention" in later.json()["refused"]
    assert unreadable.status_code == 422 and "command_id" in unreadable.json()["refused"]
    [intention] = _notices(await _outbox(runtime), "notice_of_intention")
    assert intention["issued_on"] == (letter_on + timedelta(days=60)).isoformat()
    await runtime.db.dispose()


async def test_an_official_error_nobody_could_realise_is_listed_and_never_recovered(database_url: str) -> None:
    app, runtime = _app(database_url)
    decision = overpayment_decision(
        HbopClassification.DWP_ERROR, decided_on=date(2026, 3, 5), could_reasonably_have_realised=False
    )
    bill = ChargeRaised(
        key="7301",
        data=ChargeRaisedData(
            debt_id="HBOP-7301",
            account_ref="7301",
            debt_type=DebtType.HB_OVERPAYMENT,
            amount_pence=40000,
            bill_issued_on=date(2026, 3, 10),
            liable_party=LiableParty(party_id="P-7301", name="Test Person"),
            overpayment=decision,
        ),
    )
    await runtime.handle_records([record(topics.BILLING_CHARGES, bill)])
    assert _published(await _outbox(runtime), "notice.requested") == []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enforcement") as client:
        response = await client.get("/officer/overpayments/not-recoverable")
    assert response.status_code == 200 and "Test Person" not in response.text
    assert response.json() == {
        "count": 1,
        "overpayments": [
            {
                "case_id": "HBOP-7301",
                "account_ref": "7301",
                "amount_pence": 40000,
                "classification": "dwp_error",
                "decided_on": "2026-03-05",
            }
        ],
    }
    assert await _stage(runtime, "HBOP-7301") == "not_recoverable"
    await runtime.db.dispose()


async def test_a_breathing_space_on_the_persons_council_tax_holds_their_sundry_case(database_url: str) -> None:
    _, runtime = _app(database_url)
    sundry = charge_raised("7402", debt_type=DebtType.SUNDRY, amount_pence=42000, party_id="P-74")
    council_tax = charge_raised("7401", party_id="P-74")
    missed = instalment_missed(
        "7402", debt_id="SUNDRY-7402-2026", due_date=INVOICE_DUE, amount_pence=42000, detected_on=date(2026, 3, 25)
    )
    await runtime.handle_records([record(topics.BILLING_CHARGES, council_tax), record(topics.BILLING_CHARGES, sundry)])
    await runtime.handle_records([record(topics.ARRANGEMENT_EVENTS, missed)])
    space = BreathingSpaceStarted(
        key="7401",
        data=BreathingSpaceStartedData(
            party_id="P-74", account_ref="7401", effective_on=date(2026, 3, 26), reference="BS-74"
        ),
    )
    await runtime.handle_records([record(topics.DEBTOR_CIRCUMSTANCES, space)])
    await _days(runtime, date(2026, 3, 25), date(2026, 5, 20))
    assert _notices(await _outbox(runtime), "letter_before_claim") == []
    assert await _stage(runtime, "SUNDRY-7402-2026") == "invoice_reminder"
    await runtime.db.dispose()


async def test_a_debt_six_years_past_its_due_date_is_listed_as_statute_barred_and_never_claimed(
    database_url: str,
) -> None:
    """Limitation Act 1980 s.5: a contract debt is claimed within six years of falling due [S45]."""
    app, runtime = _app(database_url)
    bill = charge_raised("7501", debt_type=DebtType.SUNDRY, amount_pence=42000, bill_issued_on=date(2019, 3, 18))
    missed = instalment_missed(
        "7501", debt_id="SUNDRY-7501-2026", due_date=date(2019, 4, 1), amount_pence=42000, detected_on=date(2026, 3, 2)
    )
    await runtime.handle_records([record(topics.BILLING_CHARGES, bill), record(topics.ARRANGEMENT_EVENTS, missed)])
    await _days(runtime, date(2026, 3, 2), date(2026, 4, 30))
    assert _published(await _outbox(runtime), "notice.requested") == []
    assert _published(await _outbox(runtime), "claim.referred") == []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enforcement") as client:
        response = await client.get("/officer/cases/statute-barred")
    assert response.status_code == 200 and "Test Person" not in response.text
    assert response.json() == {
        "count": 1,
        "cases": [
            {
                "case_id": "SUNDRY-7501-2026",
                "account_ref": "7501",
                "debt_type": "SUNDRY",
                "balance_pence": 42000,
                "fell_due_on": "2019-04-01",
            }
        ],
    }
    await runtime.db.dispose()
