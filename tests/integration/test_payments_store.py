"""The ledger's store on SQLite and PostgreSQL: two units of work that change the
same debt meanwhile (two instances of payments sharing the work) both keep their
effect. Money paid onto a debt is written as an increment, and a unit writes only
the columns it changed, so neither overwrites the other. A receipt's status is a
state, not an amount: a unit that decided on a status another unit has changed
since is stale, and writes nothing."""

from __future__ import annotations

from datetime import date

import pytest

from recovery_payments.app import build_runtime
from recovery_payments.models import Debt
from recovery_payments.settings import PaymentsSettings
from recovery_payments.store import Ledger
from recovery_shared import topics
from recovery_shared.messaging.records import StaleRecord
from recovery_shared.messaging.runtime import ServiceRuntime
from tests.factories import charge_raised, payment_received, record


def _ledger(runtime: ServiceRuntime) -> Ledger:
    unit = runtime.unit()
    assert isinstance(unit, Ledger)
    return unit


async def test_two_units_changing_one_debt_meanwhile_both_keep_their_effect(database_url: str) -> None:
    runtime = build_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    await runtime.handle_records([record(topics.BILLING_CHARGES, charge_raised("5100", amount_pence=100000))])

    async with _ledger(runtime) as first:
        paying = await first.debts.get("CT-5100-2026")
        assert paying is not None
        async with _ledger(runtime) as second:
            adjusting = await second.debts.get("CT-5100-2026")
            assert adjusting is not None
            adjusting.charged_pence = 90000
            adjusting.costs_pence += 7000
            await second.commit()
        # The first read the debt before the second's commit.
        assert (paying.charged_pence, paying.costs_pence) == (100000, 0)
        paying.paid_pence += 15000
        await first.commit()

    async with _ledger(runtime) as third:
        again = await third.debts.get("CT-5100-2026")
        assert again is not None
        await third.instalments.replace("CT-5100-2026", [(date(2026, 6, 1), 45000), (date(2026, 7, 1), 45000)])
        await third.commit()

    async with runtime.db.session() as session:
        debt = await session.get(Debt, "CT-5100-2026")
    assert debt is not None
    assert (debt.charged_pence, debt.costs_pence, debt.paid_pence) == (90000, 7000, 15000)
    async with _ledger(runtime) as fourth:
        assert await fourth.instalments.amounts(["CT-5100-2026"]) == {"CT-5100-2026": frozenset({45000})}
    await runtime.db.dispose()


async def test_a_unit_that_decided_on_a_receipt_another_unit_changed_since_is_stale_and_writes_nothing(
    database_url: str,
) -> None:
    runtime = build_runtime(PaymentsSettings(database_url=database_url))
    runtime.migrate()
    await runtime.handle_records(
        [
            record(topics.BILLING_CHARGES, charge_raised("5101", amount_pence=100000)),
            record(topics.PAYMENT_RECEIPTS, payment_received("CARD-1", 15000, reference="5101")),
        ]
    )

    async with _ledger(runtime) as first:
        deciding = await first.receipts.get("card", "CARD-1")
        debt = await first.debts.get("CT-5101-2026")
        assert deciding is not None and debt is not None
        async with _ledger(runtime) as second:
            other = await second.receipts.get("card", "CARD-1")
            assert other is not None
            other.status = "reversed"
            await second.commit()
        # The first still holds the receipt as it read it, allocated, and reverses it too.
        assert deciding.status == "allocated"
        deciding.status = "reversed"
        debt.paid_pence -= 15000
        with pytest.raises(StaleRecord) as stale:
            await first.commit()
    assert stale.value.transient is True

    async with runtime.db.session() as session:
        held = await session.get(Debt, "CT-5101-2026")
    assert held is not None and held.paid_pence == 15000  # the stale unit's debt change went with it
    await runtime.db.dispose()
