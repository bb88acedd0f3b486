"""A generated council: Council Tax and Business Rates accounts with believable habits.

Deterministic for a seed, so two runs load the same council.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from recovery_shared.contracts.common import DebtType, Instalment, LiableParty
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    ChargeRaised,
    ChargeRaisedData,
    CircumstanceData,
    PaymentChannel,
    PaymentReceived,
    PaymentReceivedData,
)
from recovery_shared.money import split_evenly

YEAR = "2026/27"
BILLED_ON = date(2026, 3, 10)
DUE_DATES = [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(4, 14)]  # 1 April .. 1 January


@dataclass
class Account:
    ref: str
    debt_type: DebtType
    habit: str  # on_time | late | stops | breathing_space
    annual_pence: int
    instalments: list[int] = field(default_factory=list)
    stops_after: int = 10
    late_days: int = 0


@dataclass
class Council:
    accounts: list[Account]
    charges: list[ChargeRaised]
    receipts_by_day: dict[date, list[PaymentReceived]]
    circumstances_by_day: dict[date, list[Envelope]]
    duplicates: int
    unknown_references: int


def generate(run: str, ct_accounts: int, nndr_accounts: int, until: date, seed: int = 2026) -> Council:
    rng = random.Random(seed)
    accounts: list[Account] = []
    for i in range(ct_accounts + nndr_accounts):
        is_ct = i < ct_accounts
        debt_type = DebtType.COUNCIL_TAX if is_ct else DebtType.BUSINESS_RATES
        annual = rng.randint(90_000, 320_000) if is_ct else rng.randint(300_000, 4_000_000)
        roll = rng.random()
        habit = "on_time" if roll < 0.78 else "late" if roll < 0.9 else "stops" if roll < 0.97 else "breathing_space"
        account = Account(f"{run}-{'C' if is_ct else 'B'}{i:05d}", debt_type, habit, annual)
        account.instalments = split_evenly(annual, len(DUE_DATES))
        account.stops_after = rng.randint(1, 4)
        account.late_days = rng.randint(2, 5) if habit == "late" else rng.randint(9, 20)
        accounts.append(account)

    charges = [
        ChargeRaised(
            key=a.ref,
            data=ChargeRaisedData(
                debt_id=f"{a.debt_type.value}-{a.ref}-2026",
                account_ref=a.ref,
                debt_type=a.debt_type,
                financial_year=YEAR,
                amount_pence=a.annual_pence,
                bill_issued_on=BILLED_ON,
                instalments=[
                    Instalment(due_date=d, amount_pence=p) for d, p in zip(DUE_DATES, a.instalments, strict=True)
                ],
                liable_party=LiableParty(party_id=f"P-{a.ref}", name=f"Resident {a.ref}", address_lines=["1 High St"]),
            ),
        )
        for a in accounts
    ]

    receipts: dict[date, list[PaymentReceived]] = {}
    circumstances: dict[date, list[Envelope]] = {}
    duplicates = unknown = 0
    counter = 0
    for a in accounts:
        for n, (due, amount) in enumerate(zip(DUE_DATES, a.instalments, strict=True)):
            if a.habit == "stops" and n >= a.stops_after:
                break
            if a.habit == "breathing_space" and n == a.stops_after:
                start = due + timedelta(days=rng.randint(3, 6))
                ref = a.ref
                circumstances.setdefault(start, []).append(
                    BreathingSpaceStarted(
                        key=ref,
                        data=BreathingSpaceStartedData(
                            party_id=f"P-{ref}",
                            account_ref=ref,
                            effective_on=start,
                            expected_end=start + timedelta(days=60),
                        ),
                    )
                )
                circumstances.setdefault(start + timedelta(days=60), []).append(
                    BreathingSpaceEnded(
                        key=ref,
                        data=CircumstanceData(
                            party_id=f"P-{ref}", account_ref=ref, effective_on=start + timedelta(days=60)
                        ),
                    )
                )
                break
            paid_on = due - timedelta(days=rng.randint(0, 3))
            if a.habit == "late" and rng.random() < 0.5:
                paid_on = due + timedelta(days=a.late_days)
            if paid_on > until:
                break
            counter += 1
            reference = a.ref
            if rng.random() < 0.005:
                reference = a.ref.replace("-", "")  # a mistyped reference: suspense
                unknown += 1
            receipt = PaymentReceived(
                key=reference,
                data=PaymentReceivedData(
                    receipt_ref=f"{a.ref}-R{n:02d}",
                    channel=rng.choice([PaymentChannel.DIRECT_DEBIT, PaymentChannel.CARD, PaymentChannel.PAYPOINT]),
                    amount_pence=amount,
                    received_on=paid_on,
                    payer_reference=reference,
                ),
            )
            receipts.setdefault(paid_on, []).append(receipt)
            if rng.random() < 0.02:
                # The channel sends the same receipt again, sometimes days later.
                duplicates += 1
                receipts.setdefault(paid_on + timedelta(days=rng.randint(0, 3)), []).append(
                    PaymentReceived(key=receipt.key, data=receipt.data)
                )
    for day in receipts.values():
        rng.shuffle(day)  # channels deliver out of order
    return Council(accounts, charges, receipts, circumstances, duplicates, unknown)
