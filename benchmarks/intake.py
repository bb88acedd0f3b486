"""Payment intake: receipts for many accounts through the payments service, timed from
the first receipt sent until the last payment.allocated is seen on payments.events.v1.

Afterwards enforcement is started on the same events (the bills, then every
payment.allocated and balance.changed) so its memory is measured on real traffic."""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from benchmarks.common import (
    Bench,
    Counter,
    encoded,
    new_group_at_end,
    peak_rss_mb,
    producer,
    send_while_counting,
    wait_consumed,
    wait_for_members,
)
from recovery_shared import topics
from recovery_shared.contracts.common import DebtType, Instalment, LiableParty
from recovery_shared.contracts.inbound import (
    ChargeRaised,
    ChargeRaisedData,
    PaymentChannel,
    PaymentReceived,
    PaymentReceivedData,
)
from tests.processes import process_map

DUE_DATES = [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(4, 14)]
INSTALMENT_PENCE = 15_000


def bills(prefix: str, accounts: int) -> list[ChargeRaised]:
    return [
        ChargeRaised(
            key=f"{prefix}{i:06d}",
            data=ChargeRaisedData(
                debt_id=f"CT-{prefix}{i:06d}-2026",
                account_ref=f"{prefix}{i:06d}",
                debt_type=DebtType.COUNCIL_TAX,
                financial_year="2026/27",
                amount_pence=INSTALMENT_PENCE * len(DUE_DATES),
                bill_issued_on=date(2026, 3, 10),
                instalments=[Instalment(due_date=d, amount_pence=INSTALMENT_PENCE) for d in DUE_DATES],
                liable_party=LiableParty(party_id=f"P-{prefix}{i:06d}", name="Benchmark Resident"),
            ),
        )
        for i in range(accounts)
    ]


def receipts(prefix: str, n: int, accounts: int) -> list[PaymentReceived]:
    channels = [PaymentChannel.DIRECT_DEBIT, PaymentChannel.CARD, PaymentChannel.PAYPOINT]
    return [
        PaymentReceived(
            key=f"{prefix}{i % accounts:06d}",
            data=PaymentReceivedData(
                receipt_ref=f"{prefix}R{i:07d}",
                channel=channels[i % 3],
                amount_pence=INSTALMENT_PENCE,
                received_on=DUE_DATES[min(i // accounts, len(DUE_DATES) - 1)],
                payer_reference=f"{prefix}{i % accounts:06d}",
            ),
        )
        for i in range(n)
    ]


def sample_receipt_bytes() -> bytes:
    sample: bytes = receipts("BENCH-SAMPLE-", 1, 1)[0].to_bytes()
    return sample


async def run(bench: Bench, kind: str, n: int, accounts: int) -> list[dict[str, Any]]:
    prefix = f"{bench.run}{kind[0].upper()}-"
    payments_group = await new_group_at_end(bench, "payments", process_map()["payments"])
    enforcement_group = await new_group_at_end(bench, "enforcement", process_map()["enforcement"])
    payments = bench.service("payments", kind, payments_group, bench.database_url(kind, "payments")).start()
    try:
        await payments.wait_healthy()
        await wait_for_members(bench.bootstrap, payments_group, 1)
        p = producer(bench.bootstrap)
        await p.start()
        try:
            loading_started = time.monotonic()
            for key, value in encoded(list(bills(prefix, accounts))):
                await p.send(topics.BILLING_CHARGES, value, key=key)
            await p.flush()
            await wait_consumed(bench, payments_group, [topics.BILLING_CHARGES], payments, timeout_s=1800)
            loading = time.monotonic() - loading_started

            messages = encoded(list(receipts(prefix, n, accounts)))
            counter = Counter(bench.bootstrap, topics.PAYMENT_EVENTS, "payment.allocated", prefix)
            await counter.start()
            try:
                started, _, finished = await send_while_counting(
                    p, topics.PAYMENT_RECEIPTS, messages, counter, n, timeout_s=1800
                )
            finally:
                await counter.stop()
        finally:
            await p.stop()
        payments_rss = peak_rss_mb(payments.proc.pid) if payments.proc else 0.0
    finally:
        payments.stop()

    seconds = finished - started
    results = [
        {
            "case": "payment intake",
            "database": kind,
            "n": n,
            "accounts": accounts,
            "seconds": round(seconds, 3),
            "rate_per_s": round(n / seconds, 1),
            "bills_loaded_per_s": round(accounts / loading, 1),
            "service": "payments",
            "peak_rss_mb": round(payments_rss, 1),
        }
    ]

    # Enforcement catches up on the same traffic: every bill, then 2 events per receipt.
    enforcement = bench.service("enforcement", kind, enforcement_group, bench.database_url(kind, "enforcement"))
    enforcement.start()
    try:
        await enforcement.wait_healthy()
        started = time.monotonic()
        await wait_consumed(
            bench, enforcement_group, [topics.BILLING_CHARGES, topics.PAYMENT_EVENTS], enforcement, timeout_s=1800
        )
        seconds = time.monotonic() - started
        rss = peak_rss_mb(enforcement.proc.pid) if enforcement.proc else 0.0
    finally:
        enforcement.stop()
    events = accounts + 2 * n
    results.append(
        {
            "case": "enforcement catch-up",
            "database": kind,
            "n": events,
            "seconds": round(seconds, 3),
            "rate_per_s": round(events / seconds, 1),
            "service": "enforcement",
            "peak_rss_mb": round(rss, 1),
        }
    )
    return results
