"""Enforcement's use cases."""

from __future__ import annotations

from recovery_enforcement import domain
from recovery_enforcement.models import RecoveryCase
from recovery_enforcement.store import Cases
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeRaised
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.unit_of_work import UnitOfWork


async def open_case(uow: UnitOfWork, event: ChargeRaised | ChargeAdjusted) -> None:
    cases = Cases(uow)
    if isinstance(event, ChargeAdjusted):
        case = await cases.case(domain.case_id_for(event.data.debt_id))
        if case is None:
            raise Refused(f"debt {event.data.debt_id} has no recovery case; it must be raised before it is adjusted")
        case.amount_pence = event.data.new_amount_pence
        cases.session.add(case)
        return
    data = event.data
    case_id = domain.case_id_for(data.debt_id)
    existing = await cases.case(case_id)
    if existing is not None:
        if existing.amount_pence == data.amount_pence and existing.account_ref == data.account_ref:
            return
        raise Refused(f"debt {data.debt_id} already has a recovery case for a different amount or account")
    cases.add(
        RecoveryCase(
            case_id=case_id,
            debt_id=data.debt_id,
            account_ref=data.account_ref,
            party_id=data.liable_party.party_id,
            debt_type=data.debt_type.value,
            financial_year=data.financial_year,
            amount_pence=data.amount_pence,
            bill_issued_on=data.bill_issued_on,
            stage=domain.OPENING_STAGE,
        )
    )
