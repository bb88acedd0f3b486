"""Payments' use cases with the in-memory ledger: each message delivered as the
kernel delivers it (the route table's prefetch, then the routed use case, then
commit; a refusal rolls the unit back).

The ledger's invariant (design §5): every penny received is allocated, held in
suspense or reversed exactly once. Allocation follows the council's policy
(domain §10): directed debt first (R v Miskin Lower Justices (1953) [S52]), an
exact current-year instalment match next [S52b], then oldest debt first.
"""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recovery_payments.app import ROUTES
from recovery_payments.handlers import Payments
from recovery_shared.contracts.common import DebtType, Instalment
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import (
    ChargeAdjusted,
    ChargeAdjustedData,
    DirectDebitUnpaid,
    DirectDebitUnpaidData,
    PaymentChannel,
)
from recovery_shared.contracts.internal import (
    AllocationRule,
    ArrangementKind,
    ArrangementMade,
    ArrangementMadeData,
    BalanceChanged,
    CostsAdded,
    CostsAddedData,
    PaymentAllocated,
    PaymentReversed,
    PaymentSuspended,
)
from recovery_shared.council import load_council_config
from recovery_shared.refusal import Refused
from tests.factories import charge_raised, payment_received
from tests.unit.fakes.payments import FakeLedger

PAYMENTS = Payments(load_council_config().allocation)
MAY = date(2026, 5, 3)
BANK = PaymentChannel.BANK_TRANSFER


async def deliver(uow: FakeLedger, *batch: Envelope) -> None:
    """One batch, as the kernel handles it."""
    routed = [(ROUTES.route_for(type(e)), e) for e in batch]
    async with uow:
        assert ROUTES.prefetch is not None
        await ROUTES.prefetch(PAYMENTS, uow, [e for route, e in routed if route is not None])
        for route, event in routed:
            if route is not None:
                await route.use_case(PAYMENTS, uow, event)
        await uow.commit()


def with_schedule(account: str, instalment: int, count: int = 10) -> Envelope:
    bill = charge_raised(account, amount_pence=instalment * count)
    months = range(4, 4 + count)
    schedule = [
        Instalment(due_date=date(2026 + (m > 12), (m - 1) % 12 + 1, 1), amount_pence=instalment) for m in months
    ]
    return bill.model_copy(update={"data": bill.data.model_copy(update={"instalments": schedule})})


async def totals_balance(uow: FakeLedger) -> bool:
    return (await uow.reconciliation.totals()).balanced


# --- receipts -----------------------------------------------------------------------


async def test_a_receipt_is_allocated_to_the_account_its_payer_quotes() -> None:
    uow = FakeLedger()
    bill = charge_raised("5001", amount_pence=100000)
    paid = payment_received("CARD-1", 15000, reference="5001")
    await deliver(uow, bill)
    await deliver(uow, paid)

    assert uow.state.debts["CT-5001-2026"].paid_pence == 15000
    (allocated,) = uow.published(PaymentAllocated)
    assert allocated.data.parts[0].debt_id == "CT-5001-2026" and allocated.data.parts[0].amount_pence == 15000
    assert allocated.causation_id == paid.event_id and allocated.correlation_id == paid.event_id
    balances = [b.data for b in uow.published(BalanceChanged)]
    assert [(b.debt_id, b.paid_pence, b.balance_pence) for b in balances][-1] == ("CT-5001-2026", 15000, 85000)
    assert await totals_balance(uow)


async def test_a_receipt_no_account_matches_waits_in_suspense() -> None:
    uow = FakeLedger()
    await deliver(uow, payment_received("PP-1", 2500, reference="NO-SUCH-ACCOUNT", channel="paypoint"))
    (suspended,) = uow.published(PaymentSuspended)
    assert "'NO-SUCH-ACCOUNT'" in suspended.data.reason
    assert uow.state.receipts[("paypoint", "PP-1")].status == "suspended"
    totals = await uow.reconciliation.totals()
    assert (totals.suspended_pence, totals.balanced) == (2500, True)


