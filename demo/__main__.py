"""The main job: a generated council run through the four services for a few months.

    ./recovery.sh run [--ct 3000] [--nndr 300] [--until 2026-07-31] [--database sqlite|postgresql]

Starts the services as separate processes, loads the council through the
inbound topics, drives business days through clock.days.v1 (playing the
magistrates' court and the enforcement agents from what the services publish),
then prints a report and checks the ledger to the penny.
"""

from __future__ import annotations

import argparse
import asyncio
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

from demo.council import DUE_DATES, generate
from recovery_shared import topics
from recovery_shared.contracts.inbound import (
    AgentOutcome,
    CaseReturned,
    CaseReturnedData,
    CourtOutcomeData,
    DayStarted,
    DayStartedData,
    LiabilityOrderGranted,
)
from recovery_shared.money import pounds
from tests.processes import LagProbe, ServiceProcess, process_map, send, start_group_at_end, wait_quiet

FIRST_INSTALMENT = DUE_DATES[0]
WATCHED = [
    topics.PAYMENT_EVENTS,
    topics.ARRANGEMENT_EVENTS,
    topics.ENFORCEMENT_EVENTS,
    topics.NOTICE_REQUESTS,
    topics.NOTICE_EVENTS,
    topics.AGENT_REFERRALS,
]


def say(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


class Watcher:
    """Reads what the services publish, for the court, the agents and the report."""

    def __init__(self, bootstrap: str, run: str) -> None:
        self.bootstrap = bootstrap
        self.run = run
        self.counts: Counter[str] = Counter()
        self.summonses: list[dict[str, Any]] = []
        self.referrals: list[dict[str, Any]] = []
        self.notice_locations: list[str] = []
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
                self.counts[kind] += 1

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
    council = generate(run, args.ct, args.nndr, until)
    # Prompt payers pay April's instalment a few days early, so the clock starts with the first receipt.
    first_day = min([FIRST_INSTALMENT, *council.receipts_by_day])
    say(
        f"demo run {run}: {args.ct} Council Tax and {args.nndr} Business Rates accounts, "
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
    watcher = Watcher(bootstrap, run)
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
            await send(producer, topics.DEBTOR_CIRCUMSTANCES, council.circumstances_by_day.get(day, []))
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
                    f"orders {c['liability-order.recorded']:4d}  referrals {c['case.referred']:4d}"
                )
            day += timedelta(days=1)

        await watcher.drain()
        ledger = await ledger_report(procs["payments"])
        checks = ledger_checks(council, ledger)
        report(council, watcher, ledger, checks, workdir, time.monotonic() - started)
        summary = {"run": run, "counts": dict(watcher.counts), "ledger": ledger, "checks": checks}
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
    council: Any, watcher: Watcher, ledger: dict[str, Any], checks: dict[str, bool], workdir: Path, elapsed: float
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
        f"ledger: received {pounds(ledger['received_pence'])} = allocated {pounds(ledger['allocated_to_debts_pence'])}"
        f" + credit {pounds(ledger['held_as_credit_pence'])} + suspense {pounds(ledger['suspended_pence'])}"
        f" + reversed {pounds(ledger['reversed_pence'])}; receipts out of balance: {ledger['receipts_out_of_balance']}",
        "ledger check: "
        + (
            "PASSED - every receipt recorded once and every penny placed exactly once"
            if all(checks.values())
            else "FAILED: " + ", ".join(k for k, ok in checks.items() if not ok)
        ),
        f"elapsed {elapsed:.0f}s",
    ]
    say("\n".join(lines))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="./recovery.sh run", description=__doc__)
    parser.add_argument("--ct", type=int, default=3000, help="Council Tax accounts")
    parser.add_argument("--nndr", type=int, default=300, help="Business Rates accounts")
    parser.add_argument("--until", default="2026-07-31", help="last business date to run")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--workdir", default="var/demo")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
