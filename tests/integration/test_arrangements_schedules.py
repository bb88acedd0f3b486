"""Arrangements on SQLite and PostgreSQL: schedules from bills, payments against them, the
daily sweep for missed instalments, and a balance falling due.

Dates follow SI 1992/613 Sch 1 para 2 [S2] (10 monthly instalments from 1 April for a bill
issued before the year) and the council's instalment day (1st, council_default.toml).
"""

from __future__ import annotations

import json
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from recovery_arrangements import events, store
from recovery_arrangements.app import build_runtime
from recovery_arrangements.models import Arrangement, Instalment
from recovery_arrangements.settings import ArrangementsSettings
from recovery_shared import topics
from recovery_shared.contracts import parse
from recovery_shared.contracts.common import DebtType, HbopClassification
from recovery_shared.contracts.inbound import (
    ChargeAdjusted,
    ChargeAdjustedData,
    ChargeRaised,
    ChargeRaisedData,
    DayStarted,
    DayStartedData,
)
from recovery_shared.contracts.internal import (
    AllocationPart,
    AllocationRule,
    BalanceChanged,
    BalanceChangedData,
    BalanceFellDue,
    BalanceFellDueData,
    InstalmentMissed,
    PaymentAllocated,
    PaymentAllocatedData,
    PaymentReversed,
    PaymentReversedData,
)
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import charge_raised, overpayment_decision, record

ACCOUNT = "7001"
DEBT = f"CT-{ACCOUNT}-2026"


async def _runtime(database_url: str) -> ServiceRuntime:
    runtime = build_runtime(ArrangementsSettings(database_url=database_url))
    runtime.migrate()
    return runtime


async def _published(runtime: ServiceRuntime, event_type: str) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    return [json.loads(r.payload) for r in rows if r.headers.get("type") == event_type]


async def _instalments(runtime: ServiceRuntime, arrangement_id: str) -> list[Instalment]:
    async with runtime.db.session() as session:
        result = await session.exec(
            select(Instalment).where(Instalment.arrangement_id == arrangement_id).order_by(Instalment.seq)  # type: ignore[arg-type]
        )
        return list(result.scalars().all())


async def _arrangement(runtime: ServiceRuntime, arrangement_id: str) -> Arrangement:
    async with runtime.db.session() as session:
        arrangement = await session.get(Arrangement, arrangement_id)
    assert arrangement is not None
    return arrangement


def _day(business_date: date) -> DayStarted:
    return DayStarted(data=DayStartedData(business_date=business_date))


async def _days(runtime: ServiceRuntime, first: date, last: date) -> None:
    """One day.started a day, as the scheduler sends them (the clock is bounded)."""
    day = first
    while day <= last:
        await runtime.consumer.handle([record(topics.CLOCK_DAYS, _day(day))])
        day += timedelta(days=1)


def _allocated(receipt: str, amount: int, on: date, debt_id: str = DEBT, account: str = ACCOUNT) -> PaymentAllocated:
    return PaymentAllocated(
        key=account,
        data=PaymentAllocatedData(
            receipt_ref=receipt,
            account_ref=account,
            amount_pence=amount,
            received_on=on,
            rule=AllocationRule.POLICY_ORDER,
            parts=[AllocationPart(debt_id=debt_id, amount_pence=amount)],
        ),
    )


