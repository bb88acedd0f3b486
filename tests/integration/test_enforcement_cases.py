"""Enforcement on SQLite and PostgreSQL: the bill and its schedule travel on different
topics, so the case must get the same reminder whichever arrives first.

The reminder demands what has fallen due by the end of its 7 days: SI 1992/613
reg 23(2)-(3) [S1].
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import event, select, update

from recovery_enforcement.app import build_runtime, create_app
from recovery_enforcement.models import Hold, RecoveryCase
from recovery_enforcement.settings import EnforcementSettings
from recovery_shared import topics
from recovery_shared.contracts.common import (
    MAX_ACCOUNT_REF,
    MAX_ADDRESS_LINE,
    MAX_ADDRESS_LINES,
    MAX_DEBTS,
    MAX_FIRM,
    MAX_ID,
    MAX_INSTALMENTS,
    MAX_NAME,
    MAX_POSTCODE,
    DebtType,
    Instalment,
    LiableParty,
)
from recovery_shared.contracts.inbound import (
    AgentOutcome,
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    CaseReturned,
    CaseReturnedData,
    ChargeRaised,
    ChargeRaisedData,
    CircumstanceData,
    CourtOutcomeData,
    DayStarted,
    DayStartedData,
    LiabilityOrderGranted,
)
from recovery_shared.contracts.internal import (
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    BalanceChanged,
    BalanceChangedData,
    InstalmentMissed,
    InstalmentMissedData,
)
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import charge_raised, record

DUE = [date(2026, m, 1) for m in range(4, 13)] + [date(2027, 1, 1)]


async def _runtime(database_url: str) -> ServiceRuntime:
    runtime = build_runtime(EnforcementSettings(database_url=database_url))
    runtime.migrate()
    return runtime


def _schedule_for(account: str, debt_id: str) -> ArrangementMade:
    return ArrangementMade(
        key=account,
        data=ArrangementMadeData(
            arrangement_id=f"ARR-{debt_id}",
            account_ref=account,
            kind=ArrangementKind.STATUTORY,
            debt_ids=[debt_id],
            instalments=[Instalment(due_date=d, amount_pence=15000) for d in DUE],
        ),
    )


def _missed_may(account: str, debt_id: str) -> InstalmentMissed:
    return InstalmentMissed(
        key=account,
        data=InstalmentMissedData(
            arrangement_id=f"ARR-{debt_id}",
            account_ref=account,
            debt_ids=[debt_id],
            due_date=date(2026, 5, 1),
            amount_pence=15000,
            overdue_pence=15000,
            misses_this_year=1,
            detected_on=date(2026, 5, 2),
        ),
    )


async def _reminders(runtime: ServiceRuntime) -> list[dict[str, Any]]:
    async with runtime.db.session() as session:
        rows = (await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all()
    return [
        json.loads(r.payload)["data"]
        for r in rows
        if r.headers.get("type") == "notice.requested" and json.loads(r.payload)["data"]["notice_type"] == "reminder"
    ]


async def test_a_schedule_that_arrives_before_its_bill_waits_for_the_case(database_url: str) -> None:
    runtime = await _runtime(database_url)
    early, late = "8101", "8102"
    early_debt, late_debt = f"CT-{early}-2026", f"CT-{late}-2026"
    handle = runtime.handle_records

    # One account's schedule comes first, the other's after its bill.
    await handle([record(topics.ARRANGEMENT_EVENTS, _schedule_for(early, early_debt), key=early)])
    await handle([record(topics.BILLING_CHARGES, charge_raised(a, amount_pence=150000)) for a in (early, late)])
    await handle([record(topics.ARRANGEMENT_EVENTS, _schedule_for(late, late_debt), key=late)])
    assert runtime.consumer.counts[topics.ARRANGEMENT_EVENTS].dead_lettered == 0

    async with runtime.db.session() as session:
        for debt in (early_debt, late_debt):
            case = (await session.exec(select(RecoveryCase).where(RecoveryCase.debt_id == debt))).scalars().one()
            assert len(case.schedule) == 10 and case.schedule[1] == ["2026-05-01", 15000]

    await handle(
        [
            record(topics.ARRANGEMENT_EVENTS, _missed_may(early, early_debt), key=early),
            record(topics.ARRANGEMENT_EVENTS, _missed_may(late, late_debt), key=late),
        ]
    )
    reminders = await _reminders(runtime)
    # Both reminders demand April and May: £300.00 overdue, whichever event came first.
    assert sorted(r["debt_ids"][0] for r in reminders) == [early_debt, late_debt]
    assert {r["amounts"]["amount_to_pay"] for r in reminders} == {30000}
    await runtime.db.dispose()


def _published(rows: list[Any], event_type: str) -> list[dict[str, Any]]:
    return [json.loads(r.payload)["data"] for r in rows if r.headers.get("type") == event_type]


async def _outbox(runtime: ServiceRuntime) -> list[Any]:
    async with runtime.db.session() as session:
        return list((await session.execute(select(runtime.kernel.outbox).order_by(runtime.kernel.outbox.c.id))).all())


async def _days(runtime: ServiceRuntime, first: date, last: date) -> None:
    day = first
    while day <= last:
        await runtime.handle_records([record(topics.CLOCK_DAYS, DayStarted(data=DayStartedData(business_date=day)))])
        day += timedelta(days=1)


async def test_from_an_ignored_reminder_to_a_liability_order_and_an_agent_referral(database_url: str) -> None:
    """Reminder ignored (reg 23(3) [S1]) -> balance due -> summons with the council's costs
    (reg 34 [S5]) -> liability order and its costs -> referral to an agent with the £75
    compliance fee (Taking Control of Goods (Fees) Regulations 2014, domain §3) -> a nulla bona
    return closes the case."""
    runtime = await _runtime(database_url)
    account, debt = "8201", "CT-8201-2026"
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised(account, amount_pence=150000))])
    await runtime.handle_records(
        [
            record(topics.ARRANGEMENT_EVENTS, _schedule_for(account, debt), key=account),
            record(topics.ARRANGEMENT_EVENTS, _missed_may(account, debt), key=account),
        ]
    )
    await _days(runtime, date(2026, 5, 2), date(2026, 6, 1))
    rows = await _outbox(runtime)
    [fell_due] = _published(rows, "balance.fell-due")
    # Reminder issued Saturday 2 May, served Wednesday 6 May (second class post, two business
    # days, Monday 4 May a bank holiday); 7 days to pay end 12 May; failure 13 May + 7 days.
    assert fell_due["due_on"] == "2026-05-20"
    [summons] = _published(rows, "summons.listed")
    assert summons["issued_on"] >= "2026-05-20"
    assert date.fromisoformat(summons["hearing_date"]) - date.fromisoformat(summons["issued_on"]) >= timedelta(days=14)
    assert summons["costs_pence"] == 8000  # council_default.toml, CT summons costs
    assert [c["amount_pence"] for c in _published(rows, "costs.added")] == [8000]

    hearing = date.fromisoformat(summons["hearing_date"])
    await _days(runtime, date(2026, 6, 2), hearing)
    granted = LiabilityOrderGranted(
        key=account,
        data=CourtOutcomeData(summons_id=summons["summons_id"], account_ref=account, hearing_date=hearing),
    )
    await runtime.handle_records([record(topics.COURT_OUTCOMES, granted, key=account)])
    await _days(runtime, hearing + timedelta(days=1), hearing + timedelta(days=20))
    rows = await _outbox(runtime)
    [order] = _published(rows, "liability-order.recorded")
    assert order["granted_on"] == hearing.isoformat() and order["costs_pence"] == 2000
    [referral] = _published(rows, "case.referred")
    assert referral["referred_on"] == (hearing + timedelta(days=14)).isoformat()
    assert referral["compliance_fee_pence"] == 7500
    letters = [n for n in _published(rows, "notice.requested") if n["notice_type"] == "agent_referral_letter"]
    assert [n["template_data"].get("agent") for n in letters] == [referral["agent"]]

    returned = CaseReturned(
        key=account,
        data=CaseReturnedData(
            referral_id=referral["referral_id"],
            account_ref=account,
            agent=referral["agent"],
            outcome=AgentOutcome.NULLA_BONA,
            returned_on=hearing + timedelta(days=60),
        ),
    )
    await runtime.handle_records([record(topics.AGENT_RETURNS, returned, key=account)])
    async with runtime.db.session() as session:
        case = (await session.exec(select(RecoveryCase).where(RecoveryCase.debt_id == debt))).scalars().one()
    assert case.stage == "nulla_bona" and case.is_open is False
    await runtime.db.dispose()


async def test_a_batch_of_balances_reads_its_cases_in_one_query_and_stops_paid_ladders(database_url: str) -> None:
    """A payment day brings thousands of balance.changed events: the batch's cases are
    loaded together, and a debt paid in full stops its ladder (design §4)."""
    runtime = await _runtime(database_url)
    accounts = [f"83{n:02d}" for n in range(40)]
    await runtime.handle_records(
        [record(topics.BILLING_CHARGES, charge_raised(a, amount_pence=150000)) for a in accounts]
    )
    statements: list[str] = []
    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", lambda *args: statements.append(str(args[2])))
    balances = [
        BalanceChanged(
            key=a,
            data=BalanceChangedData(
                debt_id=f"CT-{a}-2026",
                account_ref=a,
                debt_type=DebtType.COUNCIL_TAX,
                charged_pence=150000,
                paid_pence=150000 if n % 2 else 15000,
                balance_pence=0 if n % 2 else 135000,
                as_of=date(2026, 4, 1),
            ),
        )
        for n, a in enumerate(accounts)
    ]
    await runtime.handle_records([record(topics.PAYMENT_EVENTS, b, key=b.key) for b in balances])
    counts = runtime.consumer.counts[topics.PAYMENT_EVENTS]
    assert counts.handled == 40 and counts.dead_lettered == 0
    case_reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "recovery_case" in s]
    assert len(case_reads) == 1, case_reads
    async with runtime.db.session() as session:
        cases = (await session.exec(select(RecoveryCase))).scalars().all()
    assert sorted(c.is_open for c in cases) == [False] * 20 + [True] * 20
    await runtime.db.dispose()


async def test_a_breathing_space_holds_and_releases_a_persons_debts_across_accounts(database_url: str) -> None:
    """SI 2020/1311 reg 14 [S47]: the hold reaches every debt of the person, kept in the
    hold table until it ends; the release restarts each case's clock."""
    runtime = await _runtime(database_url)
    person = "P-8401"
    await runtime.handle_records(
        [record(topics.BILLING_CHARGES, charge_raised(a, party_id=person)) for a in ("8401", "8402")]
        + [record(topics.BILLING_CHARGES, charge_raised("8403"))]
    )
    started = BreathingSpaceStarted(
        key="8401",
        data=BreathingSpaceStartedData(party_id=person, account_ref="8401", effective_on=date(2026, 5, 4)),
    )
    await runtime.handle_records([record(topics.DEBTOR_CIRCUMSTANCES, started, key="8401")])
    await runtime.handle_records([record(topics.DEBTOR_CIRCUMSTANCES, started, key="8401")])  # redelivered
    ended = BreathingSpaceEnded(
        key="8401", data=CircumstanceData(party_id=person, account_ref="8401", effective_on=date(2026, 7, 3))
    )
    await runtime.handle_records([record(topics.DEBTOR_CIRCUMSTANCES, ended, key="8401")])
    rows = await _outbox(runtime)
    [applied] = _published(rows, "hold.applied")
    [released] = _published(rows, "hold.released")
    assert sorted(applied["debt_ids"]) == sorted(released["debt_ids"]) == ["CT-8401-2026", "CT-8402-2026"]
    async with runtime.db.session() as session:
        holds = (await session.execute(select(Hold.__table__))).all()  # type: ignore[attr-defined]
        held = (await session.execute(select(RecoveryCase.__table__.c.held))).scalars().all()  # type: ignore[attr-defined]
    assert [(h.kind, h.ended_on, sorted(h.case_ids)) for h in holds] == [
        ("breathing_space", date(2026, 7, 3), ["CT-8401-2026", "CT-8402-2026"])
    ]
    assert held == [False, False, False]
    await runtime.db.dispose()


