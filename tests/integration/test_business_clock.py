"""The bounded business clock (issue 9): one ``day.started`` moves a service's business
date forward by at most the council's ``[clock] max_days_forward`` days. A gap within the
bound runs each day's job in turn, dated as if the scheduler had sent every day; a day
beyond it is refused (dead-lettered with a sentence saying what to do) and moves nothing.

The rule is ``recovery_shared.clock.dates_to_run``; arrangements' sweep and enforcement's
day run on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import tomllib
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from recovery_arrangements.app import build_runtime as arrangements_runtime
from recovery_arrangements.models import Instalment
from recovery_arrangements.settings import ArrangementsSettings
from recovery_enforcement.app import build_runtime as enforcement_runtime
from recovery_enforcement.settings import EnforcementSettings
from recovery_shared import topics
from recovery_shared.clock import dates_to_run
from recovery_shared.contracts.common import DebtType, LiableParty
from recovery_shared.contracts.inbound import ChargeRaised, ChargeRaisedData, DayStarted, DayStartedData
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    PaymentAllocated,
    PaymentAllocatedData,
)
from recovery_shared.council import DEFAULT_PATH, CouncilConfig, load_council_config
from recovery_shared.messaging.runtime import ServiceRuntime
from recovery_shared.refusal import Refused
from tests.factories import charge_raised, instalment_missed, overpayment_decision, record, statutory_schedule

CENTURIES_AHEAD = date(2526, 5, 2)

# --- the rule -------------------------------------------------------------------------------


def test_a_services_first_day_sets_its_clock() -> None:
    assert dates_to_run(None, date(2026, 4, 30), max_days_forward=5) == [date(2026, 4, 30)]


def test_a_day_on_or_before_the_business_date_runs_nothing() -> None:
    today = date(2026, 4, 30)
    assert dates_to_run(today, today, max_days_forward=5) == []
    assert dates_to_run(today, date(2026, 4, 1), max_days_forward=5) == []


def test_a_gap_within_the_bound_runs_every_day_in_it_in_order() -> None:
    # Maundy Thursday 2 April 2026 to the Tuesday after Easter Monday: the default bound.
    assert dates_to_run(date(2026, 4, 2), date(2026, 4, 7), max_days_forward=5) == [
        date(2026, 4, 3),
        date(2026, 4, 4),
        date(2026, 4, 5),
        date(2026, 4, 6),
        date(2026, 4, 7),
    ]


def test_a_day_beyond_the_bound_is_refused_saying_what_to_do() -> None:
    with pytest.raises(Refused) as refused:
        dates_to_run(date(2026, 4, 2), date(2026, 4, 8), max_days_forward=5)
    reason = str(refused.value)
    assert "2026-04-08 is 6 days after this service's business date 2026-04-02" in reason
    assert "max_days_forward" in reason and "send the days in between" in reason


# --- the council's bound ------------------------------------------------------------------


def test_the_default_bound_crosses_easter_and_christmas_and_no_more() -> None:
    assert load_council_config().clock.max_days_forward == 5


def test_a_council_sets_its_own_bound_in_its_toml(tmp_path: Path) -> None:
    own = tmp_path / "council.toml"
    own.write_text("[clock]\nmax_days_forward = 9\n")
    assert load_council_config(own).clock.max_days_forward == 9


@pytest.mark.parametrize(
    ("clock", "complaint"),
    [
        ({"max_days_forward": 0}, "greater than or equal to 1"),
        ({"max_days_forward": -3}, "greater than or equal to 1"),
        ({"max_days_forward": 32}, "less than or equal to 31"),
        ({"max_days_forward": "5"}, "valid integer"),
        ({"max_days_forward": True}, "valid integer"),
        ({"max_days_forward": 2.5}, "valid integer"),
        ({}, "Field required"),
        ({"max_days_forward": 5, "max_days_back": 1}, "Extra inputs are not permitted"),
    ],
)
def test_a_bound_that_is_not_a_whole_number_of_days_from_1_to_31_is_refused_naming_it(
    clock: dict[str, object], complaint: str
) -> None:
    data = tomllib.loads(DEFAULT_PATH.read_text())
    data["clock"] = clock
    with pytest.raises(ValidationError) as refused:
        CouncilConfig.model_validate(data)
    assert "clock." in str(refused.value) and complaint in str(refused.value)


# --- in the services, on SQLite and PostgreSQL -----------------------------------------------


def _day(on: date) -> DayStarted:
    return DayStarted(data=DayStartedData(business_date=on))


async def _send_days(runtime: ServiceRuntime, first: date, last: date) -> None:
    day = first
    while day <= last:
        await runtime.handle_records([record(topics.CLOCK_DAYS, _day(day))])
        day += timedelta(days=1)


async def _business_date(runtime: ServiceRuntime) -> date | None:
    async with runtime.unit() as uow:
        return await uow.today()


async def _outbox(runtime: ServiceRuntime) -> list[Any]:
    outbox = runtime.kernel.outbox
    async with runtime.db.session() as session:
        return list((await session.execute(select(outbox).order_by(outbox.c.id))).all())


def _published(rows: list[Any], event_type: str) -> list[dict[str, Any]]:
    return [json.loads(r.payload) for r in rows if r.headers.get("type") == event_type]


async def _dead_letter_reasons(runtime: ServiceRuntime) -> list[str]:
    """Why each dead letter was refused, wherever the kernel keeps it: in the dead letter
    kept in the service's database, or in the header of the one on the topic."""
    async with runtime.db.session() as session:
        kept = (await session.execute(select(runtime.kernel.dead_letters.c.reason))).scalars().all()
    sent = [r.headers.get("dlq.reason") for r in await _outbox(runtime) if r.topic.endswith(".dlq")]
    return [*kept, *(reason for reason in sent if reason)]