async def test_a_second_copy_of_a_receipt_changes_nothing() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5001"))
    paid = payment_received("CARD-1", 15000, reference="5001")
    await deliver(uow, paid, paid.model_copy(update={"event_id": uuid.uuid4()}))  # in the same batch
    await deliver(uow, paid.model_copy(update={"event_id": uuid.uuid4()}))  # in a later one
    assert uow.state.debts["CT-5001-2026"].paid_pence == 15000
    assert len(uow.published(PaymentAllocated)) == 1
    assert len(uow.state.lines) == 1


async def test_a_copy_that_disagrees_with_the_receipt_on_file_is_refused_and_changes_nothing() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5002"))
    await deliver(uow, payment_received("CARD-9", 1000, reference="5002"))
    with pytest.raises(Refused, match="already recorded with a different amount or date; correct it with a reversal"):
        await deliver(uow, payment_received("CARD-9", 9999, reference="5002"))
    assert uow.state.debts["CT-5002-2026"].paid_pence == 1000
    assert uow.state.receipts[("card", "CARD-9")].amount_pence == 1000


async def test_the_same_reference_from_another_channel_is_another_receipt() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5003"))
    await deliver(
        uow,
        payment_received("R-1", 1000, reference="5003"),
        payment_received("R-1", 1000, reference="5003", channel="paypoint"),
    )
    assert uow.state.debts["CT-5003-2026"].paid_pence == 2000


async def test_money_before_its_bill_waits_in_suspense_and_is_allocated_when_the_bill_comes() -> None:
    uow = FakeLedger()
    early = payment_received("PP-1", 4000, reference="5004", received_on=date(2026, 3, 1), channel="paypoint")
    bill = charge_raised("5004")
    await deliver(uow, early)
    assert (await uow.reconciliation.totals()).suspended_pence == 4000
    await deliver(uow, bill)

    assert uow.state.debts["CT-5004-2026"].paid_pence == 4000
    (allocated,) = uow.published(PaymentAllocated)
    assert allocated.data.received_on == date(2026, 3, 1) and allocated.causation_id == bill.event_id
    assert uow.state.lines[0].on == date(2026, 3, 1)
    totals = await uow.reconciliation.totals()
    assert (totals.suspended_pence, totals.allocated_to_debts_pence, totals.balanced) == (0, 4000, True)


async def test_money_and_its_bill_in_one_batch_are_allocated_once() -> None:
    uow = FakeLedger()
    await deliver(uow, payment_received("PP-2", 4000, reference="5005"), charge_raised("5005"), charge_raised("5005"))
    assert uow.state.debts["CT-5005-2026"].paid_pence == 4000
    assert len(uow.published(PaymentAllocated)) == 1


async def test_a_payment_matching_an_instalment_goes_to_this_year_and_a_direction_is_obeyed() -> None:
    uow = FakeLedger()
    arrears = charge_raised("5006", amount_pence=20000, financial_year="2025/26", bill_issued_on=date(2025, 3, 10))
    sundry = charge_raised("5006", debt_id="SUN-5006", amount_pence=5000, debt_type=DebtType.SUNDRY)
    await deliver(uow, with_schedule("5006", 15000), arrears, sundry)
    await deliver(
        uow,
        payment_received("CARD-1", 15000, reference="5006"),
        payment_received("BT-2", 3000, reference="", channel="bank_transfer", directed_debt_id="SUN-5006"),
        payment_received("CARD-3", 16000, reference="5006"),
    )
    rules = [
        (a.data.receipt_ref, a.data.rule, [(p.debt_id, p.amount_pence) for p in a.data.parts])
        for a in uow.published(PaymentAllocated)
    ]
    assert rules == [
        ("CARD-1", AllocationRule.INSTALMENT_MATCH, [("CT-5006-2026", 15000)]),
        ("BT-2", AllocationRule.DIRECTED, [("SUN-5006", 3000)]),
        ("CARD-3", AllocationRule.POLICY_ORDER, [("CT-5006-2025", 16000)]),
    ]


