"""Civil recovery end to end (issue 10): Housing Benefit overpayments, Temporary
Accommodation and sundry debt, with the four services as processes on the real broker and
business days driven through clock.days.v1, one day.started each. Written against the
contracts only: the notices requested on notices.requests.v1, claims on
courts.county-claims.v1, payments' events and its ledger (GET /ledger).

Sources (numbers as in ../shared/domain.md):
- SI 2006/213 reg 100(2)-(3) [S36b][S39]: an overpayment caused by official error that nobody
  could reasonably have realised is not recoverable; any other is.
- SI 2001/1002 reg 10 [S35][S39]: everyone affected by a recoverable overpayment decision is
  notified within 14 days of it (``statute.housing_benefit.NOTIFY_WITHIN_DAYS``).
- Domain §4-§5 [S43b][S46]: an invoice on the council's terms, then a reminder.
- The Pre-Action Protocol for Debt Claims [S45][S45b]: 30 days to reply to the letter before
  claim (``statute.pre_action.LETTER_OF_CLAIM_REPLY_DAYS``); a reply that asks for time holds
  the claim; 14 days' notice of intention before a claim is issued (``NOTICE_BEFORE_ISSUE_DAYS``).
- The Debt Respite Scheme (Breathing Space Moratorium) Regulations 2020 (SI 2020/1311) [S47]:
  no step while it lasts, and reg 14 takes it to every debt the council holds for the person.
- Every period counts from the deemed served date (``statute.service.served_on``, the
  council's [service] rule).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from recovery_shared import topics
from recovery_shared.contracts.common import (
    DebtType,
    HbopClassification,
    Instalment,
    LiableParty,
    OverpaymentDecision,
)
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
    LetterBeforeClaimReplied,
    LetterBeforeClaimRepliedData,
    ReplyKind,
)
from recovery_shared.council import ServiceRule, load_council_config
from recovery_shared.statute.housing_benefit import NOTIFY_WITHIN_DAYS
from recovery_shared.statute.pre_action import LETTER_OF_CLAIM_REPLY_DAYS, NOTICE_BEFORE_ISSUE_DAYS
from recovery_shared.statute.service import served_on
from tests import processes
from tests.factories import payment_received
from tests.processes import LagProbe, ServiceProcess, send, start_group_at_end, wait_quiet

pytestmark = pytest.mark.e2e

SERVICE: ServiceRule = load_council_config().service
BILLED_ON = date(2026, 6, 1)
INVOICE_DUE = BILLED_ON + timedelta(
    days=load_council_config().instalments.invoice_terms(DebtType.TEMPORARY_ACCOMMODATION)
)
TA_PENCE = 180000
TA_PART_PAYMENTS = [(date(2026, 6, 8), 25000), (date(2026, 7, 20), 12345)]
SUNDRY_PENCE = 60000
BS_START, BS_END = date(2026, 6, 10), date(2026, 8, 9)  # a standard 60-day moratorium
LAST_DAY = date(2026, 10, 31)
"""A bound, not a target: the drive stops as soon as every scenario has had its chance."""
WATCH = [
    topics.NOTICE_REQUESTS,
    topics.COUNTY_COURT_CLAIMS,
    topics.PAYMENT_EVENTS,
    topics.ARRANGEMENT_EVENTS,
    topics.ENFORCEMENT_EVENTS,
]


def bill(
    account: str,
    debt_type: DebtType,
    amount_pence: int,
    *,
    party: str | None = None,
    overpayment: OverpaymentDecision | None = None,
    instalments: list[Instalment] | None = None,
    financial_year: str | None = None,
) -> ChargeRaised:
    return ChargeRaised(
        key=account,
        data=ChargeRaisedData(
            debt_id=f"{debt_type.value}-{account}",
            account_ref=account,
            debt_type=debt_type,
            financial_year=financial_year,
            amount_pence=amount_pence,
            bill_issued_on=BILLED_ON,
            instalments=instalments,
            liable_party=LiableParty(party_id=party or f"P-{account}", name="Test Person"),
            overpayment=overpayment,
        ),
    )


def decision(classification: HbopClassification, *, realised: bool) -> OverpaymentDecision:
    return OverpaymentDecision(
        classification=classification,
        period_start=date(2026, 1, 5),
        period_end=date(2026, 3, 29),
        reason="Earnings from a new job were not reported",
        calculation="12 weeks at £33.33 a week more than was due",
        decided_on=date(2026, 5, 28),
        could_reasonably_have_realised=realised,
    )


@dataclass
class Accounts:
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])

    @property
    def ta(self) -> str:
        return f"TA-{self.tag}"

    @property
    def replies(self) -> str:
        return f"SR-{self.tag}"

    @property
    def council_tax(self) -> str:
        return f"CT-{self.tag}"

    @property
    def sundry_in_breathing_space(self) -> str:
        return f"SB-{self.tag}"

    @property
    def overpayment_in_breathing_space(self) -> str:
        return f"HB-{self.tag}"

    @property
    def official_error(self) -> str:
        return f"HO-{self.tag}"

    @property
    def claimant_error(self) -> str:
        return f"HC-{self.tag}"

    @property
    def person_in_breathing_space(self) -> str:
        return f"P-BS-{self.tag}"


@dataclass
class Timeline:
    accounts: Accounts
    events: dict[str, list[dict[str, Any]]]
    """Every watched event keyed by its account, in the order read."""
    ledger: dict[str, Any]
    reply_sent_on: date | None
    last_day: date

    def of(self, account: str, kind: str) -> list[dict[str, Any]]:
        return [e["data"] for e in self.events[account] if e["type"] == kind]

    def notices(self, account: str) -> list[tuple[str, date]]:
        return [(d["notice_type"], date.fromisoformat(d["issued_on"])) for d in self.of(account, "notice.requested")]

    def first_notice(self, account: str, notice_type: str) -> date | None:
        return next((on for kind, on in self.notices(account) if kind == notice_type), None)


class Watcher(processes.Watcher):
    def __init__(self, bootstrap: str, group: str, tag: str) -> None:
        super().__init__(bootstrap, group, tag, WATCH)

    def claimed_on(self, account: str) -> date | None:
        for e in self.events[account]:
            if e["type"] == "claim.referred":
                return date.fromisoformat(e["data"]["referred_on"])
        return None


def inputs(a: Accounts) -> tuple[list[ChargeRaised], dict[date, list[Envelope]], dict[date, list[Envelope]]]:
    """The bills, then each day's receipts and circumstances."""
    ct_instalments = [Instalment(due_date=date(2026, m, 1), amount_pence=10000) for m in range(7, 13)]
    bills = [
        bill(a.ta, DebtType.TEMPORARY_ACCOMMODATION, TA_PENCE),
        bill(a.replies, DebtType.SUNDRY, SUNDRY_PENCE),
        bill(
            a.council_tax,
            DebtType.COUNCIL_TAX,
            60000,
            party=a.person_in_breathing_space,
            instalments=ct_instalments,
            financial_year="2026/27",
        ),
        bill(a.sundry_in_breathing_space, DebtType.SUNDRY, SUNDRY_PENCE, party=a.person_in_breathing_space),
        bill(
            a.overpayment_in_breathing_space,
            DebtType.HB_OVERPAYMENT,
            65000,
            party=a.person_in_breathing_space,
            overpayment=decision(HbopClassification.CLAIMANT_ERROR, realised=True),
        ),
        bill(
            a.official_error,
            DebtType.HB_OVERPAYMENT,
            90000,
            overpayment=decision(HbopClassification.DWP_ERROR, realised=False),
        ),
        bill(
            a.claimant_error,
            DebtType.HB_OVERPAYMENT,
            70000,
            overpayment=decision(HbopClassification.CLAIMANT_ERROR, realised=True),
        ),
    ]
    receipts: dict[date, list[Envelope]] = defaultdict(list)
    for n, (on, pence) in enumerate(TA_PART_PAYMENTS):
        receipts[on].append(payment_received(f"{a.ta}-{n}", pence, reference=a.ta, received_on=on))
    # Money quoting the account of an overpayment that is not owed finds no debt to pay.
    receipts[date(2026, 6, 8)].append(
        payment_received(f"{a.official_error}-0", 5000, reference=a.official_error, received_on=date(2026, 6, 8))
    )
    person = a.person_in_breathing_space
    circumstances: dict[date, list[Envelope]] = {
        BS_START: [
            BreathingSpaceStarted(
                key=a.council_tax,
                data=BreathingSpaceStartedData(
                    party_id=person, account_ref=a.council_tax, effective_on=BS_START, expected_end=BS_END
                ),
            )
        ],
        BS_END: [
            BreathingSpaceEnded(
                key=a.council_tax,
                data=CircumstanceData(party_id=person, account_ref=a.council_tax, effective_on=BS_END),
            )
        ],
    }
    return bills, receipts, circumstances