async def test_a_bill_gets_its_schedule_misses_are_reported_once_and_payments_mark_instalments_paid(
    database_url: str,
) -> None:
    runtime = await _runtime(database_url)
    charges = runtime.consumer
    clock = runtime.consumer
    payments = runtime.consumer

    bill = charge_raised(ACCOUNT, amount_pence=150000, bill_issued_on=date(2026, 3, 10))
    await charges.handle([record(topics.BILLING_CHARGES, bill, key=ACCOUNT)])
    await charges.handle([record(topics.BILLING_CHARGES, charge_raised(ACCOUNT, amount_pence=150000))])  # a copy

    made = await _published(runtime, "arrangement.made")
    assert len(made) == 1
    schedule = made[0]["data"]["instalments"]
    assert [i["due_date"] for i in schedule][:2] == ["2026-04-01", "2026-05-01"]
    assert schedule[-1]["due_date"] == "2027-01-01" and len(schedule) == 10
    assert sum(i["amount_pence"] for i in schedule) == 150000
    assert made[0]["key"] == ACCOUNT and made[0]["data"]["debt_ids"] == [DEBT]
    arrangement_id = made[0]["data"]["arrangement_id"]
    assert len(await _instalments(runtime, arrangement_id)) == 10

    # 1 April is the due day; unpaid at its end, it is missed when 2 April starts.
    await clock.handle([record(topics.CLOCK_DAYS, _day(date(2026, 4, 1)))])
    assert await _published(runtime, "instalment.missed") == []
    day_two = _day(date(2026, 4, 2))
    await clock.handle([record(topics.CLOCK_DAYS, day_two)])
    missed = await _published(runtime, "instalment.missed")
    assert len(missed) == 1
    assert missed[0]["data"] == {
        "arrangement_id": arrangement_id,
        "account_ref": ACCOUNT,
        "debt_ids": [DEBT],
        "financial_year": "2026/27",
        "due_date": "2026-04-01",
        "amount_pence": 15000,
        "overdue_pence": 15000,
        "misses_this_year": 1,
        "detected_on": "2026-04-02",
    }
    assert missed[0]["key"] == ACCOUNT

    # The same day again (a new copy, so the inbox does not catch it) changes nothing.
    await clock.handle([record(topics.CLOCK_DAYS, _day(date(2026, 4, 2)))])
    await clock.handle([record(topics.CLOCK_DAYS, _day(date(2026, 4, 3)))])
    assert len(await _published(runtime, "instalment.missed")) == 1

    # Paying clears April (oldest first) and part of May.
    await payments.handle(
        [
            record(topics.PAYMENT_EVENTS, _allocated("CARD-1", 20000, date(2026, 4, 5)), key=ACCOUNT),
            record(
                topics.PAYMENT_EVENTS,
                BalanceChanged(
                    key=ACCOUNT,
                    data=BalanceChangedData(
                        debt_id=DEBT,
                        account_ref=ACCOUNT,
                        debt_type="CT",
                        charged_pence=150000,
                        paid_pence=20000,
                        balance_pence=130000,
                        as_of=date(2026, 4, 5),
                    ),
                ),
                key=ACCOUNT,
            ),
        ]
    )
    paid = await _published(runtime, "instalment.paid")
    assert [(p["data"]["due_date"], p["data"]["amount_pence"], p["data"]["paid_on"]) for p in paid] == [
        ("2026-04-01", 15000, "2026-04-05")
    ]
    rows = await _instalments(runtime, arrangement_id)
    assert [r.paid_pence for r in rows[:3]] == [15000, 5000, 0]

    # May is short by £100 when 2 May starts: the second miss of the year.
    await _days(runtime, date(2026, 4, 4), date(2026, 5, 2))
    missed = await _published(runtime, "instalment.missed")
    assert len(missed) == 2
    assert missed[1]["data"]["amount_pence"] == 10000
    assert missed[1]["data"]["overdue_pence"] == 10000
    assert missed[1]["data"]["misses_this_year"] == 2
    assert (await _arrangement(runtime, arrangement_id)).misses_this_year == 2

    # Day by day to 2 July: June and July, 3rd and 4th, each the day after it fell due,
    # with what is overdue carried.
    await _days(runtime, date(2026, 5, 3), date(2026, 7, 2))
    missed = await _published(runtime, "instalment.missed")
    assert [
        (m["data"]["due_date"], m["data"]["misses_this_year"], m["data"]["overdue_pence"], m["data"]["detected_on"])
        for m in missed[2:]
    ] == [
        ("2026-06-01", 3, 10000 + 15000, "2026-06-02"),
        ("2026-07-01", 4, 10000 + 15000 + 15000, "2026-07-02"),
    ]
    await runtime.db.dispose()