async def test_a_payment_quoting_one_account_but_directed_at_another_accounts_debt_waits_in_suspense() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5030"), charge_raised("5031"))
    await deliver(
        uow, payment_received("BT-1", 3000, reference="5030", channel="bank_transfer", directed_debt_id="CT-5031-2026")
    )
    (suspended,) = uow.published(PaymentSuspended)
    assert suspended.data.reason == (
        "the payer quoted account '5030' but directed the payment to debt CT-5031-2026, which is on account "
        "'5031'; ask the payer which account it is for, then allocate it from suspense"
    )
    assert uow.published(PaymentAllocated) == []
    assert [d.paid_pence for d in uow.state.debts.values()] == [0, 0]

    # Another bill on the quoted account does not take it: it waits for an officer.
    await deliver(uow, charge_raised("5030", debt_id="SUN-5030", amount_pence=9000, debt_type=DebtType.SUNDRY))
    assert uow.published(PaymentAllocated) == []
    assert uow.state.receipts[("bank_transfer", "BT-1")].status == "suspended"

    # Once the payer confirms, the officer's allocation still honours the direction.
    await deliver(uow, charge_raised("5031", debt_id="SUN-5031", amount_pence=9000, debt_type=DebtType.SUNDRY))
    async with uow:
        assert await PAYMENTS.allocate_from_suspense(uow, BANK, "BT-1", "5031", date(2026, 5, 10))
        await uow.commit()
    (allocated,) = uow.published(PaymentAllocated)
    assert allocated.data.rule == AllocationRule.OFFICER
    assert [(p.debt_id, p.amount_pence) for p in allocated.data.parts] == [("CT-5031-2026", 3000)]
    assert await totals_balance(uow)


async def test_a_direction_at_the_quoted_accounts_own_debt_or_an_unknown_reference_is_obeyed() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5032"), charge_raised("5032", debt_id="SUN-5032", debt_type=DebtType.SUNDRY))
    await deliver(
        uow,
        payment_received("BT-1", 1000, reference="5032", channel="bank_transfer", directed_debt_id="SUN-5032"),
        payment_received("BT-2", 2000, reference="typo", channel="bank_transfer", directed_debt_id="SUN-5032"),
    )
    assert [(a.data.receipt_ref, a.data.rule) for a in uow.published(PaymentAllocated)] == [
        ("BT-1", AllocationRule.DIRECTED),
        ("BT-2", AllocationRule.DIRECTED),
    ]
    assert uow.published(PaymentSuspended) == []


async def test_money_left_once_every_debt_is_clear_is_held_as_account_credit() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5007", amount_pence=3000))
    await deliver(uow, payment_received("CARD-5", 5000, reference="5007"))
    (allocated,) = uow.published(PaymentAllocated)
    assert allocated.data.credit_pence == 2000
    assert [(line.debt_id, line.amount_pence) for line in uow.state.lines] == [("CT-5007-2026", 3000), (None, 2000)]
    totals = await uow.reconciliation.totals()
    assert (totals.held_as_credit_pence, totals.balanced) == (2000, True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bills=st.lists(st.integers(1, 50000), min_size=0, max_size=4),
    receipts=st.lists(st.tuples(st.integers(1, 80000), st.booleans()), min_size=1, max_size=8),
)
async def test_parts_and_credit_always_add_up_to_the_receipt(
    bills: list[int], receipts: list[tuple[int, bool]]
) -> None:
    uow = FakeLedger()
    charges = [
        charge_raised("6000", debt_id=f"D{n}", amount_pence=amount, bill_issued_on=date(2026, 3, n + 1))
        for n, amount in enumerate(bills)
    ]
    if charges:
        await deliver(uow, *charges)
    await deliver(
        uow,
        *(
            payment_received(f"R{n}", amount, reference="6000" if known else "6OOO")
            for n, (amount, known) in enumerate(receipts)
        ),
    )
    for allocated in uow.published(PaymentAllocated):
        assert (
            sum(p.amount_pence for p in allocated.data.parts) + allocated.data.credit_pence
            == allocated.data.amount_pence
        )
    for debt in uow.state.debts.values():
        assert 0 <= debt.paid_pence <= debt.charged_pence
    totals = await uow.reconciliation.totals()
    assert totals.received_pence == sum(amount for amount, _ in receipts)
    assert totals.balanced