def finished(w: Watcher, a: Accounts, day: date) -> bool:
    """Every scenario has had its chance: the TA claim is out, the replied case is past the
    day its notice of intention would have been, and the breathing space is well over."""
    claimed = w.claimed_on(a.ta)
    letter = w.notice_on(a.replies, "letter_before_claim")
    if claimed is None or letter is None:
        return False
    would_have_noticed = served_on(letter, SERVICE) + timedelta(days=LETTER_OF_CLAIM_REPLY_DAYS + 7)
    return day >= max(claimed + timedelta(days=2), would_have_noticed, BS_END + timedelta(days=14))


@pytest.fixture(scope="module")
async def civil(kafka_bootstrap: str, services: dict[str, ServiceProcess]) -> AsyncIterator[Timeline]:
    a = Accounts()
    bills, receipts, circumstances = inputs(a)
    group = f"test-civil-{a.tag}"
    await start_group_at_end(kafka_bootstrap, group, *WATCH)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    probe = LagProbe(kafka_bootstrap)
    await producer.start()
    await probe.start()
    reply_sent_on: date | None = None
    try:
        async with Watcher(kafka_bootstrap, group, a.tag) as watcher:
            await send(producer, topics.BILLING_CHARGES, list(bills))
            await wait_quiet(probe, services)
            day = BILLED_ON
            while day <= LAST_DAY and not finished(watcher, a, day):
                await send(producer, topics.CLOCK_DAYS, [DayStarted(data=DayStartedData(business_date=day))])
                await send(producer, topics.DEBTOR_CIRCUMSTANCES, circumstances.get(day, []))
                await send(producer, topics.PAYMENT_RECEIPTS, receipts.get(day, []))
                if reply_sent_on is None and watcher.notice_on(a.replies, "letter_before_claim") is not None:
                    # The Reply Form comes back on the first business day after the letter was
                    # requested, well within the Protocol's 30 days.
                    reply_sent_on = day
                    await send(producer, topics.DEBTOR_REPLIES, [asking_for_time(a.replies, day)])
                await wait_quiet(probe, services)
                await watcher.drain()
                day += timedelta(days=1)
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{services['payments'].port}/ledger", timeout=10)
            response.raise_for_status()
    finally:
        await producer.stop()
        await probe.stop()
    yield Timeline(a, watcher.events, response.json(), reply_sent_on, day)