async def _refused_day(runtime: ServiceRuntime) -> None:
    """A day centuries ahead is dead-lettered, saying why, and the business date stays."""
    before = await _business_date(runtime)
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(CENTURIES_AHEAD))])
    counts = runtime.consumer.counts[topics.CLOCK_DAYS]
    assert counts.dead_lettered == 1
    reasons = await _dead_letter_reasons(runtime)
    assert reasons and all(f"day.started for {CENTURIES_AHEAD}" in r and "max_days_forward" in r for r in reasons)
    assert await _business_date(runtime) == before


def _hb_overpayment(account: str, issued_on: date) -> ChargeRaised:
    return ChargeRaised(
        key=account,
        data=ChargeRaisedData(
            debt_id=f"HBOP-{account}",
            account_ref=account,
            debt_type=DebtType.HB_OVERPAYMENT,
            amount_pence=40000,
            bill_issued_on=issued_on,
            liable_party=LiableParty(party_id=f"P-{account}", name="Test Person"),
            overpayment=overpayment_decision(decided_on=issued_on),
        ),
    )


async def test_arrangements_refuses_a_day_centuries_ahead_and_carries_on_with_the_next_real_one(
    database_url: str,
) -> None:
    runtime = arrangements_runtime(ArrangementsSettings(database_url=database_url))
    runtime.migrate()
    account, debt = "9101", "CT-9101-2026"
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised(account, amount_pence=150000))])
    april = PaymentAllocated(
        key=account,
        data=PaymentAllocatedData(
            receipt_ref="CARD-9101",
            account_ref=account,
            amount_pence=15000,
            received_on=date(2026, 3, 20),
            rule=AllocationRule.POLICY_ORDER,
            parts=[AllocationPart(debt_id=debt, amount_pence=15000)],
        ),
    )
    await runtime.handle_records([record(topics.PAYMENT_EVENTS, april)])
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 4, 30)))])
    assert await _business_date(runtime) == date(2026, 4, 30)

    await _refused_day(runtime)
    # Nothing is marked missed (nine unpaid instalments would have been), nothing sent.
    async with runtime.db.session() as session:
        marked = (await session.execute(select(func.count()).where(Instalment.missed_reported))).scalar_one()
    assert marked == 0
    assert _published(await _outbox(runtime), "instalment.missed") == []

    # The next real day is swept as usual: May, unpaid at the end of 1 May, missed on 2 May.
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 5, 2)))])
    missed = _published(await _outbox(runtime), "instalment.missed")
    assert [(m["data"]["due_date"], m["data"]["misses_this_year"], m["data"]["detected_on"]) for m in missed] == [
        ("2026-05-01", 1, "2026-05-02")
    ]
    assert await _business_date(runtime) == date(2026, 5, 2)
    await runtime.db.dispose()


async def test_arrangements_sweeps_each_day_of_a_gap_in_order(database_url: str) -> None:
    """Three overpayment invoices falling due on 30 April, 1 and 2 May (14 days' terms,
    council_default.toml); the scheduler is silent from 30 April to 3 May."""
    runtime = arrangements_runtime(ArrangementsSettings(database_url=database_url))
    runtime.migrate()
    for account, issued in (("9201", date(2026, 4, 16)), ("9202", date(2026, 4, 17)), ("9203", date(2026, 4, 18))):
        await runtime.handle_records([record(topics.BILLING_CHARGES, _hb_overpayment(account, issued))])
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 4, 30)))])
    resumed = _day(date(2026, 5, 3))
    await runtime.handle_records([record(topics.CLOCK_DAYS, resumed)])

    missed = _published(await _outbox(runtime), "instalment.missed")
    # Each found the day after it fell due, in date order, as if every day had been sent.
    assert [(m["key"], m["data"]["due_date"], m["data"]["detected_on"]) for m in missed] == [
        ("9201", "2026-04-30", "2026-05-01"),
        ("9202", "2026-05-01", "2026-05-02"),
        ("9203", "2026-05-02", "2026-05-03"),
    ]
    assert {m["causation_id"] for m in missed} == {str(resumed.event_id)}
    assert await _business_date(runtime) == date(2026, 5, 3)
    await runtime.db.dispose()


