"""Payments and Housing Benefit overpayments: the ledger opens only a recoverable one.
Every overpayment is recoverable except one caused by official error (the council's or the
DWP's) that neither the claimant, their representative nor the payee could reasonably have
realised (SI 2006/213 reg 100(2)-(3)) [S36b][S39]. The ledger's invariant (design §5)
holds either way: every penny received is allocated, in suspense or reversed, once.
"""

from __future__ import annotations

from recovery_payments.app import ROUTES
from recovery_payments.handlers import Payments
from recovery_shared.contracts.common import DebtType, HbopClassification, OverpaymentDecision
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import ChargeRaised
from recovery_shared.contracts.internal import BalanceChanged, PaymentAllocated, PaymentSuspended
from recovery_shared.council import load_council_config
from tests.factories import overpayment_decision, overpayment_raised, payment_received
from tests.unit.fakes.payments import FakeLedger

PAYMENTS = Payments(load_council_config().allocation)
ACCOUNT = "5101"
DEBT = f"HBOP-{ACCOUNT}-1"


async def deliver(uow: FakeLedger, *batch: Envelope) -> None:
    """One batch, as the kernel handles it."""
    async with uow:
        assert ROUTES.prefetch is not None
        await ROUTES.prefetch(PAYMENTS, uow, list(batch))
        for event in batch:
            route = ROUTES.route_for(type(event))
            assert route is not None, type(event)
            await route.use_case(PAYMENTS, uow, event)
        await uow.commit()


def hbop_bill(decision: OverpaymentDecision, amount_pence: int = 42000) -> ChargeRaised:
    return overpayment_raised(ACCOUNT, debt_id=DEBT, amount_pence=amount_pence, decision=decision)


async def test_an_official_error_overpayment_nobody_could_have_realised_opens_nothing_on_the_ledger() -> None:
    """SI 2006/213 reg 100(2) [S36b]: not recoverable, so no debt is opened and money
    quoting the account has nothing to pay: it waits in suspense for an officer."""
    uow = FakeLedger()
    decision = overpayment_decision(HbopClassification.DWP_ERROR, could_reasonably_have_realised=False)
    await deliver(uow, hbop_bill(decision))
    assert uow.state.debts == {}
    assert uow.published(BalanceChanged) == []
    await deliver(uow, payment_received("CARD-HB-1", 5000, reference=ACCOUNT))
    assert uow.published(PaymentAllocated) == []
    [suspended] = uow.published(PaymentSuspended)
    assert suspended.data.amount_pence == 5000
    assert (await uow.reconciliation.totals()).balanced


async def test_a_claimant_error_overpayment_is_opened_and_paid_to_the_penny() -> None:
    """SI 2006/213 reg 100 [S36b]: an overpayment not caused by official error is recoverable."""
    uow = FakeLedger()
    await deliver(uow, hbop_bill(overpayment_decision(HbopClassification.CLAIMANT_ERROR), 42000))
    assert uow.state.debts[DEBT].charged_pence == 42000
    await deliver(uow, payment_received("CARD-HB-2", 12345, reference=ACCOUNT))
    balance = uow.published(BalanceChanged)[-1].data
    assert (balance.debt_type, balance.charged_pence, balance.paid_pence, balance.balance_pence) == (
        DebtType.HB_OVERPAYMENT,
        42000,
        12345,
        29655,
    )
    assert (await uow.reconciliation.totals()).balanced