# --- reversals ----------------------------------------------------------------------


def unpaid(receipt_ref: str, amount: int, account: str, collected_on: date = MAY) -> DirectDebitUnpaid:
    return DirectDebitUnpaid(
        key=account,
        data=DirectDebitUnpaidData(
            mandate_ref="DDI-1",
            account_ref=account,
            receipt_ref=receipt_ref,
            amount_pence=amount,
            collection_date=collected_on,
            reason_code="1",
        ),
    )


async def test_an_unpaid_direct_debit_takes_its_collection_back_off_each_debt() -> None:
    uow = FakeLedger()
    arrears = charge_raised("5010", amount_pence=1000, financial_year="2025/26", bill_issued_on=date(2025, 3, 10))
    await deliver(uow, charge_raised("5010"), arrears)
    await deliver(uow, payment_received("DD-1", 3000, reference="5010", channel="direct_debit"))
    report = unpaid("DD-1", 3000, "5010")
    await deliver(uow, report)
    await deliver(uow, report.model_copy(update={"event_id": uuid.uuid4()}))  # reported twice: reversed once

    (reversed_,) = uow.published(PaymentReversed)
    assert reversed_.data.reason == "Direct Debit unpaid, ARUDD reason 1"
    assert [(p.debt_id, p.amount_pence) for p in reversed_.data.parts] == [
        ("CT-5010-2025", 1000),
        ("CT-5010-2026", 2000),
    ]
    assert reversed_.causation_id == report.event_id
    assert all(d.paid_pence == 0 for d in uow.state.debts.values())
    assert sum(line.amount_pence for line in uow.state.lines) == 0
    totals = await uow.reconciliation.totals()
    assert (totals.reversed_pence, totals.balanced) == (3000, True)


async def test_an_unpaid_report_for_a_collection_not_on_file_is_refused() -> None:
    with pytest.raises(Refused, match="unknown Direct Debit collection DD-404"):
        await deliver(FakeLedger(), unpaid("DD-404", 3000, "5011"))


@pytest.mark.parametrize(
    ("report", "difference"),
    [
        (unpaid("DD-1", 3000, "5099"), "account '5099' where the collection was for '5013'"),
        (unpaid("DD-1", 2999, "5013"), "amount £29.99 where £30.00 was collected"),
        (
            unpaid("DD-1", 3000, "5013", collected_on=date(2026, 5, 1)),
            "collection date 2026-05-01 where it was collected on 2026-05-03",
        ),
    ],
    ids=["account", "amount", "date"],
)
async def test_an_unpaid_report_that_does_not_match_its_collection_is_refused_and_reverses_nothing(
    report: DirectDebitUnpaid, difference: str
) -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5013"))
    await deliver(uow, payment_received("DD-1", 3000, reference="5013", channel="direct_debit"))
    with pytest.raises(Refused) as refused:
        await deliver(uow, report)
    assert str(refused.value) == (
        f"ARUDD for Direct Debit collection DD-1 does not match it: it reports {difference}; "
        "check the report against the Direct Debit run, nothing was reversed"
    )
    assert uow.published(PaymentReversed) == []
    assert uow.state.receipts[("direct_debit", "DD-1")].status == "allocated"
    assert uow.state.debts["CT-5013-2026"].paid_pence == 3000