async def test_a_councils_own_bound_is_the_one_a_service_keeps(database_url: str, tmp_path: Path) -> None:
    own = tmp_path / "council.toml"
    own.write_text("[clock]\nmax_days_forward = 2\n")
    runtime = arrangements_runtime(ArrangementsSettings(database_url=database_url, council_config=own))
    runtime.migrate()
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 4, 30)))])
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 5, 3)))])  # three days: too far
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 5, 2)))])  # two: within it
    assert runtime.consumer.counts[topics.CLOCK_DAYS].dead_lettered == 1
    assert await _business_date(runtime) == date(2026, 5, 2)
    await runtime.db.dispose()


# --- enforcement ------------------------------------------------------------------------------

DUE_DATES = [date(2026, m, 1) for m in range(4, 13)] + [date(2027, 1, 1)]


async def _case_with_a_reminder(runtime: ServiceRuntime, account: str, detected_on: date) -> str:
    """A Council Tax bill, its schedule, and May's instalment found missed on ``detected_on``:
    a reminder is issued that day."""
    debt = f"CT-{account}-2026"
    schedule = statutory_schedule(account, due_dates=DUE_DATES)
    missed = instalment_missed(account, detected_on=detected_on)
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised(account, amount_pence=150000))])
    await runtime.handle_records([record(topics.ARRANGEMENT_EVENTS, schedule)])
    await runtime.handle_records([record(topics.ARRANGEMENT_EVENTS, missed)])
    return debt


def _reminders_failed(rows: list[Any]) -> list[tuple[str, str]]:
    return [
        (c["data"]["debt_id"], c["data"]["on"])
        for c in _published(rows, "stage.changed")
        if c["data"]["to_stage"] == "reminder_failed"
    ]


async def test_enforcement_refuses_a_day_centuries_ahead_and_carries_on_with_the_next_real_one(
    database_url: str,
) -> None:
    runtime = enforcement_runtime(EnforcementSettings(database_url=database_url))
    runtime.migrate()
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 5, 2)))])
    debt = await _case_with_a_reminder(runtime, "9301", date(2026, 5, 2))
    sent = [r.headers.get("type") for r in await _outbox(runtime) if not r.topic.endswith(".dlq")]

    await _refused_day(runtime)
    # Nothing moved: no balance due, no summons, no notice.
    assert [r.headers.get("type") for r in await _outbox(runtime) if not r.topic.endswith(".dlq")] == sent

    # The next real days are run as usual: the reminder issued Saturday 2 May is served
    # Wednesday 6 May (Monday 4 May a bank holiday), its 7 days end 12 May, and the
    # failure to pay is found on 13 May (SI 1992/613 reg 23(3) [S1]).
    await _send_days(runtime, date(2026, 5, 3), date(2026, 5, 13))
    assert _reminders_failed(await _outbox(runtime)) == [(debt, "2026-05-13")]
    await runtime.db.dispose()


async def test_enforcement_runs_each_day_of_a_gap_in_order(database_url: str) -> None:
    """Reminders issued Monday 11, Tuesday 12 and Wednesday 13 May are served two business
    days later, so their 7 days to pay end on 19, 20 and 21 May and each failure is found the
    day after; the scheduler is silent from 19 to 22 May."""
    runtime = enforcement_runtime(EnforcementSettings(database_url=database_url))
    runtime.migrate()
    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 5, 11)))])
    debts = [
        await _case_with_a_reminder(runtime, account, issued)
        for account, issued in (("9401", date(2026, 5, 11)), ("9402", date(2026, 5, 12)), ("9403", date(2026, 5, 13)))
    ]
    await _send_days(runtime, date(2026, 5, 12), date(2026, 5, 19))
    assert _reminders_failed(await _outbox(runtime)) == []

    await runtime.handle_records([record(topics.CLOCK_DAYS, _day(date(2026, 5, 22)))])
    assert _reminders_failed(await _outbox(runtime)) == [
        (debts[0], "2026-05-20"),
        (debts[1], "2026-05-21"),
        (debts[2], "2026-05-22"),
    ]
    assert await _business_date(runtime) == date(2026, 5, 22)
    await runtime.db.dispose()
