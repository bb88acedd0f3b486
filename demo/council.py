"""A generated council: Council Tax and Business Rates accounts with believable habits,
and the sundry ledger's invoices (Housing Benefit overpayments, Temporary Accommodation
charges, sundry debt) recovered through the civil ladder to a county court claim.

Deterministic for a seed, so two runs load the same council.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

from recovery_shared.contracts.common import (
    DebtType,
    HbopClassification,
    Instalment,
    LiableParty,
    OverpaymentDecision,
    PayFrequency,
)
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    BreathingSpaceEnded,
    BreathingSpaceStarted,
    BreathingSpaceStartedData,
    ChargeRaised,
    ChargeRaisedData,
    CircumstanceData,
    EmploymentReported,
    EmploymentReportedData,
    LetterBeforeClaimReplied,
    LetterBeforeClaimRepliedData,
    PaymentChannel,
    PaymentReceived,
    PaymentReceivedData,
    ReplyKind,
)
from recovery_shared.council import load_council_config
from recovery_shared.money import split_evenly
from recovery_shared.statute.housing_benefit import is_recoverable
from tests.factories import payment_received

YEAR = "2026/27"
BILLED_ON = date(2026, 3, 10)
DUE_DATES = [date(2026 + (m > 12), (m - 1) % 12 + 1, 1) for m in range(4, 14)]  # 1 April .. 1 January
# The sundry ledger's invoices go out with the annual bills, so the whole civil ladder (about
# ten weeks from the invoice falling due to the claim) fits inside the small main job's days.
INVOICED_ON = BILLED_ON
CIVIL_TYPES = [DebtType.HB_OVERPAYMENT, DebtType.TEMPORARY_ACCOMMODATION, DebtType.SUNDRY]
CIVIL_LETTER = {DebtType.HB_OVERPAYMENT: "H", DebtType.TEMPORARY_ACCOMMODATION: "T", DebtType.SUNDRY: "S"}
CIVIL_AMOUNTS = {
    DebtType.HB_OVERPAYMENT: (20_000, 450_000),
    DebtType.TEMPORARY_ACCOMMODATION: (30_000, 250_000),
    DebtType.SUNDRY: (5_000, 120_000),
}
# Taken in turn, not at random, so even the small main job has every one of them.
# In work: never pays the invoice, but the person's employer is known, so an overpayment
# goes to a Direct Earnings Attachment (TA and sundry debts still go to a claim).
CIVIL_HABITS = ["on_time", "never_pays", "part_paid", "late", "in_work"]
# Found out while the invoice runs (HMRC's records, say), after the job's first business day.
EMPLOYMENT_REPORTED_ON = date(2026, 3, 23)
# (pay frequency, net pay a pay-day, next pay-day): a few of the table's bands.
EARNINGS = [
    (PayFrequency.WEEKLY, 30_000, date(2026, 3, 13)),
    (PayFrequency.MONTHLY, 150_000, date(2026, 3, 27)),
    (PayFrequency.WEEKLY, 60_000, date(2026, 3, 12)),
    (PayFrequency.FOUR_WEEKLY, 110_000, date(2026, 3, 20)),
]
HBOP_CAUSES = [
    (HbopClassification.CLAIMANT_ERROR, True, "A change in earnings was not reported"),
    (HbopClassification.FRAUD, True, "A partner living in the home was not declared"),
    (HbopClassification.COUNCIL_OFFICIAL_ERROR, False, "The council did not act on a reported change of rent"),
    (HbopClassification.CLAIMANT_ERROR, True, "Savings above the limit were not declared"),
]


@dataclass
class Account:
    ref: str
    debt_type: DebtType
    habit: str  # on_time | late | stops | breathing_space
    annual_pence: int
    instalments: list[int] = field(default_factory=list)
    stops_after: int = 10
    late_days: int = 0
    overpayment: OverpaymentDecision | None = None
    on_benefits: bool = False
    """Gets a DWP benefit the DWP can deduct an overpayment from (the job's DWP agrees)."""

    @property
    def invoice_debt_id(self) -> str:
        return f"{self.debt_type.value}-{self.ref}"

    @property
    def not_recoverable(self) -> bool:
        o = self.overpayment
        return o is not None and not is_recoverable(o.classification, o.could_reasonably_have_realised)


@dataclass
class Council:
    accounts: list[Account]
    charges: list[ChargeRaised]
    receipts_by_day: dict[date, list[PaymentReceived]]
    circumstances_by_day: dict[date, list[Envelope]]
    duplicates: int
    unknown_references: int
    civil: list[Account] = field(default_factory=list)
    replying: set[str] = field(default_factory=set)
    """The people who answer their letter before claim (the Reply Form, asking for time)."""


def generate(
    run: str, ct_accounts: int, nndr_accounts: int, until: date, civil_accounts: int = 0, seed: int = 2026
) -> Council:
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
    civil = civil_invoices(run, civil_accounts, rng)
    charges += [invoice(a) for a in civil]
    for a in civil:
        for n, (paid_on, amount) in enumerate(civil_receipts(a, rng)):
            if paid_on <= until:
                receipts.setdefault(paid_on, []).append(
                    PaymentReceived(
                        key=a.ref,
                        data=PaymentReceivedData(
                            receipt_ref=f"{a.ref}-R{n:02d}",
                            channel=rng.choice([PaymentChannel.CARD, PaymentChannel.BANK_TRANSFER]),
                            amount_pence=amount,
                            received_on=paid_on,
                            payer_reference=a.ref,
                        ),
                    )
                )
    for nth, a in enumerate(x for x in civil if x.habit == "in_work"):
        frequency, net, next_pay_day = EARNINGS[nth % len(EARNINGS)]
        circumstances.setdefault(EMPLOYMENT_REPORTED_ON, []).append(employed(a, frequency, net, next_pay_day))
    # One person answers: the first sundry debtor who never pays.
    replying = {a.ref for a in civil if a.debt_type == DebtType.SUNDRY and a.habit == "never_pays"}
    replying = set(sorted(replying)[:1])
    for day in receipts.values():
        rng.shuffle(day)  # channels deliver out of order
    return Council(accounts, charges, receipts, circumstances, duplicates, unknown, civil, replying)


def civil_invoices(run: str, count: int, rng: random.Random) -> list[Account]:
    accounts: list[Account] = []
    for i in range(count):
        debt_type = CIVIL_TYPES[i % len(CIVIL_TYPES)]
        nth = i // len(CIVIL_TYPES)
        a = Account(
            f"{run}-{CIVIL_LETTER[debt_type]}{i:05d}",
            debt_type,
            CIVIL_HABITS[nth % len(CIVIL_HABITS)],
            rng.randint(*CIVIL_AMOUNTS[debt_type]),
        )
        if debt_type == DebtType.HB_OVERPAYMENT:
            classification, realised, reason = HBOP_CAUSES[nth % len(HBOP_CAUSES)]
            a.overpayment = OverpaymentDecision(
                classification=classification,
                period_start=date(2025, 10, 6),
                period_end=date(2026, 1, 4),
                reason=reason,
                calculation=f"13 weeks overpaid, {a.annual_pence} pence in all",
                decided_on=INVOICED_ON - timedelta(days=3),
                could_reasonably_have_realised=realised,
            )
            if a.not_recoverable:
                a.habit = "not_owed"
            # Part payers are on benefits; the DWP refuses the rest (nothing to deduct from).
            a.on_benefits = a.habit == "part_paid"
        a.late_days = rng.randint(8, 14)
        accounts.append(a)
    return accounts


def invoice(a: Account) -> ChargeRaised:
    return ChargeRaised(
        key=a.ref,
        data=ChargeRaisedData(
            debt_id=a.invoice_debt_id,
            account_ref=a.ref,
            debt_type=a.debt_type,
            amount_pence=a.annual_pence,
            bill_issued_on=INVOICED_ON,
            liable_party=LiableParty(party_id=f"P-{a.ref}", name=f"Resident {a.ref}", address_lines=["1 High St"]),
            overpayment=a.overpayment,
        ),
    )


def civil_receipts(a: Account, rng: random.Random) -> list[tuple[date, int]]:
    """On time pays in full before the invoice falls due; part paid pays a third of it then
    nothing more; late pays in full once reminded; never pays goes all the way to a claim."""
    due = INVOICED_ON + timedelta(days=load_council_config().instalments.invoice_terms(a.debt_type))
    if a.habit == "on_time":
        return [(due - timedelta(days=rng.randint(0, 5)), a.annual_pence)]
    if a.habit == "part_paid":
        return [(due - timedelta(days=rng.randint(0, 5)), a.annual_pence // 3)]
    if a.habit == "late":
        return [(due + timedelta(days=a.late_days), a.annual_pence)]
    return []


def employed(a: Account, frequency: PayFrequency, net_pence: int, next_pay_day: date) -> EmploymentReported:
    return EmploymentReported(
        key=a.ref,
        data=EmploymentReportedData(
            party_id=f"P-{a.ref}",
            account_ref=a.ref,
            employer_ref=f"EMP-{a.ref}",
            employer_name=f"Employer of {a.ref} Ltd",
            employer_address=["Payroll Department", "2 Works Road"],
            pay_frequency=frequency,
            net_earnings_pence=net_pence,
            next_pay_day=next_pay_day,
            reported_on=EMPLOYMENT_REPORTED_ON,
        ),
    )


DWP_WEEKLY = 1000
"""What the job's DWP deducts a week from the people with a benefit to deduct from."""


def remittance(account_ref: str, debt_id: str, pence: int, on: date, channel: PaymentChannel) -> PaymentReceived:
    """What an employer (under a DEA) or the DWP pays over, quoting the debt."""
    return payment_received(
        f"{account_ref}-{channel.value}-{on.isoformat()}",
        pence,
        reference=account_ref,
        received_on=on,
        channel=channel.value,
        directed_debt_id=debt_id,
    )


def reply_asking_for_time(a: Account, on: date) -> LetterBeforeClaimReplied:
    return LetterBeforeClaimReplied(
        key=a.ref,
        data=LetterBeforeClaimRepliedData(
            account_ref=a.ref, debt_id=a.invoice_debt_id, replied_on=on, reply=ReplyKind.NEEDS_TIME, offer_pence=2_000
        ),
    )