async def test_a_reversal_reopens_an_instalment_and_the_sweep_reports_it(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.consumer.handle([record(topics.BILLING_CHARGES, charge_raised(ACCOUNT))])
    payments = runtime.consumer
    await payments.handle([record(topics.PAYMENT_EVENTS, _allocated("DD-1", 15000, date(2026, 4, 1)))])
    await runtime.consumer.handle([record(topics.CLOCK_DAYS, _day(date(2026, 4, 2)))])
    assert await _published(runtime, "instalment.missed") == []

    reversed_ = PaymentReversed(
        key=ACCOUNT,
        data=PaymentReversedData(
            receipt_ref="DD-1",
            account_ref=ACCOUNT,
            amount_pence=15000,
            reversed_on=date(2026, 4, 4),
            reason="Direct Debit unpaid, ARUDD reason 0",
            parts=[AllocationPart(debt_id=DEBT, amount_pence=15000)],
        ),
    )
    await _days(runtime, date(2026, 4, 3), date(2026, 4, 4))
    await payments.handle([record(topics.PAYMENT_EVENTS, reversed_)])
    await runtime.consumer.handle([record(topics.CLOCK_DAYS, _day(date(2026, 4, 5)))])
    missed = await _published(runtime, "instalment.missed")
    assert [(m["data"]["due_date"], m["data"]["detected_on"]) for m in missed] == [("2026-04-01", "2026-04-05")]
    await runtime.db.dispose()


async def test_paying_everything_completes_the_arrangement(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.consumer.handle([record(topics.BILLING_CHARGES, charge_raised(ACCOUNT, amount_pence=50000))])
    await runtime.consumer.handle([record(topics.PAYMENT_EVENTS, _allocated("CARD-9", 50000, date(2026, 3, 20)))])
    assert len(await _published(runtime, "instalment.paid")) == 10
    completed = await _published(runtime, "arrangement.completed")
    assert [c["data"]["on"] for c in completed] == ["2026-03-20"]
    await runtime.consumer.handle([record(topics.CLOCK_DAYS, _day(date(2027, 3, 1)))])
    assert await _published(runtime, "instalment.missed") == []
    await runtime.db.dispose()


async def test_money_allocated_before_the_bill_reaches_us_waits_for_the_schedule(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.consumer.handle([record(topics.PAYMENT_EVENTS, _allocated("CARD-0", 15000, date(2026, 3, 12)))])
    await runtime.consumer.handle([record(topics.BILLING_CHARGES, charge_raised(ACCOUNT))])
    paid = await _published(runtime, "instalment.paid")
    assert [(p["data"]["due_date"], p["data"]["paid_on"]) for p in paid] == [("2026-04-01", "2026-03-12")]
    await runtime.db.dispose()


async def test_a_balance_falling_due_collapses_the_schedule_and_stops_missed_reports(database_url: str) -> None:
    runtime = await _runtime(database_url)
    await runtime.consumer.handle([record(topics.BILLING_CHARGES, charge_raised(ACCOUNT))])
    await runtime.consumer.handle([record(topics.PAYMENT_EVENTS, _allocated("CARD-1", 20000, date(2026, 4, 1)))])
    clock = runtime.consumer
    await clock.handle([record(topics.CLOCK_DAYS, _day(date(2026, 5, 2)))])
    assert len(await _published(runtime, "instalment.missed")) == 1

    fell_due = BalanceFellDue(
        key=ACCOUNT,
        data=BalanceFellDueData(
            debt_id=DEBT, account_ref=ACCOUNT, due_on=date(2026, 5, 16), reason="reminder not complied with"
        ),
    )
    enforcement = runtime.consumer
    await enforcement.handle([record(topics.ENFORCEMENT_EVENTS, fell_due)])
    await enforcement.handle(
        [record(topics.ENFORCEMENT_EVENTS, fell_due.model_copy(update={"event_id": uuid.uuid4()}))]
    )

    defaulted = await _published(runtime, "arrangement.defaulted")
    assert len(defaulted) == 1 and defaulted[0]["data"]["on"] == "2026-05-16"
    arrangement_id = defaulted[0]["data"]["arrangement_id"]
    assert (await _arrangement(runtime, arrangement_id)).status == "balance_due"
    rows = await _instalments(runtime, arrangement_id)
    assert [(r.due_date, r.amount_pence, r.paid_pence) for r in rows] == [
        (date(2026, 4, 1), 15000, 15000),
        (date(2026, 5, 1), 5000, 5000),
        (date(2026, 5, 16), 130000, 0),
    ]
    await _days(runtime, date(2026, 5, 3), date(2026, 9, 2))
    assert len(await _published(runtime, "instalment.missed")) == 1

    # Paying the balance completes it.
    await runtime.consumer.handle([record(topics.PAYMENT_EVENTS, _allocated("CARD-2", 130000, date(2026, 9, 3)))])
    assert [c["data"]["arrangement_id"] for c in await _published(runtime, "arrangement.completed")] == [arrangement_id]
    await runtime.db.dispose()


async def test_an_adjusted_charge_is_spread_over_the_instalments_still_to_come(database_url: str) -> None:
    runtime = await _runtime(database_url)
    charges = runtime.consumer
    await charges.handle([record(topics.BILLING_CHARGES, charge_raised(ACCOUNT, amount_pence=150000))])
    await runtime.consumer.handle([record(topics.PAYMENT_EVENTS, _allocated("CARD-1", 30000, date(2026, 5, 1)))])
    adjusted = ChargeAdjusted(
        key=ACCOUNT,
        data=ChargeAdjustedData(
            debt_id=DEBT,
            account_ref=ACCOUNT,
            new_amount_pence=110000,
            adjusted_on=date(2026, 5, 20),
            reason="single person discount",
        ),
    )
    await charges.handle([record(topics.BILLING_CHARGES, adjusted)])
    made = await _published(runtime, "arrangement.made")
    assert len(made) == 2
    schedule = [(i["due_date"], i["amount_pence"]) for i in made[1]["data"]["instalments"]]
    # April and May fell due before the adjustment and keep £150; £800 is left for June-January.
    assert schedule[:2] == [("2026-04-01", 15000), ("2026-05-01", 15000)]
    assert [d for d, _ in schedule[2:]] == [f"2026-{m:02d}-01" for m in range(6, 13)] + ["2027-01-01"]
    assert sum(a for _, a in schedule) == 110000
    assert {a for _, a in schedule[2:]} == {10000}
    rows = await _instalments(runtime, made[1]["data"]["arrangement_id"])
    assert sum(r.paid_pence for r in rows) == 30000
    await runtime.db.dispose()


async def test_a_sweep_across_many_plans_reports_each_miss_once_with_its_count_and_overdue(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The set-based sweep (store.SqlSweep.newly_missed, events from the contract classes) against
    what each plan's history says, in slices of four arrangements marked while the previous
    slice's events are built."""
    monkeypatch.setattr(store, "SWEEP_SLICE", 4)
    runtime = await _runtime(database_url)
    accounts = [f"80{n:02d}" for n in range(18)]
    await runtime.consumer.handle(
        [record(topics.BILLING_CHARGES, charge_raised(a, amount_pence=150000), key=a) for a in accounts]
    )
    # A third pay nothing, a third pay April, a third pay April and £50 of May.
    paid = {a: (0, 15000, 20000)[n % 3] for n, a in enumerate(accounts)}
    await runtime.consumer.handle(
        [
            record(topics.PAYMENT_EVENTS, _allocated(f"R-{a}", amount, date(2026, 3, 20), f"CT-{a}-2026", a), key=a)
            for a, amount in paid.items()
            if amount
        ]
    )
    clock = runtime.consumer
    may = _day(date(2026, 5, 2))
    await clock.handle([record(topics.CLOCK_DAYS, may)])
    await clock.handle([record(topics.CLOCK_DAYS, _day(date(2026, 5, 2)))])  # the same day again
    await _days(runtime, date(2026, 5, 3), date(2026, 6, 1))  # nothing falls due in between
    june = _day(date(2026, 6, 2))
    await clock.handle([record(topics.CLOCK_DAYS, june)])

    async with runtime.db.session() as session:
        rows = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    parsed = [parse(topics.ARRANGEMENT_EVENTS, r.payload) for r in rows if r.headers["type"] == "instalment.missed"]
    events = [e for e in parsed if isinstance(e, InstalmentMissed)]
    assert len(events) == len(parsed)
    seen = [(e.data.account_ref, e.data.due_date) for e in events]
    assert len(seen) == len(set(seen)), "a miss was reported twice"

    def expected(account: str) -> list[tuple[str, int, int, int, str]]:
        """(due date, unpaid, overdue, count, detected on) as the plan's history says."""
        unpaid = {date(2026, m, 1): 15000 for m in (4, 5, 6)}
        left = paid[account]
        for due in sorted(unpaid):
            unpaid[due] -= min(left, unpaid[due])
            left -= 15000 - unpaid[due]
        out, count, overdue = [], 0, 0
        for day, dues in ((may, [date(2026, 4, 1), date(2026, 5, 1)]), (june, [date(2026, 6, 1)])):
            new = [d for d in dues if unpaid[d]]
            overdue += sum(unpaid[d] for d in new)
            for due in new:
                count += 1
                out.append((due.isoformat(), unpaid[due], overdue, count, day.data.business_date.isoformat()))
        return out

    for account in accounts:
        mine = [e for e in events if e.key == account]
        assert [
            (
                e.data.due_date.isoformat(),
                e.data.amount_pence,
                e.data.overdue_pence,
                e.data.misses_this_year,
                e.data.detected_on.isoformat(),
            )
            for e in mine
        ] == expected(account), account
        assert all(e.data.debt_ids == [f"CT-{account}-2026"] and e.data.financial_year == "2026/27" for e in mine)
        arrangement = await _arrangement(runtime, mine[0].data.arrangement_id)
        assert arrangement.misses_this_year == len(expected(account))
    for event in events:
        cause = may if event.data.detected_on == may.data.business_date else june
        assert (event.causation_id, event.correlation_id) == (cause.event_id, cause.event_id)
    await runtime.db.dispose()


async def test_a_batch_costs_the_same_handful_of_statements_however_many_events_it_has(database_url: str) -> None:
    """Prefetch loads the batch's debts, plans and instalments in a few queries; each event's
    use case then runs in memory and the changes are written in bulk at commit."""
    from sqlalchemy import event as sa_event

    runtime = await _runtime(database_url)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa_event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", count)

    async def batch_cost(size: int, start: int) -> int:
        accounts = [f"9{n:04d}" for n in range(start, start + size)]
        await runtime.consumer.handle([record(topics.BILLING_CHARGES, charge_raised(a), key=a) for a in accounts])
        statements.clear()
        await runtime.consumer.handle(
            [
                record(topics.PAYMENT_EVENTS, _allocated(f"R-{a}", 20000, date(2026, 4, 1), f"CT-{a}-2026", a), key=a)
                for a in accounts
            ]
        )
        return len(statements)

    few, many = await batch_cost(5, 0), await batch_cost(200, 100)
    assert few == many, (few, many)
    assert many <= 12
    paid = await _published(runtime, "instalment.paid")
    assert len(paid) == 205
    await runtime.db.dispose()


async def test_a_sweep_that_fails_half_way_leaves_nothing_marked_and_is_dead_lettered(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep marks slice by slice while events are built: a failure while building
    must leave no instalment marked, no count raised and no event, and the service goes on."""
    monkeypatch.setattr(store, "SWEEP_SLICE", 3)
    monkeypatch.setattr(store, "SWEEP_HANDOFF", 2)
    runtime = await _runtime(database_url)
    accounts = [f"81{n:02d}" for n in range(10)]
    await runtime.consumer.handle(
        [record(topics.BILLING_CHARGES, charge_raised(a, amount_pence=150000), key=a) for a in accounts]
    )
    built = 0
    real = events.MissedEvents.missed

    def fails_at_the_fifth(self: events.MissedEvents, plan: Any, miss: Any) -> Any:
        nonlocal built
        built += 1
        if built >= 5:  # from the fifth miss on: mid-way through the second slice, and on replay
            raise RuntimeError("the mapper broke")
        return real(self, plan, miss)

    monkeypatch.setattr(events.MissedEvents, "missed", fails_at_the_fifth)
    await runtime.consumer.handle([record(topics.CLOCK_DAYS, _day(date(2026, 4, 2)))])

    async with runtime.db.session() as session:
        outbox = runtime.kernel.outbox
        rows = (await session.execute(select(outbox.c.topic, outbox.c.headers))).all()
        reported = (await session.execute(select(func.count()).where(Instalment.missed_reported))).scalar_one()
        counts = (await session.execute(select(func.sum(Arrangement.misses_this_year)))).scalar_one()
    assert [r.headers.get("type") for r in rows if r.topic == topics.ARRANGEMENT_EVENTS].count("instalment.missed") == 0
    assert [r.topic for r in rows].count(f"{topics.CLOCK_DAYS}.dlq") == 1
    assert reported == 0 and counts == 0
    await runtime.db.dispose()


def _hbop_bill(account: str, realised: bool) -> ChargeRaised:
    bill = charge_raised(account, debt_type=DebtType.SUNDRY, amount_pence=42000, bill_issued_on=date(2026, 6, 3))
    decision = overpayment_decision(HbopClassification.DWP_ERROR, could_reasonably_have_realised=realised)
    data = bill.data.model_dump() | {
        "debt_id": f"HBOP-{account}",
        "financial_year": None,
        "debt_type": DebtType.HB_OVERPAYMENT,
        "overpayment": decision.model_dump(),
    }
    return bill.model_copy(update={"data": ChargeRaisedData.model_validate(data)})


async def test_only_a_recoverable_hb_overpayment_is_invoiced(database_url: str) -> None:
    """SI 2006/213 reg 100(2) [S36b]: a DWP error nobody could reasonably have realised is not
    recoverable, so it gets no invoice and is never missed; one the claimant could have
    realised is invoiced on the council's 14 days (domain §4 [S43b])."""
    runtime = await _runtime(database_url)
    await runtime.consumer.handle(
        [
            record(topics.BILLING_CHARGES, _hbop_bill("7301", realised=False), key="7301"),
            record(topics.BILLING_CHARGES, _hbop_bill("7302", realised=True), key="7302"),
        ]
    )
    made = await _published(runtime, "arrangement.made")
    assert [(m["data"]["debt_ids"], m["data"]["instalments"]) for m in made] == [
        (["HBOP-7302"], [{"due_date": "2026-06-17", "amount_pence": 42000}])
    ]
    async with runtime.db.session() as session:
        assert await session.get(Arrangement, "ST-HBOP-7301") is None
    for day in (date(2026, 6, 17), date(2026, 6, 18)):
        await runtime.consumer.handle([record(topics.CLOCK_DAYS, _day(day))])
    assert [m["data"]["debt_ids"] for m in await _published(runtime, "instalment.missed")] == [["HBOP-7302"]]
