"""The Council Tax recovery flow end to end: all four services as separate
processes on the real broker, business days driven through clock.days.v1.

Dates follow SI 1992/613: reg 23(2)-(4) [S1][S7] for reminders and the loss of
instalments, reg 34(1) [S5] and reg 35(2A) [S6] for the summons and hearing;
Breathing Space: SI 2020/1311 [S47].
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from recovery_shared import topics
from recovery_shared.contracts.common import DebtType, Instalment, LiableParty
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    ChargeRaised,
    ChargeRaisedData,
    CircumstanceData,
    DayStarted,
    DayStartedData,
)
from tests.factories import payment_received
from tests.processes import LagProbe, ServiceProcess, send, start_group_at_end, wait_quiet

pytestmark = pytest.mark.e2e

INSTALMENT = 12000
# A 2026/27 bill issued on 10 March with ten instalments on the 1st, April to January (Sch 1 [S2]).
BILLED_ON = date(2026, 3, 10)
DUE_DATES = [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(4, 14)]
WATCH = [topics.ENFORCEMENT_EVENTS, topics.NOTICE_REQUESTS, topics.AGENT_REFERRALS, topics.ARRANGEMENT_EVENTS]


def bill(account: str, party: str) -> ChargeRaised:
    return ChargeRaised(
        key=account,
        data=ChargeRaisedData(
            debt_id=f"CT-{account}",
            account_ref=account,
            debt_type=DebtType.COUNCIL_TAX,
            financial_year="2026/27",
            amount_pence=INSTALMENT * 10,
            bill_issued_on=BILLED_ON,
            instalments=[Instalment(due_date=d, amount_pence=INSTALMENT) for d in DUE_DATES],
            liable_party=LiableParty(party_id=party, name="Test Person"),
        ),
    )


@pytest.fixture(scope="module")
async def timeline(kafka_bootstrap: str, services: dict[str, ServiceProcess]) -> dict[str, list[dict[str, Any]]]:
    """Drive 1 April to 31 October 2026 once; every scenario's account lives on it."""
    tag = uuid.uuid4().hex[:6]
    three_misses, ignores, breathing = f"T3-{tag}", f"IG-{tag}", f"BS-{tag}"
    second_debt_same_person = f"BS2-{tag}"
    payments: dict[date, list[Envelope]] = defaultdict(list)

    def pay(account: str, on: date, n: int) -> None:
        payments[on].append(payment_received(f"{account}-{n}", INSTALMENT, reference=account, received_on=on))

    # Misses May, pays within 7 days, misses July, pays, then misses September.
    pay(three_misses, date(2026, 4, 1), 0)
    pay(three_misses, date(2026, 5, 5), 1)
    pay(three_misses, date(2026, 6, 1), 2)
    pay(three_misses, date(2026, 7, 6), 3)
    pay(three_misses, date(2026, 8, 1), 4)
    # Pays April, ignores the May reminder.
    pay(ignores, date(2026, 4, 1), 0)
    # Pays April, misses May, then a 60-day Breathing Space from 4 May covers both of the person's debts.
    pay(breathing, date(2026, 4, 1), 0)
    pay(second_debt_same_person, date(2026, 4, 1), 0)
    bs_start, bs_end = date(2026, 5, 4), date(2026, 7, 3)
    circumstances = {
        bs_start: [
            BreathingSpaceStarted(
                key=breathing,
                data=BreathingSpaceStartedData(
                    party_id=f"P-{breathing}", account_ref=breathing, effective_on=bs_start, expected_end=bs_end
                ),
            )
        ],
        bs_end: [
            BreathingSpaceEnded(
                key=breathing,
                data=CircumstanceData(party_id=f"P-{breathing}", account_ref=breathing, effective_on=bs_end),
            )
        ],
    }

    bootstrap = kafka_bootstrap
    watch_group = f"test-watch-{tag}"
    await start_group_at_end(bootstrap, watch_group, *WATCH)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    probe = LagProbe(bootstrap)
    await producer.start()
    await probe.start()
    try:
        await send(
            producer,
            topics.BILLING_CHARGES,
            [
                bill(three_misses, f"P-{three_misses}"),
                bill(ignores, f"P-{ignores}"),
                bill(breathing, f"P-{breathing}"),
                bill(second_debt_same_person, f"P-{breathing}"),
            ],
        )
        await wait_quiet(probe, services)
        day = date(2026, 4, 1)
        while day <= date(2026, 10, 31):
            await send(producer, topics.CLOCK_DAYS, [DayStarted(data=DayStartedData(business_date=day))])
            await send(producer, topics.DEBTOR_CIRCUMSTANCES, circumstances.get(day, []))
            await send(producer, topics.PAYMENT_RECEIPTS, payments.get(day, []))
            await wait_quiet(probe, services)
            day += timedelta(days=1)
    finally:
        await producer.stop()
        await probe.stop()

    consumer = AIOKafkaConsumer(*WATCH, bootstrap_servers=bootstrap, group_id=watch_group, auto_offset_reset="earliest")
    await consumer.start()
    events: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        while batches := await consumer.getmany(timeout_ms=1000, max_records=10000):
            for records in batches.values():
                for r in records:
                    if r.key and r.key.decode().endswith(tag):
                        events[r.key.decode()].append(json.loads(r.value))
    finally:
        await consumer.stop()
    return {
        "three_misses": events[three_misses],
        "ignores": events[ignores],
        "breathing": events[breathing],
        "breathing_second_debt": events[second_debt_same_person],
        "all": [e for v in events.values() for e in v],
    }