async def test_a_missed_instalment_on_a_debt_with_no_case_is_dead_lettered_with_a_reason(database_url: str) -> None:
    runtime = await _runtime(database_url)
    unknown = _missed_may("8501", "SUNDRY-8501")
    await runtime.handle_records(
        [record(topics.ARRANGEMENT_EVENTS, unknown, key="8501"), record(topics.BILLING_CHARGES, charge_raised("8502"))]
    )
    counts = runtime.consumer.counts[topics.ARRANGEMENT_EVENTS]
    assert counts.dead_lettered == 1 and runtime.consumer.counts[topics.BILLING_CHARGES].handled == 1
    [dead] = [r for r in await _outbox(runtime) if r.topic == f"{topics.ARRANGEMENT_EVENTS}.dlq"]
    assert "which has no recovery case" in dead.headers["dlq.reason"]
    assert dead.headers["dlq.reason"].startswith("refused:")
    await runtime.db.dispose()


def _at_most(text: str, length: int) -> str:
    """``text`` repeated to exactly ``length`` characters: a value at its contract's bound."""
    return (text * (length // len(text) + 1))[:length]


def _largest_council(tmp_path: Path) -> Path:
    """The council's own TOML with every name an event carries at its bound, and a final
    notice always, so one case meets every notice the ladder sends before the agent."""
    own = tmp_path / "council.toml"
    council = _at_most("Royal Borough of Ŵrexham-upon-Example District Council ", MAX_NAME)
    court = _at_most("Example Magistrates' Court sitting at the Law Courts ", MAX_NAME)
    agents = [_at_most(f"{firm} Enforcement Agents Ltd ", MAX_FIRM) for firm in ("North", "South")]
    own.write_text(
        f"council_name = {json.dumps(council, ensure_ascii=False)}\n"
        f"enforcement_agents = {json.dumps(agents, ensure_ascii=False)}\n"
        '[ladders.CT]\nfinal_notice = "always"\n'
        f"[court]\nname = {json.dumps(court, ensure_ascii=False)}\n"
    )
    return own


def _largest_bill() -> ChargeRaised:
    """A bill with every text and list at its bound: the longest ids and name, the most
    address lines each at their longest, the longest postcode, the most instalments."""
    account = _at_most("8601-", MAX_ACCOUNT_REF)
    weekly = [
        Instalment(due_date=date(2026, 4, 1) + timedelta(weeks=n), amount_pence=15000) for n in range(MAX_INSTALMENTS)
    ]
    return ChargeRaised(
        key=account,
        data=ChargeRaisedData(
            debt_id=_at_most("CT-8601-2026-", MAX_ID),
            account_ref=account,
            debt_type=DebtType.COUNCIL_TAX,
            financial_year="2026/27",
            amount_pence=15000 * MAX_INSTALMENTS,
            bill_issued_on=date(2026, 3, 10),
            instalments=weekly,
            liable_party=LiableParty(
                party_id=_at_most("P-8601-", MAX_ID),
                name=_at_most("Llŷr Ap Siôn-Featherstonehaugh ", MAX_NAME),
                address_lines=[
                    _at_most(f"Flat {n}, Long Terrace Road ", MAX_ADDRESS_LINE) for n in range(MAX_ADDRESS_LINES)
                ],
                postcode=_at_most("SW1A 1AA ", MAX_POSTCODE),
            ),
        ),
    )


async def test_the_largest_valid_bill_is_reminded_given_a_final_notice_summonsed_and_referred(
    database_url: str, tmp_path: Path
) -> None:
    """Every bound on a bill must meet the bounds of the events made from it: the notice's
    address block holds the bill's address lines and its postcode, the summons and the
    referral carry the council's court and agents at their longest. Otherwise a valid bill
    makes a notice that cannot be built, and the day's sweep is dead-lettered for every case."""
    runtime = build_runtime(EnforcementSettings(database_url=database_url, council_config=_largest_council(tmp_path)))
    runtime.migrate()
    bill = _largest_bill()
    account, debt, party = bill.data.account_ref, bill.data.debt_id, bill.data.liable_party
    missed = InstalmentMissed(
        key=account,
        data=InstalmentMissedData(
            arrangement_id=f"ST-{debt}",
            account_ref=account,
            debt_ids=[debt],
            due_date=date(2026, 4, 29),
            amount_pence=15000,
            overdue_pence=75000,
            misses_this_year=1,
            detected_on=date(2026, 5, 2),
        ),
    )
    await runtime.handle_records([record(topics.BILLING_CHARGES, bill)])
    await runtime.handle_records([record(topics.ARRANGEMENT_EVENTS, missed)])
    await _days(runtime, date(2026, 5, 2), date(2026, 6, 30))
    rows = await _outbox(runtime)
    [summons] = _published(rows, "summons.listed")
    hearing = date.fromisoformat(summons["hearing_date"])
    granted = LiabilityOrderGranted(
        key=account, data=CourtOutcomeData(summons_id=summons["summons_id"], account_ref=account, hearing_date=hearing)
    )
    await runtime.handle_records([record(topics.COURT_OUTCOMES, granted)])
    await _days(runtime, date(2026, 7, 1), hearing + timedelta(days=20))

    assert {topic: counts.dead_lettered for topic, counts in runtime.consumer.counts.items()} == {
        topic: 0 for topic in runtime.consumer.counts
    }
    rows = await _outbox(runtime)
    assert not [r.topic for r in rows if r.topic.endswith(".dlq")]
    council = runtime.settings.council()
    notices = _published(rows, "notice.requested")
    assert [n["notice_type"] for n in notices] == ["reminder", "final_notice", "summons", "agent_referral_letter"]
    for notice in notices:
        assert notice["recipient_name"] == party.name
        assert notice["recipient_address"] == [*party.address_lines, party.postcode]
        assert notice["council_name"] == council.council_name
    assert notices[2]["template_data"]["court"] == summons["court"] == council.court.name
    [referral] = _published(rows, "case.referred")
    assert referral["agent"] in council.enforcement_agents
    assert notices[3]["template_data"]["agent"] == referral["agent"]
    await runtime.db.dispose()


async def test_a_breathing_space_over_more_debts_than_one_event_names_holds_and_releases_them_all(
    database_url: str,
) -> None:
    """Nothing bounds how many debts one person owes (a business with hundreds of
    hereditaments), while a hold event names at most MAX_DEBTS: the hold reaches them
    all, published in as many events as it takes rather than refused."""
    runtime = await _runtime(database_url)
    person, accounts = "P-8701", [f"87{n:03d}" for n in range(MAX_DEBTS + 1)]
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised(a, party_id=person)) for a in accounts])
    started = BreathingSpaceStarted(
        key=accounts[0],
        data=BreathingSpaceStartedData(party_id=person, account_ref=accounts[0], effective_on=date(2026, 5, 4)),
    )
    ended = BreathingSpaceEnded(
        key=accounts[0], data=CircumstanceData(party_id=person, account_ref=accounts[0], effective_on=date(2026, 7, 3))
    )
    await runtime.handle_records([record(topics.DEBTOR_CIRCUMSTANCES, started)])
    await runtime.handle_records([record(topics.DEBTOR_CIRCUMSTANCES, ended)])
    assert runtime.consumer.counts[topics.DEBTOR_CIRCUMSTANCES].dead_lettered == 0
    rows = await _outbox(runtime)
    every_debt = sorted(f"CT-{a}-2026" for a in accounts)
    for event_type in ("hold.applied", "hold.released"):
        published = _published(rows, event_type)
        assert [len(e["debt_ids"]) for e in published] == [MAX_DEBTS, 1]
        assert sorted(d for e in published for d in e["debt_ids"]) == every_debt
    async with runtime.db.session() as session:
        held = (await session.execute(select(RecoveryCase.__table__.c.held))).scalars().all()  # type: ignore[attr-defined]
    assert held == [False] * len(accounts)
    await runtime.db.dispose()