def asking_for_time(account: str, on: date) -> LetterBeforeClaimReplied:
    return LetterBeforeClaimReplied(
        key=account,
        data=LetterBeforeClaimRepliedData(
            account_ref=account,
            debt_id=f"{DebtType.SUNDRY.value}-{account}",
            replied_on=on,
            reply=ReplyKind.NEEDS_TIME,
            offer_pence=5000,
        ),
    )


# --- Temporary Accommodation: invoice to county court ------------------------------------


def test_an_unpaid_ta_invoice_goes_reminder_letter_before_claim_notice_of_intention_then_claim(
    civil: Timeline,
) -> None:
    """Domain §5 [S46]; the Pre-Action Protocol for Debt Claims [S45]: 30 days from the
    letter's service to reply, then 14 days' notice of intention from its service."""
    ta = civil.accounts.ta
    reminder = civil.first_notice(ta, "invoice_reminder")
    letter = civil.first_notice(ta, "letter_before_claim")
    intention = civil.first_notice(ta, "notice_of_intention")
    assert reminder is not None, civil.notices(ta)
    assert reminder > INVOICE_DUE, "the reminder came before the invoice was unpaid"
    assert letter is not None and letter > served_on(reminder, SERVICE), civil.notices(ta)
    assert intention is not None, civil.notices(ta)
    assert intention >= served_on(letter, SERVICE) + timedelta(days=LETTER_OF_CLAIM_REPLY_DAYS)
    [claim] = civil.of(ta, "claim.referred")
    referred = date.fromisoformat(claim["referred_on"])
    assert referred >= served_on(intention, SERVICE) + timedelta(days=NOTICE_BEFORE_ISSUE_DAYS)
    assert (claim["debt_type"], claim["debt_ids"]) == ("TA", [f"TA-{ta}"])
    assert date.fromisoformat(claim["letter_before_claim_on"]) == letter
    assert date.fromisoformat(claim["notice_of_intention_on"]) == intention
    # Each step once: a second letter or notice would restart the Protocol's clock.
    kinds = [kind for kind, _ in civil.notices(ta)]
    assert kinds.count("letter_before_claim") == 1 and kinds.count("notice_of_intention") == 1


