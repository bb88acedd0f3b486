"""The main job: a generated council run through the four services for a few months.

    ./recovery.sh run [--ct 3000] [--nndr 300] [--civil 150] [--until 2026-07-31] [--database sqlite|postgresql]

Starts the services as separate processes, loads the council through the
inbound topics, drives business days through clock.days.v1 (playing the
magistrates' court and the enforcement agents from what the services publish, and
one debtor answering a letter before claim), then prints a report and checks the
ledger to the penny.
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import os
import sys
import time
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from demo.council import (
    CIVIL_TYPES,
    DUE_DATES,
    DWP_WEEKLY,
    Account,
    generate,
    remittance,
    reply_asking_for_time,
)
from recovery_shared import topics
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    AgentOutcome,
    CaseReturned,
    CaseReturnedData,
    CourtOutcomeData,
    DayStarted,
    DayStartedData,
    LiabilityOrderGranted,
    PaymentChannel,
)
from recovery_shared.council import load_council_config
from recovery_shared.money import pounds
from tests.factories import deduction_accepted, deduction_refused
from tests.processes import LagProbe, ServiceProcess, process_map, send, start_group_at_end, wait_quiet

FIRST_INSTALMENT = DUE_DATES[0]
WATCHED = [
    topics.PAYMENT_EVENTS,
    topics.ARRANGEMENT_EVENTS,
    topics.ENFORCEMENT_EVENTS,
    topics.NOTICE_REQUESTS,
    topics.NOTICE_EVENTS,
    topics.AGENT_REFERRALS,
    topics.COUNTY_COURT_CLAIMS,
    topics.BENEFITS_DEDUCTION_REQUESTS,
]
CIVIL_NOTICES = [
    "invoice_reminder",
    "dea_employer",
    "dea_remittance_missed",
    "dea_discharged",
    "dwp_deduction_requested",
    "letter_before_claim",
    "notice_of_intention",
]
PAY_DAY_STEP = {"weekly": 7, "fortnightly": 14, "four_weekly": 28}
DWP_PAID_EVERY_DAYS = load_council_config().hbop.dwp_paid_every_days


def _next_month(day: date) -> date:
    year, month = day.year + day.month // 12, day.month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


class CivilDebts:
    """What happened to the sundry ledger's invoices, per debt type, as the services published it."""

    def __init__(self, accounts: list[Account]) -> None:
        self.debt_type = {a.ref: a.debt_type.value for a in accounts}
        self.counts: Counter[tuple[str, str]] = Counter()
        self.pence: Counter[tuple[str, str]] = Counter()
        self.last_balance: dict[str, dict[str, Any]] = {}
        self.letters_before_claim: set[str] = set()
        self.steps: dict[str, Counter[str]] = {}
        self.attachments: dict[str, dict[str, Any]] = {}
        """The DEA notice each employer was sent, by account: what it deducts and from when."""
        self.remitted: Counter[str] = Counter()
        self.dwp_asked: list[dict[str, Any]] = []
        """Requests to the DWP not yet answered; the job answers for the DWP the next day."""
        self.dwp_deducting: dict[str, dict[str, Any]] = {}
        self.on_benefits = {a.ref for a in accounts if a.on_benefits}
        self.paid_short: set[str] = set()

    def record(self, account: str, kind: str, data: dict[str, Any]) -> None:
        debt_type = self.debt_type[account]
        self.counts[debt_type, kind] += 1
        self.steps.setdefault(account, Counter())[kind] += 1
        if kind == "arrangement.made":
            self.pence[debt_type, kind] += sum(i["amount_pence"] for i in data["instalments"])
        elif kind == "claim.referred":
            self.pence[debt_type, kind] += data["amount_pence"]
        elif kind == "balance.changed":
            self.last_balance[account] = data
        elif kind == "notice.requested:letter_before_claim":
            self.letters_before_claim.add(account)
        elif kind == "notice.requested:dea_employer":
            self.attachments[account] = data
        elif kind == "notice.requested:dea_discharged":
            self.attachments.pop(account, None)
        elif kind == "payment.allocated" and data.get("channel") == "direct_earnings_attachment":
            self.pence[debt_type, "employer_remittances"] += data["amount_pence"]
            self.counts[debt_type, "employer_remittances"] += 1
        elif kind == "payment.allocated" and data.get("channel") == "dwp_deduction":
            self.pence[debt_type, "dwp_remittances"] += data["amount_pence"]
            self.counts[debt_type, "dwp_remittances"] += 1
        elif kind == "deduction.requested":
            self.dwp_asked.append(data)
        elif kind == "deduction.cancelled":
            self.dwp_deducting.pop(account, None)

    def dwp_answers(self, day: date) -> list[Envelope]:
        """The DWP's answers, a day after each request: a person on benefits is agreed (at
        the job's £10 a week), the rest have nothing to deduct from."""
        answers: list[Envelope] = []
        for asked in self.dwp_asked:
            account, debt_id = asked["account_ref"], asked["debt_ids"][0]
            if account in self.on_benefits:
                first = day + timedelta(days=7)
                answers.append(deduction_accepted(account, asked["request_id"], debt_id, DWP_WEEKLY, first, day))
                self.dwp_deducting[account] = {**asked, "first": first}
            else:
                answers.append(deduction_refused(account, asked["request_id"], debt_id, day))
        self.dwp_asked = []
        return answers

    def dwp_pays(self, day: date, every_days: int) -> list[tuple[str, str, int]]:
        """Every ``every_days`` from the first deduction the DWP pays over the weeks since."""
        paying = []
        for account, asked in sorted(self.dwp_deducting.items()):
            since = (day - asked["first"]).days
            if since <= 0 or since % every_days:
                continue
            pence = min(-(-every_days // 7) * DWP_WEEKLY, asked["owed_pence"] - self.remitted[account])
            if pence > 0:
                self.remitted[account] += pence
                paying.append((account, asked["debt_ids"][0], pence))
        return paying

    def employers_pay(self, day: date, debt_ids: dict[str, str]) -> list[tuple[str, str, int]]:
        """On the 15th each employer pays over the last month's deductions, as its DEA notice
        set them; every other employer pays only half of its second month, which the
        council follows up after the 19th (SI 2013/384 reg 22)."""
        if day.day != 15:
            return []
        month_end = date(day.year, day.month, 1) - timedelta(days=1)
        paying = []
        for n, (account, notice) in enumerate(sorted(self.attachments.items())):
            first = date.fromisoformat(notice["dates"]["first_pay_day"])
            step = PAY_DAY_STEP.get(notice["template_data"]["pay_frequency"])
            pay_days, pay_day = 0, first
            while pay_day <= month_end:
                pay_days += (pay_day.year, pay_day.month) == (month_end.year, month_end.month)
                pay_day = pay_day + timedelta(days=step) if step else _next_month(pay_day)
            owed = notice["amounts"]["owed"] - self.remitted[account]
            pence = min(pay_days * notice["amounts"]["deduction"], owed)
            second_month = (month_end.year, month_end.month) != (first.year, first.month) and self.remitted[account]
            if n % 2 and second_month and account not in self.paid_short:
                pence //= 2
                self.paid_short.add(account)
            if pence > 0:
                self.remitted[account] += pence
                paying.append((account, debt_ids[account], pence))
        return paying

    def by_type(self, not_recoverable: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        rows: dict[str, dict[str, Any]] = {}
        for debt_type in (t.value for t in CIVIL_TYPES):
            balances = [b for a, b in self.last_balance.items() if self.debt_type[a] == debt_type]
            paid = [b for b in balances if b["paid_pence"] > 0 and b["balance_pence"] <= 0]
            part = [b for b in balances if b["paid_pence"] > 0 and b["balance_pence"] > 0]
            written_off = [o for o in not_recoverable if self.debt_type.get(o["account_ref"]) == debt_type]
            rows[debt_type] = {
                "dwp_remittances": self.counts[debt_type, "dwp_remittances"],
                "dwp_remittances_pence": self.pence[debt_type, "dwp_remittances"],
                "dwp_requests": self.counts[debt_type, "deduction.requested"],
                "dwp_accepted": self.counts[debt_type, "stage:dwp_deduction"],
                "employer_remittances": self.counts[debt_type, "employer_remittances"],
                "employer_remittances_pence": self.pence[debt_type, "employer_remittances"],
                "accounts": sum(1 for t in self.debt_type.values() if t == debt_type),
                "decision_notices": self.counts[debt_type, "notice.requested:hbop_decision"],
                "invoiced": self.counts[debt_type, "arrangement.made"],
                "invoiced_pence": self.pence[debt_type, "arrangement.made"],
                "paid_in_full": len(paid),
                "paid_in_full_pence": sum(b["paid_pence"] for b in paid),
                "part_paid": len(part),
                "part_paid_pence": sum(b["paid_pence"] for b in part),
                **{n: self.counts[debt_type, f"notice.requested:{n}"] for n in CIVIL_NOTICES},
                "claims_referred": self.counts[debt_type, "claim.referred"],
                "claims_referred_pence": self.pence[debt_type, "claim.referred"],
                "held_for_an_officer": self.counts[debt_type, "stage:reply_received"],
                "not_recoverable": len(written_off),
                "not_recoverable_pence": sum(o["amount_pence"] for o in written_off),
            }
        return rows


class Watcher:
    """Reads what the services publish, for the court, the agents, the debtor who replies and the report."""

    def __init__(self, bootstrap: str, run: str, civil: CivilDebts) -> None:
        self.bootstrap = bootstrap
        self.run = run
        self.counts: Counter[str] = Counter()
        self.summonses: list[dict[str, Any]] = []
        self.referrals: list[dict[str, Any]] = []
        self.notice_locations: list[str] = []
        self.civil = civil
        self.ledger_accounts: set[str] = set()
        """Accounts payments has opened a debt or placed money on."""
        self._consumer: AIOKafkaConsumer | None = None

    async def start(self, group: str) -> None:
        await start_group_at_end(self.bootstrap, group, *WATCHED)
        self._consumer = AIOKafkaConsumer(
            *WATCHED,
            bootstrap_servers=self.bootstrap,
            group_id=group,
            enable_auto_commit=True,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()

    async def drain(self) -> None:
        """Read up to the end of every watched topic as it is now, so the counts are exact."""
        consumer = self._consumer
        assert consumer is not None
        while not consumer.assignment():
            self._count(await consumer.getmany(timeout_ms=100, max_records=5000))
        ends = await consumer.end_offsets(list(consumer.assignment()))
        while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
            self._count(await consumer.getmany(timeout_ms=100, max_records=5000))

    def _count(self, batches: dict[Any, list[Any]]) -> None:
        for records in batches.values():
            for r in records:
                if r.key is None or not r.key.decode().startswith(self.run):
                    continue
                event = json.loads(r.value)
                kind = event["type"]
                data = event["data"]
                if kind == "notice.requested":
                    kind = f"notice.requested:{data['notice_type']}"
                elif kind == "stage.changed":
                    kind = f"stage:{data['to_stage']}"
                elif kind == "summons.listed":
                    self.summonses.append(data)
                elif kind == "case.referred":
                    self.referrals.append(data)
                elif kind == "notice.issued":
                    self.notice_locations.append(data["location"])
                elif kind in ("balance.changed", "payment.allocated"):
                    self.ledger_accounts.add(r.key.decode())
                self.counts[kind] += 1
                if r.key.decode() in self.civil.debt_type:
                    self.civil.record(r.key.decode(), kind, data)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()


async def main(args: argparse.Namespace) -> int:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    run = f"D{uuid.uuid4().hex[:6]}"
    workdir = Path(args.workdir) / run
    workdir.mkdir(parents=True, exist_ok=True)
    until = date.fromisoformat(args.until)
    started = time.monotonic()
    council = generate(run, args.ct, args.nndr, until, args.civil)
    # Prompt payers pay April's instalment, and the sundry ledger's invoices, a few days
    # early, so the clock starts with the first receipt.
    first_day = min([FIRST_INSTALMENT, *council.receipts_by_day])
    say(
        f"demo run {run}: {args.ct} Council Tax, {args.nndr} Business Rates and {args.civil} HBOP, TA and "
        "sundry accounts, "
        f"business days {first_day} to {until}, {args.database} databases, files under {workdir}"
    )
    groups = {name: f"recovery-{name}-{run}" for name in process_map()}
    for name, subscribed in process_map().items():
        await start_group_at_end(bootstrap, groups[name], *subscribed)
    procs: dict[str, ServiceProcess] = {}
    for name in process_map():
        extra = {f"{name.upper()}_GROUP_ID": groups[name]}
        if args.database == "postgresql":
            extra[f"{name.upper()}_DATABASE_URL"] = await fresh_postgres_database(f"{name}_{run.lower()}")
        procs[name] = ServiceProcess(name, workdir, bootstrap, group_id=groups[name], extra_env=extra).start()
    watcher = Watcher(bootstrap, run, CivilDebts(council.civil))
    replying = {a.ref: a for a in council.civil if a.ref in council.replying}
    probe = LagProbe(bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=5)
    try:
        for proc in procs.values():
            await proc.wait_healthy()
        say("services healthy: " + ", ".join(f"{n} :{p.port}" for n, p in procs.items()))
        await watcher.start(f"demo-watch-{run}")
        await producer.start()
        await probe.start()

        await send(producer, topics.BILLING_CHARGES, list(council.charges))
        await wait_quiet(probe, procs)
        say(f"loaded {len(council.charges)} bills in {time.monotonic() - started:.1f}s")

        day = first_day
        hearing_outcomes: dict[date, list[dict[str, Any]]] = {}
        agent_returns: dict[date, list[dict[str, Any]]] = {}
        seen_summons = seen_referrals = 0
        while day <= until:
            await send(producer, topics.CLOCK_DAYS, [DayStarted(data=DayStartedData(business_date=day))])
            # The Reply Form comes back the first business day after the letter, well within its 30 days.
            answering = [a for ref, a in replying.items() if ref in watcher.civil.letters_before_claim]
            await send(producer, topics.DEBTOR_REPLIES, [reply_asking_for_time(a, day) for a in answering])
            for a in answering:
                del replying[a.ref]
            # Anything dated before the first business day goes on that day.
            due = [on for on in council.circumstances_by_day if on <= day]
            for on in sorted(due):
                await send(producer, topics.DEBTOR_CIRCUMSTANCES, council.circumstances_by_day.pop(on))
            debt_ids = {a.ref: a.invoice_debt_id for a in council.civil}
            for account, debt_id, pence in watcher.civil.employers_pay(day, debt_ids):
                council.receipts_by_day.setdefault(day, []).append(
                    remittance(account, debt_id, pence, day, PaymentChannel.DIRECT_EARNINGS_ATTACHMENT)
                )
            for account, debt_id, pence in watcher.civil.dwp_pays(day, DWP_PAID_EVERY_DAYS):
                council.receipts_by_day.setdefault(day, []).append(
                    remittance(account, debt_id, pence, day, PaymentChannel.DWP_DEDUCTION)
                )
            await send(producer, topics.BENEFITS_DEDUCTION_RESPONSES, watcher.civil.dwp_answers(day))
            await send(producer, topics.PAYMENT_RECEIPTS, list(council.receipts_by_day.get(day, [])))
            await send(
                producer,
                topics.COURT_OUTCOMES,
                [
                    LiabilityOrderGranted(
                        key=s["account_ref"],
                        data=CourtOutcomeData(
                            summons_id=s["summons_id"], account_ref=s["account_ref"], hearing_date=day, costs_pence=0
                        ),
                    )
                    for s in hearing_outcomes.pop(day, [])
                ],
            )
            await send(
                producer,
                topics.AGENT_RETURNS,
                [
                    CaseReturned(
                        key=r["account_ref"],
                        data=CaseReturnedData(
                            referral_id=r["referral_id"],
                            account_ref=r["account_ref"],
                            agent=r["agent"],
                            outcome=AgentOutcome.NULLA_BONA if i % 3 == 0 else AgentOutcome.PART_PAID,
                            returned_on=day,
                        ),
                    )
                    for i, r in enumerate(agent_returns.pop(day, []))
                ],
            )
            await wait_quiet(probe, procs)
            await watcher.drain()
            # The court grants the orders at each hearing; agents report back after four weeks.
            for s in watcher.summonses[seen_summons:]:
                hearing_outcomes.setdefault(date.fromisoformat(s["hearing_date"]), []).append(s)
            seen_summons = len(watcher.summonses)
            for r in watcher.referrals[seen_referrals:]:
                agent_returns.setdefault(date.fromisoformat(r["referred_on"]) + timedelta(days=28), []).append(r)
            seen_referrals = len(watcher.referrals)
            if day.day in (1, 15) or day == until:
                c = watcher.counts
                say(
                    f"{day}  {time.monotonic() - started:6.1f}s  allocated {c['payment.allocated']:6d}  "
                    f"missed {c['instalment.missed']:5d}  reminders {c['notice.requested:reminder']:4d}/"
                    f"{c['notice.requested:second_reminder']:4d}  summonses {c['summons.listed']:4d}  "
                    f"orders {c['liability-order.recorded']:4d}  referrals {c['case.referred']:4d}  "
                    f"county claims {c['claim.referred']:3d}"
                )
            day += timedelta(days=1)

        await watcher.drain()
        ledger = await ledger_report(procs["payments"])
        not_recoverable = await officer_list(procs["enforcement"], "/officer/overpayments/not-recoverable")
        civil = watcher.civil.by_type(not_recoverable["overpayments"])
        checks = ledger_checks(council, ledger)
        # An overpayment the law leaves with the claimant must never reach the ledger.
        checks["no_debt_for_a_not_recoverable_overpayment"] = not (
            {a.ref for a in council.civil if a.not_recoverable} & watcher.ledger_accounts
        )
        report(council, watcher, ledger, civil, checks, workdir, time.monotonic() - started)
        summary = {
            "run": run,
            "counts": dict(watcher.counts),
            "civil": civil,
            "replied": [dict(watcher.civil.steps.get(ref, {})) for ref in sorted(council.replying)],
            "not_recoverable": not_recoverable,
            "ledger": ledger,
            "checks": checks,
        }
        (workdir / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
        return 0 if all(checks.values()) else 1
    finally:
        await producer.stop()
        await probe.stop()
        await watcher.stop()
        for proc in procs.values():
            proc.stop()


async def fresh_postgres_database(name: str) -> str:
    """A new database on the project's PostgreSQL (deploy/postgres.sh) for this run."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    process = await asyncio.create_subprocess_exec(
        "bash", "deploy/postgres.sh", "url", "postgres", stdout=asyncio.subprocess.PIPE
    )
    admin_url = (await process.communicate())[0].decode().strip()
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


async def ledger_report(payments: ServiceProcess) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{payments.port}/ledger", timeout=30)
        result: dict[str, Any] = response.json()
        return result


async def officer_list(service: ServiceProcess, route: str) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{service.port}{route}", timeout=30)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


def ledger_checks(council: Any, ledger: dict[str, Any]) -> dict[str, bool]:
    """Checked against what the channels sent, not only the ledger's own sums: each
    receipt counted once however many copies were delivered, and in any order."""
    unique = {r.data.receipt_ref: r.data.amount_pence for day in council.receipts_by_day.values() for r in day}
    recorded = sum(v["count"] for v in ledger["receipts"].values())
    return {
        "every_receipt_recorded_once": recorded == len(unique),
        "received_matches_channels": ledger["received_pence"] == sum(unique.values()),
        "every_penny_placed_once": bool(ledger["balanced"]),
    }


def report(
    council: Any,
    watcher: Watcher,
    ledger: dict[str, Any],
    civil: dict[str, dict[str, Any]],
    checks: dict[str, bool],
    workdir: Path,
    elapsed: float,
) -> None:
    c = watcher.counts
    sent_receipts = sum(len(v) for v in council.receipts_by_day.values())
    folders = sorted({str(Path(p).parent.parent) for p in watcher.notice_locations})
    lines = [
        "",
        "=== Demo council report ===",
        f"charges raised           {len(council.charges):8d}",
        f"receipts sent            {sent_receipts:8d}  (of which {council.duplicates} duplicate copies, "
        f"{council.unknown_references} with a mistyped reference)",
        f"receipts recorded        {sum(v['count'] for v in ledger['receipts'].values()):8d}",
        f"allocations              {c['payment.allocated']:8d}   "
        f"{pounds(ledger['allocated_to_debts_pence'])} to debts, {pounds(ledger['held_as_credit_pence'])} as credit",
        f"suspense                 {c['payment.suspended']:8d}   {pounds(ledger['suspended_pence'])}",
        f"instalments missed       {c['instalment.missed']:8d}",
        f"reminders                {c['notice.requested:reminder']:8d}",
        f"second reminders         {c['notice.requested:second_reminder']:8d}",
        f"NNDR further notices     {c['notice.requested:nndr_further_notice']:8d}",
        f"balances fallen due      {c['balance.fell-due']:8d}",
        f"final notices            {c['notice.requested:final_notice']:8d}",
        f"summonses                {c['summons.listed']:8d}",
        f"liability orders         {c['liability-order.recorded']:8d}",
        f"agent referrals          {c['case.referred']:8d}",
        f"breathing space holds    {c['hold.applied']:8d}",
        f"notices rendered         {c['notice.issued']:8d}   under {', '.join(folders) or workdir}",
        f"notices failed           {c['notice.failed']:8d}",
        "",
        *civil_rows(civil),
        "",
        f"ledger: received {pounds(ledger['received_pence'])} = allocated {pounds(ledger['allocated_to_debts_pence'])}"
        f" + credit {pounds(ledger['held_as_credit_pence'])} + suspense {pounds(ledger['suspended_pence'])}"
        f" + reversed {pounds(ledger['reversed_pence'])}; receipts out of balance: {ledger['receipts_out_of_balance']}",
        "ledger check: "
        + (
            "PASSED - every receipt recorded once, every penny placed exactly once, and no debt opened for an"
            " overpayment that is not recoverable"
            if all(checks.values())
            else "FAILED: " + ", ".join(k for k, ok in checks.items() if not ok)
        ),
        f"elapsed {elapsed:.0f}s",
    ]
    say("\n".join(lines))


def civil_rows(civil: dict[str, dict[str, Any]]) -> list[str]:
    """HBOP, TA and sundry debt side by side: how many, and the money, at each step of the civil ladder."""
    types = list(civil)

    def row(label: str, count: str, pence: str | None = None) -> str:
        cells = [
            f"{civil[t][count]:6d} {pounds(civil[t][pence]) if pence else '':>12}".rstrip().ljust(20) for t in types
        ]
        return f"  {label:<24}" + "".join(cells).rstrip()

    return [
        "civil recovery           " + "".join(f"{t:<20}" for t in types).rstrip(),
        row("accounts", "accounts"),
        row("decision notices", "decision_notices"),
        row("invoiced", "invoiced", "invoiced_pence"),
        row("paid in full", "paid_in_full", "paid_in_full_pence"),
        row("part paid", "part_paid", "part_paid_pence"),
        row("invoice reminders", "invoice_reminder"),
        row("DEA notices to employers", "dea_employer"),
        row("employer remittances", "employer_remittances", "employer_remittances_pence"),
        row("remittances chased", "dea_remittance_missed"),
        row("DEAs discharged", "dea_discharged"),
        row("DWP deductions asked", "dwp_requests"),
        row("DWP deductions agreed", "dwp_accepted"),
        row("DWP remittances", "dwp_remittances", "dwp_remittances_pence"),
        row("letters before claim", "letter_before_claim"),
        row("notices of intention", "notice_of_intention"),
        row("claims referred", "claims_referred", "claims_referred_pence"),
        row("held for an officer", "held_for_an_officer"),
        row("not recoverable", "not_recoverable", "not_recoverable_pence"),
    ]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./recovery.sh run", description=__doc__)
    parser.add_argument("--ct", type=int, default=3000, help="Council Tax accounts")
    parser.add_argument("--nndr", type=int, default=300, help="Business Rates accounts")
    parser.add_argument("--civil", type=int, default=150, help="HBOP, TA and sundry accounts, a third of each")
    parser.add_argument("--until", default="2026-07-31", help="last business date to run")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workdir", default="var/demo")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
