"""Payments' use cases: one function per event it reacts to."""

from __future__ import annotations

from datetime import date

from recovery_shared import topics
from recovery_shared.clock import utc_now
from recovery_shared.contracts.common import DebtType
from recovery_shared.contracts.inbound import ChargeAdjusted, ChargeRaised
from recovery_shared.contracts.internal import BalanceChanged, BalanceChangedData
from recovery_shared.messaging.errors import Refused
from recovery_shared.messaging.unit_of_work import UnitOfWork

from recovery_payments import domain
from recovery_payments.models import Debt
from recovery_payments.store import Ledger


async def record_charge(uow: UnitOfWork, event: ChargeRaised | ChargeAdjusted) -> None:
    ledger = Ledger(uow)
    if isinstance(event, ChargeRaised):
        await open_debt(ledger, event)
    else:
        await adjust_debt(ledger, event)


async def open_debt(ledger: Ledger, event: ChargeRaised) -> None:
    data = event.data
    existing = await ledger.debt(data.debt_id)
    if existing is not None:
        if domain.same_charge(existing.charged_pence, existing.account_ref, data):
            return
        raise Refused(
            f"debt {data.debt_id} is already open for a different amount or account; "
            "send charge.adjusted to change a debt"
        )
    debt = Debt(
        debt_id=data.debt_id,
        account_ref=data.account_ref,
        debt_type=data.debt_type.value,
        financial_year=data.financial_year,
        party_id=data.liable_party.party_id,
        bill_issued_on=data.bill_issued_on,
        charged_pence=data.amount_pence,
        paid_pence=0,
    )
    ledger.add_debt(debt)
    publish_balance(ledger.uow, debt, data.bill_issued_on)


async def adjust_debt(ledger: Ledger, event: ChargeAdjusted) -> None:
    data = event.data
    debt = await ledger.debt(data.debt_id)
    if debt is None:
        raise Refused(f"debt {data.debt_id} is not known to payments; it must be raised before it is adjusted")
    debt.charged_pence = domain.check_adjustment(debt.charged_pence, debt.paid_pence, data)
    debt.updated_at = utc_now()
    ledger.session.add(debt)
    publish_balance(ledger.uow, debt, data.adjusted_on)


def publish_balance(uow: UnitOfWork, debt: Debt, as_of: date) -> None:
    uow.publish(
        topics.PAYMENT_EVENTS,
        BalanceChanged(
            key=debt.account_ref,
            data=BalanceChangedData(
                debt_id=debt.debt_id,
                account_ref=debt.account_ref,
                debt_type=DebtType(debt.debt_type),
                charged_pence=debt.charged_pence,
                paid_pence=debt.paid_pence,
                balance_pence=debt.balance_pence,
                as_of=as_of,
            ),
        ),
    )