def test_part_payments_on_the_ta_debt_reconcile_to_the_penny_and_the_claim_is_for_what_is_still_owed(
    civil: Timeline,
) -> None:
    ta = civil.accounts.ta
    paid = sum(pence for _, pence in TA_PART_PAYMENTS)
    allocated = civil.of(ta, "payment.allocated")
    assert sorted(d["amount_pence"] for d in allocated) == sorted(pence for _, pence in TA_PART_PAYMENTS)
    assert all(part["debt_id"] == f"TA-{ta}" for d in allocated for part in d["parts"])
    [claim] = civil.of(ta, "claim.referred")
    balances = [d for d in civil.of(ta, "balance.changed") if d["as_of"] <= claim["referred_on"]]
    last = balances[-1]
    assert last["paid_pence"] == paid
    assert last["balance_pence"] == last["charged_pence"] - paid
    assert last["charged_pence"] >= TA_PENCE
    assert claim["amount_pence"] == last["balance_pence"]
    ledger = civil.ledger
    assert ledger["balanced"], ledger
    assert ledger["receipts_out_of_balance"] == 0
    # This module's ledger holds only its own receipts: the TA's two and the one in suspense.
    assert ledger["allocated_to_debts_pence"] == paid
    assert ledger["suspended_pence"] == 5000
    assert ledger["received_pence"] == paid + 5000


# --- sundry debt: a reply to the letter before claim -----------------------------------------


def test_a_reply_asking_for_time_holds_the_sundry_debt_with_no_notice_of_intention(civil: Timeline) -> None:
    """The Pre-Action Protocol for Debt Claims [S45]: a reply asking for time is answered by
    an officer, not by a notice of intention to issue."""
    account = civil.accounts.replies
    letter = civil.first_notice(account, "letter_before_claim")
    assert letter is not None and civil.reply_sent_on is not None, civil.notices(account)
    assert civil.reply_sent_on < served_on(letter, SERVICE) + timedelta(days=LETTER_OF_CLAIM_REPLY_DAYS)
    # The drive ran well past the day the notice would otherwise have been requested.
    assert civil.last_day > served_on(letter, SERVICE) + timedelta(days=LETTER_OF_CLAIM_REPLY_DAYS)
    assert "notice_of_intention" not in [kind for kind, _ in civil.notices(account)]
    assert civil.of(account, "claim.referred") == []


