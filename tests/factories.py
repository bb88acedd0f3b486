"""Builders for test events and records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from recovery_shared.contracts.common import (
    DebtType,
    HbopClassification,
    Instalment,
    LiableParty,
    OverpaymentDecision,
)
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    ChargeRaised,
    ChargeRaisedData,
    DeductionAccepted,
    DeductionAcceptedData,
    DeductionRefused,
    DeductionRefusedData,
    PaymentChannel,
    PaymentReceived,
    PaymentReceivedData,
)
from recovery_shared.contracts.internal import (
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    InstalmentMissed,
    InstalmentMissedData,
)

TEN_MONTHLY = [date(2026, m, 1) for m in range(4, 13)] + [date(2027, 1, 1)]
"""A 2026/27 Council Tax bill's ten instalments, April to January."""


def charge_raised(
    account_ref: str = "1001",
    *,
    debt_id: str | None = None,
    amount_pence: int = 150000,
    debt_type: DebtType = DebtType.COUNCIL_TAX,
    financial_year: str = "2026/27",
    bill_issued_on: date = date(2026, 3, 10),
    party_id: str | None = None,
) -> ChargeRaised:
    return ChargeRaised(
        key=account_ref,
        data=ChargeRaisedData(
            debt_id=debt_id or f"{debt_type.value}-{account_ref}-{financial_year[:4]}",
            account_ref=account_ref,
            debt_type=debt_type,
            financial_year=financial_year,
            amount_pence=amount_pence,
            bill_issued_on=bill_issued_on,
            liable_party=LiableParty(party_id=party_id or f"P-{account_ref}", name="Test Person"),
        ),
    )


@dataclass
class Record:
    """Stands in for aiokafka's ConsumerRecord in tests that do not need a broker."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int = 0
    offset: int = 0
    headers: list[tuple[str, bytes]] = field(default_factory=list)


_offsets: dict[str, int] = {}


def record(topic: str, event: Envelope | bytes, key: str = "1001") -> Record:
    """A record keyed as our relay keys it: by the envelope's key, which the consumer
    checks. ``key`` is for raw bytes, which have no envelope to take it from; a test
    of a wrongly keyed record builds its ``Record`` itself."""
    offset = _offsets[topic] = _offsets.get(topic, -1) + 1
    if isinstance(event, bytes):
        return Record(topic=topic, value=event, key=key.encode(), offset=offset)
    return Record(topic=topic, value=event.to_bytes(), key=event.key.encode(), offset=offset)


def payment_received(
    receipt_ref: str,
    amount_pence: int,
    *,
    reference: str,
    received_on: date = date(2026, 5, 3),
    channel: str = "card",
    directed_debt_id: str | None = None,
) -> PaymentReceived:
    return PaymentReceived(
        key=reference or receipt_ref,
        data=PaymentReceivedData(
            receipt_ref=receipt_ref,
            channel=PaymentChannel(channel),
            amount_pence=amount_pence,
            received_on=received_on,
            payer_reference=reference,
            directed_debt_id=directed_debt_id,
        ),
    )


def statutory_schedule(
    account_ref: str, *, debt_id: str | None = None, due_dates: list[date] = TEN_MONTHLY, amount_pence: int = 15000
) -> ArrangementMade:
    """The statutory schedule arrangements publishes for a bill (arrangement ``ST-<debt>``)."""
    debt = debt_id or f"CT-{account_ref}-2026"
    return ArrangementMade(
        key=account_ref,
        data=ArrangementMadeData(
            arrangement_id=f"ST-{debt}",
            account_ref=account_ref,
            kind=ArrangementKind.STATUTORY,
            debt_ids=[debt],
            instalments=[Instalment(due_date=d, amount_pence=amount_pence) for d in due_dates],
        ),
    )


def instalment_missed(
    account_ref: str,
    *,
    detected_on: date,
    debt_id: str | None = None,
    due_date: date = date(2026, 5, 1),
    amount_pence: int = 15000,
) -> InstalmentMissed:
    """That schedule's instalment found unpaid (the year's first miss)."""
    debt = debt_id or f"CT-{account_ref}-2026"
    return InstalmentMissed(
        key=account_ref,
        data=InstalmentMissedData(
            arrangement_id=f"ST-{debt}",
            account_ref=account_ref,
            debt_ids=[debt],
            due_date=due_date,
            amount_pence=amount_pence,
            overdue_pence=amount_pence,
            misses_this_year=1,
            detected_on=detected_on,
        ),
    )


def overpayment_decision(
    classification: HbopClassification = HbopClassification.CLAIMANT_ERROR,
    *,
    decided_on: date = date(2026, 5, 1),
    could_reasonably_have_realised: bool = True,
) -> OverpaymentDecision:
    """A Housing Benefit overpayment decision as the benefits system sends it."""
    return OverpaymentDecision(
        classification=classification,
        period_start=date(2026, 1, 5),
        period_end=date(2026, 3, 29),
        reason="Earnings from a new job were not reported",
        calculation="12 weeks at £33.33 a week more than was due",
        decided_on=decided_on,
        could_reasonably_have_realised=could_reasonably_have_realised,
    )


def overpayment_raised(
    account_ref: str,
    *,
    debt_id: str,
    amount_pence: int = 42000,
    bill_issued_on: date = date(2026, 6, 3),
    decision: OverpaymentDecision | None = None,
    liable_party: LiableParty | None = None,
) -> ChargeRaised:
    """An HB overpayment's bill: no financial year, no schedule, its decision on it."""
    return ChargeRaised(
        key=account_ref,
        data=ChargeRaisedData(
            debt_id=debt_id,
            account_ref=account_ref,
            debt_type=DebtType.HB_OVERPAYMENT,
            amount_pence=amount_pence,
            bill_issued_on=bill_issued_on,
            liable_party=liable_party or LiableParty(party_id=f"P-{account_ref}", name="Test Person"),
            overpayment=decision or overpayment_decision(),
        ),
    )


def deduction_accepted(
    account_ref: str, request_id: str, debt_id: str, weekly_pence: int, first_on: date, answered_on: date
) -> DeductionAccepted:
    """The DWP's yes to a request to deduct from the person's other benefits."""
    return DeductionAccepted(
        key=account_ref,
        data=DeductionAcceptedData(
            request_id=request_id,
            account_ref=account_ref,
            debt_id=debt_id,
            weekly_pence=weekly_pence,
            first_deduction_on=first_on,
            answered_on=answered_on,
        ),
    )


def deduction_refused(
    account_ref: str, request_id: str, debt_id: str, answered_on: date, reason: str = "No benefit in payment"
) -> DeductionRefused:
    return DeductionRefused(
        key=account_ref,
        data=DeductionRefusedData(
            request_id=request_id, account_ref=account_ref, debt_id=debt_id, reason=reason, answered_on=answered_on
        ),
    )
