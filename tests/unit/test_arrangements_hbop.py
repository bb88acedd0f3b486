"""Arrangements and Housing Benefit overpayments: only a recoverable overpayment is
invoiced. Every overpayment is recoverable except one caused by official error (the
council's or the DWP's) that neither the claimant, their representative nor the payee
could reasonably have realised (SI 2006/213 reg 100(2)-(3)) [S36b][S39]; a recoverable
one is one payment on the council's invoice terms, 14 days by default (domain §4 [S43b]).
"""

from __future__ import annotations

from datetime import date, timedelta

from recovery_arrangements.app import ROUTES
from recovery_arrangements.handlers import Arrangements
from recovery_shared.contracts.common import HbopClassification, OverpaymentDecision
from recovery_shared.contracts.envelope import Envelope
from recovery_shared.contracts.inbound import ChargeRaised, DayStarted, DayStartedData
from recovery_shared.contracts.internal import ArrangementMade, InstalmentMissed
from recovery_shared.council import load_council_config
from tests.factories import overpayment_decision, overpayment_raised
from tests.unit.fakes.arrangements import FakePlans

ACCOUNT = "7101"
USE_CASES = Arrangements(load_council_config())
ISSUED = date(2026, 6, 3)


async def handle(uow: FakePlans, *batch: Envelope) -> None:
    """As the kernel does: the batch's prefetch, then each event's route, then commit."""
    assert ROUTES.prefetch is not None
    await ROUTES.prefetch(USE_CASES, uow, list(batch))
    for event in batch:
        route = ROUTES.route_for(type(event))
        assert route is not None, type(event)
        await route.use_case(USE_CASES, uow, event)
    await uow.commit()


def hbop_bill(decision: OverpaymentDecision, amount_pence: int = 42000) -> ChargeRaised:
    return overpayment_raised(
        ACCOUNT, debt_id=f"HBOP-{ACCOUNT}-1", amount_pence=amount_pence, bill_issued_on=ISSUED, decision=decision
    )


async def test_an_official_error_overpayment_nobody_could_have_realised_gets_no_invoice() -> None:
    """SI 2006/213 reg 100(2) [S36b]: not recoverable, so nothing is scheduled and nothing
    can be missed, however long it goes unpaid."""
    uow = FakePlans()
    decision = overpayment_decision(HbopClassification.COUNCIL_OFFICIAL_ERROR, could_reasonably_have_realised=False)
    await handle(uow, hbop_bill(decision))
    assert uow.published(ArrangementMade) == []
    assert (uow.state.debts, uow.state.arrangements, uow.state.instalments) == ({}, {}, {})
    uow.business_date = ISSUED
    for n in range(1, 31):
        await handle(uow, DayStarted(data=DayStartedData(business_date=ISSUED + timedelta(days=n))))
    assert uow.published(InstalmentMissed) == []


async def test_a_recoverable_official_error_overpayment_is_invoiced_and_its_miss_reported() -> None:
    """SI 2006/213 reg 100(2) [S36b]: an official error the claimant could have realised is
    recoverable, so it is invoiced on the council's terms (14 days, domain §4 [S43b])."""
    uow = FakePlans()
    decision = overpayment_decision(HbopClassification.DWP_ERROR, could_reasonably_have_realised=True)
    await handle(uow, hbop_bill(decision, 42000))
    [made] = uow.published(ArrangementMade)
    assert [(i.due_date, i.amount_pence) for i in made.data.instalments] == [(date(2026, 6, 17), 42000)]
    uow.business_date = date(2026, 6, 17)
    await handle(uow, DayStarted(data=DayStartedData(business_date=date(2026, 6, 18))))
    [missed] = uow.published(InstalmentMissed)
    assert missed.data.debt_ids == [f"HBOP-{ACCOUNT}-1"]