# --- HB overpayments -------------------------------------------------------------------------


def test_an_official_error_overpayment_nobody_could_have_realised_starts_no_recovery(civil: Timeline) -> None:
    """SI 2006/213 reg 100(2) [S36b]: not recoverable, so no invoice, no notice and nothing
    on the ledger; money quoting its account finds no debt and waits in suspense."""
    account = civil.accounts.official_error
    assert civil.notices(account) == []
    assert civil.of(account, "arrangement.made") == []
    assert civil.of(account, "instalment.missed") == []
    assert civil.of(account, "balance.changed") == []
    assert civil.of(account, "payment.allocated") == []
    assert [d["amount_pence"] for d in civil.of(account, "payment.suspended")] == [5000]
    assert civil.of(account, "claim.referred") == []


def test_a_claimant_error_overpayment_is_invoiced_and_its_decision_notice_requested(civil: Timeline) -> None:
    """SI 2006/213 reg 100 [S36b]: recoverable. Everyone affected is notified within 14 days of
    the decision (SI 2001/1002 reg 10) [S35][S39]."""
    account = civil.accounts.claimant_error
    decided_on = decision(HbopClassification.CLAIMANT_ERROR, realised=True).decided_on
    issued = civil.first_notice(account, "hbop_decision")
    assert issued is not None, civil.notices(account)
    assert issued <= decided_on + timedelta(days=NOTIFY_WITHIN_DAYS)
    [made] = civil.of(account, "arrangement.made")
    assert [(i["due_date"], i["amount_pence"]) for i in made["instalments"]] == [(INVOICE_DUE.isoformat(), 70000)]
    assert civil.of(account, "balance.changed")[0]["balance_pence"] == 70000


# --- Breathing Space reaches the person's sundry debt ------------------------------------------


def test_a_breathing_space_on_a_council_tax_account_stops_the_persons_sundry_debt_while_it_lasts(
    civil: Timeline,
) -> None:
    """SI 2020/1311 [S47]: no step in recovery while the moratorium lasts; reg 14 takes a
    breathing space on one debt to every debt the council holds for the person."""
    account = civil.accounts.sundry_in_breathing_space
    during = [(kind, on) for kind, on in civil.notices(account) if BS_START <= on < BS_END]
    assert during == []
    claimed = [d["referred_on"] for d in civil.of(account, "claim.referred")]
    assert [on for on in claimed if BS_START.isoformat() <= on < BS_END.isoformat()] == []
    # Its invoice fell due inside the moratorium; the same debt without one was reminded then
    # (the replied-to sundry account), and this one is reminded once it ends.
    control = civil.first_notice(civil.accounts.replies, "invoice_reminder")
    assert control is not None and BS_START < control < BS_END
    resumed = civil.first_notice(account, "invoice_reminder")
    assert resumed is not None and resumed >= BS_END, civil.notices(account)


def test_the_breathing_space_on_the_council_tax_account_freezes_the_persons_overpayment_too(
    civil: Timeline,
) -> None:
    """SI 2020/1311 reg 14 [S47]: the person's HB overpayment, on its own account, is held
    with the rest: its decision notice went before, nothing while the moratorium lasts, and
    its invoice reminder once it ends."""
    account = civil.accounts.overpayment_in_breathing_space
    # One hold.applied, on the account it was notified for, naming every debt it holds.
    applied = civil.of(civil.accounts.council_tax, "hold.applied")
    assert [d["hold"] for d in applied] == ["breathing_space"], applied
    assert f"HBOP-{account}" in applied[0]["debt_ids"], applied
    assert [(kind, on) for kind, on in civil.notices(account) if BS_START <= on < BS_END] == []
    kinds = [kind for kind, _ in civil.notices(account)]
    assert kinds[0] == "hbop_decision", kinds
    resumed = civil.first_notice(account, "invoice_reminder")
    assert resumed is not None and resumed >= BS_END, civil.notices(account)