def of_type(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["type"] == kind]


def notices(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(d["notice_type"], d["issued_on"]) for d in of_type(events, "notice.requested")]


def test_two_reminders_then_towards_summons_with_no_third_reminder(timeline: dict[str, list[dict[str, Any]]]) -> None:
    events = timeline["three_misses"]
    sent = notices(events)
    assert sent[:2] == [("reminder", "2026-05-02"), ("second_reminder", "2026-07-02")]
    assert [t for t, _ in sent].count("reminder") == 1 and [t for t, _ in sent].count("second_reminder") == 1
    # reg 23(4): the balance is payable the day after the September instalment is missed.
    assert [d["due_on"] for d in of_type(events, "balance.fell-due")] == ["2026-09-02"]
    summons = of_type(events, "summons.listed")
    assert len(summons) == 1
    assert summons[0]["issued_on"] >= "2026-09-02"
    assert date.fromisoformat(summons[0]["hearing_date"]) - date.fromisoformat(summons[0]["issued_on"]) >= timedelta(
        days=14
    )


def test_ignoring_the_first_reminder_loses_the_instalments_seven_days_after_the_failure(
    timeline: dict[str, list[dict[str, Any]]],
) -> None:
    events = timeline["ignores"]
    assert notices(events)[0] == ("reminder", "2026-05-02")
    # Issued Saturday 2 May, served by second-class post two business days later (Monday
    # 4 May is a bank holiday): Wednesday 6 May. The 7 days to pay run 6-12 May (reg 23(3),
    # counted from service so the council never acts early); the failure is on 13 May and
    # the balance falls due at the end of a further 7 days beginning that day.
    assert [d["due_on"] for d in of_type(events, "balance.fell-due")] == ["2026-05-20"]
    assert "second_reminder" not in [t for t, _ in notices(events)]


def test_no_summons_is_listed_before_the_statute_allows(timeline: dict[str, list[dict[str, Any]]]) -> None:
    events = timeline["all"]
    fell_due = {d["debt_id"]: d["due_on"] for d in of_type(events, "balance.fell-due")}
    finals = {}
    for d in of_type(events, "notice.requested"):
        if d["notice_type"] == "final_notice":
            finals[d["debt_ids"][0]] = d["issued_on"]
    listed = of_type(events, "summons.listed")
    assert listed, "the scenarios should reach a summons"
    for s in listed:
        debt = s["debt_ids"][0]
        assert s["issued_on"] >= fell_due[debt]
        if debt in finals:
            assert date.fromisoformat(s["issued_on"]) >= date.fromisoformat(finals[debt]) + timedelta(days=7)
        assert date.fromisoformat(s["hearing_date"]) >= date.fromisoformat(s["issued_on"]) + timedelta(days=14)


def test_breathing_space_mid_ladder_stops_every_notice_and_referral_until_it_ends(
    timeline: dict[str, list[dict[str, Any]]],
) -> None:
    for key in ("breathing", "breathing_second_debt"):
        events = timeline[key]
        during = [
            e
            for e in events
            if e["type"] in {"notice.requested", "case.referred", "summons.listed", "balance.fell-due"}
            and "2026-05-04"
            <= (e["data"].get("issued_on") or e["data"].get("referred_on") or e["data"].get("due_on") or "")
            < "2026-07-03"
        ]
        assert during == [], f"{key}: {during}"
        # After it ends the ladder resumes for each debt's missed instalments.
        after = [d for d in of_type(events, "balance.fell-due") if d["due_on"] >= "2026-07-03"]
        assert after, f"{key}: recovery did not resume after the breathing space"
    # One hold, on the day it started, reaching both of the person's debts in the same
    # message hop: reg 14 makes the council search for every debt it holds for them [S47].
    first, second = (timeline[k][0]["key"] for k in ("breathing", "breathing_second_debt"))
    applied = of_type(timeline["breathing"], "hold.applied")
    assert [(h["hold"], h["on"]) for h in applied] == [("breathing_space", "2026-05-04")]
    assert sorted(applied[0]["debt_ids"]) == sorted([f"CT-{first}", f"CT-{second}"])
    released = of_type(timeline["breathing"], "hold.released")
    assert [(h["hold"], h["on"]) for h in released] == [("breathing_space", "2026-07-03")]
    assert sorted(released[0]["debt_ids"]) == sorted([f"CT-{first}", f"CT-{second}"])