async def test_a_case_that_cannot_be_moved_waits_for_an_officer_and_the_day_moves_the_others(
    database_url: str,
) -> None:
    """One case whose name breaks the bound a notice carries must not dead-letter the
    day for every case: the others are summonsed, the business date advances, the case
    is listed for officers with a reason naming no one, and once its record is put right
    the next day summonses it and clears the mark."""
    app = create_app(EnforcementSettings(database_url=database_url))
    runtime: ServiceRuntime = app.context.get("runtime")
    runtime.migrate()
    accounts = ("8801", "8802", "8803")
    bad = "CT-8802-2026"
    await runtime.handle_records(
        [record(topics.BILLING_CHARGES, charge_raised(a, amount_pence=150000)) for a in accounts]
    )
    await runtime.handle_records(
        [record(topics.ARRANGEMENT_EVENTS, e, key=a) for a in accounts for e in _schedule_and_miss(a)]
    )
    await _days(runtime, date(2026, 5, 2), date(2026, 5, 26))
    table = RecoveryCase.__table__  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        name = (await session.execute(select(table.c.recipient_name).where(table.c.case_id == bad))).scalar_one()
        too_long = "Test Person " * (MAX_NAME // 10)
        await session.execute(update(table).where(table.c.case_id == bad).values(recipient_name=too_long))
        await session.commit()
    before = await _case_row(runtime, bad)

    statements: list[str] = []

    def keep(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(runtime.db.engine.sync_engine, "before_cursor_execute", keep)
    await _days(runtime, date(2026, 5, 27), date(2026, 5, 27))  # the summons day
    event.remove(runtime.db.engine.sync_engine, "before_cursor_execute", keep)
    assert runtime.consumer.counts[topics.CLOCK_DAYS].dead_lettered == 0
    assert await _business_date(runtime) == date(2026, 5, 27)
    summonsed = sorted(s["debt_ids"][0] for s in _published(await _outbox(runtime), "summons.listed"))
    assert summonsed == ["CT-8801-2026", "CT-8803-2026"]
    after = await _case_row(runtime, bad)
    assert {k: v for k, v in after.items() if not k.startswith("attention_")} == {
        k: v for k, v in before.items() if not k.startswith("attention_")
    }
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "recovery_case" in s]
    assert len(reads) == 1, reads  # the day's sweep is still one query for every case

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://enforcement") as client:
        response = await client.get("/officer/cases/needing-attention")
        assert response.status_code == 200 and "Test Person" not in response.text
        [waiting] = response.json()["cases"]
        assert (waiting["case_id"], waiting["since"], waiting["stage"]) == (bad, "2026-05-27", "balance_due")
        assert "recipient_name" in waiting["reason"]

        async with runtime.db.session() as session:
            await session.execute(update(table).where(table.c.case_id == bad).values(recipient_name=name))
            await session.commit()
        await _days(runtime, date(2026, 5, 28), date(2026, 5, 28))
        [summons] = [s for s in _published(await _outbox(runtime), "summons.listed") if s["debt_ids"] == [bad]]
        assert summons["issued_on"] == "2026-05-28"
        response = await client.get("/officer/cases/needing-attention")
        assert response.json() == {"count": 0, "cases": []}
    assert (await _case_row(runtime, bad))["stage"] == "summons"
    await runtime.db.dispose()


def _schedule_and_miss(account: str) -> list[Any]:
    debt = f"CT-{account}-2026"
    return [_schedule_for(account, debt), _missed_may(account, debt)]


async def _case_row(runtime: ServiceRuntime, case_id: str) -> dict[str, Any]:
    table = RecoveryCase.__table__  # type: ignore[attr-defined]
    async with runtime.db.session() as session:
        row = (await session.execute(select(table).where(table.c.case_id == case_id))).one()
    return dict(row._mapping)


async def _business_date(runtime: ServiceRuntime) -> date:
    clock = runtime.kernel.business_clock
    async with runtime.db.session() as session:
        return (await session.execute(select(clock.c.business_date))).scalar_one()  # type: ignore[no-any-return]