async def test_an_officer_reverses_a_receipt_once_however_often_asked() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5012", amount_pence=2000))
    await deliver(uow, payment_received("BT-7", 3000, reference="5012", channel="bank_transfer"))
    async with uow:
        assert await PAYMENTS.reverse_receipt(uow, BANK, "BT-7", "bank recalled the transfer", date(2026, 5, 12))
        await uow.commit()
    async with uow:
        assert not await PAYMENTS.reverse_receipt(uow, BANK, "BT-7", "bank recalled the transfer", date(2026, 5, 12))
        await uow.commit()
    (reversed_,) = uow.published(PaymentReversed)
    assert reversed_.causation_id is None and reversed_.data.reversed_on == date(2026, 5, 12)
    assert uow.state.debts["CT-5012-2026"].paid_pence == 0
    # The account credit is taken back too.
    assert sum(line.amount_pence for line in uow.state.lines if line.debt_id is None) == 0
    assert await totals_balance(uow)
    with pytest.raises(Refused, match="there is no bank_transfer receipt 'NOPE' to reverse"):
        await PAYMENTS.reverse_receipt(uow, BANK, "NOPE", "typo", date(2026, 5, 12))
    # A receipt is named with its channel: the same reference from another channel is not it.
    with pytest.raises(Refused, match="there is no card receipt 'BT-7' to reverse; check the channel"):
        await PAYMENTS.reverse_receipt(uow, PaymentChannel.CARD, "BT-7", "typo", date(2026, 5, 12))


async def test_a_receipt_reversed_while_in_suspense_leaves_suspense_and_tells_no_account() -> None:
    uow = FakeLedger()
    await deliver(uow, payment_received("BT-8", 3000, reference="?", channel="bank_transfer"))
    async with uow:
        assert await PAYMENTS.reverse_receipt(uow, BANK, "BT-8", "returned to the payer", date(2026, 5, 12))
        await uow.commit()
    assert uow.published(PaymentReversed) == []
    totals = await uow.reconciliation.totals()
    assert (totals.suspended_pence, totals.reversed_pence, totals.balanced) == (0, 3000, True)


# --- officer allocation from suspense -------------------------------------------------


async def test_an_officer_allocates_suspense_once_and_is_told_what_to_fix_otherwise() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5004"))
    await deliver(uow, payment_received("BT-7", 3000, reference="typo-5O04", channel="bank_transfer"))
    async with uow:
        with pytest.raises(Refused, match="account '9999' has no debts on the ledger; check the account reference"):
            await PAYMENTS.allocate_from_suspense(uow, BANK, "BT-7", "9999", date(2026, 5, 10))
    async with uow:
        assert await PAYMENTS.allocate_from_suspense(uow, BANK, "BT-7", "5004", date(2026, 5, 10))
        await uow.commit()
    async with uow:
        assert not await PAYMENTS.allocate_from_suspense(uow, BANK, "BT-7", "5004", date(2026, 5, 10))
        await uow.commit()
    (allocated,) = uow.published(PaymentAllocated)
    assert allocated.data.rule == AllocationRule.OFFICER
    assert uow.state.debts["CT-5004-2026"].paid_pence == 3000
    assert [line.on for line in uow.state.lines] == [date(2026, 5, 10)]
    async with uow:
        with pytest.raises(Refused, match="not in suspense"):
            await PAYMENTS.allocate_from_suspense(uow, BANK, "BT-7", "5005", date(2026, 5, 10))
        with pytest.raises(
            Refused,
            match="there is no bank_transfer receipt 'BT-0'; check the channel and the reference on the suspense list",
        ):
            await PAYMENTS.allocate_from_suspense(uow, BANK, "BT-0", "5004", date(2026, 5, 10))


# --- debts ----------------------------------------------------------------------------


async def test_a_bill_opens_a_debt_once_and_a_different_bill_for_it_is_refused() -> None:
    uow = FakeLedger()
    bill = charge_raised("5020", amount_pence=123456)
    await deliver(uow, bill)
    await deliver(uow, bill.model_copy(update={"event_id": uuid.uuid4()}))
    assert len(uow.published(BalanceChanged)) == 1
    assert uow.state.debts["CT-5020-2026"].charged_pence == 123456
    with pytest.raises(Refused, match=r"already open for a different amount or account; send charge\.adjusted"):
        await deliver(uow, charge_raised("5020", amount_pence=999))


