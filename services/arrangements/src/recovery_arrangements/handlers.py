"""Arrangements' use cases."""

from __future__ import annotations

from recovery_arrangements import domain
from recovery_arrangements.models import Debt
from recovery_arrangements.store import Plans
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeRaised
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.unit_of_work import UnitOfWork


async def record_charge(uow: UnitOfWork, event: ChargeRaised | ChargeAdjusted) -> None:
    plans = Plans(uow)
    if isinstance(event, ChargeAdjusted):
        debt = await plans.debt(event.data.debt_id)
        if debt is None:
            raise Refused(f"debt {event.data.debt_id} is not known; it must be raised before it is adjusted")
        debt.amount_pence = event.data.new_amount_pence
        plans.session.add(debt)
        return
    data = event.data
    existing = await plans.debt(data.debt_id)
    if existing is not None:
        if domain.same_charge(existing.amount_pence, existing.account_ref, data):
            return
        raise Refused(f"debt {data.debt_id} is already held for a different amount or account")
    plans.add_debt(
        Debt(
            debt_id=data.debt_id,
            account_ref=data.account_ref,
            party_id=data.liable_party.party_id,
            debt_type=data.debt_type.value,
            financial_year=data.financial_year,
            amount_pence=data.amount_pence,
            bill_issued_on=data.bill_issued_on,
            twelve_instalments_requested=data.twelve_instalments_requested,
        )
    )