def adjusted(debt_id: str, account: str, amount: int, instalments: list[Instalment] | None = None) -> ChargeAdjusted:
    return ChargeAdjusted(
        key=account,
        data=ChargeAdjustedData(
            debt_id=debt_id,
            account_ref=account,
            new_amount_pence=amount,
            adjusted_on=date(2026, 6, 1),
            instalments=instalments,
        ),
    )


async def test_an_adjustment_changes_the_charge_and_the_schedule_it_matches() -> None:
    uow = FakeLedger()
    await deliver(uow, with_schedule("5021", 15000))
    await deliver(uow, payment_received("CARD-1", 30000, reference="5021"))
    reissued = [Instalment(due_date=date(2026, 7 + n, 1), amount_pence=5000) for n in range(3)]
    await deliver(uow, adjusted("CT-5021-2026", "5021", 20000, reissued))
    balance = uow.published(BalanceChanged)[-1].data
    assert (balance.charged_pence, balance.paid_pence, balance.balance_pence, balance.as_of) == (
        20000,
        30000,
        -10000,  # reduced below what was paid: a credit to refund
        date(2026, 6, 1),
    )
    assert [i.amount_pence for i in uow.state.schedules["CT-5021-2026"]] == [5000, 5000, 5000]
    with pytest.raises(Refused, match="must be raised before it is adjusted"):
        await deliver(uow, adjusted("CT-404", "5021", 1))


async def test_a_single_debt_arrangement_becomes_the_schedule_payments_match_and_a_multi_debt_one_does_not() -> None:
    uow = FakeLedger()
    await deliver(
        uow, with_schedule("5022", 15000), charge_raised("5022", debt_id="SUN-5022", debt_type=DebtType.SUNDRY)
    )

    def arrangement(debt_ids: list[str], amount: int) -> ArrangementMade:
        return ArrangementMade(
            key="5022",
            data=ArrangementMadeData(
                arrangement_id=f"A-{amount}",
                account_ref="5022",
                kind=ArrangementKind.NEGOTIATED,
                debt_ids=debt_ids,
                instalments=[Instalment(due_date=date(2026, 6, 1), amount_pence=amount)],
            ),
        )

    await deliver(uow, arrangement(["CT-5022-2026", "SUN-5022"], 4000), arrangement(["CT-404"], 5000))
    assert [i.amount_pence for i in uow.state.schedules["CT-5022-2026"]] == [15000] * 10
    await deliver(uow, arrangement(["CT-5022-2026"], 7000))
    await deliver(uow, payment_received("CARD-1", 7000, reference="5022"))
    (allocated,) = uow.published(PaymentAllocated)
    assert allocated.data.rule == AllocationRule.INSTALMENT_MATCH
    assert [(p.debt_id, p.amount_pence) for p in allocated.data.parts] == [("CT-5022-2026", 7000)]


def costs(debt_id: str, amount: int) -> CostsAdded:
    return CostsAdded(
        key="5023",
        data=CostsAddedData(
            debt_id=debt_id, account_ref="5023", amount_pence=amount, kind="summons", added_on=date(2026, 7, 1)
        ),
    )


async def test_costs_add_to_what_the_debt_owes() -> None:
    uow = FakeLedger()
    await deliver(uow, charge_raised("5023", amount_pence=100000))
    await deliver(uow, costs("CT-5023-2026", 7000))
    balance = uow.published(BalanceChanged)[-1].data
    assert (balance.charged_pence, balance.balance_pence, balance.as_of) == (107000, 107000, date(2026, 7, 1))
    with pytest.raises(Refused, match="costs added to unknown debt CT-404"):
        await deliver(uow, costs("CT-404", 7000))
